"""On a free-threaded CPython (3.13t, built with ``--disable-gil``) tbwrite keeps the GIL
off: importing it, writing every core kind from several threads at once, and reading back
load no extension module that re-enables the GIL (CPython would then say so with a
``RuntimeWarning`` and ``sys._is_gil_enabled()`` would turn true).

The interpreter is ``/opt/py313t/bin/python3.13t`` (``scripts/build_py313t.sh`` builds it;
``TBWRITE_PY313T`` names another); without one the test skips. tbwrite is installed with its
dependencies in a fresh venv, wheels only: their newest releases that ship free-threaded
wheels. The check runs with neither ``-X gil`` nor ``PYTHON_GIL``: the interpreter decides.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PY313T = os.environ.get("TBWRITE_PY313T", "/opt/py313t/bin/python3.13t")

pytestmark = pytest.mark.skipif(
    not os.path.exists(PY313T),
    reason=f"no free-threaded CPython at {PY313T} (scripts/build_py313t.sh builds one)",
)

PROBE = textwrap.dedent(
    r"""
    import json, sys, sysconfig, threading
    report = {"free_threaded": sysconfig.get_config_var("Py_GIL_DISABLED") == 1}
    import tbwrite
    report["after_import"] = sys._is_gil_enabled()
    import numpy as np

    logdir = sys.argv[1]
    with tbwrite.SummaryWriter(logdir, max_queue=5, flush_secs=0.05) as writer:
        def log(k):
            for step in range(200):
                writer.add_scalar(f"loss/{k}", 1.0 / (step + 1), step)
                if step % 20 == 0:
                    writer.add_histogram(f"weights/{k}", np.random.randn(500), step)
                    writer.add_text(f"notes/{k}", "**step** %d" % step, step)
                    writer.add_image(f"image/{k}", np.zeros((3, 4, 4)), step)
        threads = [threading.Thread(target=log, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        writer.add_hparams({"lr": 0.1}, {"hparam/loss": 0.5})
    report["after_write"] = sys._is_gil_enabled()

    scalars = tbwrite.read_scalars(logdir)["."]
    histograms = tbwrite.read_histograms(logdir)["."]
    report["points"] = sum(len(scalars[f"loss/{k}"]) for k in range(4))
    report["histograms"] = sum(len(histograms[f"weights/{k}"]) for k in range(4))
    report["after_read"] = sys._is_gil_enabled()
    from google.protobuf.internal import api_implementation
    report["protobuf"] = api_implementation.Type()
    report["gil_modules"] = sorted(m for m in sys.modules if m in ("crc32c", "numpy"))
    print(json.dumps(report))
    """
)


def _env() -> dict[str, str]:
    drop = ("PYTHONPATH", "PYTHONHOME", "PYTHON_GIL", "PYTHONWARNINGS")
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.mark.timeout(900)
def test_free_threaded_python_keeps_the_gil_off(tmp_path) -> None:
    venv_dir = tmp_path / "venv"
    subprocess.run([PY313T, "-m", "venv", str(venv_dir)], check=True, timeout=120, env=_env())
    python = str(venv_dir / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--only-binary=:all:", str(ROOT)],
        capture_output=True, text=True, timeout=600, env=_env(), cwd=tmp_path,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]

    out = subprocess.run(
        [python, "-c", PROBE, str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300, env=_env(), cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    # CPython's warning when an extension module without free-threading support loads.
    assert "GIL" not in out.stderr, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["free_threaded"], report
    assert report["after_import"] is False, report
    assert report["after_write"] is False, report
    assert report["after_read"] is False, report
    assert report["points"] == 4 * 200 and report["histograms"] == 4 * 10, report
    # The C extensions tbwrite loads were both loaded by then, and neither took the GIL back.
    assert report["gil_modules"] == ["crc32c", "numpy"], report
