"""tbwrite.integrations.keras.TensorBoard with a real ``model.fit`` on Keras 3's JAX backend,
read back with TensorBoard's own EventAccumulator.

TensorFlow is not needed (and usually not installed), so Keras's own callback cannot run
beside ours; the run layout and the exact tag names asserted here are those of
keras/src/callbacks/tensorboard.py (Keras 3): ``train`` / ``validation`` runs,
``epoch_<metric>``, ``epoch_learning_rate``, ``epoch_steps_per_second``, ``batch_<metric>``
and ``batch_steps_per_second`` at the global batch number (from 1),
``evaluation_<metric>_vs_iterations`` at the optimizer's iterations, and
``<weight path>/histogram`` / ``<weight path>/image``. When TensorFlow is installed,
``test_same_tags_as_keras_own_callback`` also diffs the tags against Keras's callback.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import warnings

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from readback import accumulator  # noqa: E402

pytestmark = pytest.mark.system

keras = pytest.importorskip("keras", reason="keras is not installed (pip install -e '.[test]')")
if keras.backend.backend() != "jax":
    pytest.skip(
        f"keras runs on {keras.backend.backend()!r} in this process, not JAX",
        allow_module_level=True,
    )

from tbwrite.integrations.keras import TensorBoard  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCHES = 4  # 64 samples, batch_size 16
EPOCHS = 3


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x.sum(axis=1, keepdims=True) > 0).astype("float32")
    return x, y


def _model(lr=0.01):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu", name="hidden"),
            keras.layers.Dense(1, activation="sigmoid", name="out"),
        ],
        name="net",
    )
    model.compile(keras.optimizers.Adam(lr), "binary_crossentropy", metrics=["accuracy"])
    return model


def _fit(tmp_path, **kwargs):
    x, y = _data()
    model = _model()
    cb = TensorBoard(tmp_path / "logs", **kwargs)
    history = model.fit(
        x, y, validation_data=(x[:16], y[:16]), epochs=EPOCHS, batch_size=16, verbose=0,
        callbacks=[cb],
    )  # fmt: skip
    return model, cb, history.history


def _scalars(run_dir):
    acc = accumulator(run_dir)
    return {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}


def _f32(values):
    return np.array(values, dtype=np.float32)


def test_fit_writes_keras_layout_tags_and_history_values(tmp_path):
    model, cb, history = _fit(
        tmp_path, histogram_freq=1, write_images=True, update_freq="batch",
        write_steps_per_second=True,
    )  # fmt: skip
    logs = tmp_path / "logs"
    assert sorted(os.listdir(logs)) == ["train", "validation"]

    train = _scalars(logs / "train")
    assert sorted(train) == sorted(
        ["epoch_loss", "epoch_accuracy", "epoch_learning_rate", "epoch_steps_per_second",
         "batch_loss", "batch_accuracy", "batch_steps_per_second"]
    )  # fmt: skip
    for name in ("loss", "accuracy"):
        assert [s for s, _ in train[f"epoch_{name}"]] == list(range(EPOCHS))
        np.testing.assert_array_equal(
            _f32([v for _, v in train[f"epoch_{name}"]]), _f32(history[name])
        )
    assert train["epoch_learning_rate"] == [(e, pytest.approx(0.01)) for e in range(EPOCHS)]
    assert all(v > 0 for _, v in train["epoch_steps_per_second"])
    steps = list(range(1, EPOCHS * BATCHES + 1))  # the global batch number, from 1
    for tag in ("batch_loss", "batch_accuracy", "batch_steps_per_second"):
        assert [s for s, _ in train[tag]] == steps
    # the batch value at an epoch's last batch is that epoch's running mean: the epoch value
    last = [v for s, v in train["batch_loss"] if s % BATCHES == 0]
    np.testing.assert_allclose(last, history["loss"], rtol=1e-6)

    val = _scalars(logs / "validation")
    assert sorted(val) == sorted(
        ["epoch_loss", "epoch_accuracy",
         "evaluation_loss_vs_iterations", "evaluation_accuracy_vs_iterations"]
    )  # fmt: skip
    for name in ("loss", "accuracy"):
        np.testing.assert_array_equal(
            _f32([v for _, v in val[f"epoch_{name}"]]), _f32(history[f"val_{name}"])
        )
        evaluation = val[f"evaluation_{name}_vs_iterations"]
        assert [s for s, _ in evaluation] == [BATCHES * (e + 1) for e in range(EPOCHS)]
        np.testing.assert_array_equal(
            _f32([v for _, v in evaluation]), _f32(history[f"val_{name}"])
        )

    # weights: Keras's tags, every epoch; the last epoch's are the trained weights
    acc = accumulator(logs / "train")
    weights = {w.path: np.asarray(w.numpy()) for layer in model.layers for w in layer.weights}
    assert sorted(weights) == [
        "net/hidden/bias",
        "net/hidden/kernel",
        "net/out/bias",
        "net/out/kernel",
    ]
    # out/bias has one value: squeezed to a scalar, Keras writes no image of it
    imaged = ["net/hidden/bias", "net/hidden/kernel", "net/out/kernel"]
    assert sorted(acc.Tags()["tensors"]) == sorted(
        [f"{p}/histogram" for p in weights] + [f"{p}/image" for p in imaged]
    )
    for path, w in weights.items():
        events = acc.Tensors(f"{path}/histogram")
        assert [e.step for e in events] == list(range(EPOCHS))
        assert acc.SummaryMetadata(f"{path}/histogram").plugin_data.plugin_name == "histograms"
        buckets = np.frombuffer(events[-1].tensor_proto.tensor_content, dtype="<f8").reshape(-1, 3)
        assert buckets[:, 2].sum() == w.size
        if w.size > 1:
            assert len(buckets) == 30
            assert buckets[0, 0] == pytest.approx(w.min()) and buckets[-1, 1] == pytest.approx(
                w.max()
            )

    from PIL import Image

    for path, expected in [
        ("net/hidden/kernel", weights["net/hidden/kernel"]),  # (4, 8): 4 rows of 8, as it is
        ("net/hidden/bias", weights["net/hidden/bias"].reshape(8, 1)),  # a bias: a column
        ("net/out/kernel", weights["net/out/kernel"].reshape(8, 1)),  # (8, 1) squeezed: a bias
    ]:
        event = acc.Tensors(f"{path}/image")[-1]
        assert acc.SummaryMetadata(f"{path}/image").plugin_data.plugin_name == "images"
        width, height, png = event.tensor_proto.string_val[:3]
        pixels = np.asarray(Image.open(io.BytesIO(png)))
        assert pixels.shape == expected.shape == (int(height), int(width))
        np.testing.assert_array_equal(pixels, np.clip(expected * 255.5, 0, 255).astype(np.uint8))

    # model.evaluate afterwards: its evaluation_* at the current iteration count, and the
    # writers it opened are closed again
    x, y = _data()
    result = model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[cb], return_dict=True)
    assert cb._writers == {}
    val = _scalars(logs / "validation")
    assert val["evaluation_loss_vs_iterations"][-1] == (
        EPOCHS * BATCHES,
        pytest.approx(result["loss"], rel=1e-6),
    )


def test_update_freq_n_and_epoch(tmp_path):
    _, _, history = _fit(tmp_path / "n", update_freq=3)
    train = _scalars(tmp_path / "n" / "logs" / "train")
    assert [s for s, _ in train["batch_loss"]] == [3, 6, 9, 12]
    assert "batch_steps_per_second" not in train and "epoch_steps_per_second" not in train

    _, _, history = _fit(tmp_path / "e")
    train = _scalars(tmp_path / "e" / "logs" / "train")
    assert sorted(train) == ["epoch_accuracy", "epoch_learning_rate", "epoch_loss"]
    assert accumulator(tmp_path / "e" / "logs" / "train").Tags()["tensors"] == []
    np.testing.assert_array_equal(_f32([v for _, v in train["epoch_loss"]]), _f32(history["loss"]))


def test_histogram_freq_2_logs_epochs_0_2_4(tmp_path):
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=5, batch_size=32, verbose=0,
              callbacks=[TensorBoard(tmp_path, histogram_freq=2)])  # fmt: skip
    acc = accumulator(tmp_path / "train")
    assert [e.step for e in acc.Tensors("net/hidden/kernel/histogram")] == [0, 2, 4]
    assert "net/hidden/kernel/image" not in acc.Tags()["tensors"]
    assert not (tmp_path / "validation").exists()  # no validation data: no empty run


def test_embeddings_for_the_projector(tmp_path):
    from google.protobuf import text_format
    from tensorboard.plugins.projector import projector_config_pb2

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((5,), dtype="int32"), keras.layers.Embedding(10, 3, name="words"),
         keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)]
    )  # fmt: skip
    model.compile("sgd", "mse")
    labels = tmp_path / "labels.tsv"
    labels.write_text("".join(f"word{i}\n" for i in range(10)))
    ids = np.random.default_rng(0).integers(0, 10, size=(32, 5))
    cb = TensorBoard(
        tmp_path / "logs", embeddings_freq=1, embeddings_metadata={"words": str(labels)}
    )
    model.fit(ids, ids.sum(axis=1).astype("float32"), epochs=2, verbose=0, callbacks=[cb])

    train = tmp_path / "logs" / "train"
    config = text_format.Parse(
        (train / "projector_config.pbtxt").read_text(), projector_config_pb2.ProjectorConfig()
    )
    assert sorted(e.tensor_name for e in config.embeddings) == ["words:00000", "words:00001"]
    last = next(e for e in config.embeddings if e.tensor_name.endswith("00001"))
    table = np.loadtxt(train / last.tensor_path, delimiter="\t")
    np.testing.assert_allclose(table, model.get_layer("words").embeddings.numpy(), rtol=1e-5)
    assert (train / last.metadata_path).read_text().split() == [f"word{i}" for i in range(10)]

    with pytest.raises(ValueError, match="nope"):
        model.fit(ids, ids.sum(axis=1), epochs=1, verbose=0,
                  callbacks=[TensorBoard(tmp_path / "x", embeddings_freq=1,
                                         embeddings_metadata={"nope": str(labels)})])  # fmt: skip


def test_arguments_checked_and_unsupported_ones_documented(tmp_path):
    for bad in ({"update_freq": "sometimes"}, {"update_freq": 0}, {"histogram_freq": -1},
                {"embeddings_freq": 1.5}):  # fmt: skip
        with pytest.raises(ValueError, match=next(iter(bad))):
            TensorBoard(tmp_path, **bad)
    with pytest.raises(TypeError, match="log_dir"):
        TensorBoard(None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TensorBoard(tmp_path, write_graph=True, profile_batch=0)  # the defaults: silent
    assert TensorBoard(tmp_path, update_freq="batch").update_freq == 1  # as Keras stores it
    assert os.listdir(tmp_path) == []  # nothing written before training


def test_profile_batch_warns_once():
    code = (
        "import os, warnings; os.environ['KERAS_BACKEND'] = 'jax'\n"
        "from tbwrite.integrations.keras import TensorBoard\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    TensorBoard('logs', profile_batch=5); TensorBoard('logs', profile_batch=(2, 4))\n"
        "print(sum('profile_batch' in str(x.message) for x in w))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=ROOT),
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert out.stdout.split()[-1] == "1"


def test_import_tbwrite_does_not_import_keras():
    code = "import sys, tbwrite, tbwrite.integrations; print('keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=ROOT),
                         capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    assert out.stdout.strip() == "False"


def test_same_tags_as_keras_own_callback(tmp_path):
    pytest.importorskip("tensorflow", reason="Keras's own callback writes through TensorFlow")
    kwargs = {"histogram_freq": 1, "write_images": True, "update_freq": "batch",
              "write_steps_per_second": True, "write_graph": False}  # fmt: skip
    x, y = _data()
    for name, cls in (("ours", TensorBoard), ("keras", keras.callbacks.TensorBoard)):
        _model().fit(x, y, validation_data=(x[:16], y[:16]), epochs=2, batch_size=16,
                     verbose=0, callbacks=[cls(str(tmp_path / name), **kwargs)])  # fmt: skip
    for run in ("train", "validation"):
        ours, theirs = accumulator(tmp_path / "ours" / run), accumulator(tmp_path / "keras" / run)
        for kind in ("scalars", "tensors"):
            assert sorted(ours.Tags()[kind]) == sorted(theirs.Tags()[kind]), (run, kind)
