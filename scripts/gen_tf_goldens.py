"""Write the TensorFlow reference event files the tests compare the clu-style writer with.

Needs TensorFlow (``pip install tensorflow-cpu``), which the test environment does not have:
run it once, by hand, and commit what it writes::

    python scripts/gen_tf_goldens.py tests/fixtures/tf

It logs a fixed set of inputs with ``tf.summary`` (what clu's ``SummaryWriter`` and Keras's
callback call) into ``<out>/tf_summary``, one event file; the inputs are those of
``tests/unit/test_tf_goldens.py`` (``INPUTS`` there), repeated here so this script needs
nothing of tbwrite.

It also trains small Keras models on the TensorFlow backend with
``keras.callbacks.TensorBoard`` (one log dir per entry of :data:`KERAS_RUNS`) into
``<out>/keras/<name>``, keeping the event files and ``projector_config.pbtxt`` and listing
every file Keras wrote (the embeddings' ``.weights.h5`` too, which is not kept) in
``<out>/keras/files.json``. tests/system/test_integrations_keras.py trains the same models on
JAX with tbwrite's callback and compares. Weights, inputs and the learning rate are
multiples of small powers of two and the learning rate is 0, so the forward passes are
exact in float32 and both backends compute the same values, bit for bit.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import Any

import numpy as np


def inputs() -> dict[str, object]:
    return {
        "scalars": {"loss": 0.6, "acc": 1e-3, "big": 3.0e38},
        "image": np.array([[[[0.0], [0.4], [0.9999]], [[0.5], [0.0019], [1.0]]]], dtype=np.float32),
        "audio": np.array([[[0.5, -0.5], [1.0, -1.0], [0.25, 0.1], [-0.3, 0.0]]], np.float32),
        "constant": np.full(10, 3.0, dtype=np.float32),
        "normal": np.linspace(-2.0, 3.0, 50, dtype=np.float32),
        "text": "**bold** and `code`",
        "raw": np.arange(6, dtype=np.int32).reshape(2, 3),
        # a SummaryMetadata: plugin_data {plugin_name: "custom" content: "\x01"}
        "raw_metadata": b"\n\x0b\n\x06custom\x12\x01\x01",
        # clu's write_hparams flattens this (clu.internal.utils.flatten_dict) into
        # "hparams_flat", which it hands to hp.hparams.
        "hparams": {"lr": 0.1, "model": {"width": 3, "act": "relu"}, "layers": [8, 4],
                    "flag": True, "none": None},
        "hparams_flat": {"lr": 0.1, "model.width": 3, "model.act": "relu", "layers.0": 8,
                         "layers.1": 4, "flag": True, "none": ""},
    }  # fmt: skip


KERAS_EPOCHS = 2
# With training, Keras's running means differ between its TensorFlow and JAX backends in the
# last bit; with a learning rate of 0 every value is the same on both, bit for bit.
KERAS_LR = 0.0
# name -> keras.callbacks.TensorBoard arguments (write_graph=False for all: see the README).
KERAS_RUNS: dict[str, dict[str, Any]] = {
    "batch": {"histogram_freq": 1, "write_images": True, "update_freq": "batch"},
    "epoch": {"update_freq": "epoch"},
    "every2": {"update_freq": 2},
    "every3": {"update_freq": 3},
    "embeddings": {"embeddings_freq": 1},
    # timings: compared by tag and step only
    "steps": {"write_steps_per_second": True, "update_freq": 2},
}


def _dyadic(shape: tuple[int, ...], denominator: int, spread: int = 7) -> np.ndarray:
    values = (np.arange(int(np.prod(shape))) * 5 % spread - spread // 2) / denominator
    return values.reshape(shape).astype(np.float32)


def keras_data(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The inputs and targets of run ``name``: 16 samples."""
    if name == "embeddings":
        ids = (np.arange(16 * 3).reshape(16, 3) * 7 % 6).astype(np.int32)
        return ids, _dyadic((16, 1), 4, 5)
    return _dyadic((16, 6, 2), 4), _dyadic((16, 1), 4, 5)


def keras_model(name: str) -> Any:
    """The compiled model of run ``name`` on the current Keras backend, every weight set."""
    import keras

    if name == "embeddings":
        layers = [
            keras.Input((3,), dtype="int32"),
            keras.layers.Embedding(6, 2, name="words"),
            keras.layers.GlobalAveragePooling1D(name="pool"),
            keras.layers.Dense(1, name="out"),
        ]
    else:
        layers = [
            keras.Input((6, 2)),
            keras.layers.Conv1D(3, 2, name="conv"),  # a 3-D kernel: one image per filter
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(2, name="hidden"),
            keras.layers.Dense(1, name="out"),
        ]
    model = keras.Sequential(layers, name="net")
    model.set_weights([_dyadic(w.shape, 8) for w in model.get_weights()])
    model.compile(keras.optimizers.SGD(learning_rate=KERAS_LR), "mse", metrics=["mae"])
    return model


def keras_fit(name: str, callback: Any) -> Any:
    """Train run ``name``'s model with ``callback``; its History."""
    model = keras_model(name)
    x, y = keras_data(name)
    validation = None if name == "embeddings" else (x[:8], y[:8])
    return model.fit(
        x, y, batch_size=4, epochs=KERAS_EPOCHS, validation_data=validation, verbose=0,
        shuffle=False, callbacks=[callback],
    )  # fmt: skip


def write_keras(out: str) -> None:
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras

    assert keras.backend.backend() == "tensorflow"
    root = os.path.join(out, "keras")
    shutil.rmtree(root, ignore_errors=True)
    files = {}
    for name, kwargs in KERAS_RUNS.items():
        logdir = os.path.join(root, name)
        os.makedirs(logdir)  # Keras writes projector_config.pbtxt there before any writer
        keras_fit(name, keras.callbacks.TensorBoard(logdir, write_graph=False, **kwargs))
        for top, _, names in os.walk(logdir):
            for file in sorted(names):
                path = os.path.join(top, file)
                rel = os.path.relpath(path, root)
                files[rel.replace(os.sep, "/")] = os.path.getsize(path)
                if file.endswith(".h5"):  # Keras's weights, not read by TensorBoard
                    os.remove(path)
    with open(os.path.join(root, "files.json"), "w") as f:
        json.dump(files, f, indent=1, sort_keys=True)
    print(f"wrote {root}: {len(files)} files")


def main() -> int:
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

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
        tf.summary.text("text", data["text"], step=3)
        tf.summary.write("raw", data["raw"], step=3, metadata=data["raw_metadata"])
        hp.hparams(data["hparams_flat"])
    writer.close()
    print(f"wrote {out}: {os.listdir(out)}")
    write_keras(os.path.dirname(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
