"""The legacy Summary.Value forms PyTorch's writer emits: image, audio and histogram.

Pure builders from checked values to serialized Summary bytes, the kinds ``legacy_image``,
``legacy_audio`` and ``legacy_histogram`` of :data:`.kinds.KINDS`.
These are the forms ``EventAccumulator.Images()`` / ``.Audio()`` / ``.Histograms()`` and
tbparse's ``images`` / ``audio`` / ``histograms`` read, and both of TensorBoard's loaders
convert them for the images, audio and histograms plugins:

- Summary.Value.image (field 4): Image{height 1, width 2, colorspace 3 (channels),
  encoded_image_string 4 (PNG, or GIF for video)}; no plugin metadata.
- Summary.Value.audio (field 6): Audio{sample_rate 1 (float), num_channels 2,
  length_frames 3, encoded_audio_string 4 (WAV), content_type 5 ("audio/wav")}. PyTorch
  writes no metadata, and TensorBoard's Rust loader then serves the clip as
  ``application/octet-stream``; with the audio plugin's metadata (encoding WAV, data class
  BLOB_SEQUENCE) on a tag's first value it serves ``audio/wav``, as the Python loader
  always does, and the legacy readers still read the Audio message.
- Summary.Value.histo (field 5): HistogramProto{min 1, max 2, num 3, sum 4,
  sum_squares 5, bucket_limit 6 (right edge of each bucket), bucket 7 (counts)}.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._format.plugin_names import PLUGIN_AUDIO, PLUGIN_DATA_VERSION
from .._format.wire import histogram_proto_summary
from .._proto import plugins_pb2, summary_pb2

__all__ = ["audio_summary", "histogram_summary", "image_summary"]

WAV_CONTENT_TYPE = "audio/wav"


def image_summary(
    tag: str, encoded: bytes, height: int, width: int, channels: int, *, with_metadata: bool
) -> bytes:
    """A Summary.Image; no metadata (``with_metadata`` is ignored), as PyTorch writes it."""
    del with_metadata
    image = summary_pb2.Summary.Image(
        height=height, width=width, colorspace=channels, encoded_image_string=encoded
    )
    return summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, image=image)]
    ).SerializeToString()


def audio_summary(
    tag: str, wav: bytes, sample_rate: int, frames: int, *, with_metadata: bool
) -> bytes:
    """A Summary.Audio of one mono WAV clip, with the audio plugin's metadata when
    ``with_metadata`` (see the module docstring)."""
    audio = summary_pb2.Summary.Audio(
        sample_rate=sample_rate,
        num_channels=1,
        length_frames=frames,
        encoded_audio_string=wav,
        content_type=WAV_CONTENT_TYPE,
    )
    value = summary_pb2.Summary.Value(tag=tag, audio=audio)
    if with_metadata:
        md = value.metadata
        md.plugin_data.plugin_name = PLUGIN_AUDIO
        md.plugin_data.content = plugins_pb2.AudioPluginData(
            version=PLUGIN_DATA_VERSION, encoding=plugins_pb2.AudioPluginData.WAV
        ).SerializeToString()
        md.data_class = summary_pb2.DATA_CLASS_BLOB_SEQUENCE
    return summary_pb2.Summary(value=[value]).SerializeToString()


def histogram_summary(
    tag: str,
    min: float,
    max: float,
    num: float,
    sum: float,
    sum_squares: float,
    bucket_limit: Sequence[float] | np.ndarray,
    bucket: Sequence[float] | np.ndarray,
    *,
    with_metadata: bool,
) -> bytes:
    """A Summary.Value.histo (HistogramProto); no metadata (``with_metadata`` is ignored),
    as PyTorch writes it. Hand-encoded (add_histogram's hot path);
    tests/unit/test_encode.py proves the bytes equal protobuf's."""
    del with_metadata
    return histogram_proto_summary(
        tag,
        (min, max, num, sum, sum_squares),
        np.ascontiguousarray(bucket_limit, dtype="<f8").data.cast("B"),
        np.ascontiguousarray(bucket, dtype="<f8").data.cast("B"),
    )
