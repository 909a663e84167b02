"""The result types of the drop-in ``EventAccumulator``, as TensorBoard's
``event_accumulator`` module names them: the tag-type keys of ``Tags()`` and
``size_guidance``, the event types it returns (same fields, same order), ``make_ndarray``
and the compression of histograms into distributions. No I/O, numpy imported on use.

TensorBoard's event types were namedtuples and are frozen dataclasses since 2.21. Each type
here is both: a namedtuple (so code written for older TensorBoard keeps unpacking, indexing
and taking ``len``, and the reservoirs build a million of them at tuple speed), declared a
frozen dataclass over the same fields (so ``dataclasses.is_dataclass``, ``fields``,
``asdict`` and ``replace`` work, and assigning a field raises ``FrozenInstanceError``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "AUDIO",
    "COMPRESSED_HISTOGRAMS",
    "DEFAULT_SIZE_GUIDANCE",
    "GRAPH",
    "HISTOGRAMS",
    "IMAGES",
    "META_GRAPH",
    "NORMAL_HISTOGRAM_BPS",
    "RUN_METADATA",
    "SCALARS",
    "STORE_EVERYTHING_SIZE_GUIDANCE",
    "TENSORS",
    "AudioEvent",
    "CompressedHistogramEvent",
    "DirectoryDeletedError",
    "HistogramEvent",
    "HistogramValue",
    "ImageEvent",
    "ScalarEvent",
    "TensorEvent",
    "Unsupported",
    "compress_histogram_proto",
    "make_ndarray",
]

# Tag-type keys of Tags() and size_guidance.
COMPRESSED_HISTOGRAMS: Final = "distributions"
HISTOGRAMS: Final = "histograms"
IMAGES: Final = "images"
AUDIO: Final = "audio"
SCALARS: Final = "scalars"
TENSORS: Final = "tensors"
GRAPH: Final = "graph"
META_GRAPH: Final = "meta_graph"
RUN_METADATA: Final = "run_metadata"

# Basis points of a normal distribution's CDF at -inf, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, +inf
# standard deviations: the default compression of histograms into distributions.
NORMAL_HISTOGRAM_BPS: Final = (0, 668, 1587, 3085, 5000, 6915, 8413, 9332, 10000)

DEFAULT_SIZE_GUIDANCE: Final = {
    COMPRESSED_HISTOGRAMS: 500,
    IMAGES: 4,
    AUDIO: 4,
    SCALARS: 10000,
    HISTOGRAMS: 1,
    TENSORS: 10,
}
STORE_EVERYTHING_SIZE_GUIDANCE: Final = {k: 0 for k in DEFAULT_SIZE_GUIDANCE}


class ScalarEvent(NamedTuple):
    wall_time: float
    step: int
    value: float


class CompressedHistogramEvent(NamedTuple):
    wall_time: float
    step: int
    compressed_histogram_values: Sequence[tuple[float, float]]


class HistogramValue(NamedTuple):
    min: float
    max: float
    num: float
    sum: float
    sum_squares: float
    bucket_limit: Sequence[float]
    bucket: Sequence[float]


class HistogramEvent(NamedTuple):
    wall_time: float
    step: int
    histogram_value: HistogramValue


class ImageEvent(NamedTuple):
    wall_time: float
    step: int
    encoded_image_string: bytes
    width: int
    height: int


class AudioEvent(NamedTuple):
    wall_time: float
    step: int
    encoded_audio_string: bytes
    content_type: str
    sample_rate: float
    length_frames: int


class TensorEvent(NamedTuple):
    wall_time: float
    step: int
    tensor_proto: Any  # tbwrite._proto.tensor_pb2.TensorProto


def _as_frozen_dataclass(cls: type) -> None:
    """Declare the namedtuple ``cls`` a frozen dataclass over its own fields, keeping its
    tuple construction, equality and repr."""
    dataclasses.dataclass(frozen=True, init=False, repr=False, eq=False)(cls)


for _cls in (
    ScalarEvent,
    CompressedHistogramEvent,
    HistogramValue,
    HistogramEvent,
    ImageEvent,
    AudioEvent,
    TensorEvent,
):
    _as_frozen_dataclass(_cls)
del _cls


class DirectoryDeletedError(Exception):
    """The run directory of an accumulator no longer exists."""


class Unsupported(NotImplementedError, AttributeError):
    """A TensorBoard reader method tbwrite does not provide (also an ``AttributeError``,
    so that ``hasattr`` answers False)."""


def make_ndarray(tensor_proto: Any) -> np.ndarray:
    """A TensorProto (tbwrite's, TensorBoard's or TensorFlow's) as a numpy array of its
    shape, as ``tensor_util.make_ndarray``: numeric and bool dtypes by value, DT_STRING as
    an object array of ``bytes``."""
    import numpy as np

    from .._format.wire import DT_STRING
    from .tensors import tensor_to_numpy

    if tensor_proto.dtype == DT_STRING:
        shape = [d.size for d in tensor_proto.tensor_shape.dim]
        arr = np.empty(len(tensor_proto.string_val), dtype=object)
        arr[:] = list(tensor_proto.string_val)
        return arr.reshape(shape)
    return tensor_to_numpy(tensor_proto)


def _lerp(x: float, x0: float, x1: float, y0: float, y1: float) -> float:
    return y0 + (x - x0) * float(y1 - y0) / (x1 - x0)


def compress_histogram_proto(
    histo: Any, bps: Sequence[int] = NORMAL_HISTOGRAM_BPS
) -> list[tuple[float, float]]:
    """A histogram (``HistogramValue`` or ``HistogramProto``) as (basis point, value) pairs:
    the value below which that fraction (in 1/100 of a percent) of the weight lies, found by
    linear interpolation inside the bucket that crosses it, as TensorBoard's distributions."""
    import numpy as np

    if not histo.num:
        return [(b, 0.0) for b in bps]
    bucket = np.array(histo.bucket)
    limits = list(histo.bucket_limit)
    cum = (bucket * bps[-1] / (bucket.sum() or 1.0)).cumsum()
    out: list[tuple[float, float]] = []
    j = 0
    while j < len(bps):
        i = int(np.searchsorted(cum, bps[j], side="right"))
        found = False
        while i < len(cum):
            hi = cum[i]
            lo = cum[i - 1] if i > 0 else 0.0
            if hi == lo:  # an empty bucket: nothing to interpolate in
                i += 1
                continue
            left = histo.min if (not i or not lo) else max(limits[i - 1], histo.min)
            right = min(limits[i], histo.max)
            out.append((bps[j], _lerp(bps[j], lo, hi, left, right)))
            j += 1
            found = True
            break
        if not found:
            break
    out.extend((b, histo.max) for b in bps[j:])
    return out
