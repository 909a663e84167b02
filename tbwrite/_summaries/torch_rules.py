"""PyTorch's numeric rules for pixels, samples, histogram buckets and boxes, reimplemented.

``torch.utils.tensorboard.SummaryWriter`` is what tbwrite stands in for, so for the same
input tbwrite computes the same numbers. The rules, as torch 2.x applies them (each is
checked value by value against torch's own writer in tests/interop/test_torch_differential.py):

- Pixels: uint8 as given; anything else times 255 in float32, clipped to [0, 255] and then
  truncated (not rounded) to uint8. So 0.5 is 127, 0.999 is 254, and an int image is
  scaled by 255 too. NaN becomes 0.
- Samples: ``samples * 32767`` in the input's float type, truncated toward zero to int16,
  after clipping to [-1, 1] when any sample lies outside. NaN becomes 0.
- Histograms: numpy's ``histogram`` with torch's default edges (``bins="tensorflow"``: the
  1,549 edges ±1e-12 * 1.1**k below 1e20, and 0) or the given bins; ``max_bins`` groups
  ``len // max_bins`` adjacent buckets (the last group padded), which can leave more than
  ``max_bins`` buckets; then only the buckets from the first to the last non-empty one are
  kept, preceded by one empty bucket, and each bucket is stored by its right edge.
- Boxes: each edge is a 2-pixel line from corner to corner (coordinates truncated toward
  zero), drawn on the side to the right of the direction of travel around the box
  (left edge downwards, bottom rightwards, right edge upwards, top leftwards); what falls
  outside the image is not drawn (a box larger than the image draws nothing).

Values torch clips (pixels outside [0, 1], samples outside [-1, 1]) are clipped the same
way, with one warning per argument per process.
"""

from __future__ import annotations

import bisect
import inspect
import math
import os
import sys
import threading
import warnings
from typing import Any, Final

import numpy as np

__all__ = [
    "BOX_LINE_WIDTH",
    "box_edge_rects",
    "default_bins",
    "default_counts",
    "float64_sums",
    "histogram_proto_fields",
    "pcm16",
    "pixels_uint8",
    "warn_clipped",
]

PCM16_MAX: Final = 32767
BOX_LINE_WIDTH: Final = 2
# torch's default histogram edges: +-1e-12 * 1.1**k up to 1e20, mirrored around 0.
DEFAULT_BINS_START: Final = 1e-12
DEFAULT_BINS_FACTOR: Final = 1.1
DEFAULT_BINS_LIMIT: Final = 1e20

_warned: set[str] = set()
_warned_lock = threading.Lock()


def _caller_stacklevel() -> int:
    # The stacklevel of the first frame outside tbwrite: the user's call.
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tbwrite/
    here = inspect.currentframe()
    if here is None or here.f_back is None:  # an interpreter without frames
        return 2
    frame = here.f_back
    level = 1
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(
        package + os.sep
    ):
        frame = frame.f_back
        level += 1
    return level


def warn_clipped(name: str, what: str) -> None:
    """One ``UserWarning`` per argument name per process, pointing at the user's call:
    ``what`` was clipped."""
    with _warned_lock:
        if name in _warned:
            return
        _warned.add(name)
    warnings.warn(
        f"{name}: {what} (as PyTorch does; warned once)",
        UserWarning,
        stacklevel=_caller_stacklevel(),
    )


def pixels_uint8(arr: np.ndarray, name: str) -> np.ndarray:
    """Pixels as uint8 by torch's rule (see the module docstring)."""
    if arr.dtype == np.uint8:
        return arr
    with np.errstate(over="ignore", invalid="ignore"):  # beyond float32: inf, clipped below
        scaled = arr.astype(np.float32)
        scaled *= np.float32(255.0)
    finite = np.isfinite(scaled)
    if not finite.all() or (scaled.size and (scaled.min() < 0 or scaled.max() > 255)):
        warn_clipped(
            name,
            "pixel values outside [0, 1] (non-uint8 images are scaled by 255) or not finite "
            "were clipped to [0, 1]; NaN is 0",
        )
        scaled[~finite & np.isnan(scaled)] = 0.0
        np.clip(scaled, 0.0, 255.0, out=scaled)
    return scaled.astype(np.uint8)


def pcm16(samples: np.ndarray, name: str) -> np.ndarray:
    """Mono samples as little-endian int16 by torch's rule (see the module docstring)."""
    arr = samples
    if arr.dtype.kind == "b":
        arr = arr.astype(np.float32)
    if arr.dtype.kind == "f" and arr.dtype.itemsize < 4:
        arr = arr.astype(np.float32)
    nan = np.isnan(arr) if arr.dtype.kind == "f" else None
    if nan is not None and nan.any():
        arr = np.where(nan, 0, arr)
        warn_clipped(name, "NaN samples were written as 0")
    if arr.size and np.abs(arr).max() > 1:
        warn_clipped(name, "samples outside [-1, 1] were clipped to [-1, 1]")
        arr = arr.clip(-1, 1)
    scaled = arr * PCM16_MAX
    return scaled.astype("<i2")


_DEFAULT_BINS: np.ndarray | None = None


def default_bins() -> np.ndarray:
    """torch's ``bins="tensorflow"`` edges (1,549 of them), computed once."""
    global _DEFAULT_BINS
    if _DEFAULT_BINS is None:
        positive = []
        v = DEFAULT_BINS_START
        while v < DEFAULT_BINS_LIMIT:
            positive.append(v)
            v *= DEFAULT_BINS_FACTOR
        pos = np.array(positive)
        _DEFAULT_BINS = np.concatenate([-pos[::-1], [0.0], pos])
    return _DEFAULT_BINS


# The same edges as a list of floats, for bisect.
_DEFAULT_EDGES: Final[list[float]] = default_bins().tolist()


# Counting values into the default edges without np.histogram's sort. The top 16 bits of a
# float64 (sign, 11 exponent bits, 4 mantissa bits) or of a float32 (sign, 8 exponent bits,
# 7 mantissa bits) cut the reals into 65,536 intervals of consecutive floats; within a
# binade each is 1/16 (1/128) of it wide, narrower than the 10% between two default edges,
# so each holds at most one edge. For each interval the table keeps the bucket of its
# smallest float and that one edge (+inf if none): a value's bucket is
# base[key] + (value >= edge[key]), and one bincount counts them. np.histogram's rules hold
# exactly: buckets are [e_i, e_i+1), the last one also takes its right edge (stored as the
# next float after it), values outside the edges are not counted, -0.0 counts as 0.0.
#
# float32 values are counted as they are, never widened to float64 (PyTorch widens them
# with ``astype(float)`` first, which is exact, so the counts are the same): a float32
# table's edge is the smallest float32 >= the float64 edge, and for a float32 x,
# x >= edge64 exactly when x >= that float32.
_KEY_BITS: Final = 16
# Values are counted this many at a time: the keys, buckets and comparisons of one chunk stay
# in the cache. Measured (normal values): 1.4-1.6x faster than np.histogram at 256k-4M
# values, where one pass over the whole array was 2x slower than np.histogram.
TABLE_CHUNK: Final = 1 << 16
_LITTLE: Final = sys.byteorder == "little"
_TABLES: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _ceil_float32(limits: np.ndarray) -> np.ndarray:
    """The smallest float32 >= each float64 of ``limits``."""
    near = limits.astype(np.float32)
    below = near.astype(np.float64) < limits
    near[below] = np.nextafter(near[below], np.float32(np.inf))
    return near


def _default_table(dtype: np.dtype[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(base + 1, edge) of ``dtype`` (float64 or float32), indexed by the top 16 bits."""
    table = _TABLES.get(dtype.str)
    if table is not None:
        return table
    bits = dtype.itemsize * 8
    shift = bits - _KEY_BITS
    uint = np.dtype(f"u{dtype.itemsize}")
    edges = default_bins()
    keys = np.arange(1 << _KEY_BITS, dtype=uint)
    lo_bits = keys << uint.type(shift)
    hi_bits = lo_bits | uint.type((1 << shift) - 1)
    with np.errstate(invalid="ignore"):  # widening float32 NaN bit patterns
        ends = np.stack([lo_bits.view(dtype), hi_bits.view(dtype)]).astype(np.float64)
    # For a negative key the interval runs from its high bits' float up to its low bits'.
    negative = keys >= (1 << (_KEY_BITS - 1))
    smallest = np.where(negative, ends[1], ends[0])
    largest = np.where(negative, ends[0], ends[1])
    nan = np.isnan(smallest) | np.isnan(largest)  # NaN bit patterns: never looked up
    smallest = np.where(nan, 0.0, smallest)
    largest = np.where(nan, 0.0, largest)
    # The last edge closes its bucket: compare with the float after it instead.
    limits = edges.copy()
    limits[-1] = np.nextafter(edges[-1], np.inf)
    base = np.searchsorted(limits, smallest, side="right") - 1
    nxt = np.searchsorted(limits, smallest, side="right")
    edge = np.full(1 << _KEY_BITS, np.inf)
    inside = (nxt < len(limits)) & (limits[np.minimum(nxt, len(limits) - 1)] <= largest)
    edge[inside] = limits[nxt[inside]]
    if dtype == np.float32:
        edge = _ceil_float32(edge)
    table = _TABLES[dtype.str] = ((base + 1).astype(np.intp), edge)
    return table


def default_counts(values: np.ndarray) -> np.ndarray:
    """The counts ``np.histogram(values.astype(np.float64), bins=default_bins())`` gives
    for finite, contiguous 1-D float64 or float32 ``values`` in native byte order, by the
    table above: the same numbers, without sorting and without a float64 copy."""
    table = _TABLES.get(values.dtype.str)
    base, edge = _default_table(values.dtype) if table is None else table
    nbins = len(default_bins()) - 1
    # The top 16 bits of each float: one uint16 of every 2 (float32) or 4 (float64), the
    # last on a little-endian machine, the first on a big-endian one; a strided view.
    words = values.itemsize // 2
    first = words - 1 if _LITTLE else 0
    counts = None
    for start in range(0, values.size, TABLE_CHUNK):
        chunk = values[start : start + TABLE_CHUNK]
        key = chunk.view(np.uint16)[first::words].astype(np.intp)
        bucket = base.take(key)
        bucket += chunk >= edge.take(key)
        chunk_counts = np.bincount(bucket, minlength=nbins + 2)
        if counts is None:
            counts = chunk_counts
        else:
            counts += chunk_counts
    if counts is None:  # no values
        return np.zeros(nbins, dtype=np.intp)
    # Buckets are shifted by one in the table: below the first edge is 0, past the last
    # is nbins + 1; both are left out.
    return counts[1 : nbins + 1]


def _group(counts: np.ndarray, edges: np.ndarray, max_bins: int) -> tuple[np.ndarray, np.ndarray]:
    k = len(counts)
    if k <= max_bins:
        return counts, edges
    group = k // max_bins
    starts = np.arange(0, k, group)
    grouped = np.add.reduceat(counts, starts)
    return grouped, np.append(edges[starts], edges[-1])


# PyTorch sums float32 values as float64: ``values.astype(float).sum()``, numpy's pairwise
# sum over the whole copy. numpy splits n > 128 values at n // 2 rounded down to a multiple
# of 8 and adds the two halves' sums; splitting the same way here, down to pieces of at most
# TABLE_CHUNK values, each widened into one buffer and summed by numpy, gives the same
# float64 bit for bit (tests/unit/test_histogram_table.py checks it against numpy) with a
# buffer of TABLE_CHUNK float64 instead of a copy of them all.
#
# The sum of squares: up to TABLE_CHUNK values PyTorch's very ``values.dot(values)``. Beyond,
# the squares (exact in float64 for float32 values) summed the same pairwise way, not one
# BLAS dot per piece: OpenBLAS runs a dot of more than 10,000 values on all its threads,
# whose start-up per piece cost more than the counting on a loaded machine. Within rounding
# of PyTorch's one dot product, whose own last bits vary with the number of BLAS threads.
_PAIRWISE_STEP: Final = 8


def _widened_sums(
    values: np.ndarray, start: int, n: int, buf: np.ndarray, squares: np.ndarray
) -> tuple[float, float]:
    if n <= TABLE_CHUNK:
        piece = buf[:n]
        piece[...] = values[start : start + n]
        square = np.multiply(piece, piece, out=squares[:n])
        return float(np.add.reduce(piece)), float(np.add.reduce(square))
    half = n // 2
    half -= half % _PAIRWISE_STEP
    sum1, squares1 = _widened_sums(values, start, half, buf, squares)
    sum2, squares2 = _widened_sums(values, start + half, n - half, buf, squares)
    return sum1 + sum2, squares1 + squares2


def float64_sums(values: np.ndarray) -> tuple[float, float]:
    """The sum and the sum of squares of 1-D ``values`` in float64, as PyTorch computes
    them (over ``values.astype(float)``), without a float64 copy of float32 ``values``."""
    if values.dtype == np.float64:
        return float(np.add.reduce(values)), float(values.dot(values))
    if values.size <= TABLE_CHUNK or not pieces_sum_as_numpy():
        # One piece (a copy as small as one), or a numpy whose sum splits otherwise.
        wide = values.astype(np.float64)
        return float(np.add.reduce(wide)), float(wide.dot(wide))
    buf = np.empty(TABLE_CHUNK, dtype=np.float64)
    return _widened_sums(values, 0, values.size, buf, np.empty_like(buf))


_pieces_checked: list[bool] = []


def pieces_sum_as_numpy() -> bool:
    """Whether summing in pieces gives this numpy's sum of a widened copy bit for bit.

    The pieces follow numpy's pairwise split as the numpy this project is tested with does
    it (2.4); the numpy wheels of Python 3.9 and 3.10 split a large sum differently.
    Checked once per process, on sizes that cross several pieces: where it does not hold,
    float32 values are widened into a copy as PyTorch does (the same bytes, at 8 bytes a
    value)."""
    if not _pieces_checked:
        rng = np.random.default_rng(0)
        ok = True
        for n in (2 * TABLE_CHUNK + 3, 3 * TABLE_CHUNK + 1001):
            x = (rng.standard_normal(n) * 10.0 ** rng.integers(-5, 5, n)).astype(np.float32)
            buf = np.empty(TABLE_CHUNK, dtype=np.float64)
            total, _ = _widened_sums(x, 0, n, buf, np.empty_like(buf))
            ok = ok and np.float64(total).tobytes() == np.add.reduce(x.astype(np.float64)).tobytes()
        _pieces_checked.append(ok)
    return _pieces_checked[0]


def histogram_proto_fields(
    values: np.ndarray, lo: float, hi: float, bins: Any, max_bins: int | None
) -> tuple[float, float, float, float, float, np.ndarray, np.ndarray]:
    """(min, max, num, sum, sum_squares, bucket_limit, bucket) of finite 1-D ``values``
    (float64, or float32 counted as PyTorch counts them widened to float64) as torch
    writes its HistogramProto; ``lo`` and ``hi`` are their minimum and maximum. ``bins``:
    ``"tensorflow"``, an int, a numpy rule or edges (checked by the caller). The buckets
    come as float64 arrays."""
    default = isinstance(bins, str) and bins == "tensorflow"
    if default:
        edges = default_bins()
        counts = default_counts(values)
    else:
        widened = values.astype(np.float64, copy=False)
        counts, edges = np.histogram(widened, bins=bins)
    if default and max_bins is None and _DEFAULT_EDGES[0] <= lo and hi <= _DEFAULT_EDGES[-1]:
        # Every value inside the edges: the first and the last non-empty buckets are the
        # minimum's and the maximum's (the last edge closes the last bucket).
        top = len(counts) - 1
        first = min(bisect.bisect_right(_DEFAULT_EDGES, lo) - 1, top)
        last = min(bisect.bisect_right(_DEFAULT_EDGES, hi) - 1, top)
    else:
        if max_bins is not None:
            counts, edges = _group(counts, edges, max_bins)
        nonzero = counts.nonzero()[0]
        if nonzero.size == 0:
            raise ValueError(
                "values: no value falls inside the histogram's bins "
                f"[{float(edges[0])!r}, {float(edges[-1])!r}]"
            )
        first, last = int(nonzero[0]), int(nonzero[-1])
    limits = edges[first : last + 2]
    bucket = np.zeros(last - first + 2, dtype=np.float64)
    bucket[1:] = counts[first : last + 1]
    total, squares = float64_sums(values)
    return (lo, hi, float(values.size), total, squares, limits, bucket)


def _trunc(v: float) -> int:
    return math.trunc(v)


def box_edge_rects(box: Any) -> list[tuple[int, int, int, int]]:
    """The four edges of one (xmin, ymin, xmax, ymax) box as inclusive pixel rectangles
    (x0, y0, x1, y1), unclipped, in drawing order (see the module docstring)."""
    left, top, right, bottom = (_trunc(float(v)) for v in box)
    path = [(left, top), (left, bottom), (right, bottom), (right, top), (left, top)]
    rects = []
    for (x0, y0), (x1, y1) in zip(path, path[1:]):
        if x0 == x1 and y0 == y1:
            rects.append((x0, y0, x0, y0))  # a zero-length edge is one pixel
        elif x0 == x1:
            side = x0 + (1 if y1 > y0 else -1) * (BOX_LINE_WIDTH - 1)
            rects.append((min(x0, side), min(y0, y1), max(x0, side), max(y0, y1)))
        else:
            side = y0 + (1 if x1 > x0 else -1) * (BOX_LINE_WIDTH - 1)
            rects.append((min(x0, x1), min(y0, side), max(x0, x1), max(y0, side)))
    return rects


def fill_rects(
    pixels: np.ndarray, rects: list[tuple[int, int, int, int]], color: np.ndarray
) -> None:
    """Paint inclusive rectangles onto (H, W, C) ``pixels`` in place, clipped to the image."""
    h, w = pixels.shape[:2]
    for x0, y0, x1, y1 in rects:
        xa, xb, ya, yb = max(x0, 0), min(x1, w - 1), max(y0, 0), min(y1, h - 1)
        if xa <= xb and ya <= yb:
            pixels[ya : yb + 1, xa : xb + 1] = color
