"""Summaries of the images and audio plugins.

- images: DT_STRING [width, height, encoded_1, ..., encoded_n] (PNG, or GIF for video).
- audio: DT_STRING [k, 2] of (WAV, label); no data class, so that both loaders project
  out the label column as they do for TensorFlow's audio summaries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np

from .._format.plugin_names import (
    PLUGIN_AUDIO,
    PLUGIN_DATA_VERSION,
    PLUGIN_IMAGES,
)
from .._proto import plugins_pb2, summary_pb2, tensor_pb2
from .summary_parts import plugin_metadata, summary_value, tensor_proto


def image_summary(
    tag: str, encoded: Sequence[bytes], width: int, height: int, *, with_metadata: bool
) -> bytes:
    """The images plugin's [width, height, image...] DT_STRING tensor."""
    strings = [str(width).encode(), str(height).encode(), *encoded]
    tensor = tensor_proto(tensor_pb2.DT_STRING, [len(strings)], string_val=strings)
    md = None
    if with_metadata:
        content = plugins_pb2.ImagePluginData(version=PLUGIN_DATA_VERSION).SerializeToString()
        md = plugin_metadata(PLUGIN_IMAGES, content, summary_pb2.DATA_CLASS_BLOB_SEQUENCE)
    return summary_pb2.Summary(value=[summary_value(tag, tensor, md)]).SerializeToString()


def audio_summary(
    tag: str, clips: Sequence[bytes], *, with_metadata: bool, labels: Sequence[str] = ()
) -> bytes:
    """The audio plugin's [k, 2] DT_STRING tensor of (WAV, markdown label)."""
    labels = list(labels) or [""] * len(clips)
    strings = [s for clip, label in zip(clips, labels) for s in (clip, label.encode("utf-8"))]
    tensor = tensor_proto(tensor_pb2.DT_STRING, [len(clips), 2], string_val=strings)
    md = None
    if with_metadata:
        content = plugins_pb2.AudioPluginData(
            version=PLUGIN_DATA_VERSION, encoding=plugins_pb2.AudioPluginData.WAV
        ).SerializeToString()
        # No data class: the loaders then turn [k, 2] into the blob sequence of the k clips.
        md = plugin_metadata(PLUGIN_AUDIO, content, None)
    return summary_pb2.Summary(value=[summary_value(tag, tensor, md)]).SerializeToString()


MAX_SAMPLE_RATE: Final = 0xFFFFFFFF // 2


def check_sample_rate(sample_rate: Any) -> int:
    """A positive whole number of samples per second (WAV stores an int)."""
    if isinstance(sample_rate, bool) or not isinstance(
        sample_rate, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"sample_rate must be a positive number of samples per second, got {sample_rate!r}"
        )
    rate = float(sample_rate)
    # A WAV header stores the byte rate (sample rate x 2 bytes of PCM16 mono) in 32 bits.
    if not math.isfinite(rate) or rate != int(rate) or not 1 <= rate <= MAX_SAMPLE_RATE:
        raise ValueError(
            f"sample_rate must be a whole number of Hz from 1 to {MAX_SAMPLE_RATE}, "
            f"got {sample_rate!r}"
        )
    return int(rate)
