"""Text for a terminal: one-line sparklines of scalar series, and names made safe to print.

A sparkline has at most ``width`` characters, one per point when the series is that short,
else one per bucket: the points are cut into ``width`` consecutive buckets of (nearly) equal
size and each bucket is drawn at the mean of its values, NaN left out. The line is scaled to
its own lowest and highest finite bucket: eight levels, ``▁▂▃▄▅▆▇█`` (``.:-=+*#@`` in ASCII);
a constant series sits in the middle (``▄``). A NaN bucket (all NaN) is ``·`` (``?`` in
ASCII); +inf is drawn as the top level and -inf as the bottom one.

Run names and tags come from files, so they may hold control characters: an ESC or a carriage
return printed raw would drive the terminal. :func:`escape` turns every control, format and
line-separator character into a backslash escape before anything is printed.
"""

from __future__ import annotations

import math
import unicodedata
from typing import TYPE_CHECKING, Any, Final, TextIO

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SPARK_WIDTH", "escape", "scalar_cells", "sparkline", "unicode_ok"]

SPARK_WIDTH: Final = 24
UNICODE_LEVELS: Final = "▁▂▃▄▅▆▇█"
ASCII_LEVELS: Final = ".:-=+*#@"
UNICODE_NAN: Final = "·"
ASCII_NAN: Final = "?"

# Cc: C0/C1 controls (ESC, CR, BEL, ...); Cf: format characters (bidi overrides, zero width);
# Zl/Zp: line and paragraph separators. None of them may reach a terminal raw.
_UNSAFE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp"})


def escape(value: object) -> str:
    """``str(value)`` with control, format and line-separator characters as backslash
    escapes (``"\\x1b"``, ``"\\r"``, ``"\\u202e"``); everything else unchanged."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # the common case, checked in C
        return text
    return "".join(
        c.encode("unicode_escape").decode("ascii")
        if unicodedata.category(c) in _UNSAFE_CATEGORIES
        else c
        for c in text
    )


def unicode_ok(stream: TextIO) -> bool:
    """Whether ``stream`` can encode the sparkline characters."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        (UNICODE_LEVELS + UNICODE_NAN).encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _bucket_means(y: np.ndarray, width: int) -> np.ndarray:
    import numpy as np

    n = len(y)
    if n <= width:
        return y
    # Bucket i holds points [edges[i], edges[i + 1]); every bucket is non-empty as n > width.
    edges = (np.arange(width + 1) * n) // width
    isnan = np.isnan(y)
    counts = np.add.reduceat((~isnan).astype(np.int64), edges[:-1])
    with np.errstate(invalid="ignore"):  # +inf and -inf in one bucket: NaN, as the mean is
        sums = np.add.reduceat(np.where(isnan, 0.0, y), edges[:-1])
        means: np.ndarray = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return means


def sparkline(values: Any, width: int = SPARK_WIDTH, *, ascii: bool = False) -> str:
    """The series ``values`` as at most ``width`` characters (see the module docstring)."""
    import numpy as np

    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    levels, nan = (ASCII_LEVELS, ASCII_NAN) if ascii else (UNICODE_LEVELS, UNICODE_NAN)
    y = _bucket_means(np.asarray(values, dtype=np.float64).ravel(), width)
    finite = y[np.isfinite(y)]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 0.0)
    top = len(levels) - 1
    out = []
    for v in y.tolist():
        if math.isnan(v):
            out.append(nan)
        elif v == math.inf:
            out.append(levels[top])
        elif v == -math.inf:
            out.append(levels[0])
        elif hi == lo:
            out.append(levels[top // 2])
        else:
            # Eight equal bands from lo to hi; hi itself is in the top one.
            out.append(levels[min(int((v - lo) / (hi - lo) * len(levels)), top)])
    return "".join(out)


def _number(x: float) -> str:
    return f"{x:.4g}"


def scalar_cells(values: Any, spark: str | None) -> tuple[str, ...]:
    """The ``ls`` cells of a scalar series: last value, ``min..max`` of its non-NaN values,
    and (unless ``spark`` is None) its sparkline, ``spark`` being ``"unicode"`` or
    ``"ascii"``."""
    import numpy as np

    y = np.asarray(values, dtype=np.float64)
    last = _number(float(y[-1])) if len(y) else ""
    known = y[~np.isnan(y)]
    span = f"{_number(float(known.min()))}..{_number(float(known.max()))}" if len(known) else ""
    if spark is None:
        return (last, span)
    return (last, span, sparkline(y, ascii=spark == "ascii"))
