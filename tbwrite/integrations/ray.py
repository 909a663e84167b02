"""A Ray Tune logger callback writing TensorBoard files with tbwrite instead of tensorboardX.

This module imports Ray only when ``TbwriteLoggerCallback`` is first looked up (the class
subclasses Ray's ``LoggerCallback``); ``import tbwrite`` never does. Like Ray's
``TBXLoggerCallback`` it runs on the driver: Ray executes the trials wherever it schedules
them and hands each reported result to the callback, which writes it.

Usage::

    from ray import tune
    from tbwrite.integrations.ray import TbwriteLoggerCallback

    tuner = tune.Tuner(trainable, param_space=...,
                       run_config=tune.RunConfig(callbacks=[TbwriteLoggerCallback()]))
"""

from __future__ import annotations

import os
from typing import Any

from .. import flatten_hparams, hparam_value

__all__ = ["TbwriteLoggerCallback"]  # noqa: F822 - made on first access, see __getattr__

# Result keys TBXLoggerCallback leaves out, as not worth a chart.
_SKIP = ("config", "pid", "timestamp", "time_total_s", "training_iteration")


class _Impl:
    def __init__(
        self,
        logdir: str | os.PathLike[str] | None = None,
        *,
        tag_prefix: str = "ray/tune/",
        flush_secs: float = 30,
    ) -> None:
        super().__init__()
        self._logdir = None if logdir is None else os.fspath(logdir)
        self._tag_prefix = tag_prefix
        self._flush_secs = flush_secs
        self._writers: dict[Any, Any] = {}

    def _run_dir(self, trial: Any) -> str:
        if self._logdir is None:
            trial.init_local_path()
            return str(trial.local_path)
        name = getattr(trial, "storage", None) and getattr(trial.storage, "trial_dir_name", None)
        return os.path.join(self._logdir, name or str(trial.trial_id))

    def log_trial_start(self, trial: Any) -> None:
        from .. import SummaryWriter

        if trial in self._writers:
            return  # a restored trial goes on in the same run and session
        writer = SummaryWriter(self._run_dir(trial), flush_secs=self._flush_secs, max_queue=100)
        params = flatten_hparams(trial.evaluated_params or trial.config or {}, sep="/")
        writer.add_hparams({k: hparam_value(v) for k, v in params.items()})
        self._writers[trial] = writer

    def log_trial_result(self, iteration: int, trial: Any, result: dict[str, Any]) -> None:
        if trial not in self._writers:
            self.log_trial_start(trial)
        writer = self._writers[trial]
        step = result.get("timesteps_total") or result.get("training_iteration") or iteration
        values = {k: v for k, v in result.items() if k not in _SKIP}
        for key, value in flatten_hparams(values, sep="/", lists=False).items():
            tag = self._tag_prefix + key
            if _is_real_number(value):
                writer.add_scalar(tag, value, step)
                continue
            if isinstance(value, (str, bytes, bool)) or value is None:
                continue
            if isinstance(value, list):
                if value:
                    self._log_array(writer, tag, value, step)
            elif getattr(value, "shape", None) is not None and bool(getattr(value, "size", False)):
                self._log_array(writer, tag, value, step)
        writer.flush()

    def _log_array(self, writer: Any, tag: str, value: Any, step: int) -> None:
        import numpy as np

        arr = np.asarray(value)
        try:
            if arr.ndim == 3:
                writer.add_image(tag, arr, step)
            elif arr.ndim == 4:
                writer.add_images(tag, arr, step)
            elif arr.ndim == 5:
                writer.add_video(tag, arr, step, fps=20)
            else:
                writer.add_histogram(tag, arr, step)
        except (TypeError, ValueError, ImportError):
            pass  # as TBXLoggerCallback: a value that is no image, video or histogram

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        writer = self._writers.pop(trial, None)
        if writer is None:
            return
        writer.set_status("failure" if failed else "success")
        writer.close()

    def on_experiment_end(self, trials: Any, **info: Any) -> None:
        for trial in list(self._writers):
            self.log_trial_end(trial, failed=getattr(trial, "status", "") == "ERROR")


def _make_class() -> type:
    from ray.tune.logger import LoggerCallback

    cls = type(
        "TbwriteLoggerCallback",
        (_Impl, LoggerCallback),
        {
            "__module__": __name__,
            "__qualname__": "TbwriteLoggerCallback",
            "__doc__": _DOC,
        },
    )
    return cls


def __getattr__(name: str) -> Any:
    # The class subclasses Ray's LoggerCallback, so it is made (and Ray imported) on first
    # access; `import tbwrite.integrations.ray` alone imports nothing of Ray.
    if name == "TbwriteLoggerCallback":
        cls = _make_class()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_DOC = """Ray Tune's ``LoggerCallback`` writing each trial with tbwrite.

    Args:
        logdir: where the trials' runs go, ``<logdir>/<trial dir name>``; by default each
            trial's own directory in Ray's experiment directory, as ``TBXLoggerCallback``.
        tag_prefix: put before every result key, ``"ray/tune/"`` as ``TBXLoggerCallback``.
        flush_secs: the writers' flush interval (each result is flushed anyway).

    For each trial:

    - at its start, its searched parameters (``trial.evaluated_params``, as
      ``TBXLoggerCallback``; the whole config when nothing was searched), flattened by
      tbwrite's one flattener with Ray's ``/`` (nested keys ``a/b``, list items ``a/0``),
      as the session's hparams, typed as :func:`tbwrite.hparam_value` says, so
      the HParams table lists the trial while it runs;
    - each reported result: numbers as scalars ``<tag_prefix><key>`` (nested keys joined
      with ``/``) at step ``timesteps_total`` or else ``training_iteration``; arrays as
      images (3-D), image grids (4-D), videos (5-D) or histograms; other values skipped;
      ``config``, ``pid``, ``timestamp``, ``time_total_s`` and ``training_iteration``
      skipped, as ``TBXLoggerCallback`` does;
    - at its end, the session's status: SUCCESS, or FAILURE for a trial that errored. (A
      trial that Ray restarts after an error keeps its first session, ended FAILURE:
      TensorBoard reads only the first end of a run.)
"""


def _is_real_number(value: Any) -> bool:
    # A real number a scalar chart can show, by tbwrite's public value policy: what
    # hparam_value makes a float (numbers of any library, one-element arrays; not bools).
    # Large arrays are not asked: they are no number, and their text would be costly.
    if isinstance(value, (str, bytes, bool)) or getattr(value, "size", 1) != 1:
        return False
    return isinstance(hparam_value(value), float)
