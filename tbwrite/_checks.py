"""Argument checks and conversions shared by the writers.

Every check raises ``TypeError`` or ``ValueError`` naming the argument and showing the
value. Python numbers take a fast path; numpy values, JAX arrays, torch tensors and
anything else with ``__array__`` / ``__float__`` / ``__index__`` are accepted without
importing their libraries (numpy is imported only when an array must be inspected).

Device arrays (JAX arrays: anything with ``copy_to_host_async`` and ``is_ready``) can be
checked without reading them (:func:`as_scalar`), so that a scalar still being
computed is refused or accepted at once and read later, off the caller's thread.
"""

from __future__ import annotations

import math
import operator
import os
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike

    from ._format.fast_series import SeriesInput

from ._format.wire import MAX_TAG_BYTES
from ._tensorlike import is_tensorlike, to_numpy

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
NAME_MAX = 255  # bytes in one file or directory name, on every common file system


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} (type {type(value).__name__})"


def check_tag(tag: Any, name: str = "tag") -> str:
    """A non-empty ``str`` that encodes as UTF-8."""
    if type(tag) is not str:
        if not isinstance(tag, str):
            raise TypeError(f"{name} must be a non-empty str, got {_show(tag)}")
        tag = str(tag)
    if not tag:
        raise ValueError(f"{name} must be a non-empty str, got ''")
    try:
        size = len(tag.encode("utf-8"))
    except UnicodeEncodeError as err:
        raise ValueError(f"{name} must be encodable as UTF-8, got {_show(tag)}: {err}") from None
    if size > MAX_TAG_BYTES:
        raise ValueError(
            f"{name} must be at most {MAX_TAG_BYTES} bytes of UTF-8, got {size}: {_show(tag)}"
        )
    return str(tag)


def check_text(value: Any, name: str) -> str:
    """A ``str`` that encodes as UTF-8 (text for the text plugin)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {_show(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(f"{name} must be encodable as UTF-8: {err}") from None
    return value


def as_float(value: Any, name: str) -> float:
    """A real number as a Python float; NaN and infinities pass through."""
    t = type(value)
    if t is float:
        return value  # type: ignore[no-any-return]
    if t is int:
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"{name} is too large for a float: {_show(value)}") from None
    if isinstance(value, (str, bytes, bytearray, complex)) or value is None:
        raise TypeError(f"{name} must be a real number, got {_show(value)}")
    if is_tensorlike(value):  # detached first: float() of a tensor requiring grad warns
        value = to_numpy(value)
    if getattr(value, "ndim", 0) or not hasattr(value, "__float__"):
        return _array_item(value, name)
    dtype = getattr(value, "dtype", None)
    if dtype is not None and not is_real_dtype(dtype):
        raise TypeError(f"{name} must be a real number, got {_show(value)}")
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a real number, got {_show(value)}") from err
    except OverflowError:
        raise ValueError(f"{name} is too large for a float: {_show(value)}") from None


def is_real_dtype(dtype: Any) -> bool:
    """Whether ``dtype`` (a numpy dtype) holds real numbers: bool, integers, floats, and
    the ml_dtypes types JAX uses (bfloat16, float8_*, int4, ...), whose numpy kind is
    "V"."""
    kind = getattr(dtype, "kind", "f")
    if kind in "biuf":
        return True
    return kind == "V" and str(getattr(dtype, "name", "")).startswith(
        ("bfloat", "float", "int", "uint")
    )


def is_device_array(value: Any) -> bool:
    """Whether ``value`` is an array on a device that can be read without blocking (a JAX
    array: ``copy_to_host_async`` and ``is_ready``)."""
    return hasattr(value, "copy_to_host_async") and hasattr(value, "is_ready")


def as_scalar(value: Any, name: str) -> Any:
    """A real number as a Python float, as :func:`as_float`; a device array is checked
    (one element of a real dtype, not deleted, readable by this process) and returned as
    it is, unread: reading it would wait for the device."""
    if type(value) is float:
        return value
    if type(value) is int or not is_device_array(value):
        return as_float(value, name)
    return check_device_scalar(value, name)


def check_device_scalar(value: Any, name: str) -> Any:
    """``value``, a device array, if it holds one real number; checks only what the array
    knows without waiting for the device (its shape and dtype)."""
    try:
        shape = tuple(value.shape)
        dtype = value.dtype
    except (AttributeError, TypeError) as err:
        raise TypeError(f"{name} must be a real number, got {_show(value)}") from err
    if not is_real_dtype(dtype):
        raise TypeError(f"{name} must be a real number, got {_show(value)} of dtype {dtype}")
    if math.prod(shape) != 1:
        raise ValueError(f"{name} must hold exactly one number, got an array of shape {shape}")
    is_deleted = getattr(value, "is_deleted", None)
    if is_deleted is not None and is_deleted():
        raise ValueError(f"{name} is a deleted (or donated) array: {_show(value)}")
    if getattr(value, "is_fully_addressable", True) is False:
        raise ValueError(
            f"{name} spans devices of other processes, so this process cannot read it: "
            f"{_show(value)}"
        )
    return value


def _array_item(value: Any, name: str) -> float:
    import numpy as np

    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a real number, got {_show(value)}") from err
    if not is_real_dtype(arr.dtype):
        raise TypeError(f"{name} must be a real number, got {_show(value)} of dtype {arr.dtype}")
    if arr.size != 1:
        raise ValueError(f"{name} must hold exactly one number, got an array of shape {arr.shape}")
    return float(arr.reshape(()))


def as_step(value: Any, name: str = "global_step") -> int:
    """An int64 step; ``None`` means 0."""
    if value is None:
        return 0
    if type(value) is int:
        step = value
    else:
        if isinstance(value, float) or getattr(getattr(value, "dtype", None), "kind", "i") == "f":
            raise TypeError(f"{name} must be an integer, got {_show(value)}")
        try:
            step = operator.index(value)
        except TypeError:
            raise TypeError(f"{name} must be an integer, got {_show(value)}") from None
    if not INT64_MIN <= step <= INT64_MAX:
        raise ValueError(f"{name} must fit in int64, got {step}")
    return step


def as_walltime(value: Any, name: str = "walltime") -> float:
    """Seconds since the epoch as a finite float; ``None`` means now."""
    if value is None:
        return time.time()
    wall_time = as_float(value, name)
    if not math.isfinite(wall_time):
        raise ValueError(f"{name} must be a finite number of seconds, got {wall_time!r}")
    return wall_time


def check_subrun_name(logdir: str, name: str, what: str) -> str:
    """``os.path.join(logdir, name)``, refused if it would leave ``logdir``."""
    if "\x00" in name:
        raise ValueError(f"{what} must not contain NUL characters, got {_show(name)}")
    for part in name.replace("\\", "/").split("/"):
        if len(part.encode("utf-8", "surrogatepass")) > NAME_MAX:
            raise ValueError(
                f"{what} makes a directory name longer than {NAME_MAX} bytes: {_show(name)}"
            )
    root = os.path.normpath(os.path.abspath(logdir))
    path = os.path.normpath(os.path.join(root, name))
    if path == root or not path.startswith(root + os.sep) or os.path.isabs(name):
        raise ValueError(f"{what} would write outside the log dir {logdir!r}: {name!r}")
    local = logdir[len("file://") :] if logdir.lower().startswith("file://") else logdir
    if "://" not in local:  # a local log dir (a store URL has no links to follow)
        # Links are resolved first: a directory link planted inside the log dir must not
        # lead the writes out of it.
        root = os.path.realpath(local)
        real = os.path.realpath(os.path.join(local, name))
        if real == root or not real.startswith(root + os.sep):
            raise ValueError(
                f"{what} would write outside the log dir {logdir!r}: {name!r} leads to "
                f"{real!r} through a link"
            )
    return os.path.join(logdir, name)


# The longest event file name without its suffix: "events.out.tfevents.", a 10-digit time,
# the host name, and a pid and a counter of up to 10 digits each, dot-separated.
_EVENT_NAME_FIXED = len("events.out.tfevents.") + 10 + 1 + 1 + 10 + 1 + 10


def check_filename_suffix(suffix: Any) -> str:
    """A str that fits in an event file name: no path separator or NUL, and short enough
    that ``events.out.tfevents.<time>.<host>.<pid>.<n><suffix>`` stays within NAME_MAX."""
    if not isinstance(suffix, str) or os.sep in suffix or "/" in suffix:
        raise ValueError(f"filename_suffix must be a str without path separators, got {suffix!r}")
    if "\x00" in suffix:
        raise ValueError(f"filename_suffix must not contain NUL characters, got {_show(suffix)}")
    import socket

    try:
        size = len(suffix.encode("utf-8"))
    except UnicodeEncodeError as err:
        raise ValueError(
            f"filename_suffix must be encodable as UTF-8, got {_show(suffix)}: {err}"
        ) from None
    room = NAME_MAX - _EVENT_NAME_FIXED - len(socket.gethostname().encode("utf-8", "replace"))
    if size > room:
        raise ValueError(
            f"filename_suffix must be at most {room} bytes here (an event file name is at "
            f"most {NAME_MAX} bytes), got {size}: {_show(suffix)}"
        )
    return suffix


def as_real_array(value: Any, name: str) -> Any:
    """``value`` as a numpy array of real numbers (bool included), any shape.

    A value numpy cannot make an array of (ragged nesting) raises ``ValueError``; an array
    of anything but numbers (strings, objects) raises ``TypeError``.
    """
    import numpy as np

    try:
        arr = np.asarray(to_numpy(value))
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{name} must be an array of numbers; numpy could not convert it: {err}"
        ) from None
    if not is_real_dtype(arr.dtype):
        raise TypeError(f"{name} must hold real numbers, got an array of dtype {arr.dtype}")
    return arr


def _as_1d(obj: Any, name: str) -> np.ndarray:
    import numpy as np

    try:
        arr = np.asarray(to_numpy(obj))
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be a 1-D array of numbers; numpy could not convert it: {err}"
        ) from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}")
    return arr


def check_series(
    tag: str, values: ArrayLike, steps: ArrayLike | None, walltimes: ArrayLike | float | None
) -> SeriesInput:
    """Check every argument of ``add_scalar_series``; raise before anything is written."""
    import numpy as np

    from ._format.fast_series import CHUNK_RECORDS, SeriesInput

    vals = _as_1d(values, "values")
    if vals.dtype.kind not in "biuf":
        raise TypeError(f"values must hold real numbers, got an array of dtype {vals.dtype}")
    n = len(vals)  # converted chunk by chunk in encode_series: no n-sized copy

    steps_arr: np.ndarray | None = None
    if steps is not None:
        steps_arr = _as_1d(steps, "steps")
        if steps_arr.dtype.kind not in "iu":
            raise TypeError(f"steps must hold integers, got an array of dtype {steps_arr.dtype}")
        if len(steps_arr) != n:
            raise ValueError(f"steps must have the length of values ({n}), got {len(steps_arr)}")
        if steps_arr.dtype.kind == "u" and steps_arr.dtype.itemsize == 8 and n:
            if int(steps_arr.max()) > INT64_MAX:
                raise ValueError(f"steps must fit in int64, got {int(steps_arr.max())}")
        steps_arr = steps_arr.astype(np.int64, copy=False)

    walls: np.ndarray | float
    if walltimes is None or (np.ndim(walltimes) == 0 and not isinstance(walltimes, (list, tuple))):
        walls = as_walltime(walltimes, "walltimes")
    else:
        walls = _as_1d(walltimes, "walltimes")
        if walls.dtype.kind not in "biuf":
            raise TypeError(
                f"walltimes must hold real numbers, got an array of dtype {walls.dtype}"
            )
        if len(walls) != n:
            raise ValueError(
                f"walltimes must be a number or have the length of values ({n}), got {len(walls)}"
            )
        walls = walls.astype(np.float64, copy=False)
        for start in range(0, n, CHUNK_RECORDS):  # chunked: no n-sized temporary
            part = walls[start : start + CHUNK_RECORDS]
            if not np.isfinite(part).all():
                bad = part[~np.isfinite(part)][0]
                raise ValueError(
                    f"walltimes must be finite numbers of seconds, found {float(bad)!r}"
                )
    return SeriesInput(tag, vals, steps_arr, walls)
