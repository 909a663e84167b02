"""The XGBoost and LightGBM callbacks, trained for real and read back with TensorBoard's own
EventAccumulator: one sub-run per eval set holding every round's metrics exactly as the
library's own ``evals_result`` / ``record_evaluation``, the parameters as the run's HParams
session, SUCCESS after early stopping and FAILURE when training raises.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from readback import accumulator
from tensorboard.plugins.hparams import plugin_data_pb2

pytestmark = pytest.mark.system

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATUS = {1: "SUCCESS", 2: "FAILURE"}


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
    hparams = {}
    for name, value in start.hparams.items():
        hparams[name] = getattr(value, value.WhichOneof("kind"))
    status = None
    if "_hparams_/session_end_info" in tags:
        end = plugin_data_pb2.HParamsPluginData.FromString(
            acc.SummaryMetadata("_hparams_/session_end_info").plugin_data.content
        ).session_end_info
        status = STATUS.get(end.status, str(end.status))
    return hparams, status


def _scalars(run_dir):
    """{tag: [(step, value)]} of one run, read by TensorBoard."""
    acc = accumulator(run_dir)
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _assert_matches(run_dir, results):
    """Each eval set is a sub-run whose tags are its metrics, step i = results[...][i]."""
    subruns = sorted(d for d in os.listdir(run_dir) if os.path.isdir(os.path.join(run_dir, d)))
    assert subruns == sorted(results)
    for eval_name, metrics in results.items():
        scalars = _scalars(os.path.join(run_dir, eval_name))
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


def test_xgboost_eval_sets_early_stopping_and_config_params(tmp_path):
    xgb = pytest.importorskip("xgboost")
    from tbwrite.integrations.xgboost import TensorBoardCallback

    xtr, ytr, xva, yva = _data()
    dtrain, dvalid = xgb.DMatrix(xtr, ytr), xgb.DMatrix(xva, yva)
    results: dict = {}
    params = {"max_depth": 6, "eta": 0.3, "eval_metric": ["rmse", "mae"], "seed": 1}
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=500,
        evals=[(dtrain, "train"), (dvalid, "valid")],
        evals_result=results,
        callbacks=[TensorBoardCallback(tmp_path / "run"), xgb.callback.EarlyStopping(rounds=5)],
        verbose_eval=False,
    )
    rounds = len(results["valid"]["rmse"])
    assert rounds < 500 and booster.best_iteration == rounds - 6  # it did stop early
    _assert_matches(tmp_path / "run", results)
    hparams, status = _session(tmp_path / "run")
    assert status == "SUCCESS"
    # read from the booster's configuration, float32 values as they were set
    assert hparams["eta"] == 0.3 and hparams["max_depth"] == 6.0 and hparams["seed"] == 1.0
    assert hparams["objective"] == "reg:squarederror"
    assert hparams["eval_metric"] == "rmse, mae"


def test_xgboost_sklearn_api_and_given_params(tmp_path):
    xgb = pytest.importorskip("xgboost")
    from tbwrite.integrations.xgboost import TensorBoardCallback

    xtr, ytr, xva, yva = _data()
    cb = TensorBoardCallback(tmp_path / "run", params={"n_estimators": 20, "tag": None})
    model = xgb.XGBRegressor(n_estimators=20, max_depth=3, callbacks=[cb])
    model.fit(xtr, ytr, eval_set=[(xtr, ytr), (xva, yva)], verbose=False)
    _assert_matches(tmp_path / "run", model.evals_result())
    hparams, status = _session(tmp_path / "run")
    assert hparams == {"n_estimators": 20.0, "tag": "None"} and status == "SUCCESS"


def test_xgboost_exception_mid_training_is_failure(tmp_path):
    xgb = pytest.importorskip("xgboost")
    from tbwrite.integrations.xgboost import TensorBoardCallback

    class Boom(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            if epoch == 3:
                raise RuntimeError("boom")
            return False

    xtr, ytr, _, _ = _data()
    dtrain = xgb.DMatrix(xtr, ytr)
    with pytest.raises(RuntimeError, match="boom"), TensorBoardCallback(tmp_path / "run") as cb:
        xgb.train({}, dtrain, 20, evals=[(dtrain, "train")], callbacks=[cb, Boom()],
                  verbose_eval=False)  # fmt: skip
    assert _session(tmp_path / "run")[1] == "FAILURE"
    assert [s for s, _ in _scalars(tmp_path / "run" / "train")["rmse"]] == [0, 1, 2, 3]


def test_xgboost_uncaught_exception_is_failure_at_exit(tmp_path):
    pytest.importorskip("xgboost")
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
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode != 0 and "boom" in proc.stderr
    assert _session(tmp_path / "run")[1] == "FAILURE"


def test_xgboost_callback_copies_and_checks_arguments(tmp_path):
    pytest.importorskip("xgboost")
    import copy

    from tbwrite.integrations.xgboost import TensorBoardCallback

    cb = TensorBoardCallback(tmp_path, params={"a": 1}, flush_every=3)
    twin = copy.deepcopy(cb)
    assert (twin.log_dir, twin.params, twin.flush_every) == (str(tmp_path), {"a": 1}, 3)
    with pytest.raises(TypeError, match="log_dir"):
        TensorBoardCallback(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="params"):
        TensorBoardCallback(tmp_path, params=[1])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="flush_every"):
        TensorBoardCallback(tmp_path, flush_every=0)
    assert os.listdir(tmp_path) == []


# -- LightGBM -----------------------------------------------------------------------------


def _lgb_train(lgb, log_dir, rounds=500, extra=(), **kwargs):
    from tbwrite.integrations.lightgbm import TensorBoardCallback

    xtr, ytr, xva, yva = _data()
    dtrain = lgb.Dataset(xtr, ytr)
    dvalid = lgb.Dataset(xva, yva, reference=dtrain)
    results: dict = {}
    params = {"objective": "regression", "metric": ["l2", "l1"], "learning_rate": 0.3,
              "num_leaves": 15, "verbose": -1, "deterministic": True}  # fmt: skip
    cb = TensorBoardCallback(log_dir, **kwargs)
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=rounds,
        valid_sets=[dtrain, dvalid],
        valid_names=["train", "valid"],
        callbacks=[cb, lgb.record_evaluation(results), *extra],
    )
    return cb, booster, results


def test_lightgbm_early_stopping_in_with_block_is_success(tmp_path):
    lgb = pytest.importorskip("lightgbm")
    from tbwrite.integrations.lightgbm import TensorBoardCallback

    with TensorBoardCallback(tmp_path / "run") as cb:
        xtr, ytr, xva, yva = _data()
        dtrain = lgb.Dataset(xtr, ytr)
        dvalid = lgb.Dataset(xva, yva, reference=dtrain)
        results: dict = {}
        booster = lgb.train(
            {
                "objective": "regression",
                "metric": ["l2", "l1"],
                "learning_rate": 0.3,
                "verbose": -1,
            },  # fmt: skip
            dtrain,
            num_boost_round=500,
            valid_sets=[dtrain, dvalid],
            valid_names=["train", "valid"],
            callbacks=[cb, lgb.record_evaluation(results), lgb.early_stopping(5, verbose=False)],
        )
        assert _session(tmp_path / "run")[1] is None  # still open: it stopped early
    rounds = len(results["valid"]["l2"])
    assert rounds < 500 and booster.best_iteration == rounds - 5
    _assert_matches(tmp_path / "run", results)
    hparams, status = _session(tmp_path / "run")
    assert status == "SUCCESS"
    assert hparams["objective"] == "regression" and hparams["learning_rate"] == 0.3
    assert hparams["metric"] == "['l2', 'l1']" and hparams["num_iterations"] == 500.0


def test_lightgbm_all_rounds_closes_itself(tmp_path):
    lgb = pytest.importorskip("lightgbm")
    cb, _, results = _lgb_train(lgb, tmp_path / "run", rounds=12)
    assert cb._run is None
    _assert_matches(tmp_path / "run", results)
    assert _session(tmp_path / "run")[1] == "SUCCESS"


def test_lightgbm_early_stopping_without_with_is_success_at_exit(tmp_path):
    pytest.importorskip("lightgbm")
    code = textwrap.dedent(
        """
        import sys, numpy as np, lightgbm as lgb
        from tbwrite.integrations.lightgbm import TensorBoardCallback
        rng = np.random.default_rng(0)
        x = rng.normal(size=(200, 3)); y = x[:, 0] + rng.normal(size=200)
        dtrain = lgb.Dataset(x[:100], y[:100]); dvalid = lgb.Dataset(x[100:], y[100:])
        b = lgb.train({"verbose": -1, "learning_rate": 0.5}, dtrain, 500, valid_sets=[dvalid],
                      callbacks=[TensorBoardCallback(sys.argv[1]),
                                 lgb.early_stopping(3, verbose=False)])
        assert b.best_iteration < 400
        """
    )
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert _session(tmp_path / "run")[1] == "SUCCESS"
    assert "l2" in _scalars(tmp_path / "run" / "valid_0")


def test_lightgbm_exception_mid_training_is_failure(tmp_path):
    lgb = pytest.importorskip("lightgbm")
    from tbwrite.integrations.lightgbm import TensorBoardCallback

    def boom(env):
        if env.iteration == 3:
            raise RuntimeError("boom")

    boom.order = 40  # after ours: rounds 0-3 are logged
    with pytest.raises(RuntimeError, match="boom"), TensorBoardCallback(tmp_path / "run") as cb:
        x, y, _, _ = _data()
        d = lgb.Dataset(x, y)
        lgb.train({"verbose": -1}, d, 20, valid_sets=[d], valid_names=["train"],
                  callbacks=[cb, boom])  # fmt: skip
    assert _session(tmp_path / "run")[1] == "FAILURE"
    assert [s for s, _ in _scalars(tmp_path / "run" / "train")["l2"]] == [0, 1, 2, 3]


def test_lightgbm_uncaught_exception_is_failure_at_exit(tmp_path):
    pytest.importorskip("lightgbm")
    code = textwrap.dedent(
        """
        import sys, numpy as np, lightgbm as lgb
        from tbwrite.integrations.lightgbm import TensorBoardCallback
        d = lgb.Dataset(np.arange(400.0).reshape(200, 2), np.arange(200.0))
        def boom(env):
            if env.iteration == 2:
                raise RuntimeError("boom")
        boom.order = 40
        lgb.train({"verbose": -1}, d, 10, valid_sets=[d],
                  callbacks=[TensorBoardCallback(sys.argv[1]), boom])
        """
    )
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode != 0 and "boom" in proc.stderr
    assert _session(tmp_path / "run")[1] == "FAILURE"


def test_lightgbm_sklearn_api_and_cv(tmp_path):
    lgb = pytest.importorskip("lightgbm")
    from tbwrite.integrations.lightgbm import TensorBoardCallback

    xtr, ytr, xva, yva = _data()
    model = lgb.LGBMRegressor(n_estimators=15, verbose=-1)
    # lightgbm 4.7 takes eval_X / eval_y; eval_set before
    if "eval_X" in inspect.signature(model.fit).parameters:
        evals = {"eval_X": (xva,), "eval_y": (yva,)}
    else:
        evals = {"eval_set": [(xva, yva)]}
    model.fit(xtr, ytr, **evals, eval_names=["holdout"],
              callbacks=[TensorBoardCallback(tmp_path / "sk")])  # fmt: skip
    _assert_matches(tmp_path / "sk", model.evals_result_)
    assert _session(tmp_path / "sk")[1] == "SUCCESS"

    cv = lgb.cv(
        {"verbose": -1, "metric": "l2"},
        lgb.Dataset(xtr, ytr),
        num_boost_round=8,
        nfold=3,
        stratified=False,
        callbacks=[TensorBoardCallback(tmp_path / "cv")],
    )
    scalars = _scalars(tmp_path / "cv" / "valid")
    np.testing.assert_allclose([v for _, v in scalars["l2"]], cv["valid l2-mean"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in scalars["l2-stdv"]], cv["valid l2-stdv"], rtol=1e-6)
    assert _session(tmp_path / "cv")[1] == "SUCCESS"
