"""``write_experiment``: a sweep's experiment config, written once at its root."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from .._eventfile import open_event_file
from .._format.wire import summary_record
from .._summaries.hparams import HParam, Metric, experiment_proto, experiment_summary

__all__ = ["write_experiment"]


def write_experiment(
    logdir: str | os.PathLike[str],
    hparams: Iterable[HParam | str],
    metrics: Iterable[Metric | str] = (),
    *,
    name: str = "",
    description: str = "",
    user: str = "",
    time_created_secs: float | None = None,
) -> str:
    """Declare a sweep once, at its root ``logdir``: hyperparameters with display names,
    descriptions and domains, and metrics with display names, descriptions and dataset type.

    TensorBoard then shows these names, filters by these domains and offers these metric
    columns for every session under ``logdir``; each run of the sweep logs only its session
    (``SummaryWriter.add_hparams`` / ``write_hparams``). Write it once per sweep: with
    several experiment configs in one logdir TensorBoard picks an arbitrary one.

    ``hparams``: :class:`HParam` objects (or names). ``metrics``: :class:`Metric` objects (or
    tags). Returns the path of the event file written.
    """

    exp = experiment_proto(
        hparams,
        metrics,
        name=name,
        description=description,
        user=user,
        time_created_secs=time_created_secs,
    )
    record = summary_record(time.time(), 0, experiment_summary(exp))
    writer = open_event_file(os.fspath(logdir), filename_suffix=".hparams")
    try:
        writer.write_record(record)
    finally:
        writer.close()
    return writer.path
