"""The clu-style writer against TensorFlow itself: ``tests/fixtures/tf`` holds what
``tf.summary`` (which clu's writer and Keras's callback call) wrote for the inputs of
``scripts/gen_tf_goldens.py`` (made once with TensorFlow 2.21; the tests need no TensorFlow).
Each kind is compared value by value with what tbwrite's clu-style writer writes for the
same inputs."""

from __future__ import annotations

import io
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

import tbwrite
from tbwrite.integrations.clu import SummaryWriter as CluWriter

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "tf" / "tf_summary"
sys.path.insert(0, str(ROOT / "scripts"))
from gen_tf_goldens import inputs  # noqa: E402


def _values(logdir: Path) -> dict[str, object]:
    out = {}
    for record in tbwrite.iter_events(logdir):
        for value in record.event.summary.value:
            out[value.tag] = value
    return out


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    data = inputs()
    logdir = tmp_path_factory.mktemp("clu")
    with CluWriter(logdir) as w:
        w.write_scalars(3, data["scalars"])
        w.write_images(3, {"image": data["image"]})
        w.write_audios(3, {"audio": data["audio"]}, sample_rate=8000)
        w.write_histograms(3, {"constant": data["constant"], "normal": data["normal"]})
        w.write_texts(3, {"text": data["text"]})
        w.write_summaries(3, {"raw": data["raw"]}, {"raw": data["raw_metadata"]})
        w.write_hparams(data["hparams"])
    return _values(GOLDEN), _values(logdir)


def _array(tensor) -> np.ndarray:
    from tbwrite._reading.tensors import tensor_to_numpy

    return tensor_to_numpy(tensor)


@pytest.mark.parametrize("tag", ["loss", "acc", "big"])
def test_scalars(both, tag) -> None:
    tf, ours = both
    assert ours[tag].metadata.plugin_data.plugin_name == tf[tag].metadata.plugin_data.plugin_name
    assert ours[tag].tensor.dtype == tf[tag].tensor.dtype  # DT_FLOAT
    a, b = _array(ours[tag].tensor), _array(tf[tag].tensor)
    assert a.shape == b.shape == () and a.dtype == b.dtype == np.float32
    assert a.tobytes() == b.tobytes()
    assert not ours[tag].HasField("simple_value")


def _pixels(value) -> list[np.ndarray]:
    from PIL import Image

    return [np.array(Image.open(io.BytesIO(png))) for png in value.tensor.string_val[2:]]


def test_image_pixels(both) -> None:
    pytest.importorskip("PIL")
    tf, ours = both
    assert list(ours["image"].tensor.string_val[:2]) == list(tf["image"].tensor.string_val[:2])
    for a, b in zip(_pixels(ours["image"]), _pixels(tf["image"])):
        np.testing.assert_array_equal(a.reshape(-1), b.reshape(-1))


def _wav(value) -> tuple[int, int, np.ndarray]:
    clip = wave.open(io.BytesIO(value.tensor.string_val[0]))
    frames = np.frombuffer(clip.readframes(clip.getnframes()), "<i2")
    return clip.getnchannels(), clip.getframerate(), frames


def test_audio_samples_and_channels(both) -> None:
    tf, ours = both
    channels, rate, frames = _wav(ours["audio"])
    assert (channels, rate) == _wav(tf["audio"])[:2]
    np.testing.assert_array_equal(frames, _wav(tf["audio"])[2])


@pytest.mark.parametrize("tag", ["constant", "normal"])
def test_histogram_buckets(both, tag) -> None:
    tf, ours = both
    a, b = _array(ours[tag].tensor), _array(tf[tag].tensor)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=0)


def test_text(both) -> None:
    tf, ours = both
    for field in ("metadata", "tensor"):
        assert getattr(ours["text"], field) == getattr(tf["text"], field)


def test_write_summaries_tensor_and_metadata(both) -> None:
    tf, ours = both
    assert ours["raw"].metadata == tf["raw"].metadata
    a, b = _array(ours["raw"].tensor), _array(tf["raw"].tensor)
    assert (a.dtype, a.shape) == (b.dtype, b.shape)
    np.testing.assert_array_equal(a, b)


def test_hparams_session_start(both) -> None:
    from tbwrite._proto import hparams_pb2

    tf, ours = both
    tag = "_hparams_/session_start_info"
    a, b = (
        hparams_pb2.HParamsPluginData.FromString(v[tag].metadata.plugin_data.content)
        for v in (ours, tf)
    )
    assert a.session_start_info.start_time_secs > 0
    a.session_start_info.start_time_secs = b.session_start_info.start_time_secs = 0
    # the same hparams, types and group name (TensorBoard groups runs by it)
    assert a == b
    assert ours[tag].metadata.plugin_data.plugin_name == "hparams"
