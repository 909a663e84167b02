"""tbwrite.integrations.keras.TensorBoard with a real ``model.fit`` on Keras 3's JAX backend,
read back with TensorBoard's own EventAccumulator.

TensorFlow is not needed (and usually not installed), so Keras's own callback cannot run
beside ours; the run layout and the exact tag names asserted here are those of
keras/src/callbacks/tensorboard.py (Keras 3): ``train`` / ``validation`` runs,
``epoch_<metric>``, ``epoch_learning_rate``, ``epoch_steps_per_second``, ``batch_<metric>``
and ``batch_steps_per_second`` at the global batch number (from 1),
``evaluation_<metric>_vs_iterations`` at the optimizer's iterations, and
``<weight path>/histogram`` / ``<weight path>/image``. With TensorFlow installed,
``test_same_tags_as_keras_own_callback`` also diffs the tags against Keras's callback.

Keras trains in one child interpreter (``jax_trainings``, with ``KERAS_BACKEND=jax``), which
also saves what Keras reported (History, weights, evaluate's result): JAX starts threads,
and later tests of the suite fork.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import readback
from docblocks import KERAS_BLOCK, script
from readback import accumulator

pytestmark = pytest.mark.system

HERE = Path(__file__).resolve().parent
# The checkout whose tbwrite is tested, and where the helpers (readback) live: the children
# get the same import path as this process.
ROOT = next(p for p in HERE.parents if (p / "pyproject.toml").exists())
MODULE = Path(__file__).stem  # imported by the children
CHILD_PATH = os.pathsep.join(
    dict.fromkeys([str(ROOT), str(HERE), str(Path(readback.__file__).resolve().parent)])
)
BATCHES = 4  # 64 samples, batch_size 16
EPOCHS = 3


def _child(code, *args, backend="jax", extra_env=None):
    """Run ``code`` in a fresh interpreter on a Keras backend, in tests/, with this tbwrite
    first on the path (and ``extra_env`` in its environment); its stdout."""
    env = dict(
        os.environ,
        KERAS_BACKEND=backend,
        PYTHONPATH=CHILD_PATH,
        **(extra_env or {}),
    )
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env, cwd=HERE,
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x.sum(axis=1, keepdims=True) > 0).astype("float32")
    return x, y


def _keras_runs(root):
    """In a child: every Keras training the tests read back, and what Keras reported."""
    import warnings

    import keras

    from tbwrite.integrations.keras import TensorBoard

    assert keras.backend.backend() == "jax"
    root = Path(root)
    out = {}
    x, y = _data()

    def model(lr=0.01):
        keras.utils.set_random_seed(0)
        m = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(8, activation="relu", name="hidden"),
             keras.layers.Dense(1, activation="sigmoid", name="out")],
            name="net",
        )  # fmt: skip
        m.compile(keras.optimizers.Adam(lr), "binary_crossentropy", metrics=["accuracy"])
        return m

    def fit(name, **kwargs):
        m = model()
        cb = TensorBoard(root / name, **kwargs)
        history = m.fit(x, y, validation_data=(x[:16], y[:16]), epochs=EPOCHS, batch_size=16,
                        verbose=0, callbacks=[cb])  # fmt: skip
        out[name] = history.history
        return m, cb

    # everything on; then model.evaluate with the same callback
    m, cb = fit("full", histogram_freq=1, write_images=True, update_freq="batch",
                write_steps_per_second=True)  # fmt: skip
    np.savez(root / "weights.npz", **{w.path: w.numpy() for w in m.weights})
    out["evaluate"] = m.evaluate(x, y, batch_size=16, verbose=0, callbacks=[cb], return_dict=True)
    out["writers_after_evaluate"] = len(cb._writers)

    fit("every3", update_freq=3)
    fit("defaults")
    m = model()
    m.fit(x, y, epochs=5, batch_size=32, verbose=0,
          callbacks=[TensorBoard(root / "hist2", histogram_freq=2)])  # fmt: skip

    # embeddings
    keras.utils.set_random_seed(0)
    m = keras.Sequential(
        [keras.Input((5,), dtype="int32"), keras.layers.Embedding(10, 3, name="words"),
         keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)]
    )  # fmt: skip
    m.compile("sgd", "mse")
    labels = root / "labels.tsv"
    labels.write_text("".join(f"word{i}\n" for i in range(10)))
    ids = np.random.default_rng(0).integers(0, 10, size=(32, 5))
    targets = ids.sum(axis=1).astype("float32")
    cb = TensorBoard(root / "emb", embeddings_freq=1, embeddings_metadata={"words": str(labels)})
    m.fit(ids, targets, epochs=2, verbose=0, callbacks=[cb])
    np.save(root / "words.npy", m.get_layer("words").embeddings.numpy())

    # bad arguments: each refused, nothing written
    out["errors"] = []
    bad_calls = [
        {"update_freq": "sometimes"}, {"update_freq": 0}, {"histogram_freq": -1},
        {"embeddings_freq": 1.5}, {"log_dir": None},
        {"embeddings_freq": 1, "embeddings_metadata": {"nope": str(labels)}},
    ]  # fmt: skip
    for kwargs in bad_calls:
        kwargs = {"log_dir": root / "bad", **kwargs}
        try:
            m.fit(ids, targets, epochs=1, verbose=0, callbacks=[TensorBoard(**kwargs)])
        except (TypeError, ValueError) as err:
            out["errors"].append(f"{type(err).__name__}: {err}")
    out["bad_written"] = (root / "bad").exists()

    # unsupported arguments: the defaults are silent, a profile_batch warns once
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        TensorBoard(root / "w", write_graph=True, profile_batch=0)
        out["default_warnings"] = len(caught)
        TensorBoard(root / "w", profile_batch=5)
        TensorBoard(root / "w", profile_batch=(2, 4))
        out["profile_warnings"] = [str(w.message) for w in caught]
    out["batch_update_freq"] = TensorBoard(root / "w", update_freq="batch").update_freq
    (root / "reported.json").write_text(json.dumps(out, default=float))


def _need(*modules):
    # Looked up, not imported: Keras and JAX run in the child only.
    for module in modules:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[test]')")


@pytest.fixture(scope="module")
def jax_trainings(tmp_path_factory):
    """Every Keras training on JAX this module reads back, in one child (Keras and JAX take
    about 4 s to import): the docs' Keras example as written (its cwd ``example/``), then,
    each from a cleared Keras session, ``_keras_runs`` into ``fits/`` and
    ``_tbwrite_keras_goldens`` into ``goldens/``."""
    _need("keras", "jax")
    root = tmp_path_factory.mktemp("keras")
    before = 'import os, sys\nos.chdir(sys.argv[1] + "/example")'
    then = f"""if True:
        os.chdir({str(HERE)!r})
        import keras, {MODULE} as t
        keras.backend.clear_session()
        t._keras_runs(sys.argv[1] + "/fits")
        keras.backend.clear_session()
        t._tbwrite_keras_goldens(sys.argv[1] + "/goldens")
    """
    for sub in ("example", "fits", "goldens"):
        (root / sub).mkdir()
    # Its models repeat a few shapes: JAX's compilation cache compiles each shape's steps
    # once, where every new model compiled them again (about 2 s of the child's 9).
    cache = {
        "JAX_COMPILATION_CACHE_DIR": str(root / "jax-cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    _child(script(KERAS_BLOCK, then=then, before=before), root, extra_env=cache)
    return root


def test_docs_example_writes_what_the_docs_say(jax_trainings) -> None:
    """``runs/keras/train`` and ``runs/keras/validation``: ``epoch_loss`` and ``epoch_mae``
    per epoch (and the learning rate in train), weight histograms and images at
    ``histogram_freq=1``."""
    logdir = jax_trainings / "example" / "runs" / "keras"
    assert sorted(p.name for p in logdir.iterdir()) == ["train", "validation"]
    train, validation = _scalars(logdir / "train"), _scalars(logdir / "validation")
    epochs = [0, 1, 2, 3, 4]
    assert {"epoch_loss", "epoch_mae", "epoch_learning_rate"} <= set(train)
    assert {"epoch_loss", "epoch_mae"} <= set(validation)
    for points in (train["epoch_loss"], train["epoch_mae"], validation["epoch_loss"]):
        assert [step for step, _ in points] == epochs
        assert all(np.isfinite(value) for _, value in points)
    tags = accumulator(logdir / "train").Tags()
    assert any(t.endswith("/histogram") for t in tags["histograms"] + tags["tensors"]), tags
    assert any(t.endswith("/image") for t in tags["images"] + tags["tensors"]), tags


@pytest.fixture(scope="module")
def keras_root(jax_trainings):
    root = jax_trainings / "fits"
    return root, json.loads((root / "reported.json").read_text())


def _is_scalar(acc, tag):
    return acc.SummaryMetadata(tag).plugin_data.plugin_name == "scalars"


def _scalars(run_dir):
    # Keras writes scalars with tf.summary.scalar: rank-0 float32 tensors of the scalars
    # plugin, which readers file under "tensors"; so does tbwrite's callback.
    from tensorboard.util import tensor_util

    acc = accumulator(run_dir)
    assert acc.Tags()["scalars"] == []  # no simple_value scalars, as Keras writes none
    return {
        t: [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(t)]
        for t in acc.Tags()["tensors"]
        if _is_scalar(acc, t)
    }


def _non_scalar_tensors(acc):
    return [t for t in acc.Tags()["tensors"] if not _is_scalar(acc, t)]


def _values(points):
    return np.array([v for _, v in points], dtype=np.float32)


def _f32(values):
    return np.array(values, dtype=np.float32)


def test_fit_writes_keras_layout_and_history_values(keras_root):
    root, reported = keras_root
    history, logs = reported["full"], root / "full"
    assert sorted(os.listdir(logs)) == ["train", "validation"]

    train = _scalars(logs / "train")
    assert sorted(train) == sorted(
        ["epoch_loss", "epoch_accuracy", "epoch_learning_rate", "epoch_steps_per_second",
         "batch_loss", "batch_accuracy", "batch_steps_per_second"]
    )  # fmt: skip
    for name in ("loss", "accuracy"):
        assert [s for s, _ in train[f"epoch_{name}"]] == list(range(EPOCHS))
        np.testing.assert_array_equal(_values(train[f"epoch_{name}"]), _f32(history[name]))
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
        expected = _f32(history[f"val_{name}"])
        np.testing.assert_array_equal(_values(val[f"epoch_{name}"]), expected)
        evaluation = val[f"evaluation_{name}_vs_iterations"]
        # fit's validation at the optimizer's iterations, then model.evaluate's
        assert [s for s, _ in evaluation] == [BATCHES * (e + 1) for e in range(EPOCHS)] + [
            EPOCHS * BATCHES
        ]
        np.testing.assert_array_equal(_values(evaluation[:-1]), expected)
        assert evaluation[-1][1] == pytest.approx(reported["evaluate"][name], rel=1e-6)
    assert reported["writers_after_evaluate"] == 0  # evaluate on its own closes its files


def test_weight_histograms_and_images(keras_root):
    from PIL import Image

    root, _ = keras_root
    acc = accumulator(root / "full" / "train")
    with np.load(root / "weights.npz") as saved:
        weights = dict(saved)  # after the last epoch: what its histograms and images show
    assert sorted(weights) == [
        "net/hidden/bias", "net/hidden/kernel", "net/out/bias", "net/out/kernel"
    ]  # fmt: skip
    # out/bias has one value: squeezed to a scalar, Keras writes no image of it
    imaged = ["net/hidden/bias", "net/hidden/kernel", "net/out/kernel"]
    assert sorted(_non_scalar_tensors(acc)) == sorted(
        [f"{p}/histogram" for p in weights] + [f"{p}/image" for p in imaged]
    )
    for path, w in weights.items():
        events = acc.Tensors(f"{path}/histogram")
        assert [e.step for e in events] == list(range(EPOCHS))
        assert acc.SummaryMetadata(f"{path}/histogram").plugin_data.plugin_name == "histograms"
        buckets = np.frombuffer(events[-1].tensor_proto.tensor_content, dtype="<f8")
        buckets = buckets.reshape(-1, 3)
        assert buckets[:, 2].sum() == w.size
        if w.size > 1:  # 30 equal-width buckets from min to max, as tf.summary.histogram
            assert len(buckets) == 30
            assert buckets[0, 0] == pytest.approx(w.min())
            assert buckets[-1, 1] == pytest.approx(w.max())
    for path, expected in [
        ("net/hidden/kernel", weights["net/hidden/kernel"]),  # (4, 8): 4 rows of 8, as it is
        ("net/hidden/bias", weights["net/hidden/bias"].reshape(8, 1)),  # a bias: a column
        ("net/out/kernel", weights["net/out/kernel"].reshape(8, 1)),  # (8, 1) squeezed: a bias
    ]:
        events = acc.Tensors(f"{path}/image")
        assert [e.step for e in events] == list(range(EPOCHS))
        assert acc.SummaryMetadata(f"{path}/image").plugin_data.plugin_name == "images"
        width, height, png = events[-1].tensor_proto.string_val[:3]
        pixels = np.asarray(Image.open(io.BytesIO(png)))
        assert pixels.shape == expected.shape == (int(height), int(width))
        # floats as tf.image.convert_image_dtype(uint8, saturate=True) converts them
        np.testing.assert_array_equal(pixels, np.clip(expected * 255.5, 0, 255).astype(np.uint8))


def test_update_freq_n_and_the_defaults(keras_root):
    root, reported = keras_root
    train = _scalars(root / "every3" / "train")
    assert [s for s, _ in train["batch_loss"]] == [3, 6, 9, 12]
    assert "batch_steps_per_second" not in train and "epoch_steps_per_second" not in train

    train = _scalars(root / "defaults" / "train")
    assert sorted(train) == ["epoch_accuracy", "epoch_learning_rate", "epoch_loss"]
    assert _non_scalar_tensors(accumulator(root / "defaults" / "train")) == []
    np.testing.assert_array_equal(_values(train["epoch_loss"]), _f32(reported["defaults"]["loss"]))


def test_histogram_freq_2_logs_epochs_0_2_4(keras_root):
    root, _ = keras_root
    acc = accumulator(root / "hist2" / "train")
    assert [e.step for e in acc.Tensors("net/hidden/kernel/histogram")] == [0, 2, 4]
    assert "net/hidden/kernel/image" not in _non_scalar_tensors(acc)
    assert sorted(os.listdir(root / "hist2")) == ["train"]  # no validation data: no empty run


def test_embeddings_for_the_projector(keras_root):
    from google.protobuf import text_format
    from tensorboard.plugins.projector import projector_config_pb2

    root, _ = keras_root
    train = root / "emb" / "train"
    config = text_format.Parse(
        (train / "projector_config.pbtxt").read_text(), projector_config_pb2.ProjectorConfig()
    )
    assert sorted(e.tensor_name for e in config.embeddings) == ["words:00000", "words:00001"]
    last = next(e for e in config.embeddings if e.tensor_name.endswith("00001"))
    table = np.loadtxt(train / last.tensor_path, delimiter="\t")
    np.testing.assert_allclose(table, np.load(root / "words.npy"), rtol=1e-5)
    assert (train / last.metadata_path).read_text().split() == [f"word{i}" for i in range(10)]


def test_arguments_checked_and_unsupported_ones(keras_root):
    root, reported = keras_root
    assert reported["errors"] == [
        "ValueError: update_freq must be 'epoch', 'batch' or a positive int, got 'sometimes'",
        "ValueError: update_freq must be 'epoch', 'batch' or a positive int, got 0",
        "ValueError: histogram_freq must be an int >= 0, got -1",
        "ValueError: embeddings_freq must be an int >= 0, got 1.5",
        "TypeError: log_dir must be a non-empty str or os.PathLike, got None",
        "ValueError: embeddings_metadata names layers that are not Embedding layers of the "
        "model: ['nope']",
    ]
    assert reported["bad_written"] is False
    assert reported["default_warnings"] == 0  # write_graph=True, profile_batch=0: silent
    assert len(reported["profile_warnings"]) == 1  # once, though two asked to profile
    assert "does not profile: profile_batch=5" in reported["profile_warnings"][0]
    assert reported["batch_update_freq"] == 1  # as Keras stores "batch"


def test_import_tbwrite_does_not_import_keras():
    code = "import sys, tbwrite, tbwrite.integrations; print('keras' in sys.modules)"
    assert _child(code).strip() == "False"


def test_torch_backend_writes_the_same(tmp_path):
    _need("keras", "torch")
    code = f"""if True:
        import json, sys, keras
        from tbwrite.integrations.keras import TensorBoard
        import {MODULE} as t
        assert keras.backend.backend() == "torch"
        x, y = t._data()
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="hidden")])
        m.compile("adam", "mse")
        h = m.fit(x, y, validation_data=(x[:16], y[:16]), epochs=2, batch_size=16, verbose=0,
                  callbacks=[TensorBoard(sys.argv[1], histogram_freq=1, update_freq=2)])
        print(json.dumps(h.history["loss"]))
    """
    loss = json.loads(_child(code, tmp_path, backend="torch").strip().splitlines()[-1])
    train = _scalars(tmp_path / "train")
    assert sorted(train) == ["batch_loss", "epoch_learning_rate", "epoch_loss"]
    assert [s for s, _ in train["batch_loss"]] == [2, 4, 6, 8]
    np.testing.assert_array_equal(_values(train["epoch_loss"]), _f32(loss))
    assert sorted(_non_scalar_tensors(accumulator(tmp_path / "train"))) == [
        "sequential/hidden/bias/histogram", "sequential/hidden/kernel/histogram"
    ]  # fmt: skip
    assert sorted(_scalars(tmp_path / "validation")) == [
        "epoch_loss", "evaluation_loss_vs_iterations"
    ]  # fmt: skip


def test_same_tags_as_keras_own_callback(tmp_path):
    _need("keras", "jax")
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow is not installed: Keras's own callback writes through it")
    code = f"""if True:
        import sys, keras, numpy as np
        from tbwrite.integrations.keras import TensorBoard
        import {MODULE} as t
        x, y = t._data()
        kwargs = dict(histogram_freq=1, write_images=True, update_freq="batch",
                      write_steps_per_second=True, write_graph=False)
        for name, cls in (("ours", TensorBoard), ("keras", keras.callbacks.TensorBoard)):
            keras.utils.set_random_seed(0)
            m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(1)])
            m.compile("adam", "mse", metrics=["mae"])
            m.fit(x, y, validation_data=(x[:16], y[:16]), epochs=2, batch_size=16, verbose=0,
                  callbacks=[cls(sys.argv[1] + "/" + name, **kwargs)])
    """
    _child(code, tmp_path)
    for run in ("train", "validation"):
        ours, theirs = accumulator(tmp_path / "ours" / run), accumulator(tmp_path / "keras" / run)
        for kind in ("scalars", "tensors"):
            assert sorted(ours.Tags()[kind]) == sorted(theirs.Tags()[kind]), (run, kind)


# -- against Keras's own callback on TensorFlow: tests/fixtures/tf/keras -----------------
# scripts/gen_tf_goldens.py trained the models of its KERAS_RUNS with
# keras.callbacks.TensorBoard on the TensorFlow backend (write_graph=False); here the same
# models train on JAX with tbwrite's callback. Weights and inputs are multiples of small
# powers of two and the learning rate is 0, so both backends compute the same values bit
# for bit: every value is compared float32-exact.

GOLDEN_KERAS = ROOT / "tests" / "fixtures" / "tf" / "keras"
# update_freq=3 with 4 batches an epoch: Keras's record_if (meant for its batch summaries)
# also drops every epoch_* and evaluation_* whose epoch's last batch number (or the
# evaluation's batch count) is not a multiple of 3; tbwrite writes them (README).
_DROPPED_BY_KERAS = {("every3", "train"): "epoch_", ("every3", "validation"): ""}


def _tbwrite_keras_goldens(root):
    """In a child: the runs of gen_tf_goldens.KERAS_RUNS with tbwrite's callback."""
    import keras

    sys.path.insert(0, str(ROOT / "scripts"))
    from gen_tf_goldens import KERAS_RUNS, keras_fit

    from tbwrite.integrations.keras import TensorBoard

    assert keras.backend.backend() == "jax"
    for name, kwargs in KERAS_RUNS.items():
        keras_fit(name, TensorBoard(Path(root) / name, write_graph=False, **kwargs))


@pytest.fixture(scope="module")
def keras_vs_tf(jax_trainings):
    return jax_trainings / "goldens"


def _run_dirs(root):
    return sorted(str(p.parent.relative_to(root)) for p in root.rglob("events.out.tfevents.*"))


def _summaries(run_dir):
    """{tag: (plugin, [steps], [values])} of every tensor summary, read by EventAccumulator."""
    from tensorboard.util import tensor_util

    acc = accumulator(run_dir)
    assert acc.Tags()["scalars"] == acc.Tags()["histograms"] == acc.Tags()["images"] == []
    out = {}
    for tag in acc.Tags()["tensors"]:
        events = acc.Tensors(tag)
        plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
        values = [tensor_util.make_ndarray(e.tensor_proto) for e in events]
        out[tag] = (plugin, [e.step for e in events], values)
    return out


def _png_pixels(values):
    from PIL import Image

    return [np.asarray(Image.open(io.BytesIO(png))) for png in values[2:]]


def test_keras_same_runs_as_keras_own_callback(keras_vs_tf):
    assert _run_dirs(keras_vs_tf) == _run_dirs(GOLDEN_KERAS)


@pytest.mark.parametrize(
    "run",
    ["batch/train", "batch/validation", "epoch/train", "epoch/validation", "every2/train",
     "every2/validation", "every3/train", "every3/validation", "embeddings/train",
     "steps/train", "steps/validation"],
)  # fmt: skip
def test_keras_same_tags_steps_values_as_keras_own_callback(keras_vs_tf, run):
    pytest.importorskip("PIL")
    ours, theirs = _summaries(keras_vs_tf / run), _summaries(GOLDEN_KERAS / run)
    dropped = _DROPPED_BY_KERAS.get(tuple(run.split("/")))
    if dropped is not None:  # what Keras's record_if drops, and only that
        extra = set(ours) - set(theirs)
        assert extra and all(tag.startswith(dropped) for tag in extra)
        assert set(theirs) <= set(ours)
        ours = {tag: ours[tag] for tag in theirs}
    assert sorted(ours) == sorted(theirs)
    for tag, (plugin, steps, values) in theirs.items():
        assert ours[tag][:2] == (plugin, steps), tag
        for a, b in zip(ours[tag][2], values):
            assert (a.dtype, a.shape) == (b.dtype, b.shape), tag
            if tag.endswith("steps_per_second"):  # a timing: its own on each side
                assert a.shape == () and a > 0, tag
            elif plugin == "images":  # width, height, then one PNG per sample (at most 3)
                assert list(a[:2]) == list(b[:2]), tag
                for pa, pb in zip(_png_pixels(a), _png_pixels(b), strict=True):
                    np.testing.assert_array_equal(pa, pb)
            else:  # scalars (float32) and [k, 3] float64 histograms, bit for bit
                assert a.tobytes() == b.tobytes(), (tag, a, b)


def test_keras_same_as_keras_own_callback_through_tbparse(keras_vs_tf):
    tbparse = pytest.importorskip("tbparse")
    for name in ("batch", "every2", "embeddings"):
        ours = tbparse.SummaryReader(str(keras_vs_tf / name), extra_columns={"dir_name"})
        theirs = tbparse.SummaryReader(str(GOLDEN_KERAS / name), extra_columns={"dir_name"})
        a, b = ours.tensors, theirs.tensors
        assert a.columns.to_list() == b.columns.to_list()
        assert a[["dir_name", "tag", "step"]].equals(b[["dir_name", "tag", "step"]]), name
        scalar = a["tag"].str.startswith(("epoch_", "batch_", "evaluation_"))
        assert scalar.any()
        np.testing.assert_array_equal(
            np.array(a["value"][scalar].to_list(), dtype=np.float32),
            np.array(b["value"][scalar].to_list(), dtype=np.float32),
        )
        assert ours.scalars.empty and theirs.scalars.empty
