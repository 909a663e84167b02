"""What the gradient-boosting callbacks (XGBoost, LightGBM) share: one training as one run.

Strategy: every eval set gets the sub-run ``<log_dir>/<eval set name>`` with one scalar per
metric (tag = the metric's name, step = the boosting round), and that sub-run is also an
HParams session: the booster's parameters plus ``eval_set`` (the eval set's name), its
status written once, when the run closes. A training that evaluated nothing gets its
session in ``<log_dir>`` itself, so its parameters and status still show.

Why sessions per eval set and not one session in ``<log_dir>`` (TensorBoard 2.21's hparams
plugin): a session is a run holding ``_hparams_/session_start_info``, and its metric
``MetricName(group, tag)`` is read from the run ``os.path.join(session, group)``
(``metrics.run_tag_from_session_and_metric``). Pointed at the training itself
(``tensorboard --logdir <log_dir>``) that session is the run ``.``, whose sub-runs are named
``valid``, not ``./valid``: no group can reach them, and metrics found without an experiment
config get the group ``.`` there (``backend_context._compute_metric_names``), which reaches
nothing either. An experiment config would fix only that case: TensorBoard uses the first one
it finds for every session under its logdir, so beside other trainings it hides their
parameters and metrics. A session whose own run holds its metrics, in a sub-run, is found
the same way in both cases, with no experiment config: pointed at ``<log_dir>`` the sessions
are ``train`` and ``valid``, pointed at its parent ``<run>/train`` and ``<run>/valid``; the
metric columns are the metric names (``rmse``, ``l2``), shared by every training.

Only public tbwrite API is used (``SummaryWriter`` and its methods).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .. import SummaryWriter

if TYPE_CHECKING:
    from .._summaries.hparam_values import HParamValue


# Written every this many records or seconds, so a live TensorBoard follows training.
_MAX_QUEUE = 200
_FLUSH_SECS = 10.0


def run_name(eval_name: str) -> str:
    """An eval set's name as a sub-run directory name: path separators become ``_``, and a
    name that would leave ``log_dir`` (``""``, ``"."``, ``".."``) is prefixed with ``_``."""
    name = str(eval_name).replace("/", "_").replace("\\", "_")
    return name if name not in ("", ".", "..") else "_" + name


#: The hparam naming the eval set of a session (one session per eval set).
EVAL_SET_HPARAM = "eval_set"


class BoostingRun:
    """One training's writers: one sub-run, and session, per eval set.

    - :meth:`write` logs each (eval set, metric, value) at one step; an eval set's first
      value opens its sub-run and writes its session (the hparams plus ``eval_set``);
    - :meth:`end` decides the status and closes every file (a training with no eval set
      gets its session in ``log_dir`` then); calling it again does nothing.

    A run not ended when the interpreter exits is ended then: FAILURE when the interpreter
    is exiting because of an uncaught exception, else ``status_at_exit``.
    """

    def __init__(self, log_dir: str, hparams: Mapping[str, HParamValue], status_at_exit: str):
        self.log_dir = log_dir
        self.status_at_exit = status_at_exit
        self.hparams = dict(hparams)
        self._lock = threading.Lock()
        self._subruns: dict[str, SummaryWriter] = {}
        self._ended = False
        _register(self)

    def _open(self, path: str, hparams: Mapping[str, HParamValue]) -> SummaryWriter:
        writer = SummaryWriter(path, max_queue=_MAX_QUEUE, flush_secs=_FLUSH_SECS)
        try:
            writer.add_hparams(dict(hparams))
            if self.status_at_exit != "success":  # success is every writer's default
                # Set now, so however the process ends (tbwrite's exit hook may close this
                # writer before :func:`_end_open_runs_at_exit` runs) the session ends so.
                writer.set_status(self.status_at_exit)
        except BaseException:
            writer.close()
            raise
        return writer

    def write(self, step: int, values: Iterable[tuple[str, str, float]]) -> None:
        """Log ``(eval set name, metric name, value)`` triples at ``step``."""
        for eval_name, metric, value in values:
            writer = self._subruns.get(eval_name)
            if writer is None:
                path = os.path.join(self.log_dir, run_name(eval_name))
                hparams = {**self.hparams, EVAL_SET_HPARAM: str(eval_name)}
                writer = self._subruns[eval_name] = self._open(path, hparams)
            writer.add_scalar(metric, value, step)

    def flush(self) -> None:
        for writer in self._subruns.values():
            writer.flush()

    @property
    def ended(self) -> bool:
        return self._ended

    def end(self, status: str) -> None:
        """Close every file, each session ending with ``status`` (``"success"`` or
        ``"failure"``). Only the first call counts."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
        _open_runs.discard(self)
        writers = list(self._subruns.values())
        if not writers:  # nothing evaluated: the parameters and the status still show
            writers.append(self._open(self.log_dir, self.hparams))
        errors = []
        for writer in writers:
            try:
                try:
                    writer.set_status(status)  # none of it if tbwrite's exit closed it
                finally:
                    writer.close()
            except Exception as err:  # close the others even so
                errors.append(err)
        if errors:
            raise errors[0]


def metric_value(value: Any) -> float | None:
    """A metric value as a float (NaN and infinities as they are), or None when it is not
    a real number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# Strong references: a run whose callback was dropped (``callbacks=[TensorBoardCallback(...)]``
# inline) still has to end, at exit at the latest. The writers it opened are the program's
# like any other, so tbwrite's own exit closes them, with the status each was given when
# opened; this hook, before or after that (atexit runs the newest first, and either may
# have been registered first), adds only what tbwrite cannot know: the session of a
# training that evaluated nothing, and FAILURE for one that crashed.
_open_runs: set[BoostingRun] = set()
_exit_hook_registered = False


def _register(run: BoostingRun) -> None:
    global _exit_hook_registered
    _open_runs.add(run)
    if not _exit_hook_registered:
        _exit_hook_registered = True
        atexit.register(_end_open_runs_at_exit)


def _end_open_runs_at_exit() -> None:
    # An uncaught exception is in sys.last_value (3.12+: also sys.last_exc) by the time
    # atexit hooks run.
    crashed = getattr(sys, "last_value", None) is not None
    for run in list(_open_runs):
        try:
            run.end("failure" if crashed else run.status_at_exit)
        except Exception:  # noqa: S110 - nothing can be reported at exit; close the others
            pass
