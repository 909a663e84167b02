"""The torch-style writer's HParams methods: ``add_hparams`` (PyTorch's signature),
``write_hparams`` (clu's) and ``set_status``.

Each checks its arguments with the value policy of :mod:`tbwrite._summaries.hparam_values`,
builds the experiment config and metric values with :mod:`tbwrite._summaries.hparams` and
hands them with the hyperparameters to the run core, which writes the session's start once
and its end at close. Mixed into
:class:`tbwrite.SummaryWriter`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._checks import as_float, as_step, as_walltime, check_subrun_name, check_tag
from .._run import STATUSES, RunWriter

if TYPE_CHECKING:
    from .._types import Step, WallTime

__all__ = ["HParamsMethods"]


class HParamsMethods:
    """Mixed into :class:`tbwrite.SummaryWriter`, which sets ``_run`` and ``_log_dir``."""

    _run: RunWriter
    _log_dir: str

    def add_hparams(
        self,
        hparam_dict: Mapping[str, Any],
        metric_dict: Mapping[str, Any] | None = None,
        hparam_domain_discrete: Mapping[str, Any] | None = None,
        run_name: str | None = None,
        global_step: Step = None,
        *,
        start_time: WallTime = None,
    ) -> None:
        """Make this run an HParams session, with PyTorch's signature.

        By default the session is written into this writer's own run, so TensorBoard's
        HParams table shows the run as one session whose metric columns are the latest
        values of its scalar tags, moving as training goes. The session's end (SUCCESS, or
        FAILURE when a ``with`` block exits with an exception, or what :meth:`set_status`
        said) is written once, at :meth:`close`.

        Args:
            hparam_dict: name -> value. bool is shown as BOOL, str as STRING, int, float
                and numpy/JAX numbers as FLOAT64; anything else raises ``TypeError``.
            metric_dict: metric tag -> value (or None). Values given are logged as scalars
                at ``global_step`` so a value shows at once; log later values with
                :meth:`add_scalar` under the same tags.
            hparam_domain_discrete: name -> the list of values that hparam can take. Given,
                an experiment config with these domains is written into this run too; for a
                sweep prefer :func:`tbwrite.write_experiment` once at its root.
            run_name: only when given, PyTorch's behaviour: the session goes into the
                sub-run ``<log_dir>/<run_name>`` with its own experiment config, the
                metric values, and its end (SUCCESS) written at once.
            global_step: the step of the metric values.
            start_time: when the session started, in seconds since the epoch (default:
                when this writer was opened), for runs logged after the fact, such as a
                finished trial's. Not PyTorch's; with ``run_name`` the sub-run's session
                starts now, as PyTorch's does.

        Raises:
            tbwrite.HParamsError: a session was already written into this run (TensorBoard
                would show only the first one).
        """
        from .._summaries import hparams as h
        from .._summaries.hparam_values import hparam_values

        hparams = hparam_values(hparam_dict)
        if metric_dict is None:
            metric_dict = {}
        if not isinstance(metric_dict, Mapping):
            raise TypeError(f"metric_dict must be a mapping of str to numbers, got {metric_dict!r}")
        metrics: dict[str, float | None] = {}
        for key, raw in metric_dict.items():
            key = check_tag(key, "metric_dict key")
            metrics[key] = None if raw is None else as_float(raw, f"metric_dict[{key!r}]")
        domains = h.check_domain_discrete(hparam_domain_discrete, hparams)
        step = as_step(global_step)
        start = None if start_time is None else as_walltime(start_time, "start_time")
        values = {tag: value for tag, value in metrics.items() if value is not None}
        if run_name is not None:
            run_name = check_tag(run_name, "run_name")
            path = check_subrun_name(self._log_dir, run_name, "run_name")
            experiment = h.experiment_for_session(hparams, metrics, domains)
            self._run.write_closed_session(
                path,
                hparams,
                experiment=h.experiment_summary(experiment),
                metrics=values,
                metric_step=step,
            )
            return
        summary = None
        if domains:
            summary = h.experiment_summary(h.experiment_for_session(hparams, metrics, domains))
        # HParamsError on a second session
        self._run.start_session(
            hparams, experiment=summary, metrics=values, metric_step=step, start_time=start
        )

    def write_hparams(self, hparams: Mapping[str, Any]) -> None:
        """clu's ``MetricWriter.write_hparams``: this run's hyperparameters as its session.

        Flattened as clu does: nested mappings (and anything with ``.items()``, such as an
        ``ml_collections.ConfigDict``) become dotted names (``{"opt": {"lr": 0.1}}`` becomes
        ``opt.lr``), list items ``name.0``, ``name.1``, ...; values that are not bool, str or
        numbers are shown as text. Metrics are this run's scalar tags.
        """
        from .._summaries.hparam_values import config_hparams

        self.add_hparams(config_hparams(hparams))

    def set_status(self, status: str, end_time: float | None = None) -> None:
        """How this run's HParams session ends at :meth:`close`: ``"success"`` (the
        default), ``"failure"``, or ``"unknown"`` (ended without a verdict, e.g. a pruned
        trial). For code that does not use ``with``. ``end_time``: seconds since the epoch
        to record as the end (default: the time of :meth:`close`), for runs logged after
        the fact.
        """
        if status not in STATUSES:
            raise ValueError(f"status must be 'success', 'failure' or 'unknown', got {status!r}")
        end = None if end_time is None else as_walltime(end_time, "end_time")
        self._run.set_status(status, end)
