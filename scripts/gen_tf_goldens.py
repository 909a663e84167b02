"""Write the TensorFlow reference event files the tests compare the clu-style writer with.

Needs TensorFlow (``pip install tensorflow-cpu``), which the test environment does not have:
run it once, by hand, and commit what it writes::

    python scripts/gen_tf_goldens.py tests/fixtures/tf

It logs a fixed set of inputs with ``tf.summary`` (what clu's ``SummaryWriter`` and Keras's
callback call) into ``<out>/tf_summary``, one event file; the inputs are those of
``tests/unit/test_tf_goldens.py`` (``INPUTS`` there), repeated here so this script needs
nothing of tbwrite.
"""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np


def inputs() -> dict[str, object]:
    return {
        "scalars": {"loss": 0.6, "acc": 1e-3, "big": 3.0e38},
        "image": np.array([[[[0.0], [0.4], [0.9999]], [[0.5], [0.0019], [1.0]]]], dtype=np.float32),
        "audio": np.array([[[0.5, -0.5], [1.0, -1.0], [0.25, 0.1], [-0.3, 0.0]]], np.float32),
        "constant": np.full(10, 3.0, dtype=np.float32),
        "normal": np.linspace(-2.0, 3.0, 50, dtype=np.float32),
    }


def main() -> int:
    import tensorflow as tf

    out = os.path.join(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/tf", "tf_summary")
    shutil.rmtree(out, ignore_errors=True)
    data = inputs()
    writer = tf.summary.create_file_writer(out)
    with writer.as_default():
        for tag, value in data["scalars"].items():  # type: ignore[attr-defined]
            tf.summary.scalar(tag, value, step=3)
        tf.summary.image("image", data["image"], step=3)
        tf.summary.audio("audio", data["audio"], sample_rate=8000, step=3)
        tf.summary.histogram("constant", data["constant"], step=3)
        tf.summary.histogram("normal", data["normal"], step=3)
    writer.close()
    print(f"wrote {out}: {os.listdir(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
