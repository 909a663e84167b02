"""The XGBoost and LightGBM callbacks, trained for real and read back with TensorBoard's own
EventAccumulator: one sub-run per eval set holding every round's metrics exactly as the
library's own ``evals_result`` / ``record_evaluation``, the parameters as the run's HParams
session, SUCCESS after early stopping and FAILURE when training raises.

The libraries train in a child interpreter (``_xgboost_runs`` / ``_lightgbm_runs``, which
also save what the library itself reported): both start thread pools, and later tests of
the suite fork.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import readback
from readback import accumulator
from tensorboard.plugins.hparams import plugin_data_pb2

pytestmark = pytest.mark.system

HERE = Path(__file__).resolve().parent
# The checkout whose tbwrite is tested, and where the helpers (readback) live: the children
# get the same import path as this process.
ROOT = next(p for p in HERE.parents if (p / "pyproject.toml").exists())
MODULE = Path(__file__).stem  # imported by the children
CHILD_PATH = os.pathsep.join(
    dict.fromkeys([str(ROOT), str(HERE), str(Path(readback.__file__).resolve().parent)])
)
STATUS = {1: "SUCCESS", 2: "FAILURE"}


def _need(module):
    return pytest.importorskip(
        module, reason=f"{module} is not installed (pip install -e '.[test]')"
    )


def _child(code, *args, check=True):
    """Run ``code`` in a fresh interpreter, in tests/ with this tbwrite first on the path."""
    env = dict(os.environ, PYTHONPATH=CHILD_PATH)
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env, cwd=HERE,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    y = x[:, 0] * 2 + np.sin(x[:, 1]) + rng.normal(scale=0.8, size=n)
    return x[: n // 2], y[: n // 2], x[n // 2 :], y[n // 2 :]


def _session(run_dir):
    """(hparams as {name: python value}, status name or None) of the run's session."""
    acc = accumulator(run_dir)
    tags = acc.Tags()["tensors"]
    start = plugin_data_pb2.HParamsPluginData.FromString(
        acc.SummaryMetadata("_hparams_/session_start_info").plugin_data.content
    ).session_start_info
    hparams = {name: getattr(v, v.WhichOneof("kind")) for name, v in start.hparams.items()}
    status = None
    if "_hparams_/session_end_info" in tags:
        end = plugin_data_pb2.HParamsPluginData.FromString(
            acc.SummaryMetadata("_hparams_/session_end_info").plugin_data.content
        ).session_end_info
        status = STATUS.get(end.status, str(end.status))
    return hparams, status


def _sessions(run_dir):
    """{eval set sub-run: (hparams, status)}: each eval set's sub-run is a session, with
    the hparams ``eval_set`` = its name, and the training's own run holds none."""
    run_dir = Path(run_dir)
    assert "_hparams_/session_start_info" not in accumulator(run_dir).Tags()["tensors"]
    out = {d.name: _session(d) for d in sorted(run_dir.iterdir()) if d.is_dir()}
    assert out, f"no eval set sub-run in {run_dir}"
    for name, (hparams, _) in out.items():
        assert hparams["eval_set"] == name
    return out


def _status(run_dir):
    """The status all of a training's sessions ended with (None: not ended)."""
    statuses = {status for _, status in _sessions(run_dir).values()}
    assert len(statuses) == 1, statuses
    return statuses.pop()


def _scalars(run_dir):
    """{tag: [(step, value)]} of one run, read by TensorBoard."""
    acc = accumulator(run_dir)
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _values(points):
    return [v for _, v in points]


def _assert_matches(run_dir, results):
    """Each eval set is a sub-run whose tags are its metrics, step i = results[...][i]."""
    run_dir = Path(run_dir)
    assert sorted(d.name for d in run_dir.iterdir() if d.is_dir()) == sorted(results)
    for eval_name, metrics in results.items():
        scalars = _scalars(run_dir / eval_name)
        assert sorted(scalars) == sorted(metrics)
        for metric, values in metrics.items():
            got = scalars[metric]
            assert [step for step, _ in got] == list(range(len(values)))
            np.testing.assert_array_equal(
                np.array([v for _, v in got], dtype=np.float32),
                np.array(values, dtype=np.float32),
            )
    # the session's own run holds no scalars: the metrics are the sub-runs'
    assert _scalars(run_dir) == {}


# -- XGBoost ------------------------------------------------------------------------------


def _xgboost_runs(root):
    """In a child: every XGBoost training the tests read back, and what XGBoost reported."""
    import copy

    import xgboost as xgb

    from tbwrite.integrations.xgboost import TensorBoardCallback

    root = Path(root)
    out = {}
    xtr, ytr, xva, yva = _data()
    dtrain, dvalid = xgb.DMatrix(xtr, ytr), xgb.DMatrix(xva, yva)

    results = {}
    params = {"max_depth": 6, "eta": 0.3, "eval_metric": ["rmse", "mae"], "seed": 1}
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=500,
        evals=[(dtrain, "train"), (dvalid, "valid")],
        evals_result=results,
        callbacks=[TensorBoardCallback(root / "early"), xgb.callback.EarlyStopping(rounds=5)],
        verbose_eval=False,
    )
    out["early"] = {"results": results, "best_iteration": booster.best_iteration}

    cb = TensorBoardCallback(root / "sklearn", params={"n_estimators": 20, "tag": None})
    model = xgb.XGBRegressor(n_estimators=20, max_depth=3, callbacks=[cb])
    model.fit(xtr, ytr, eval_set=[(xtr, ytr), (xva, yva)], verbose=False)
    out["sklearn"] = {"results": model.evals_result()}

    class Boom(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            if epoch == 3:
                raise RuntimeError("boom")
            return False

    try:
        with TensorBoardCallback(root / "raised") as cb:
            xgb.train({}, dtrain, 20, evals=[(dtrain, "train")], callbacks=[cb, Boom()],
                      verbose_eval=False)  # fmt: skip
    except RuntimeError as err:
        out["raised"] = str(err)

    cv = xgb.cv({"max_depth": 3}, dtrain, num_boost_round=6, nfold=3,
                callbacks=[TensorBoardCallback(root / "cv", params={"max_depth": 3})])  # fmt: skip
    out["cv"] = {k: list(v) for k, v in cv.items()}

    twin = copy.deepcopy(TensorBoardCallback(root / "never", params={"a": 1}, flush_every=3))
    out["copy"] = [twin.log_dir, twin.params, twin.flush_every]
    out["errors"] = []
    for args, kwargs in [((None,), {}), ((root,), {"params": [1]}), ((root,), {"flush_every": 0})]:
        try:
            TensorBoardCallback(*args, **kwargs)
        except (TypeError, ValueError) as err:
            out["errors"].append(f"{type(err).__name__}: {err}")
    (root / "reported.json").write_text(json.dumps(out))


@pytest.fixture(scope="module")
def gbm_root(tmp_path_factory):
    """The logdir holding every training of this module: ``xgb/...`` and ``lgb/...``."""
    return tmp_path_factory.mktemp("gbm")


@pytest.fixture(scope="module")
def xgb_root(gbm_root):
    _need("xgboost")
    root = gbm_root / "xgb"
    root.mkdir()
    _child(f"import sys, {MODULE} as t; t._xgboost_runs(sys.argv[1])", root)
    return root, json.loads((root / "reported.json").read_text())


def test_xgboost_eval_sets_early_stopping_and_config_params(xgb_root):
    root, reported = xgb_root
    results = reported["early"]["results"]
    rounds = len(results["valid"]["rmse"])
    assert rounds < 500 and reported["early"]["best_iteration"] == rounds - 6  # stopped early
    _assert_matches(root / "early", results)
    assert _status(root / "early") == "SUCCESS"
    hparams = _sessions(root / "early")["valid"][0]
    # read from the booster's configuration, float32 values as they were set
    assert hparams["eta"] == 0.3 and hparams["max_depth"] == 6.0 and hparams["seed"] == 1.0
    assert hparams["objective"] == "reg:squarederror"
    assert hparams["eval_metric"] == "rmse, mae"


def test_xgboost_sklearn_api_and_given_params(xgb_root):
    root, reported = xgb_root
    _assert_matches(root / "sklearn", reported["sklearn"]["results"])
    assert _sessions(root / "sklearn") == {
        name: ({"n_estimators": 20.0, "tag": "None", "eval_set": name}, "SUCCESS")
        for name in ("validation_0", "validation_1")
    }


def test_xgboost_exception_mid_training_is_failure(xgb_root):
    root, reported = xgb_root
    assert reported["raised"] == "boom"
    assert _status(root / "raised") == "FAILURE"
    assert [s for s, _ in _scalars(root / "raised" / "train")["rmse"]] == [0, 1, 2, 3]


def test_xgboost_cv_mean_and_std(xgb_root):
    root, reported = xgb_root
    cv = reported["cv"]
    for eval_name in ("train", "test"):
        scalars = _scalars(root / "cv" / eval_name)
        assert sorted(scalars) == ["rmse", "rmse-std"]
        np.testing.assert_allclose(
            _values(scalars["rmse"]), cv[f"{eval_name}-rmse-mean"], rtol=1e-6
        )
        np.testing.assert_allclose(
            _values(scalars["rmse-std"]), cv[f"{eval_name}-rmse-std"], rtol=1e-6
        )
    assert _sessions(root / "cv") == {
        name: ({"max_depth": 3.0, "eval_set": name}, "SUCCESS") for name in ("test", "train")
    }


def test_xgboost_uncaught_exception_is_failure_at_exit(tmp_path):
    _need("xgboost")
    code = textwrap.dedent(
        """
        import sys, numpy as np, xgboost as xgb
        from tbwrite.integrations.xgboost import TensorBoardCallback
        d = xgb.DMatrix(np.arange(40.0).reshape(20, 2), np.arange(20.0))
        def obj(predt, dtrain):
            raise RuntimeError("boom")
        xgb.train({}, d, 5, evals=[(d, "train")], obj=obj,
                  callbacks=[TensorBoardCallback(sys.argv[1])])
        """
    )
    proc = _child(code, tmp_path / "run", check=False)
    assert proc.returncode != 0 and "boom" in proc.stderr
    # no round evaluated: the session is the training's own run
    assert _session(tmp_path / "run")[1] == "FAILURE"
    assert [p.name for p in (tmp_path / "run").iterdir() if p.is_dir()] == []


def test_xgboost_callback_copies_and_checks_arguments(xgb_root):
    root, reported = xgb_root
    assert reported["copy"] == [str(root / "never"), {"a": 1}, 3]
    assert not (root / "never").exists()
    assert reported["errors"] == [
        "TypeError: log_dir must be a non-empty str or os.PathLike, got None",
        "TypeError: params must be a mapping of str to values or None, got [1]",
        "ValueError: flush_every must be a positive int, got 0",
    ]


# -- LightGBM -----------------------------------------------------------------------------


def _lightgbm_runs(root):
    """In a child: every LightGBM training the tests read back, and what LightGBM reported."""
    import lightgbm as lgb

    from tbwrite.integrations.lightgbm import TensorBoardCallback

    root = Path(root)
    out = {}
    xtr, ytr, xva, yva = _data()

    def datasets():
        dtrain = lgb.Dataset(xtr, ytr)
        return dtrain, lgb.Dataset(xva, yva, reference=dtrain)

    params = {"objective": "regression", "metric": ["l2", "l1"], "learning_rate": 0.3,
              "verbose": -1}  # fmt: skip

    # early stopping inside a with block
    with TensorBoardCallback(root / "early") as cb:
        dtrain, dvalid = datasets()
        results = {}
        booster = lgb.train(
            params, dtrain, num_boost_round=500, valid_sets=[dtrain, dvalid],
            valid_names=["train", "valid"],
            callbacks=[cb, lgb.record_evaluation(results), lgb.early_stopping(5, verbose=False)],
        )  # fmt: skip
        out["status_inside_with"] = _status(root / "early")
    out["early"] = {"results": results, "best_iteration": booster.best_iteration}

    # all rounds: the callback closes the run itself
    dtrain, dvalid = datasets()
    results = {}
    cb = TensorBoardCallback(root / "all")
    lgb.train(
        params, dtrain, num_boost_round=12, valid_sets=[dtrain, dvalid],
        valid_names=["train", "valid"], callbacks=[cb, lgb.record_evaluation(results)],
    )  # fmt: skip
    out["all"] = {"results": results, "status_after_train": _status(root / "all")}

    # an exception mid-training
    def boom(env):
        if env.iteration == 3:
            raise RuntimeError("boom")

    boom.order = 40  # after ours: rounds 0-3 are logged
    try:
        with TensorBoardCallback(root / "raised") as cb:
            dtrain, _ = datasets()
            lgb.train({"verbose": -1}, dtrain, 20, valid_sets=[dtrain], valid_names=["train"],
                      callbacks=[cb, boom])  # fmt: skip
    except RuntimeError as err:
        out["raised"] = str(err)

    # the scikit-learn API, and lgb.cv
    model = lgb.LGBMRegressor(n_estimators=15, verbose=-1)
    # lightgbm 4.7 takes eval_X / eval_y; eval_set before
    import inspect

    if "eval_X" in inspect.signature(model.fit).parameters:
        evals = {"eval_X": (xva,), "eval_y": (yva,)}
    else:
        evals = {"eval_set": [(xva, yva)]}
    model.fit(xtr, ytr, **evals, eval_names=["holdout"],
              callbacks=[TensorBoardCallback(root / "sklearn")])  # fmt: skip
    out["sklearn"] = {"results": model.evals_result_}
    cv = lgb.cv(
        {"verbose": -1, "metric": "l2"},
        lgb.Dataset(xtr, ytr),
        num_boost_round=8,
        nfold=3,
        stratified=False,
        callbacks=[TensorBoardCallback(root / "cv")],
    )
    out["cv"] = {k: list(v) for k, v in cv.items()}
    (root / "reported.json").write_text(json.dumps(out))


@pytest.fixture(scope="module")
def lgb_root(gbm_root):
    _need("lightgbm")
    root = gbm_root / "lgb"
    root.mkdir()
    _child(f"import sys, {MODULE} as t; t._lightgbm_runs(sys.argv[1])", root)
    return root, json.loads((root / "reported.json").read_text())


def test_lightgbm_early_stopping_in_with_block_is_success(lgb_root):
    root, reported = lgb_root
    assert reported["status_inside_with"] is None  # still open: it stopped early
    results = reported["early"]["results"]
    rounds = len(results["valid"]["l2"])
    assert rounds < 500 and reported["early"]["best_iteration"] == rounds - 5
    _assert_matches(root / "early", results)
    assert _status(root / "early") == "SUCCESS"
    hparams = _sessions(root / "early")["train"][0]
    assert hparams["objective"] == "regression" and hparams["learning_rate"] == 0.3
    assert hparams["metric"] == "['l2', 'l1']" and hparams["num_iterations"] == 500.0


def test_lightgbm_all_rounds_closes_itself(lgb_root):
    root, reported = lgb_root
    assert reported["all"]["status_after_train"] == "SUCCESS"
    _assert_matches(root / "all", reported["all"]["results"])


def test_lightgbm_exception_mid_training_is_failure(lgb_root):
    root, reported = lgb_root
    assert reported["raised"] == "boom"
    assert _status(root / "raised") == "FAILURE"
    assert [s for s, _ in _scalars(root / "raised" / "train")["l2"]] == [0, 1, 2, 3]


def test_lightgbm_sklearn_api_and_cv(lgb_root):
    root, reported = lgb_root
    _assert_matches(root / "sklearn", reported["sklearn"]["results"])
    assert _status(root / "sklearn") == "SUCCESS"
    scalars = _scalars(root / "cv" / "valid")
    cv = reported["cv"]
    np.testing.assert_allclose([v for _, v in scalars["l2"]], cv["valid l2-mean"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in scalars["l2-stdv"]], cv["valid l2-stdv"], rtol=1e-6)
    assert _status(root / "cv") == "SUCCESS"


LGB_EXIT = """
import sys, numpy as np, lightgbm as lgb
from tbwrite.integrations.lightgbm import TensorBoardCallback
rng = np.random.default_rng(0)
x = rng.normal(size=(200, 3)); y = x[:, 0] + rng.normal(size=200)
dtrain = lgb.Dataset(x[:100], y[:100]); dvalid = lgb.Dataset(x[100:], y[100:])
def boom(env):
    if sys.argv[2] == "raise" and env.iteration == 2:
        raise RuntimeError("boom")
boom.order = 40
b = lgb.train({"verbose": -1, "learning_rate": 0.5}, dtrain, 500, valid_sets=[dvalid],
              callbacks=[TensorBoardCallback(sys.argv[1]), boom,
                         lgb.early_stopping(3, verbose=False)])
assert b.best_iteration < 400
"""


def test_lightgbm_early_stopping_without_with_is_success_at_exit(tmp_path):
    _need("lightgbm")
    _child(LGB_EXIT, tmp_path / "run", "stop")
    assert _status(tmp_path / "run") == "SUCCESS"
    assert "l2" in _scalars(tmp_path / "run" / "valid_0")


def test_lightgbm_uncaught_exception_is_failure_at_exit(tmp_path):
    _need("lightgbm")
    proc = _child(LGB_EXIT, tmp_path / "run", "raise", check=False)
    assert proc.returncode != 0 and "boom" in proc.stderr
    assert _status(tmp_path / "run") == "FAILURE"
    assert [s for s, _ in _scalars(tmp_path / "run" / "valid_0")["l2"]] == [0, 1, 2]


def test_lightgbm_callback_checks_arguments(tmp_path):
    # tbwrite.integrations.lightgbm does not import lightgbm
    from tbwrite.integrations.lightgbm import TensorBoardCallback

    with pytest.raises(TypeError, match="log_dir"):
        TensorBoardCallback(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="flush_every"):
        TensorBoardCallback(tmp_path, flush_every=True)
    cb = TensorBoardCallback(tmp_path)
    assert (cb.order, cb.before_iteration) == (25, False)  # before lgb.early_stopping (30)
    cb.close()  # nothing to end: harmless
    assert os.listdir(tmp_path) == []


# -- what a live TensorBoard shows ----------------------------------------------------------


LOADERS = [pytest.param(True, id="load_fast=true"), pytest.param(False, id="load_fast=false")]


def _table(tb, sessions):
    """(metric columns as {(group, tag)}, {session name: session}) of the HParams table,
    once it lists exactly ``sessions``, each with a value in every column it has data for."""

    def ready():
        exp = tb.hparams_experiment()
        groups = tb.hparams_session_groups(experiment=exp).get("sessionGroups", [])
        found = {g["sessions"][0]["name"]: g["sessions"][0] for g in groups}
        if set(found) != set(sessions) or not all(s["metricValues"] for s in found.values()):
            return None
        return {(m["name"]["group"], m["name"]["tag"]) for m in exp["metricInfos"]}, found

    return tb.wait_for(ready, timeout=60.0, what=f"the sessions {sorted(sessions)}")


def _metric_values(session):
    return {m["name"]["tag"]: m["value"] for m in session["metricValues"]}


@pytest.mark.server
@pytest.mark.parametrize("load_fast", LOADERS)
@pytest.mark.parametrize("lib", ["xgb", "lgb"])
def test_hparams_table_pointed_at_the_run_itself(request, tb_server, lib, load_fast):
    """``tensorboard --logdir <log_dir>``: a row per eval set (``train``, ``valid``), the
    metric columns named by the metric (group ""), holding the last round's values.

    (One session in ``<log_dir>`` would be the run ``.``, from which TensorBoard reaches no
    sub-run: ``os.path.join(".", "valid")`` is not the run ``valid``.)"""
    root, reported = request.getfixturevalue(f"{lib}_root")
    results = reported["early"]["results"]
    tb = tb_server(root / "early", load_fast=load_fast)
    columns, found = _table(tb, {"train", "valid"})
    metrics = sorted(results["valid"])
    # group "": TensorBoard's table names the column by the tag alone
    assert columns == {("", m) for m in metrics}
    for name, session in found.items():
        assert session["status"] == "STATUS_SUCCESS"
        assert _metric_values(session) == pytest.approx(
            {m: results[name][m][-1] for m in metrics}, rel=1e-6
        )


@pytest.mark.server
@pytest.mark.parametrize("load_fast", LOADERS)
def test_hparams_table_pointed_at_the_parent(gbm_root, xgb_root, lgb_root, tb_server,
                                             load_fast):  # fmt: skip
    """``tensorboard --logdir <parent>`` of many trainings, XGBoost's and LightGBM's mixed:
    a row ``<run>/<eval set>`` per eval set with the statuses written; one column per
    metric name (six here, not one per eval set and metric), with the last round's value."""
    tb = tb_server(gbm_root, load_fast=load_fast)
    evals = {
        "xgb/early": ["train", "valid"],
        "xgb/sklearn": ["validation_0", "validation_1"],
        "xgb/raised": ["train"],
        "xgb/cv": ["test", "train"],
        "lgb/early": ["train", "valid"],
        "lgb/all": ["train", "valid"],
        "lgb/raised": ["train"],
        "lgb/sklearn": ["holdout"],
        "lgb/cv": ["valid"],
    }
    sessions = {f"{run}/{name}": run for run, names in evals.items() for name in names}
    columns, found = _table(tb, set(sessions))
    assert columns == {("", m) for m in ["rmse", "mae", "rmse-std", "l2", "l1", "l2-stdv"]}
    for name, session in found.items():
        expected = "STATUS_FAILURE" if sessions[name].endswith("raised") else "STATUS_SUCCESS"
        assert session["status"] == expected, name
    for lib, metric in (("xgb", "rmse"), ("lgb", "l2")):
        results = (xgb_root if lib == "xgb" else lgb_root)[1]["early"]["results"]
        for eval_name in ("train", "valid"):
            got = _metric_values(found[f"{lib}/early/{eval_name}"])[metric]
            assert got == pytest.approx(results[eval_name][metric][-1], rel=1e-6)


def test_eval_set_run_names():
    from tbwrite.integrations._boosting import run_name

    assert [run_name(n) for n in ["valid_0", "a/b", "..", "", "."]] == [
        "valid_0", "a_b", "_..", "_", "_.",
    ]  # fmt: skip


def test_xgboost_training_that_raised_is_failure_also_when_the_program_goes_on(tmp_path):
    # The program catches the exception and exits normally: the session still ends FAILURE,
    # whichever of tbwrite's exit and the integration's runs first.
    _need("xgboost")
    code = textwrap.dedent(
        """
        import sys, numpy as np, xgboost as xgb
        from tbwrite.integrations.xgboost import TensorBoardCallback

        class Boom(xgb.callback.TrainingCallback):
            def after_iteration(self, model, epoch, evals_log):
                if epoch == 2:
                    raise RuntimeError("boom")
                return False

        d = xgb.DMatrix(np.arange(40.0).reshape(20, 2), np.arange(20.0))
        try:
            xgb.train({}, d, 5, evals=[(d, "train")],
                      callbacks=[TensorBoardCallback(sys.argv[1]), Boom()])
        except RuntimeError:
            pass
        """
    )
    _child(code, tmp_path / "run")
    assert _sessions(tmp_path / "run")["train"][1] == "FAILURE"
