"""TensorFlow's conversions, for the fronts that follow ``tf.summary`` (the clu-style writer
and the Keras callback), as :mod:`tbwrite._summaries.torch_rules` holds PyTorch's for the
torch-style writer. Pure functions on numpy arrays; checked against event files written by
TensorFlow 2.21 (tests/fixtures/tf, made by scripts/gen_tf_goldens.py).

- Images: ``tf.summary.image`` converts floats as ``tf.image.convert_image_dtype(x, uint8,
  saturate=True)``: ``x * 255.5``, clipped to [0, 255], truncated (0.9999 is 255, 0.5 is
  127); uint8 is kept.
- Audio: ``tf.summary.audio``'s WAV encoder keeps every channel and writes each sample as
  ``roundf(x * 32768)`` in float32, clipped to [-32768, 32767] (0.5 is 16384, 1.0 is 32767).
- HParams: ``hp.hparams`` (what clu's ``write_hparams`` calls) names the session's group by
  a SHA-256 of the hyperparameters as sorted, compact JSON, so TensorBoard's HParams
  dashboard groups runs with the same hyperparameters into one session group.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Mapping
from typing import Any, Final

import numpy as np

__all__ = [
    "PCM16_SCALE", "PIXEL_SCALE", "hparams_group_name", "pcm16", "pixels_uint8", "wav_encode",
]  # fmt: skip

PIXEL_SCALE: Final = 255.5
PCM16_SCALE: Final = np.float32(32768.0)
_WAV_SAMPLE_WIDTH: Final = 2  # bytes: PCM16


def pixels_uint8(arr: np.ndarray) -> np.ndarray:
    """Images as uint8 pixels, floats converted as TensorFlow converts them."""
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        # In the input's own float type, as TensorFlow multiplies.
        with np.errstate(invalid="ignore"):
            out: np.ndarray = np.clip(arr * arr.dtype.type(PIXEL_SCALE), 0, 255).astype(np.uint8)
        return out
    return arr


def pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples as int16, as TensorFlow's WAV encoder writes them."""
    scaled = samples.astype(np.float32) * PCM16_SCALE
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5))  # half away from 0
    out: np.ndarray = np.clip(rounded, -32768, 32767).astype("<i2")
    return out


def wav_encode(samples: np.ndarray, sample_rate: int) -> bytes:
    """A PCM16 WAV of ``samples`` shaped [frames, channels], every channel kept."""
    pcm = pcm16(samples)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(samples.shape[1])
        out.setsampwidth(_WAV_SAMPLE_WIDTH)
        out.setframerate(sample_rate)
        out.writeframes(np.ascontiguousarray(pcm).tobytes())  # frames interleave channels
    return buf.getvalue()


def hparams_group_name(hparams: Mapping[str, Any], written: Mapping[str, Any]) -> str:
    """``hp.hparams``'s session group name for the (flattened) ``hparams``: the SHA-256 of
    ``json.dumps(hparams, sort_keys=True, separators=(",", ":"))`` after numpy scalars are
    made Python values (TensorFlow's ``_derive_session_group_name``). A value JSON cannot
    hold (which ``hp.hparams`` refuses) enters as ``written[name]``, what tbwrite writes."""
    import hashlib
    import json

    plain: dict[str, Any] = {}
    for name, value in hparams.items():
        if isinstance(value, np.generic) or (
            hasattr(value, "item") and getattr(value, "size", None) == 1
        ):
            value = value.item()
        if value is not None and not isinstance(value, (bool, int, float, str)):
            value = written[name]
        plain[name] = value
    text = json.dumps(plain, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
