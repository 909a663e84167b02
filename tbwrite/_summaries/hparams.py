"""HParams summaries: sessions and the experiment config, as the hparams plugin reads them.

Strategy: TensorBoard's hparams plugin treats any run holding a
``_hparams_/session_start_info`` summary as a session, and each metric column shows the
latest scalar of that tag in that run. So tbwrite writes the session start into the run's own
event file, next to its training scalars, and the HParams table follows training. Only
the first start and end info of a run count, so the start is written once and the end once,
at close, with the status the run actually ended with. An experiment config
(``_hparams_/experiment``: domains, display names, metric descriptions) is written once at
a sweep's root with :func:`tbwrite.write_experiment`.

Each of the three is a summary of the hparams plugin (plugin name ``hparams``, content an
``HParamsPluginData`` of version 0) whose value is an empty DT_FLOAT tensor: both of
TensorBoard's loaders keep such a value and read only its metadata. Pure builders, no I/O;
the value policy and the flattener are in :mod:`.hparam_values`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Union

from google.protobuf import struct_pb2

from .._format.plugin_names import (
    EXPERIMENT_TAG,
    PLUGIN_DATA_VERSION,
    SESSION_END_INFO_TAG,
    SESSION_START_INFO_TAG,
)
from .._format.plugin_names import PLUGIN_HPARAMS as PLUGIN_NAME
from .._proto import hparams_pb2, summary_pb2, tensor_pb2
from .hparam_values import HParamValue, checked_hparam_value, show_value

__all__ = [
    "Discrete",
    "HParam",
    "IntInterval",
    "Metric",
    "RealInterval",
    "check_domain_discrete",
    "experiment_for_session",
    "experiment_proto",
    "experiment_summary",
    "session_end_summary",
    "session_start_summary",
]


STATUS_BY_NAME: Final = {
    "success": hparams_pb2.STATUS_SUCCESS,
    "failure": hparams_pb2.STATUS_FAILURE,
    "unknown": hparams_pb2.STATUS_UNKNOWN,
}
_DATASET_TYPES: Final = {
    None: hparams_pb2.DATASET_UNKNOWN,
    "training": hparams_pb2.DATASET_TRAINING,
    "validation": hparams_pb2.DATASET_VALIDATION,
}


# -- values as protobuf --------------------------------------------------------------------


def _to_proto_value(value: HParamValue) -> struct_pb2.Value:
    if isinstance(value, bool):
        return struct_pb2.Value(bool_value=value)
    if isinstance(value, str):
        return struct_pb2.Value(string_value=value)
    return struct_pb2.Value(number_value=value)


def _data_type(value: HParamValue) -> int:
    if isinstance(value, bool):
        return hparams_pb2.DATA_TYPE_BOOL
    if isinstance(value, str):
        return hparams_pb2.DATA_TYPE_STRING
    return hparams_pb2.DATA_TYPE_FLOAT64


# -- experiment config -----------------------------------------------------------------------


@dataclass(frozen=True)
class Discrete:
    """A finite set of values of one type (bools, strs or numbers)."""

    values: Sequence[Any]


@dataclass(frozen=True)
class RealInterval:
    """Real numbers in [min_value, max_value]."""

    min_value: float
    max_value: float


@dataclass(frozen=True)
class IntInterval:
    """Integers in [min_value, max_value]."""

    min_value: int
    max_value: int


Domain = Union[Discrete, RealInterval, IntInterval]


@dataclass(frozen=True)
class HParam:
    """A hyperparameter of an experiment: its name as logged, and how to show it.

    ``domain`` may be a :class:`Discrete`, :class:`RealInterval`, :class:`IntInterval`, or a
    plain list (taken as Discrete). ``dtype`` ("bool", "str" or "float") is needed only
    without a domain; it is otherwise taken from the domain.
    """

    name: str
    domain: Domain | Sequence[Any] | None = None
    display_name: str = ""
    description: str = ""
    dtype: str | None = None


@dataclass(frozen=True)
class Metric:
    """A metric of an experiment: a scalar tag, and how to show it.

    ``group`` is the sub-run holding the tag, relative to the session's run ("" for the run
    itself, e.g. "validation" for ``<run>/validation``). ``dataset_type``: "training",
    "validation" or None.
    """

    tag: str
    group: str = ""
    display_name: str = ""
    description: str = ""
    dataset_type: str | None = None


_DTYPES: Final = {
    "bool": hparams_pb2.DATA_TYPE_BOOL,
    "str": hparams_pb2.DATA_TYPE_STRING,
    "string": hparams_pb2.DATA_TYPE_STRING,
    "float": hparams_pb2.DATA_TYPE_FLOAT64,
    "float64": hparams_pb2.DATA_TYPE_FLOAT64,
}


def _hparam_info(hp: Any) -> hparams_pb2.HParamInfo:
    if isinstance(hp, str):
        hp = HParam(hp)
    if not isinstance(hp, HParam):
        raise TypeError(f"hparams entries must be HParam or str, got {show_value(hp)}")
    if not isinstance(hp.name, str) or not hp.name:
        raise ValueError(f"HParam.name must be a non-empty str, got {show_value(hp.name)}")
    info = hparams_pb2.HParamInfo(
        name=hp.name, display_name=hp.display_name, description=hp.description
    )
    domain = hp.domain
    if domain is not None and not isinstance(domain, (Discrete, RealInterval, IntInterval)):
        if isinstance(domain, (str, bytes)) or not isinstance(domain, Iterable):
            raise TypeError(
                f"HParam {hp.name!r}: domain must be Discrete, RealInterval, "
                f"IntInterval or a list of values, got {show_value(domain)}"
            )
        domain = Discrete(list(domain))
    if isinstance(domain, Discrete):
        values = [checked_hparam_value(hp.name, v) for v in domain.values]
        if not values:
            raise ValueError(f"HParam {hp.name!r}: a discrete domain needs at least one value")
        types: set[Any] = {_data_type(v) for v in values}
        if len(types) != 1:
            raise ValueError(
                f"HParam {hp.name!r}: discrete values must share one type, got {values!r}"
            )
        info.type = types.pop()
        info.domain_discrete.values.extend(_to_proto_value(v) for v in values)
    elif isinstance(domain, (RealInterval, IntInterval)):
        lo = float(domain.min_value)
        hi = float(domain.max_value)
        if isinstance(domain, IntInterval) and not (
            isinstance(domain.min_value, int) and isinstance(domain.max_value, int)
        ):
            raise TypeError(f"HParam {hp.name!r}: IntInterval bounds must be ints, got {domain!r}")
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise ValueError(
                f"HParam {hp.name!r}: interval needs finite min <= max, got {domain!r}"
            )
        info.type = hparams_pb2.DATA_TYPE_FLOAT64
        info.domain_interval.min_value = lo
        info.domain_interval.max_value = hi
    elif hp.dtype is not None:
        if hp.dtype not in _DTYPES:
            raise ValueError(
                f"HParam {hp.name!r}: dtype must be one of {sorted(_DTYPES)}, got {hp.dtype!r}"
            )
        info.type = _DTYPES[hp.dtype]
    return info


def _metric_info(m: Any) -> hparams_pb2.MetricInfo:
    if isinstance(m, str):
        m = Metric(m)
    if not isinstance(m, Metric):
        raise TypeError(f"metrics entries must be Metric or str, got {show_value(m)}")
    if not isinstance(m.tag, str) or not m.tag:
        raise ValueError(f"Metric.tag must be a non-empty str, got {show_value(m.tag)}")
    if m.dataset_type not in _DATASET_TYPES:
        raise ValueError(
            f"Metric {m.tag!r}: dataset_type must be 'training', 'validation' or None, "
            f"got {m.dataset_type!r}"
        )
    return hparams_pb2.MetricInfo(
        name=hparams_pb2.MetricName(group=m.group, tag=m.tag),
        display_name=m.display_name,
        description=m.description,
        dataset_type=_DATASET_TYPES[m.dataset_type],
    )


def experiment_proto(
    hparams: Iterable[Any],
    metrics: Iterable[Any],
    *,
    name: str = "",
    description: str = "",
    user: str = "",
    time_created_secs: float | None = None,
) -> hparams_pb2.Experiment:
    hparam_infos = [_hparam_info(h) for h in hparams]
    names = [h.name for h in hparam_infos]
    if len(set(names)) != len(names):
        raise ValueError(f"hparams names must be unique, got {names!r}")
    return hparams_pb2.Experiment(
        name=name,
        description=description,
        user=user,
        time_created_secs=time.time() if time_created_secs is None else float(time_created_secs),
        hparam_infos=hparam_infos,
        metric_infos=[_metric_info(m) for m in metrics],
    )


# -- summaries ---------------------------------------------------------------------------------


def _summary(tag: str, plugin_data: hparams_pb2.HParamsPluginData) -> bytes:
    plugin_data.version = PLUGIN_DATA_VERSION
    md = summary_pb2.SummaryMetadata()
    md.plugin_data.plugin_name = PLUGIN_NAME
    md.plugin_data.content = plugin_data.SerializeToString()
    # The value is an empty float tensor: both loaders keep it and read only the metadata.
    tensor = tensor_pb2.TensorProto(dtype=tensor_pb2.DT_FLOAT)
    tensor.tensor_shape.dim.add(size=0)
    value = summary_pb2.Summary.Value(tag=tag, metadata=md, tensor=tensor)
    return summary_pb2.Summary(value=[value]).SerializeToString()


def experiment_summary(experiment: hparams_pb2.Experiment) -> bytes:
    return _summary(EXPERIMENT_TAG, hparams_pb2.HParamsPluginData(experiment=experiment))


def session_start_summary(
    hparams: Mapping[str, HParamValue], start_time_secs: float, group_name: str = ""
) -> bytes:
    info = hparams_pb2.SessionStartInfo(start_time_secs=start_time_secs, group_name=group_name)
    for key, value in hparams.items():
        info.hparams[key].CopyFrom(_to_proto_value(value))
    return _summary(SESSION_START_INFO_TAG, hparams_pb2.HParamsPluginData(session_start_info=info))


def session_end_summary(status: str, end_time_secs: float) -> bytes:
    info = hparams_pb2.SessionEndInfo(status=STATUS_BY_NAME[status], end_time_secs=end_time_secs)
    return _summary(SESSION_END_INFO_TAG, hparams_pb2.HParamsPluginData(session_end_info=info))


def experiment_for_session(
    hparams: Mapping[str, HParamValue],
    metric_tags: Iterable[str],
    domain_discrete: Mapping[str, Sequence[Any]] | None,
) -> hparams_pb2.Experiment:
    """The experiment PyTorch writes beside a session: its hparams typed, optional discrete
    domains, its metrics."""
    domain_discrete = domain_discrete or {}
    infos = []
    for key, value in hparams.items():
        dom = domain_discrete.get(key)
        if dom is not None:
            infos.append(HParam(key, domain=Discrete(list(dom))))
        else:
            dtype = (
                "bool" if isinstance(value, bool) else "str" if isinstance(value, str) else "float"
            )
            infos.append(HParam(key, dtype=dtype))
    return experiment_proto(infos, [Metric(t) for t in metric_tags], time_created_secs=time.time())


def check_domain_discrete(domains: Any, hparams: Mapping[str, HParamValue]) -> dict[str, list[Any]]:
    if domains is None:
        return {}
    if not isinstance(domains, Mapping):
        raise TypeError(
            f"hparam_domain_discrete must be a mapping of str to lists, got {show_value(domains)}"
        )
    out: dict[str, list[Any]] = {}
    for key, values in domains.items():
        if key not in hparams:
            raise ValueError(f"hparam_domain_discrete names {key!r}, which is not in hparam_dict")
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise TypeError(
                f"hparam_domain_discrete[{key!r}] must be a list of values, "
                f"got {show_value(values)}"
            )
        vals = [
            checked_hparam_value(key, v, f"hparam_domain_discrete[{key!r}] value") for v in values
        ]
        if hparams[key] not in vals:
            raise ValueError(
                f"hparam_domain_discrete[{key!r}] = {vals!r} does not hold the logged value "
                f"{hparams[key]!r}"
            )
        if len({_data_type(v) for v in vals}) != 1 or _data_type(vals[0]) != _data_type(
            hparams[key]
        ):
            raise ValueError(
                f"hparam_domain_discrete[{key!r}] values must all have the type of {hparams[key]!r}"
            )
        out[key] = vals
    return out
