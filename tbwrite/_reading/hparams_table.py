"""``read_hparams``: the sessions of a sweep as TensorBoard's hparams plugin shows them."""

from __future__ import annotations

import os
import warnings
from typing import Any, Final

from .._format.plugin_names import (
    EXPERIMENT_TAG,
    PLUGIN_HPARAMS,
    PLUGIN_SCALARS,
    SESSION_END_INFO_TAG,
    SESSION_START_INFO_TAG,
)
from .loaders import ProgressFn, load_runs, series_of
from .records import warn_skipped
from .results import HParamsTable, SessionRow

_STATUS_NAMES: Final = ("UNKNOWN", "SUCCESS", "FAILURE", "RUNNING")


# -- hparams --------------------------------------------------------------------------------


def _plugin_data(content: bytes, run: str, tag: str) -> Any:
    """The HParamsPluginData in a summary's metadata, or None (with a warning) when the
    bytes do not parse: that session or experiment is left out, the rest of the table
    stands."""
    from google.protobuf.message import DecodeError

    from .._proto import hparams_pb2

    try:
        return hparams_pb2.HParamsPluginData.FromString(content)
    except DecodeError:
        warnings.warn(
            f"run {run!r}: the hparams plugin data of {tag!r} does not parse; ignored",
            RuntimeWarning,
            stacklevel=4,
        )
        return None


def _hparam_value(v: Any) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "number_value":
        return v.number_value
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return v.bool_value
    return None


def _longest_parent(sessions: list[str], run: str) -> str | None:
    """The session run that is ``run`` or its nearest ancestor ("." is everyone's)."""
    owners = [s for s in sessions if s == run or s == "." or run.startswith(s + "/")]
    if not owners:
        return None
    return max(owners, key=lambda s: (s != ".", len(s)))


def read_hparams(
    logdir: str | os.PathLike[str],
    *,
    purge: bool = False,
    on_corrupt: str = "raise",
    progress: ProgressFn | None = None,
) -> HParamsTable:
    """The hparams table of a sweep: one :class:`SessionRow` per session run.

    As TensorBoard's hparams plugin:

    - a session run is any run holding ``_hparams_/session_start_info``; only the first
      start and end info of a run count. PyTorch's and tensorboardX's ``add_hparams``
      sub-runs (``<run>/<timestamp>``) are session runs like any other.
    - metrics are those of the first ``_hparams_/experiment`` found (runs in name order),
      or, with none, every scalar tag of each session run and of its sub-runs that are not
      sessions themselves. A metric in sub-run ``eval`` of a session is named ``eval/<tag>``.
    - a metric's value is the LAST point of that tag in the order written (run files in
      name order, records in file order): what TensorBoard's Python loader shows
      (``Tensors(run, tag)[-1]``); for a run whose steps only increase, the value at the
      highest step. ``metric_steps`` holds its step.
    - ``status`` is from the end info: SUCCESS, FAILURE, RUNNING, or UNKNOWN when there
      is none yet; ``start_time`` / ``end_time`` are its seconds since the epoch.

    ``purge``, ``on_corrupt``, ``progress`` as :func:`read_scalars`.
    """
    data, skipped = load_runs(logdir, on_corrupt, progress)
    starts: dict[str, Any] = {}
    ends: dict[str, Any] = {}
    experiment = None
    for run, rd in data.items():
        for tag, slot in ((SESSION_START_INFO_TAG, starts), (SESSION_END_INFO_TAG, ends)):
            meta = rd.meta.get(tag)
            if meta and meta[0] == PLUGIN_HPARAMS:
                pdata = _plugin_data(meta[1], run, tag)
                if pdata is not None:
                    info = pdata.session_start_info if slot is starts else pdata.session_end_info
                    slot[run] = info
        meta = rd.meta.get(EXPERIMENT_TAG)
        if experiment is None and meta and meta[0] == PLUGIN_HPARAMS:
            pdata = _plugin_data(meta[1], run, EXPERIMENT_TAG)
            experiment = pdata.experiment if pdata is not None else None
    sessions = sorted(starts)
    scalars = {run: series_of(rd, PLUGIN_SCALARS, purge) for run, rd in data.items()}

    # metric name -> (group, tag)
    metric_defs: dict[str, tuple[str, str]] = {}
    if experiment is not None:
        for mi in experiment.metric_infos:
            group, tag = mi.name.group, mi.name.tag
            metric_defs[f"{group}/{tag}" if group else tag] = (group, tag)
    else:
        for run, series in scalars.items():
            owner = _longest_parent(sessions, run)
            if owner is None:
                continue
            group = "" if run == owner else (run[len(owner) + 1 :] if owner != "." else run)
            for tag in series:
                if tag.startswith("_hparams_/"):
                    continue
                metric_defs[f"{group}/{tag}" if group else tag] = (group, tag)
        metric_defs = dict(sorted(metric_defs.items()))

    hparam_names: list[str] = []
    if experiment is not None:
        hparam_names = [h.name for h in experiment.hparam_infos]
    extra = sorted({k for run in sessions for k in starts[run].hparams} - set(hparam_names))
    hparam_names += extra

    rows = []
    for run in sessions:
        start = starts[run]
        end = ends.get(run)
        metrics: dict[str, float] = {}
        metric_steps: dict[str, int] = {}
        for name, (group, tag) in metric_defs.items():
            mrun = run if not group else (group if run == "." else f"{run}/{group}")
            mrun = os.path.normpath(mrun).replace(os.sep, "/")
            s = scalars.get(mrun, {}).get(tag)
            if s is not None and len(s):
                metrics[name] = float(s.values[-1])
                metric_steps[name] = int(s.steps[-1])
        status = _STATUS_NAMES[end.status] if end is not None and 0 <= end.status < 4 else "UNKNOWN"
        rows.append(
            SessionRow(
                run=run,
                hparams={k: _hparam_value(v) for k, v in sorted(start.hparams.items())},
                metrics=metrics,
                status=status,
                start_time=start.start_time_secs or None,
                end_time=(end.end_time_secs or None) if end is not None else None,
                metric_steps=metric_steps,
                group_name=start.group_name,
            )
        )
    warn_skipped(skipped, stacklevel=3)
    return HParamsTable(rows, hparam_names, list(metric_defs), experiment, skipped)
