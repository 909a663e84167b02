"""A LightGBM callback writing TensorBoard files with tbwrite.

One training is one run: every eval set gets the sub-run ``<log_dir>/<eval set name>`` with
each of its metrics as a scalar per boosting round (tag = the metric's name, step = the
round), and that sub-run is an HParams session with the training's parameters and
``eval_set``.

Usage::

    import lightgbm as lgb
    from tbwrite.integrations.lightgbm import TensorBoardCallback

    with TensorBoardCallback("runs/lgb-1") as tb:
        booster = lgb.train(params, dtrain, num_boost_round=500,
                            valid_sets=[dtrain, dvalid], valid_names=["train", "valid"],
                            callbacks=[tb, lgb.early_stopping(20)])

This module does not import LightGBM: its callback protocol is a callable with ``order``
and ``before_iteration`` attributes, handed a ``CallbackEnv`` after every round.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from .. import hparam_value
from ._boosting import BoostingRun, metric_value

__all__ = ["TensorBoardCallback"]

# LightGBM runs the callbacks of an iteration by ascending ``order``: log_evaluation 10,
# record_evaluation 20, early_stopping 30. Early stopping ends training by raising, after
# which no callback of that iteration runs; running before it logs that iteration too.
_ORDER = 25


class TensorBoardCallback:
    """``lgb.train(..., callbacks=[TensorBoardCallback(log_dir)])``.

    Writes:

    - ``<log_dir>/<eval set name>``: each metric of that eval set (``valid_names``;
      ``training``, ``valid_0``, ... by default, or the scikit-learn API's ``eval_names``)
      as the scalar ``<metric name>`` (``l2``, ``binary_logloss``, ``auc``, ...) at
      step = the boosting round, the same values as ``record_evaluation``. Under
      ``lgb.cv`` the mean as ``<metric>`` and the standard deviation as ``<metric>-stdv``.
    - Each ``<log_dir>/<eval set name>`` is also an HParams session (a training that
      evaluated nothing has its session in ``<log_dir>``), whose hparams are the
      training's parameters (the ``params`` given to ``lgb.train``, as LightGBM hands them
      to callbacks): bool and numbers as such, anything else as its text (a list of
      metrics as ``"['l2', 'l1']"``), plus ``eval_set``: the eval set's name. TensorBoard's
      HParams table has a row per eval set (``valid``, or ``<run>/valid`` when pointed at
      the parent of ``log_dir``) whose metric columns are the metric names (``l2``,
      ``l1``), following training as it goes; the ``eval_set`` filter keeps the rows of
      one eval set.
    - The sessions' status, when the run closes: SUCCESS when training ends (all
      rounds, or ``lightgbm.early_stopping``), FAILURE when an exception ends it.

    LightGBM tells callbacks neither that training stopped early (early stopping raises
    an exception that ``lgb.train`` catches) nor that it failed, so:

    - after the last round the callback closes the run itself (SUCCESS);
    - ``with TensorBoardCallback(...) as tb:`` around training closes it at the end of the
      block: SUCCESS, or FAILURE when the block ends with an exception;
    - else :meth:`close` does (SUCCESS, or ``close(failed=True)``), or the next training
      with this callback (SUCCESS), or the interpreter's exit (FAILURE when it exits
      because of an uncaught exception, else SUCCESS).

    Every file is flushed after each ``flush_every`` rounds, so a live TensorBoard follows
    training. Use one callback, and one ``log_dir``, per training: TensorBoard shows only
    the first session of a run. A copy (``copy.deepcopy``, ``sklearn.clone``) is a new
    callback with the same arguments and nothing written yet.
    """

    #: Called after each boosting round (LightGBM's callback protocol).
    before_iteration = False

    def __init__(self, log_dir: str | os.PathLike[str], *, flush_every: int = 10) -> None:
        if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
            raise TypeError(f"log_dir must be a non-empty str or os.PathLike, got {log_dir!r}")
        if isinstance(flush_every, bool) or not isinstance(flush_every, int) or flush_every < 1:
            raise ValueError(f"flush_every must be a positive int, got {flush_every!r}")
        self.log_dir = os.fspath(log_dir)
        self.flush_every = flush_every
        # An instance attribute: lgb.train gives callbacks without one an order of its own.
        self.order = _ORDER
        self._run: BoostingRun | None = None

    def __call__(self, env: Any) -> None:
        run = self._run
        if run is None or env.iteration == env.begin_iteration:
            self.close()  # a previous training that stopped early
            hparams = {str(k): hparam_value(v) for k, v in dict(env.params or {}).items()}
            run = self._run = BoostingRun(self.log_dir, hparams, status_at_exit="success")
        run.write(env.iteration, _results(env.evaluation_result_list or []))
        if env.iteration >= env.end_iteration - 1:
            self._run = None
            run.end("success")
        elif (env.iteration - env.begin_iteration + 1) % self.flush_every == 0:
            run.flush()

    def close(self, failed: bool = False) -> None:
        """End the session of a training that stopped early (SUCCESS) or raised
        (``failed=True``: FAILURE). Harmless when there is none."""
        run, self._run = self._run, None
        if run is not None:
            run.end("failure" if failed else "success")

    def __enter__(self) -> TensorBoardCallback:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(failed=exc_type is not None)

    def __deepcopy__(self, memo: dict[int, Any]) -> TensorBoardCallback:
        return TensorBoardCallback(self.log_dir, flush_every=self.flush_every)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_run"] = None
        return state


def _results(results: Any) -> Iterator[tuple[str, str, float]]:
    """(eval set, metric, value) of LightGBM's evaluation results: ``(dataset_name,
    metric_name, value, is_higher_better)``, and a fifth item, the standard deviation,
    under ``lgb.cv``."""
    for result in results:
        eval_name, metric = str(result[0]), str(result[1])
        value = metric_value(result[2])
        if value is not None:
            yield eval_name, metric, value
        if len(result) > 4:
            std = metric_value(result[4])
            if std is not None:
                yield eval_name, f"{metric}-stdv", std
