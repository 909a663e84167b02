"""TensorFlow's numeric rules for pixels and samples, reimplemented (the clu-style front).

clu's ``metric_writers`` and Keras's callback write through ``tf.summary``, so the fronts
standing in for them convert input as TensorFlow does, not as PyTorch does
(:mod:`.torch_rules`). Each rule lives here once and each front picks its rule set:

- Pixels (``tf.summary.image`` -> ``tf.image.convert_image_dtype(x, uint8, saturate=True)``):
  uint8 as given; floats times 255.5 in float32, clipped to [0, 255], then truncated. So
  0.9999 is 255 (PyTorch: 254) and 0.5 is 127. NaN becomes 0.
- Samples (``tf.audio.encode_wav``): float32 times 32768, rounded half away from zero and
  clamped to the int16 range; every channel is kept, interleaved frame by frame.
"""

from __future__ import annotations

import io
import wave
from typing import Final

import numpy as np

from .media import WAV_SAMPLE_WIDTH

# convert_image_dtype's float -> uint8 scale with saturate=True: max + 0.5, so that the
# truncating cast lands each value on the nearest of the 256 levels.
TF_PIXEL_SCALE: Final = 255.5
# wav_io's FloatToInt16Sample multiplier: 2**15.
TF_SAMPLE_SCALE: Final = 32768.0
_INT16_MIN: Final = -32768
_INT16_MAX: Final = 32767


def tf_pixels_uint8(arr: np.ndarray) -> np.ndarray:
    """Pixels as uint8 as ``tf.summary.image`` makes them (see the module docstring)."""
    if arr.dtype == np.uint8:
        return arr
    scaled = np.nan_to_num(arr.astype(np.float32) * np.float32(TF_PIXEL_SCALE), nan=0.0)
    pixels: np.ndarray = np.clip(scaled, 0, 255).astype(np.uint8)
    return pixels


def tf_pcm16(samples: np.ndarray) -> np.ndarray:
    """Samples (any shape) as int16 as ``tf.audio.encode_wav`` makes them."""
    scaled = np.nan_to_num(samples.astype(np.float32) * np.float32(TF_SAMPLE_SCALE), nan=0.0)
    # np.round rounds half to even; TensorFlow's roundf rounds half away from zero.
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5))
    pcm: np.ndarray = np.clip(rounded, _INT16_MIN, _INT16_MAX).astype("<i2")
    return pcm


def tf_wav_encode(clip: np.ndarray, sample_rate: int) -> bytes:
    """A PCM16 WAV of one ``[T, C]`` clip with all C channels, as ``tf.audio.encode_wav``."""
    pcm = tf_pcm16(clip)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(int(clip.shape[1]))
        out.setsampwidth(WAV_SAMPLE_WIDTH)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buf.getvalue()
