"""An Optuna callback writing each finished trial as a TensorBoard HParams session.

Optuna's own ``TensorBoardCallback`` needs TensorFlow; this one needs nothing but tbwrite.
It works when several processes (or machines sharing a file system) optimize one study
through RDB storage into one logdir: each trial is written, once it finishes, by the
process that ran it, into its own run, and the experiment config at the root is written
by the first process to get there (an exclusive file create decides which).

Usage::

    from tbwrite.integrations.optuna import TensorBoardCallback

    cb = TensorBoardCallback("runs/study", metric_name="accuracy")
    study.optimize(objective, n_trials=50, callbacks=[cb])
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from .. import hparam_value

__all__ = ["TensorBoardCallback", "EXPERIMENT_MARKER"]

#: The file whose exclusive creation elects the one process that writes the experiment.
EXPERIMENT_MARKER = ".tbwrite-optuna-experiment"

# Optuna TrialState name -> the hparams session status it ends with.
_STATUS = {"COMPLETE": "success", "FAIL": "failure", "PRUNED": "unknown"}


class TensorBoardCallback:
    """``study.optimize(..., callbacks=[TensorBoardCallback(logdir)])``.

    Each finished trial becomes the run ``<logdir>/trial-<number>`` holding one session:

    - hparams: the trial's ``params`` (bool, str, numbers as such; ``None`` as ``"None"``;
      see :func:`tbwrite.hparam_value`);
    - the intermediate values it reported (``trial.report(value, step)``) as the steps of
      the scalar ``metric_name``; the final value as that scalar too, at the step after the
      last intermediate one (step 0 without any), unless it is just the last intermediate
      value again (as for a pruned trial);
    - a multi-objective study's values as ``metric_name[i]`` (or ``<metric_name>_<i>``
      for a str ``metric_name``);
    - the status: COMPLETE -> SUCCESS, FAIL -> FAILURE, PRUNED -> UNKNOWN (a pruned trial
      was stopped on purpose by the search, which is not a failure of the code; the
      HParams table's status filter then tells pruned trials apart from completed ones).
      Optuna calls callbacks for a failed trial only when its exception is in
      ``optimize(catch=...)`` (or the objective returned NaN).

    With ``write_experiment`` (the default) an experiment config is written once at
    ``logdir``: the search space as domains (``FloatDistribution`` -> RealInterval,
    ``IntDistribution`` -> IntInterval, ``CategoricalDistribution`` -> Discrete when its
    choices have one type) and the objective(s) as metrics. The space is ``search_space``
    (name -> Optuna distribution) when given, else that of the first trial to finish;
    with a define-by-run space whose parameters differ between trials pass
    ``search_space``, or ``write_experiment=False`` to let TensorBoard derive the columns
    from the sessions (a column missing from the config is not shown).

    The callback keeps no state between trials, so it can be shared by threads
    (``n_jobs``) and pickled into worker processes.
    """

    def __init__(
        self,
        logdir: str | os.PathLike[str],
        metric_name: str | Sequence[str] = "value",
        *,
        search_space: dict[str, Any] | None = None,
        write_experiment: bool = True,
        run_name: str = "trial-{number}",
    ) -> None:
        if isinstance(metric_name, str):
            if not metric_name:
                raise ValueError("metric_name must be a non-empty str")
        elif not all(isinstance(n, str) and n for n in metric_name):
            raise TypeError(f"metric_name must be a str or a list of str, got {metric_name!r}")
        self._logdir = os.fspath(logdir)
        self._metric_name = metric_name if isinstance(metric_name, str) else list(metric_name)
        self._search_space = search_space
        self._write_experiment = write_experiment
        self._run_name = run_name

    def _metric_names(self, n_values: int) -> list[str]:
        if isinstance(self._metric_name, list):
            if len(self._metric_name) != n_values:
                raise ValueError(
                    f"metric_name names {len(self._metric_name)} metrics, but the study has "
                    f"{n_values} objectives"
                )
            return self._metric_name
        if n_values == 1:
            return [self._metric_name]
        return [f"{self._metric_name}_{i}" for i in range(n_values)]

    def __call__(self, study: Any, trial: Any) -> None:
        from .. import SummaryWriter

        n_objectives = len(getattr(study, "directions", [None]))
        names = self._metric_names(n_objectives)
        if self._write_experiment:
            self._maybe_write_experiment(study, trial, names)
        state = getattr(trial.state, "name", str(trial.state))
        status = _STATUS.get(state)
        if status is None:  # RUNNING / WAITING: not finished, nothing to write yet
            return
        start = trial.datetime_start.timestamp() if trial.datetime_start else None
        end = trial.datetime_complete.timestamp() if trial.datetime_complete else None
        run_dir = os.path.join(self._logdir, self._run_name.format(number=trial.number))
        writer = SummaryWriter(run_dir, max_queue=1000)
        try:
            # The session starts when the trial did.
            writer.add_hparams(
                {k: hparam_value(v) for k, v in trial.params.items()}, start_time=start
            )
            tag = names[0]
            last_step, last_value = None, None
            for step, value in sorted(trial.intermediate_values.items()):
                writer.add_scalar(tag, value, step, walltime=end)
                last_step, last_value = step, value
            values = trial.values or []
            for i, value in enumerate(values):
                if value is None:
                    continue
                if i == 0 and last_step is not None and last_value is not None:
                    if value == last_value or (math.isnan(value) and math.isnan(last_value)):
                        continue
                    writer.add_scalar(tag, value, last_step + 1, walltime=end)
                else:
                    writer.add_scalar(names[i], value, 0, walltime=end)
        finally:
            _close_with_status(writer, status, end)

    def _maybe_write_experiment(self, study: Any, trial: Any, names: list[str]) -> None:
        from .. import Metric, write_experiment

        os.makedirs(self._logdir, exist_ok=True)
        marker = os.path.join(self._logdir, EXPERIMENT_MARKER)
        if os.path.exists(marker):
            return
        space = self._search_space if self._search_space is not None else dict(trial.distributions)
        hparams = [_hparam_for(name, dist) for name, dist in sorted(space.items())]
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return  # another process (or thread) writes it
        try:
            os.write(fd, f"study {getattr(study, 'study_name', '')}\n".encode())
        finally:
            os.close(fd)
        directions = [getattr(d, "name", str(d)).lower() for d in getattr(study, "directions", [])]
        metrics = [
            Metric(n, description=f"objective ({d})" if d else "")
            for n, d in zip(names, directions or [""] * len(names))
        ]
        write_experiment(self._logdir, hparams, metrics, name=getattr(study, "study_name", ""))


def _hparam_for(name: str, dist: Any) -> Any:
    from .. import Discrete, HParam, IntInterval, RealInterval

    kind = type(dist).__name__
    if kind in (
        "FloatDistribution",
        "UniformDistribution",
        "LogUniformDistribution",
        "DiscreteUniformDistribution",
    ):
        return HParam(name, RealInterval(float(dist.low), float(dist.high)))
    if kind in ("IntDistribution", "IntUniformDistribution", "IntLogUniformDistribution"):
        return HParam(name, IntInterval(int(dist.low), int(dist.high)))
    if kind == "CategoricalDistribution":
        choices = []
        for c in dist.choices:
            value = hparam_value(c)
            if value not in choices:
                choices.append(value)
        if len({type(c) for c in choices}) == 1:
            return HParam(name, Discrete(choices))
    return HParam(name)


def _close_with_status(writer: Any, status: str, end: float | None) -> None:
    # A pruned trial ends "unknown": the search stopped it, the code did not fail.
    writer.set_status(status, end_time=end)
    writer.close()
