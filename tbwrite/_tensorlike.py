"""Tensors from any framework as numpy, without importing the framework.

Strategy: a value that looks like a torch tensor (it has ``.detach()``) is detached from
autograd, moved to the CPU (``.cpu()``), widened to float32 when its dtype is one numpy
lacks or computes badly (bfloat16, float16), and only then turned into a numpy array with
``.numpy()``. This is what makes a parameter that requires grad, a tensor on a GPU or a
bfloat16 activation loggable, and it never triggers torch's warnings (``float()`` of a tensor
that requires grad warns; ``.detach()`` first does not). Anything else is left to
``numpy.asarray`` (numpy values, JAX arrays, nested lists). torch itself is never imported:
only the tensor's own methods are called.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["HALF_DTYPES", "is_tensorlike", "to_numpy"]

# Dtype names (the part after "torch.") widened to float32 before conversion: numpy has no
# bfloat16, and float16 arithmetic overflows where float32 does not.
HALF_DTYPES: Final = frozenset({"bfloat16", "float16", "half"})


def is_tensorlike(value: Any) -> bool:
    """True for torch tensors and look-alikes: anything with a callable ``detach``."""
    return callable(getattr(value, "detach", None)) and not isinstance(value, type)


def _dtype_name(value: Any) -> str:
    return str(getattr(value, "dtype", "")).rsplit(".", 1)[-1]


def to_numpy(value: Any) -> Any:
    """``value`` as a numpy array if it is tensor-like (see the module docstring), else
    ``value`` itself, untouched (numpy then converts it where needed)."""
    if not is_tensorlike(value):
        return value
    import numpy as np

    tensor = value.detach()
    cpu = getattr(tensor, "cpu", None)
    if callable(cpu):
        tensor = cpu()
    if _dtype_name(tensor) in HALF_DTYPES:
        widen = getattr(tensor, "float", None)
        if callable(widen):
            tensor = widen()
    to_array = getattr(tensor, "numpy", None)
    if callable(to_array):
        return np.asarray(to_array())
    return np.asarray(tensor)
