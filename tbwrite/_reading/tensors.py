"""TensorProto to numpy, and the legacy HistogramProto to TensorBoard's [k, 3] buckets."""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, Final

from .._format.wire import DT_STRING

if TYPE_CHECKING:
    import numpy as np


def legacy_histogram(h: Any) -> np.ndarray:
    """A HistogramProto as [k, 3] (left, right, count), converted as TensorBoard's
    data_compat does: empty buckets at both ends dropped, min and max as the outer edges.
    Edges stay float64 where data_compat rounds them to float32: TensorBoard's Rust loader
    (its default) serves them exact, and rounding would lose what the file holds.
    ``ValueError`` when the parallel lists differ in length (a malformed record)."""
    import numpy as np

    counts = list(h.bucket)
    limits = list(h.bucket_limit)
    if len(counts) != len(limits):
        # Parallel lists: bucket i counts the values up to bucket_limit[i].
        raise ValueError(
            f"malformed histogram: {len(limits)} bucket_limit values for {len(counts)} buckets"
        )
    nonzero = [i for i, c in enumerate(counts) if c > 0]
    if not nonzero:
        return np.zeros((0, 3), dtype=np.float64)
    start, end = nonzero[0], nonzero[-1]
    inner = limits[start:end]
    lefts = [h.min, *inner]
    rights = [*inner, h.max]
    return np.array([lefts, rights, counts[start : end + 1]], dtype=np.float64).T.copy()


_NP_DTYPES: Final = {
    1: "<f4",
    2: "<f8",
    3: "<i4",
    4: "u1",
    5: "<i2",
    6: "i1",
    9: "<i8",
    10: "?",
    19: "<f2",
}


# The most values one stored value may be repeated into (8 MiB of float64).
MAX_FILL_VALUES: Final = 1 << 20


def tensor_to_numpy(t: Any) -> np.ndarray:
    """A TensorProto of a numeric, bool or string dtype as a numpy array."""
    import numpy as np

    shape = [d.size for d in t.tensor_shape.dim]
    if t.dtype == DT_STRING:
        arr = np.empty(len(t.string_val), dtype=object)
        arr[:] = [s.decode("utf-8", "replace") for s in t.string_val]
        return arr.reshape(shape) if arr.size == math.prod(shape) else arr
    dt = _NP_DTYPES.get(t.dtype)
    if dt is None:
        raise ValueError(f"unsupported tensor dtype {t.dtype}")
    if t.tensor_content:
        out = np.frombuffer(t.tensor_content, dtype=dt)
    elif t.dtype == 1:
        out = np.array(t.float_val, dtype=np.float32)
    elif t.dtype == 2:
        out = np.array(t.double_val, dtype=np.float64)
    elif t.dtype == 9:
        out = np.array(t.int64_val, dtype=np.int64)
    elif t.dtype == 10:
        out = np.array(t.bool_val, dtype=bool)
    elif t.dtype == 19:
        out = np.array(t.half_val, dtype=np.uint16).view(np.float16)
    else:
        out = np.array(t.int_val, dtype=dt)
    size = math.prod(shape)  # Python ints: a huge declared shape cannot overflow
    if out.size == 1 and size > 1:
        # One value stands for the whole shape (TensorFlow's compact form). The shape is
        # only declared: fill it only up to a bound, so memory follows the bytes present.
        if size > MAX_FILL_VALUES:
            raise ValueError(
                f"its shape {shape} declares {size} values from a single one, more than "
                f"{MAX_FILL_VALUES} tbwrite expands"
            )
        out = np.repeat(out, size)
    return out.reshape(shape) if out.size == size else out


def warn_undecodable(tag: str, kind: str, why: str) -> None:
    warnings.warn(
        f"tag {tag!r}: a {kind} tensor that does not decode ({why}); left out",
        RuntimeWarning,
        stacklevel=5,
    )


def decoded(t: Any, tag: str, kind: str) -> np.ndarray | None:
    """``tensor_to_numpy(t)``, or None with a warning for a tensor that does not decode
    (an unknown dtype, content whose size is no multiple of the item size): TensorBoard
    leaves such points out too."""
    try:
        return tensor_to_numpy(t)
    except ValueError as err:
        warn_undecodable(tag, kind, str(err))
        return None
