"""The hyperparameter value policies and the flattener, shared by every front.

TensorBoard's HParams dashboard knows three types: BOOL, STRING and FLOAT64.

- Strict (:func:`checked_hparam_value`: ``SummaryWriter.add_hparams``, PyTorch's
  signature): bool (and numpy/JAX booleans) -> BOOL; str -> STRING (UTF-8 encodable, else
  ``ValueError``); int, float, numpy and JAX numbers -> FLOAT64; anything else raises
  ``TypeError`` naming the key.
- Both: a tensor of one element (``torch.tensor(0.1)``, on any device, requiring grad or
  not) is first its numpy scalar, as PyTorch's writer takes it.
- From configs and searches (:func:`hparam_value`, public as ``tbwrite.hparam_value``:
  ``write_hparams``, the clu-style writer, every integration), which hand us anything: the
  strict types as above; None -> ``"None"``; an object with ``get_params`` (a scikit-learn
  estimator), a class or a function -> its (qualified) name; a list or tuple -> its items
  so converted, joined as ``"[a, b]"`` / ``"(a, b)"``; anything else -> ``str(value)``, or
  its class name when that is Python's default ``<... object at 0x...>`` text.

:func:`flatten_hparams` (public as ``tbwrite.flatten_hparams``) is clu's ``flatten_dict``:
nested mappings (and anything with ``.items()``, such as an ``ml_collections.ConfigDict``)
become dotted names, list and tuple items ``name.0``, ``name.1``, ..., and None ``""``. No
imports beyond the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

from .._tensorlike import is_tensorlike, to_numpy

__all__ = [
    "HParamValue",
    "check_utf8",
    "config_hparams",
    "flatten_hparams",
    "checked_hparam_value",
    "hparam_value",
    "hparam_values",
    "is_real_number",
    "show_value",
]

HParamValue = Union[bool, str, float]


def show_value(value: Any) -> str:
    text = repr(value)
    return (text[:77] + "...") if len(text) > 80 else text


def _untensor(value: Any) -> Any:
    # A tensor (torch's, or anything with .detach()) as numpy; one element as a 0-d array.
    if not is_tensorlike(value):
        return value
    arr = to_numpy(value)
    return arr.reshape(()) if arr.size == 1 else arr


def check_utf8(text: str, where: str) -> str:
    """``text`` unchanged, or ``ValueError`` naming ``where`` if it is not UTF-8 encodable.

    Protobuf string fields hold UTF-8: a lone surrogate cannot be written.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(
            f"{where} must be encodable as UTF-8, got {show_value(text)}: {err}"
        ) from None
    return text


def checked_hparam_value(key: str, value: Any, where: str | None = None) -> HParamValue:
    """A hyperparameter value as the type TensorBoard shows: bool, str or float.

    bool (and numpy/JAX booleans) -> BOOL, checked before int since bool is an int;
    str -> STRING (encodable as UTF-8); int, float, numpy and JAX numbers -> FLOAT64 (finite
    or not). Anything else raises ``TypeError`` naming the key (or ``where``).
    """
    where = f"hparam {key!r}" if where is None else where
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return check_utf8(str(value), where)
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"{where} is too large for a float: {show_value(value)}") from None
    value = _untensor(value)
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind is not None and getattr(value, "ndim", 0) == 0 and getattr(value, "size", 1) == 1:
        if kind == "b":
            return bool(value)
        if kind in "iuf":
            return float(value)
        if kind == "U":
            return check_utf8(str(value), where)
    raise TypeError(
        f"{where} must be a bool, str, int or float (or a numpy/JAX scalar of "
        f"those), got {show_value(value)} of type {type(value).__name__}"
    )


def hparam_values(hparams: Any, name: str = "hparam_dict") -> dict[str, HParamValue]:
    """``hparams`` checked and typed by the strict policy."""
    if not isinstance(hparams, Mapping):
        raise TypeError(f"{name} must be a mapping of str to values, got {show_value(hparams)}")
    out: dict[str, HParamValue] = {}
    for key, value in hparams.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"{name} keys must be non-empty str, got {show_value(key)}")
        check_utf8(key, f"{name} key")
        out[key] = checked_hparam_value(key, value)
    return out


def _is_config(value: Any) -> bool:
    return isinstance(value, Mapping) or (hasattr(value, "items") and not isinstance(value, type))


def flatten_hparams(config: Any, sep: str = ".", *, lists: bool = True) -> dict[str, Any]:
    """A nested config as one flat mapping, by clu's rules (``flatten_dict``).

    Nested mappings, and anything with ``.items()`` such as an ``ml_collections.ConfigDict``,
    become names joined by ``sep`` (``{"opt": {"lr": 0.1}}`` becomes ``{"opt.lr": 0.1}``);
    list and tuple items become ``name.0``, ``name.1``, ...; ``None`` becomes ``""``.
    ``lists=False`` keeps lists and tuples whole (Ray Tune's results, whose lists are
    histograms, not one value per item). The values are left as they are: pass them
    through :func:`hparam_value` for ``add_hparams``.
    """
    out: dict[str, Any] = {}

    def walk(prefix: tuple[str, ...], d: Any) -> None:
        for k, v in d.items():
            key = prefix + (str(k),)
            if _is_config(v):
                walk(key, v)
            elif lists and isinstance(v, (list, tuple)):
                walk(key, {str(i): item for i, item in enumerate(v)})
            else:
                out[sep.join(key)] = "" if v is None else v

    walk((), config)
    return out


def config_hparams(hparams: Any, name: str = "hparams") -> dict[str, HParamValue]:
    """A config (a mapping, or anything with ``.items()``) flattened and typed: what
    ``write_hparams`` logs."""
    if not _is_config(hparams):
        raise TypeError(f"{name} must be a mapping of str to values, got {show_value(hparams)}")
    return {key: hparam_value(value) for key, value in flatten_hparams(hparams).items()}


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
    """``value`` as one of TensorBoard's three hparam types (bool, str, float), for values
    from configs and searches, which may hold anything.

    bool (numpy's and JAX's too) stays bool, str stays str, numbers (numpy's, JAX's, and a
    tensor of one element) become float. Anything else becomes text: ``None`` as
    ``"None"``, a scikit-learn estimator, a class or a function as its name, a list or
    tuple as its items so converted (``"[0.1, 'adam']"``), other objects as ``str(value)``,
    or their class name when that is Python's default ``<... object at 0x...>``. Every
    integration types its parameters with it; ``SummaryWriter.add_hparams`` itself is
    stricter (PyTorch's rules: other types raise ``TypeError``).

    >>> tbwrite.hparam_value(None), tbwrite.hparam_value(3), tbwrite.hparam_value(print)
    ('None', 3.0, 'print')
    """
    if isinstance(value, bool):
        return value
    value = _untensor(value)
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


def is_real_number(value: Any) -> bool:
    """A real number (not a bool) that a scalar chart can show."""
    if isinstance(value, bool):
        return False
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind == "b":
        return False
    return _is_number(value)
