"""``examples/jax_flax_train.py`` (``tbwrite[examples]``: JAX, Flax, Optax) trains as written.
Flax brings Orbax and TensorStore, about 100 MB the ``test`` extra leaves out:
``tests/package/test_extras.py`` runs this file in a fresh venv holding
``tbwrite[examples]``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tbwrite

ROOT = Path(__file__).resolve().parents[2]


def test_jax_flax_example_runs(tmp_path) -> None:
    script = ROOT / "examples" / "jax_flax_train.py"
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr[-3000:]
    (row,) = list(tbwrite.read_hparams(tmp_path))
    assert row.status == "SUCCESS"
    assert row.hparams["optimizer.learning_rate"] > 0
    assert row.metrics["train/loss"] < 0.1
