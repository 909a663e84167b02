"""Shared by the integrations: hyperparameter values of any type, shown as TensorBoard can.

TensorBoard's HParams dashboard knows three types: BOOL, STRING and FLOAT64. Searches hand
us anything: estimators, None, lists, distributions, functions. The rule, the same for every
integration:

- bool (and numpy bools) -> BOOL; str -> STRING; int, float and numpy/JAX numbers -> FLOAT64;
- None -> the string ``"None"``;
- an object with ``get_params`` (a scikit-learn estimator), a class or a function -> its
  (qualified) name;
- a list or tuple -> its items so converted, joined as ``"[a, b]"`` / ``"(a, b)"``;
- anything else -> ``str(value)``, or its class name when that is Python's default
  ``<... object at 0x...>`` text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Union

HParamValue = Union[bool, str, float]


def _is_number(value: Any) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return True
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    return kind is not None and kind in "iuf" and getattr(value, "size", 1) == 1


def _text(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if _is_number(value):
        number = float(value)
        if number.is_integer() and not isinstance(value, float):
            return str(int(number))
        return repr(number)
    if isinstance(value, (list, tuple)):
        items = ", ".join(repr(v) if isinstance(v, str) else _text(v) for v in value)
        if isinstance(value, tuple):
            return f"({items},)" if len(value) == 1 else f"({items})"
        return f"[{items}]"
    if hasattr(value, "get_params") and not isinstance(value, type):
        return type(value).__name__
    if isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
        return str(getattr(value, "__qualname__", type(value).__name__))
    text = str(value)
    if " object at 0x" in text:
        return type(value).__name__
    return text


def hparam_value(value: Any) -> HParamValue:
    """``value`` as one of TensorBoard's three hparam types (see the module docstring)."""
    if isinstance(value, bool):
        return value
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind == "b" and getattr(value, "size", 1) == 1:
        return bool(value)
    if isinstance(value, str):
        return value
    if _is_number(value):
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            return _text(value)
    return _text(value)


def hparam_values(params: Mapping[str, Any]) -> dict[str, HParamValue]:
    return {str(k): hparam_value(v) for k, v in params.items()}


def is_real_number(value: Any) -> bool:
    """A real number (not a bool) that a scalar chart can show."""
    if isinstance(value, bool):
        return False
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind == "b":
        return False
    return _is_number(value)


def finite(value: float) -> bool:
    return math.isfinite(value)
