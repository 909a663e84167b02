"""Video and audio: frames checked and encoded as an animated GIF (Pillow), samples as a
mono PCM16 WAV (the standard library's ``wave``).
"""

from __future__ import annotations

import io
import wave
from typing import Any, Final

import numpy as np

from .media import (
    WAV_SAMPLE_WIDTH,
    as_array,
    as_uint8_pixels,
    pillow,
    show_shape,
)
from .torch_rules import pcm16

# -- video (GIF through Pillow) -----------------------------------------------------------

# A GIF frame's delay is a 16-bit count of hundredths of a second: at most 655.35 s.
MIN_GIF_FPS: Final = 100 / 0xFFFF


def video_frames(value: Any, name: str = "vid_tensor") -> np.ndarray:
    """(N, T, C, H, W) videos as (T, H', W', C) uint8 frames, the N videos tiled in a grid of
    2**floor(log2(N)/2) rows and as many columns as a power-of-two N needs (as PyTorch).
    C is 1 or 3."""
    arr = as_array(value, name)
    if arr.ndim != 5:
        raise ValueError(f"{name} must have shape (N, T, C, H, W), got {show_shape(arr)}")
    n, t, c, h, w = arr.shape
    if c not in (1, 3):
        raise ValueError(f"{name} must have 1 or 3 channels (axis 2 of N, T, C, H, W), got {c}")
    if 0 in arr.shape:
        raise ValueError(f"{name} must not be empty, got {show_shape(arr)}")
    pixels = as_uint8_pixels(arr, name)
    # As PyTorch: N padded with black videos to a power of two, 2**floor(log2(N)/2) rows.
    rows = 2 ** ((n.bit_length() - 1) // 2)
    cols = (1 << (n - 1).bit_length()) // rows
    grid = np.zeros((t, rows * h, cols * w, c), dtype=np.uint8)
    for i in range(n):
        y, x = (i // cols) * h, (i % cols) * w
        grid[:, y : y + h, x : x + w] = pixels[i].transpose(0, 2, 3, 1)
    return grid


def gif_encode(frames: np.ndarray, fps: float) -> bytes:
    """An animated GIF (looping) of (T, H, W, C) uint8 frames, C in {1, 3}; needs Pillow.

    When all frames together use at most 256 colours they share one exact palette, so the
    GIF holds the very pixels given; otherwise Pillow quantizes each frame.
    """
    image_module, _, _ = pillow("add_video")
    t, h, w, c = frames.shape
    flat = frames.reshape(-1, c)
    colors, index = np.unique(flat, axis=0, return_inverse=True)
    if len(colors) <= 256:
        palette = np.zeros((256, 3), dtype=np.uint8)
        palette[: len(colors)] = colors if c == 3 else np.repeat(colors, 3, axis=1)
        indices = index.reshape(t, h, w).astype(np.uint8)
        images = []
        for i in range(t):
            im = image_module.frombytes("P", (w, h), indices[i].tobytes())
            im.putpalette(palette.tobytes())
            images.append(im)
    else:
        images = [image_module.fromarray(f[:, :, 0] if c == 1 else f) for f in frames]
    buf = io.BytesIO()
    images[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=max(1, round(1000.0 / fps)),
        loop=0,
        optimize=False,
    )
    return buf.getvalue()


# -- audio (WAV) ------------------------------------------------------------------------


def sound_samples(value: Any, name: str = "snd_tensor") -> np.ndarray:
    """Mono samples, shape (L,) or anything that squeezes to it, e.g. (1, L), in their own
    dtype (PyTorch scales them in it). Samples outside [-1, 1] are clipped when encoded."""
    arr = as_array(value, name)
    squeezed = arr.squeeze() if arr.ndim > 1 else arr
    if squeezed.ndim != 1:
        raise ValueError(
            f"{name} must be one channel of samples, shape (L,) or (1, L), got {show_shape(arr)}"
        )
    if squeezed.size == 0:
        raise ValueError(f"{name} must not be empty")
    return squeezed


def wav_encode(samples: np.ndarray, sample_rate: int, name: str = "snd_tensor") -> bytes:
    """A mono PCM16 WAV of samples in [-1, 1] (times 32767, truncated, as PyTorch; samples
    outside are clipped with a one-time warning naming ``name``)."""
    pcm = pcm16(samples, name)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(WAV_SAMPLE_WIDTH)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buf.getvalue()
