"""Names for what the public methods accept, for type checkers only (nothing at run time).

The checks themselves are in :mod:`tbwrite._checks`: they accept Python numbers, numpy
values, and anything with ``__array__`` / ``__float__`` / ``__index__`` (JAX arrays, torch
tensors) without importing their libraries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Optional, SupportsFloat, SupportsIndex, Union

    from numpy.typing import ArrayLike

    # A real number: a Python or numpy number, a one-element array, a JAX or torch scalar.
    Real = Union[SupportsFloat, ArrayLike]
    # A step: an int, a numpy integer, anything with __index__; None means 0.
    Step = Optional[SupportsIndex]
    # Seconds since the epoch; None means now.
    WallTime = Optional[Real]

    __all__ = ["ArrayLike", "Real", "Step", "WallTime"]
