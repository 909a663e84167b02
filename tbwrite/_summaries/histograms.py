"""Histograms: bucketing values as TensorBoard shows them, and the histogram summary.

Pure functions; ``histogram_summary`` is hand-encoded (add_histogram's hot path). This
module imports numpy and protobuf, so the writers import it only when a kind needs it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from .._checks import as_real_array
from .._format.plugin_names import PLUGIN_HISTOGRAMS
from .._format.wire import DT_DOUBLE, tensor_summary
from .._proto import summary_pb2
from .._tensorlike import to_numpy
from .summary_parts import summary_metadata

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .._types import Real

# As tf.summary.histogram: a fixed number of equal-width buckets from min to max, which
# needs no sort and no per-call search of bucket edges.
DEFAULT_BUCKET_COUNT: Final = 30
# The most buckets a histogram may have (a [k, 3] float64 tensor of 1.5 MiB); TensorBoard
# resamples every histogram to 30 buckets for display anyway.
MAX_BUCKETS: Final = 1 << 16

_NUMPY_BIN_RULES: Final = frozenset(
    {"auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt"}
)


_HISTOGRAM_METADATA: bytes | None = None


def histogram_summary(tag: str, buckets: np.ndarray, *, with_metadata: bool) -> bytes:
    """TensorBoard's current histogram form: a DT_DOUBLE tensor [k, 3] of (left, right, count).

    Hand-encoded (add_histogram's hot path; protobuf objects cost as much as the bucketing
    of 10k values). tests/interop/test_throughput.py proves the bytes equal protobuf's.
    """
    global _HISTOGRAM_METADATA
    content = np.ascontiguousarray(buckets, dtype="<f8")
    metadata = None
    if with_metadata:
        if _HISTOGRAM_METADATA is None:
            _HISTOGRAM_METADATA = summary_metadata(
                PLUGIN_HISTOGRAMS, summary_pb2.DATA_CLASS_TENSOR
            ).SerializeToString()
        metadata = _HISTOGRAM_METADATA
    return tensor_summary(tag, DT_DOUBLE, content.shape, content.tobytes(), metadata)


def as_finite_array(values: Any, name: str) -> np.ndarray:
    """``values`` as a flat float64 array: non-empty, numeric, finite."""
    return _finite_with_range(values, name)[0]


def _finite_with_range(
    values: Any, name: str, keep_float32: bool = False
) -> tuple[np.ndarray, float, float]:
    """:func:`as_finite_array` and its minimum and maximum, which the check computes. With
    ``keep_float32``, float32 values stay float32 (flat, native byte order): no copy."""
    arr = as_real_array(values, name)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not (keep_float32 and arr.dtype == np.float32):
        arr = arr.astype(np.float64, copy=False)
    arr = arr.reshape(-1)
    # min and max propagate NaN, so both finite means all finite: two cheap reductions
    # instead of an isfinite pass with its temporary.
    lo, hi = float(np.minimum.reduce(arr)), float(np.maximum.reduce(arr))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        bad = float(arr[~np.isfinite(arr)][0])
        raise ValueError(f"{name} must be finite, found {bad!r}")
    return arr, lo, hi


def _edges_to_buckets(edges: np.ndarray, counts: np.ndarray) -> np.ndarray:
    out = np.empty((len(counts), 3), dtype=np.float64)
    out[:, 0] = edges[:-1]
    out[:, 1] = edges[1:]
    out[:, 2] = counts
    return out


def _equal_width(arr: np.ndarray, bucket_count: int, lo: float, hi: float) -> np.ndarray:
    if lo == hi:
        # All values equal: as tf.summary.histogram, bucket_count zero-width buckets at the
        # value, the last one holding them all.
        out = np.full((bucket_count, 3), lo)
        out[:, 2] = 0.0
        out[-1, 2] = float(arr.size)
        return out
    width = (hi - lo) / bucket_count
    if not np.isfinite(width) or width == 0.0:
        edges = np.linspace(lo, hi, bucket_count + 1)
        counts, _ = np.histogram(arr, bins=edges)
        return _edges_to_buckets(edges, counts)
    # Three passes and one temporary (the hot path of add_histogram): scale in place, cast,
    # count; the maximum (index bucket_count, or a rounding hair above) joins the last bucket.
    scaled = arr - lo
    scaled *= bucket_count / (hi - lo)
    counts = np.bincount(scaled.astype(np.intp), minlength=bucket_count + 1)
    counts[bucket_count - 1] += counts[bucket_count:].sum()
    counts = counts[:bucket_count]
    edges = lo + width * np.arange(bucket_count + 1, dtype=np.float64)
    edges[-1] = hi
    return _edges_to_buckets(edges, counts)


def _merge_buckets(buckets: np.ndarray, max_bins: int) -> np.ndarray:
    k = len(buckets)
    if k <= max_bins:
        return buckets
    group = -(-k // max_bins)
    starts = np.arange(0, k, group)
    ends = np.minimum(starts + group, k) - 1
    counts = np.add.reduceat(buckets[:, 2], starts)
    return np.stack([buckets[starts, 0], buckets[ends, 1], counts], axis=1)


def check_bins(bins: Any) -> str | int | np.ndarray:
    """``bins`` checked: ``"tensorflow"`` or one of numpy's rules (a str), a number of
    buckets from 1 to MAX_BUCKETS (an int), or >= 2 finite increasing edges (an array)."""
    if isinstance(bins, str):
        if bins != "tensorflow" and bins not in _NUMPY_BIN_RULES:
            raise ValueError(
                f"bins must be 'tensorflow', an int, a sequence of edges or one of "
                f"{sorted(_NUMPY_BIN_RULES)}, got {bins!r}"
            )
        return bins
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if not 1 <= bins <= MAX_BUCKETS:
            raise ValueError(
                f"bins must be a number of buckets from 1 to {MAX_BUCKETS}, got {bins!r}"
            )
        return int(bins)
    try:
        edges = np.asarray(to_numpy(bins), dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"bins must be a str, an int or a sequence of edges, got {bins!r}"
        ) from None
    if (
        edges.ndim != 1
        or edges.size < 2
        or not np.isfinite(edges).all()
        or (np.diff(edges) <= 0).any()
    ):
        raise ValueError(f"bins as edges must be >= 2 finite, increasing numbers, got {bins!r}")
    return edges


def check_max_bins(max_bins: Any) -> int | None:
    """``max_bins`` checked: None or a positive int."""
    if max_bins is None:
        return None
    if isinstance(max_bins, bool) or not isinstance(max_bins, (int, np.integer)) or max_bins < 1:
        raise ValueError(f"max_bins must be a positive int or None, got {max_bins!r}")
    return int(max_bins)


def histogram_buckets(values: Any, bins: Any = "tensorflow", max_bins: Any = None) -> np.ndarray:
    """Bucket ``values`` into a [k, 3] array of (left edge, right edge, count).

    ``bins``: ``"tensorflow"`` (the default: 30 equal-width buckets, as tf.summary does),
    an int (that many equal-width buckets), one of numpy's rules (``"auto"``, ``"fd"``,
    ``"doane"``, ``"scott"``, ``"stone"``, ``"rice"``, ``"sturges"``, ``"sqrt"``), or a
    sequence of increasing bucket edges (values outside them are not counted).
    ``max_bins`` merges adjacent buckets until at most that many remain.
    """
    arr, lo, hi = _finite_with_range(values, "values")
    cap = check_max_bins(max_bins)
    rule = check_bins(bins)
    if isinstance(rule, str):
        if rule == "tensorflow":
            out = _equal_width(arr, DEFAULT_BUCKET_COUNT, lo, hi)
        else:
            counts, edges = np.histogram(arr, bins=rule)
            out = _edges_to_buckets(edges, counts)
    elif isinstance(rule, int):
        out = _equal_width(arr, rule, lo, hi)
    else:
        counts, _ = np.histogram(arr, bins=rule)
        out = _edges_to_buckets(rule, counts)
    if cap is not None:
        out = _merge_buckets(out, cap)
    return out


def torch_histogram_fields(
    values: Any, bins: Any = "tensorflow", max_bins: Any = None
) -> tuple[float, float, float, float, float, np.ndarray, np.ndarray]:
    """The HistogramProto fields PyTorch writes for ``values`` (see
    :func:`tbwrite._summaries.torch_rules.histogram_proto_fields`), after checking every argument:
    ``bins`` is ``"tensorflow"`` (PyTorch's exponential edges), a numpy rule, an int >= 1
    or >= 2 increasing finite edges."""
    from .torch_rules import histogram_proto_fields

    # float32 stays float32: PyTorch widens it to float64 first, which is exact, and the
    # counts and sums are computed as on the widened values without that copy.
    arr, lo, hi = _finite_with_range(values, "values", keep_float32=True)
    cap = check_max_bins(max_bins)
    return histogram_proto_fields(arr, lo, hi, check_bins(bins), cap)


def as_float_list(values: Any) -> list[float]:
    """A flat list of Python floats (for repeated double fields)."""
    return [float(x) for x in np.asarray(to_numpy(values), dtype=np.float64).reshape(-1)]


def histogram_from_raw(
    min: float,
    max: float,
    num: Real,
    bucket_limits: ArrayLike,
    bucket_counts: ArrayLike,
) -> np.ndarray:
    """The [k, 3] form of a legacy histogram, converted as TensorBoard's loaders convert it.

    Bucket i spans (limit[i-1], limit[i]]; the first starts at ``min``, the last ends at
    ``max`` (its limit is often DBL_MAX).
    """
    limits = as_real_array(bucket_limits, "bucket_limits").astype(np.float64).reshape(-1)
    counts = as_real_array(bucket_counts, "bucket_counts").astype(np.float64).reshape(-1)
    if limits.size == 0:
        raise ValueError("bucket_limits must not be empty")
    if limits.size != counts.size:
        raise ValueError(
            f"bucket_limits and bucket_counts must have the same length, "
            f"got {limits.size} and {counts.size}"
        )
    if (counts < 0).any() or not np.isfinite(counts).all():
        raise ValueError("bucket_counts must be finite and non-negative")
    lo, hi = float(min), float(max)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
        raise ValueError(f"min and max must be finite with min <= max, got {lo!r} and {hi!r}")
    out = np.empty((limits.size, 3), dtype=np.float64)
    out[0, 0] = lo
    out[1:, 0] = limits[:-1]
    out[:-1, 1] = limits[:-1]
    out[-1, 1] = hi
    out[:, 2] = counts
    return out
