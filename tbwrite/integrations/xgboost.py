"""An XGBoost training callback writing TensorBoard files with tbwrite.

One training is one run: every eval set gets the sub-run ``<log_dir>/<eval set name>`` with
each of its metrics as a scalar per boosting round (tag = the metric's name, step = the
round), and that sub-run is an HParams session with the booster's parameters and
``eval_set``. The sessions end SUCCESS when training ends, early stopping included, and
FAILURE when it ends with an exception.

Usage::

    import xgboost as xgb
    from tbwrite.integrations.xgboost import TensorBoardCallback

    booster = xgb.train(params, dtrain, num_boost_round=500,
                        evals=[(dtrain, "train"), (dvalid, "valid")],
                        callbacks=[TensorBoardCallback("runs/xgb-1", params=params),
                                   xgb.callback.EarlyStopping(rounds=20)])

The scikit-learn API takes it the same way: ``xgb.XGBClassifier(callbacks=[cb])``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import xgboost

from .. import hparam_value
from ._boosting import BoostingRun, metric_value

if TYPE_CHECKING:
    from .._summaries.hparam_values import HParamValue

__all__ = ["TensorBoardCallback"]


class TensorBoardCallback(xgboost.callback.TrainingCallback):
    """``xgb.train(..., callbacks=[TensorBoardCallback(log_dir)])``.

    Writes:

    - ``<log_dir>/<eval set name>``: each metric of that eval set (``evals=[(dm, name)]``;
      ``validation_0``, ``validation_1``, ... in the scikit-learn API) as the scalar
      ``<metric name>`` (``rmse``, ``logloss``, ``auc``, ...) at step = the boosting round,
      the same values as ``evals_result``. Under ``xgb.cv`` (whose eval log holds a mean
      and a standard deviation) the mean as ``<metric>`` and the deviation as
      ``<metric>-std``.
    - Each ``<log_dir>/<eval set name>`` is also an HParams session (a training that
      evaluated nothing has its session in ``<log_dir>``). Its hparams are ``params`` when
      given (the dict passed to ``xgb.train``), else the booster's training parameters as
      its configuration states them (``max_depth``, ``eta``, ``objective``,
      ``tree_method``, ...; numbers as FLOAT64, texts as STRING, the metrics as
      ``eval_metric``), plus ``eval_set``: the eval set's name. TensorBoard's HParams table
      has a row per eval set (``valid``, or ``<run>/valid`` when pointed at the parent of
      ``log_dir``) whose metric columns are the metric names (``rmse``, ``mae``), following
      training as it goes; the ``eval_set`` filter keeps the rows of one eval set.
    - The sessions' status, when the run closes: SUCCESS when training returns (all
      rounds, or stopped early by ``EarlyStopping`` or any callback); FAILURE when an
      exception ends it. XGBoost calls no callback on an exception, so that run is
      closed by ``with callback:`` around training (at the end of the block), by
      :meth:`close`, by the next training with this callback, or at interpreter exit.

    Every file is flushed after each ``flush_every`` rounds, so a live TensorBoard follows
    training. Use one callback, and one ``log_dir``, per training: TensorBoard shows only
    the first session of a run. A copy (``copy.deepcopy``, ``sklearn.clone``) is a new
    callback with the same arguments and nothing written yet.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        params: Mapping[str, Any] | None = None,
        *,
        flush_every: int = 10,
    ) -> None:
        if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
            raise TypeError(f"log_dir must be a non-empty str or os.PathLike, got {log_dir!r}")
        if params is not None and not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping of str to values or None, got {params!r}")
        if isinstance(flush_every, bool) or not isinstance(flush_every, int) or flush_every < 1:
            raise ValueError(f"flush_every must be a positive int, got {flush_every!r}")
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        self.params = None if params is None else dict(params)
        self.flush_every = flush_every
        self._run: BoostingRun | None = None

    # -- XGBoost's protocol -----------------------------------------------------------

    def before_training(self, model: Any) -> Any:
        self.close()  # a previous training that ended with an exception
        if self.params is not None:
            hparams = {str(k): hparam_value(v) for k, v in self.params.items()}
        else:
            hparams = _config_params(model)
        # FAILURE unless after_training says otherwise: XGBoost calls no callback when an
        # exception ends training.
        self._run = BoostingRun(self.log_dir, hparams, status_at_exit="failure")
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        run = self._run
        if run is not None:
            run.write(epoch, _latest(evals_log))
            if (epoch + 1) % self.flush_every == 0:
                run.flush()
        return False

    def after_training(self, model: Any) -> Any:
        run, self._run = self._run, None
        if run is not None:
            run.end("success")
        return model

    # -- closing ------------------------------------------------------------------------

    def close(self) -> None:
        """End the session of a training that did not return (it raised): FAILURE.
        Harmless when there is none."""
        run, self._run = self._run, None
        if run is not None:
            run.end("failure")

    def __enter__(self) -> TensorBoardCallback:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- copies (sklearn.clone deep-copies estimator parameters) -------------------------

    def __deepcopy__(self, memo: dict[int, Any]) -> TensorBoardCallback:
        return TensorBoardCallback(self.log_dir, self.params, flush_every=self.flush_every)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_run"] = None
        return state


def _latest(evals_log: Any) -> Iterator[tuple[str, str, float]]:
    """The newest value of every (eval set, metric) in XGBoost's eval log: ``{eval set:
    {metric: [value per round]}}``, or ``[(mean, std) per round]`` under ``xgb.cv``."""
    for eval_name, metrics in evals_log.items():
        for metric, history in metrics.items():
            if not history:
                continue
            last = history[-1]
            if isinstance(last, tuple):
                mean, std = metric_value(last[0]), metric_value(last[1])
                if mean is not None:
                    yield eval_name, metric, mean
                if std is not None:
                    yield eval_name, f"{metric}-std", std
            else:
                value = metric_value(last)
                if value is not None:
                    yield eval_name, metric, value


def _config_params(model: Any) -> dict[str, HParamValue]:
    """The training parameters in a booster's JSON configuration: every value in its
    ``*_param`` sections by its short name, plus ``eval_metric``. Numbers are stored as
    text there, float32 ones with 9 digits ("0.300000012"); they come back as the
    shortest float that prints as the value was set (0.3)."""
    save_config = getattr(model, "save_config", None)
    if save_config is None:  # xgb.cv's packed boosters: pass params= instead
        return {}
    config = json.loads(save_config())
    out: dict[str, HParamValue] = {}

    def visit(node: Mapping[str, Any]) -> None:
        for key, value in node.items():
            if isinstance(value, Mapping):
                if key.endswith("_param"):
                    for name, raw in value.items():
                        if not isinstance(raw, (Mapping, list)) and name != "num_trees":
                            out[name] = _config_value(raw)
                else:
                    visit(value)

    visit(config.get("learner", {}))
    metrics = config.get("learner", {}).get("metrics", [])
    names = [m.get("name") for m in metrics if isinstance(m, Mapping)]
    if names:
        out["eval_metric"] = ", ".join(str(n) for n in names)
    return dict(sorted(out.items()))


def _config_value(raw: Any) -> HParamValue:
    if isinstance(raw, bool):
        return raw
    text = str(raw)
    try:
        number = float(text)
    except ValueError:
        return text
    significant = text.lstrip("+-").replace(".", "").lstrip("0")
    if significant.isdigit() and len(significant) == 9:
        # A float32 printed with 9 digits: its shortest form is what was set.
        import numpy as np

        return float(str(np.float32(number)))
    return number
