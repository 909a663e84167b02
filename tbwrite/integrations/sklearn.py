"""A fitted scikit-learn search (``GridSearchCV``, ``RandomizedSearchCV``,
``HalvingGridSearchCV``, ``HalvingRandomSearchCV``) as a TensorBoard HParams sweep.

Strategy: everything is in ``search.cv_results_``, so the sweep is written after the fact:
one run per candidate, its parameters as the session's hparams, its scores and times as
scalars, and one experiment config at the root naming the metrics (so the per-split series
are charts, not table columns). scikit-learn is never imported: only the fitted object's
attributes are read.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import hparam_value

if TYPE_CHECKING:
    from .. import SummaryWriter
    from .._summaries.hparam_values import HParamValue

__all__ = ["log_search", "log_curves", "CURVE_ATTRIBUTES"]

#: Iteration curves an estimator may expose after ``fit``, logged by :func:`log_curves`.
CURVE_ATTRIBUTES = (
    "loss_curve_",  # MLPClassifier / MLPRegressor
    "validation_scores_",  # MLP with early_stopping=True
    "train_score_",  # GradientBoosting*, HistGradientBoosting*
    "validation_score_",  # HistGradientBoosting* with early stopping
    "oob_improvement_",  # GradientBoosting* with subsample < 1
    "oob_scores_",
)

_TIMES = ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time")


def _scorer_names(results: Mapping[str, Any]) -> list[str]:
    return [k[len("mean_test_") :] for k in results if k.startswith("mean_test_")]


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out


def _final_estimator(estimator: Any) -> Any:
    # A Pipeline's curves are its last step's (Pipeline.steps: a list of (name, estimator)).
    while isinstance(getattr(estimator, "steps", None), list) and estimator.steps:
        estimator = estimator.steps[-1][1]
    return estimator


def log_curves(estimator: Any, writer: SummaryWriter, prefix: str = "estimator/") -> list[str]:
    """Log the iteration curves a fitted estimator exposes (:data:`CURVE_ATTRIBUTES`; a
    Pipeline's last step) as scalars ``<prefix><attribute without _>`` at steps 0, 1, ...
    into ``writer`` (a :class:`tbwrite.SummaryWriter`). Returns the tags written."""
    est = _final_estimator(estimator)
    tags = []
    for attr in CURVE_ATTRIBUTES:
        curve = getattr(est, attr, None)
        if curve is None or isinstance(curve, (str, bytes)):
            continue
        try:
            values = [float(v) for v in curve]
        except (TypeError, ValueError):
            continue
        if not values:
            continue
        tag = prefix + attr.rstrip("_")
        writer.add_scalar_series(tag, values)
        tags.append(tag)
    return tags


def _domains(
    search: Any, names: Sequence[str], rows: list[dict[str, HParamValue]]
) -> dict[str, Any]:
    """Each parameter's domain: the grid's values where the search has a grid (lists in
    ``param_grid`` / ``param_distributions``), else the values seen (numbers drawn from a
    distribution as the interval they span); none when the values mix types."""
    from .. import Discrete, RealInterval

    grids = getattr(search, "param_grid", None)
    if grids is None:
        grids = getattr(search, "param_distributions", None)
    if isinstance(grids, Mapping):
        grids = [grids]
    listed: dict[str, list[HParamValue]] = {}
    for grid in grids or []:
        if not isinstance(grid, Mapping):
            continue
        for name, values in grid.items():
            if isinstance(values, (list, tuple)) or type(values).__name__ == "ndarray":
                for v in list(values):
                    value = hparam_value(v)
                    if value not in listed.setdefault(name, []):
                        listed[name].append(value)
    domains: dict[str, Any] = {}
    for name in names:
        values = listed.get(name)
        if values is None:
            seen: list[HParamValue] = []
            for row in rows:
                if name in row and row[name] not in seen:
                    seen.append(row[name])
            values = seen
            floats = [v for v in values if type(v) is float and math.isfinite(v)]
            if values and len(floats) == len(values):
                # Drawn from a distribution: the range seen, not a long list of floats.
                domains[name] = RealInterval(min(floats), max(floats))
                continue
        if values and len({type(v) for v in values}) == 1:
            domains[name] = Discrete(values)
        else:
            domains[name] = None
    return domains


def log_search(
    search: Any,
    logdir: str | os.PathLike[str],
    *,
    run_name: str = "candidate-{index:0{width}d}",
    experiment_name: str = "",
    write_experiment: bool = True,
) -> list[str]:
    """Write a fitted search's ``cv_results_`` into ``logdir`` as an HParams sweep.

    - One run per candidate, ``<logdir>/candidate-007`` (``run_name`` is formatted with
      ``index`` and ``width``), holding one session. Its hparams are the candidate's
      ``params``: bool, str and numbers as such; an estimator as its class name; ``None``
      as ``"None"``; a list or tuple as the text of its items (see
      :mod:`tbwrite._summaries.hparam_values`).
    - Metrics, as scalars named like ``cv_results_``'s keys: ``mean_test_<scorer>``,
      ``std_test_<scorer>``, ``rank_test_<scorer>``, ``mean_train_<scorer>`` and
      ``std_train_<scorer>`` (with ``return_train_score=True``), ``mean_fit_time``,
      ``std_fit_time``, ``mean_score_time``, ``std_score_time``. The scorer is ``score``
      for a single metric, else each name of ``scoring``.
    - Per-split scores as the steps of ``splits/test_<scorer>`` and
      ``splits/train_<scorer>``: split k at step k.
    - Successive halving (``cv_results_`` has ``iter``): a candidate is the same
      ``params`` across iterations; its metrics are written at step ``iter`` (so the
      table shows the last iteration it reached), with ``iter`` and ``n_resources`` as
      metrics too, and split k of iteration i at step ``i * n_splits_ + k``.
    - Status: FAILURE when a split of the candidate failed to fit (a NaN test score with
      ``error_score=np.nan``), else SUCCESS.
    - The refitted ``best_estimator_``'s iteration curves (:func:`log_curves`), in the best
      candidate's run as ``estimator/loss_curve``, ``estimator/train_score``, ...
    - With ``write_experiment``, an experiment config at ``logdir`` naming the metric
      columns, with each parameter's values as its discrete domain.

    Returns the run directories written, in candidate order.
    """
    from .. import HParam, Metric, SummaryWriter
    from .. import write_experiment as _write_experiment

    results = getattr(search, "cv_results_", None)
    if not isinstance(results, Mapping) or "params" not in results:
        raise TypeError(
            f"search must be a fitted *SearchCV with cv_results_, got {type(search).__name__}"
        )
    logdir = os.fspath(logdir)
    params_list = list(results["params"])
    scorers = _scorer_names(results)
    halving = "iter" in results
    n_splits = int(getattr(search, "n_splits_", 0) or 0)
    split_keys = {}
    for kind in ("test", "train"):
        for scorer in scorers:
            keys = []
            k = 0
            while f"split{k}_{kind}_{scorer}" in results:
                keys.append(f"split{k}_{kind}_{scorer}")
                k += 1
            if keys:
                split_keys[(kind, scorer)] = keys
                n_splits = n_splits or len(keys)

    metric_tags = []
    for scorer in scorers:
        for key in (
            f"mean_test_{scorer}",
            f"std_test_{scorer}",
            f"rank_test_{scorer}",
            f"mean_train_{scorer}",
            f"std_train_{scorer}",
        ):
            if key in results:
                metric_tags.append(key)
    metric_tags += [key for key in _TIMES if key in results]
    if halving:
        metric_tags += [key for key in ("iter", "n_resources") if key in results]

    # Candidates: rows with equal params are one candidate (successive halving).
    candidates: list[tuple[dict[str, HParamValue], list[int]]] = []
    index_of: dict[tuple[Any, ...], int] = {}
    for row, params in enumerate(params_list):
        typed = {str(k): hparam_value(v) for k, v in params.items()}
        same: tuple[Any, ...] = (
            tuple(sorted((k, type(v).__name__, v) for k, v in typed.items())) if halving else (row,)
        )
        if same not in index_of:
            index_of[same] = len(candidates)
            candidates.append((typed, []))
        candidates[index_of[same]][1].append(row)

    best_row = getattr(search, "best_index_", None)
    best_estimator = getattr(search, "best_estimator_", None)
    width = len(str(max(len(candidates) - 1, 0)))
    if write_experiment:
        names = sorted({k for typed, _ in candidates for k in typed})
        domains = _domains(search, names, [typed for typed, _ in candidates])
        hparams = [HParam(n, domains[n]) if domains[n] is not None else HParam(n) for n in names]
        metrics = [Metric(tag) for tag in metric_tags]
        _write_experiment(logdir, hparams, metrics, name=experiment_name or type(search).__name__)

    run_dirs = []
    for index, (typed, rows) in enumerate(candidates):
        run_dir = os.path.join(logdir, run_name.format(index=index, width=width))
        failed = False
        with SummaryWriter(run_dir, max_queue=1000) as writer:
            writer.add_hparams(typed)
            now = time.time()
            for row in sorted(rows, key=lambda r: int(results["iter"][r]) if halving else 0):
                iteration = int(results["iter"][row]) if halving else 0
                for tag in metric_tags:
                    value = _number(results[tag][row])
                    if value is not None:
                        writer.add_scalar(tag, value, iteration, walltime=now)
                for (kind, scorer), keys in split_keys.items():
                    for k, key in enumerate(keys):
                        value = _number(results[key][row])
                        if value is None:
                            continue
                        if kind == "test" and math.isnan(value):
                            failed = True
                        writer.add_scalar(
                            f"splits/{kind}_{scorer}", value, iteration * n_splits + k, walltime=now
                        )
            if best_estimator is not None and best_row is not None and best_row in rows:
                log_curves(best_estimator, writer)
            if failed:
                writer.set_status("failure")
        run_dirs.append(run_dir)
    return run_dirs
