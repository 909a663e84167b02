"""TensorFlow's pixel and sample rules (the clu-style front) against values TensorFlow
2.x produces for the same input (tf.image.convert_image_dtype(saturate=True),
tf.audio.encode_wav)."""

from __future__ import annotations

import io
import wave

import numpy as np

import tbwrite
from tbwrite._summaries.tf_rules import pcm16 as tf_pcm16
from tbwrite._summaries.tf_rules import pixels_uint8 as tf_pixels_uint8
from tbwrite.integrations.clu import SummaryWriter


def test_pixels_scale_by_255_5_and_saturate() -> None:
    arr = np.array([0.0, 0.5, 0.9999, 1.0, 1.5, -0.2, np.nan], dtype=np.float32)
    assert tf_pixels_uint8(arr).tolist() == [0, 127, 255, 255, 255, 0, 0]


def test_pixels_uint8_pass_through() -> None:
    arr = np.array([0, 7, 255], dtype=np.uint8)
    assert tf_pixels_uint8(arr).tolist() == [0, 7, 255]


def test_samples_scale_by_32768_round_half_away_and_clamp() -> None:
    arr = np.array([0.5, -0.5, 1.0, -1.0, 2.0, 1.5 / 32768, -1.5 / 32768], dtype=np.float32)
    assert tf_pcm16(arr).tolist() == [16384, -16384, 32767, -32768, 32767, 2, -2]


def _wav(tmp_path: object, tag: str) -> wave.Wave_read:
    acc = tbwrite.EventAccumulator(str(tmp_path))
    acc.Reload()
    (event,) = acc.Tensors(tag)  # the audio plugin's [k, 2] string tensor: (wav, label)
    return wave.open(io.BytesIO(tbwrite.make_ndarray(event.tensor_proto)[0, 0]))


def test_write_audios_keeps_every_channel(tmp_path: object) -> None:
    with SummaryWriter(str(tmp_path)) as w:
        w.write_audios(0, {"a": np.array([[[0.5, -0.5], [0.25, 0.0]]])}, sample_rate=8000)
    wav = _wav(tmp_path, "a")
    assert wav.getnchannels() == 2
    frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert frames.tolist() == [16384, -16384, 8192, 0]


def test_write_audios_bad_shape_writes_nothing(tmp_path: object) -> None:
    import pytest

    with SummaryWriter(str(tmp_path)) as w:
        with pytest.raises(ValueError, match=r"audios\['b'\]"):
            w.write_audios(0, {"a": np.zeros((1, 4, 1)), "b": np.zeros((4, 1))}, sample_rate=8000)
        w.write_audios(1, {"a": np.zeros((1, 4, 1))}, sample_rate=8000)
    acc = tbwrite.EventAccumulator(str(tmp_path))
    acc.Reload()
    assert [e.step for e in acc.Tensors("a")] == [1]


def test_write_summaries_bad_metadata_writes_nothing(tmp_path: object) -> None:
    import pytest

    with SummaryWriter(str(tmp_path)) as w:
        with pytest.raises(TypeError, match=r"metadata\['a'\]"):
            w.write_summaries(0, {"b": np.eye(2), "a": np.eye(3)}, {"a": 3})
        w.write_summaries(1, {"b": np.eye(2)})
    acc = tbwrite.EventAccumulator(str(tmp_path))
    acc.Reload()
    assert [e.step for e in acc.Tensors("b")] == [1]
    assert "a" not in acc.Tags()["tensors"]


def test_write_histograms_bad_value_writes_nothing(tmp_path: object) -> None:
    import pytest

    with SummaryWriter(str(tmp_path)) as w:
        with pytest.raises((TypeError, ValueError), match=r"values|arrays|'b'"):
            w.write_histograms(0, {"a": np.arange(4.0), "b": np.array(["x", "y"])})
        w.write_histograms(1, {"a": np.arange(4.0)})
    acc = tbwrite.EventAccumulator(str(tmp_path))
    acc.Reload()
    assert [e.step for e in acc.Tensors("a")] == [1]


def test_constant_histogram_has_tensorflows_30_buckets() -> None:
    # tf.summary.histogram of [2., 2., 2.] (TensorBoard 2.x): 30 zero-width buckets at 2,
    # every count in the last one.
    from tbwrite._summaries.histograms import histogram_buckets

    out = histogram_buckets(np.array([2.0, 2.0, 2.0]))
    assert out.shape == (30, 3)
    assert (out[:, :2] == 2.0).all()
    assert out[:, 2].tolist() == [0.0] * 29 + [3.0]
