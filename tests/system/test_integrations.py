"""The integrations (clu-style writer for JAX, scikit-learn searches, Optuna), each
run with the real library and read back through a live tensorboard server's hparams
endpoints under both loaders: the sessions, their typed hparams, metrics and statuses.

Each library's data is written once per module; one server per loader reads it. A library
that cannot be imported is skipped with the reason (all are in the ``test`` extra). Ray Tune
and the Flax example have environments of their own: ``tests/extras``.
"""

from __future__ import annotations

import glob
import importlib.util
import multiprocessing
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hpsessions import LOADERS, WAIT, finished_groups, hparam_types, metric, status
from tbserver import TensorBoardServer

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parents[2]
HELPERS = str(ROOT / "tests" / "helpers")


def _need(module: str):
    return pytest.importorskip(
        module, reason=f"{module} is not installed (pip install -e '.[test]')"
    )


# -- clu-style writer with JAX ----------------------------------------------------------------

CLU_METHODS = {
    "write_summaries": ["step", "values", "metadata"],
    "write_scalars": ["step", "scalars"],
    "write_images": ["step", "images"],
    "write_videos": ["step", "videos"],
    "write_audios": ["step", "audios", "sample_rate"],
    "write_texts": ["step", "texts"],
    "write_histograms": ["step", "arrays", "num_buckets"],
    "write_hparams": ["hparams"],
    "flush": [],
    "close": [],
}


def test_clu_interface_matches() -> None:
    import inspect

    from tbwrite.integrations.clu import SummaryWriter

    for name, params in CLU_METHODS.items():
        got = list(inspect.signature(getattr(SummaryWriter, name)).parameters)[1:]
        assert got == params, name
    # clu's own interface when clu is installed, read as source: importing it imports JAX
    # (and its package imports TensorFlow).
    import ast

    spec = importlib.util.find_spec("clu")
    if spec is None or spec.origin is None:
        return
    path = os.path.join(os.path.dirname(spec.origin), "metric_writers", "interface.py")
    tree = ast.parse(Path(path).read_text())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "MetricWriter"]
    for fn in cls.body:
        if isinstance(fn, ast.FunctionDef):
            theirs = [a.arg for a in fn.args.args[1:] + fn.args.kwonlyargs]
            ours = list(inspect.signature(getattr(SummaryWriter, fn.name)).parameters)[1:]
            assert ours == theirs, fn.name


def _write_clu_runs(root: str) -> None:
    """Run in a subprocess: JAX starts threads, and later tests of the suite fork."""
    import jax
    import jax.numpy as jnp

    from tbwrite.integrations.clu import SummaryWriter

    clu_interface = None
    spec = importlib.util.find_spec("clu")
    if spec is not None and spec.origin is not None:
        # clu's interface module alone (its package imports TensorFlow): a writer made
        # after it was imported is a virtual subclass of clu's MetricWriter.
        path = os.path.join(os.path.dirname(spec.origin), "metric_writers", "interface.py")
        loaded = importlib.util.spec_from_file_location("clu.metric_writers.interface", path)
        clu_interface = importlib.util.module_from_spec(loaded)
        sys.modules["clu.metric_writers.interface"] = clu_interface
        loaded.loader.exec_module(clu_interface)
    root = Path(root)
    for i, lr in enumerate([0.1, 0.01]):
        with SummaryWriter(root / f"run{i}") as w:
            if clu_interface is not None:
                assert isinstance(w, clu_interface.MetricWriter)
            w.write_hparams(
                {
                    "lr": jnp.float32(lr),
                    "model": {"width": 16 * (i + 1), "act": "relu", "dropout": None},
                    "use_bias": bool(i),
                    "layers": [8, 4],
                }
            )
            key = jax.random.PRNGKey(i)
            for step in range(3):
                loss = jnp.exp(-lr * step) + i
                w.write_scalars(step, {"loss": loss, "acc": jnp.asarray([0.5 + 0.1 * step])})
                w.write_histograms(
                    step, {"w": jax.random.normal(key, (100,))}, num_buckets={"w": 7}
                )
                w.write_texts(step, {"note": f"step **{step}**"})
                w.write_images(step, {"img": jax.random.uniform(key, (2, 4, 5, 3))})
    w2 = SummaryWriter(root / "crashed")
    w2.write_hparams(
        {
            "lr": 1.0,
            "model": {"width": 0, "act": "relu", "dropout": None},
            "use_bias": True,
            "layers": [1],
        }
    )
    w2.write_scalars(0, {"loss": jnp.nan})
    try:
        with w2:
            raise FloatingPointError("diverged")
    except FloatingPointError:
        pass


@pytest.fixture(scope="module")
def clu_logdir(tmp_path_factory):
    _need("jax")
    root = tmp_path_factory.mktemp("clu")
    code = (
        f"import sys; sys.path.insert(0, {HELPERS!r}); "
        "import test_integrations as t; t._write_clu_runs(sys.argv[1])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(root)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return root


@pytest.mark.parametrize("load_fast", LOADERS)
def test_clu_writer_with_jax(clu_logdir, load_fast) -> None:
    with TensorBoardServer(clu_logdir, load_fast=load_fast) as tb:
        exp, groups = finished_groups(tb, 3)
        assert hparam_types(exp) == {
            "lr": "DATA_TYPE_FLOAT64",
            "model.width": "DATA_TYPE_FLOAT64",
            "model.act": "DATA_TYPE_STRING",
            "model.dropout": "DATA_TYPE_STRING",
            "use_bias": "DATA_TYPE_BOOL",
            "layers.0": "DATA_TYPE_FLOAT64",
            "layers.1": "DATA_TYPE_FLOAT64",
        }
        assert groups["run1"]["hparams"] == {
            "lr": pytest.approx(0.01),
            "model.width": 32.0,
            "model.act": "relu",
            "model.dropout": "",
            "use_bias": True,
            "layers.0": 8.0,
            "layers.1": 4.0,
        }
        assert metric(groups["run1"], "loss")["value"] == pytest.approx(1 + np.exp(-0.02), rel=1e-6)
        assert metric(groups["run1"], "loss")["trainingStep"] == 2
        assert metric(groups["run0"], "acc")["value"] == pytest.approx(0.7, rel=1e-6)
        assert {r: status(g) for r, g in groups.items()} == {
            "run0": "STATUS_SUCCESS",
            "run1": "STATUS_SUCCESS",
            "crashed": "STATUS_FAILURE",
        }
        hist = tb.wait_for(lambda: tb.histograms("run0", "w"), timeout=WAIT)
        assert len(hist) == 3 and len(hist[0][2]) == 7 and sum(b[2] for b in hist[0][2]) == 100
        assert [t["step"] for t in tb.text("run0", "note")] == [0, 1, 2]
        images = tb.get_json("/data/plugin/images/images", run="run0", tag="img")
        assert len(images) == 3
        assert tb.get_json("/data/plugin/images/images", run="run0", tag="img", sample=1)


# -- scikit-learn -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sklearn_logdir(tmp_path_factory):
    _need("sklearn")
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, RandomizedSearchCV
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    from tbwrite.integrations.sklearn import log_search

    root = tmp_path_factory.mktemp("sklearn")
    X, y = make_classification(n_samples=120, n_features=6, random_state=0)
    pipe = Pipeline(
        [("scale", StandardScaler()), ("clf", MLPClassifier(max_iter=15, random_state=0))]
    )
    grid = GridSearchCV(
        pipe,
        {
            "scale": [StandardScaler(), MinMaxScaler()],
            "clf__hidden_layer_sizes": [(8,), (6, 4)],
            "clf__early_stopping": [True, False],
            "clf__alpha": [1e-3],
        },
        cv=3,
        return_train_score=True,
    )
    random = RandomizedSearchCV(
        LogisticRegression(max_iter=200),
        {"C": [0.01, 1.0, -1.0], "class_weight": [None, "balanced"]},
        n_iter=6,
        cv=3,
        random_state=0,
        scoring=["accuracy", "f1"],
        refit="accuracy",
        error_score=np.nan,
    )
    halving = HalvingGridSearchCV(
        GradientBoostingClassifier(n_estimators=8, random_state=0),
        {"max_depth": [1, 2], "learning_rate": [0.1, 0.5]},
        cv=3,
        factor=2,
        min_resources=30,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grid.fit(X, y)
        random.fit(X, y)
        halving.fit(X, y)
    return {
        "grid": (grid, log_search(grid, root / "grid")),
        "random": (random, log_search(random, root / "random")),
        "halving": (halving, log_search(halving, root / "halving")),
        "root": root,
    }


@pytest.mark.parametrize("load_fast", LOADERS)
def test_sklearn_grid_search(sklearn_logdir, load_fast) -> None:
    search, runs = sklearn_logdir["grid"]
    res = search.cv_results_
    with TensorBoardServer(sklearn_logdir["root"] / "grid", load_fast=load_fast) as tb:
        exp, groups = finished_groups(tb, 8)
        assert exp["name"] == "GridSearchCV"
        infos = {h["name"]: h for h in exp["hparamInfos"]}
        assert hparam_types(exp) == {
            "scale": "DATA_TYPE_STRING",
            "clf__hidden_layer_sizes": "DATA_TYPE_STRING",
            "clf__early_stopping": "DATA_TYPE_BOOL",
            "clf__alpha": "DATA_TYPE_FLOAT64",
        }
        assert infos["scale"]["domainDiscrete"] == ["StandardScaler", "MinMaxScaler"]
        assert infos["clf__hidden_layer_sizes"]["domainDiscrete"] == ["(8,)", "(6, 4)"]
        assert [m["name"]["tag"] for m in exp["metricInfos"]] == [
            "mean_test_score",
            "std_test_score",
            "rank_test_score",
            "mean_train_score",
            "std_train_score",
            "mean_fit_time",
            "std_fit_time",
            "mean_score_time",
            "std_score_time",
        ]
        assert set(groups) == {os.path.basename(r) for r in runs}
        for i, run in enumerate(sorted(groups)):
            g = groups[run]
            params = res["params"][i]
            assert g["hparams"]["scale"] == type(params["scale"]).__name__
            assert g["hparams"]["clf__early_stopping"] is params["clf__early_stopping"]
            assert g["hparams"]["clf__alpha"] == 1e-3
            for tag in ("mean_test_score", "std_test_score", "mean_train_score", "mean_fit_time"):
                assert metric(g, tag)["value"] == pytest.approx(res[tag][i], rel=1e-6)
            assert metric(g, "rank_test_score")["value"] == res["rank_test_score"][i]
            assert status(g) == "STATUS_SUCCESS"
        # Per-split scores as steps; the refitted best estimator's loss curve in its run.
        split = tb.scalars("candidate-0", "splits/test_score")
        assert [p[1] for p in split] == [0, 1, 2]
        assert [p[2] for p in split] == pytest.approx(
            [res[f"split{k}_test_score"][0] for k in range(3)], rel=1e-6
        )
        best = f"candidate-{search.best_index_}"
        curve = tb.scalars(best, "estimator/loss_curve")
        final = search.best_estimator_[-1]
        assert [p[2] for p in curve] == pytest.approx(final.loss_curve_, rel=1e-5)
        tags = tb.tags("scalars")
        assert [run for run in tags if "estimator/loss_curve" in tags[run]] == [best]


@pytest.mark.parametrize("load_fast", LOADERS)
def test_sklearn_random_and_halving(sklearn_logdir, load_fast) -> None:
    search, runs = sklearn_logdir["random"]
    res = search.cv_results_
    with TensorBoardServer(sklearn_logdir["root"] / "random", load_fast=load_fast) as tb:
        exp, groups = finished_groups(tb, 6)
        assert hparam_types(exp) == {"C": "DATA_TYPE_FLOAT64", "class_weight": "DATA_TYPE_STRING"}
        tags = {m["name"]["tag"] for m in exp["metricInfos"]}
        assert {"mean_test_accuracy", "mean_test_f1", "rank_test_f1"} <= tags
        for i, run in enumerate(sorted(groups)):
            g = groups[run]
            assert g["hparams"]["class_weight"] == (
                "None" if res["params"][i]["class_weight"] is None else "balanced"
            )
            failed = res["params"][i]["C"] < 0  # LogisticRegression refuses C < 0
            assert status(g) == ("STATUS_FAILURE" if failed else "STATUS_SUCCESS")
            if not failed:
                assert metric(g, "mean_test_f1")["value"] == pytest.approx(
                    res["mean_test_f1"][i], rel=1e-6
                )
        assert "STATUS_FAILURE" in {status(g) for g in groups.values()}

    search, runs = sklearn_logdir["halving"]
    res = search.cv_results_
    with TensorBoardServer(sklearn_logdir["root"] / "halving", load_fast=load_fast) as tb:
        exp, groups = finished_groups(tb, 4)  # 4 candidates, however many iterations each reached
        assert exp["name"] == "HalvingGridSearchCV"
        last_iter = {}
        for row, params in enumerate(res["params"]):
            key = (params["max_depth"], params["learning_rate"])
            last_iter[key] = max(last_iter.get(key, (-1, 0)), (int(res["iter"][row]), row))
        for g in groups.values():
            key = (int(g["hparams"]["max_depth"]), g["hparams"]["learning_rate"])
            it, row = last_iter[key]
            assert metric(g, "iter")["value"] == it and metric(g, "iter")["trainingStep"] == it
            assert metric(g, "n_resources")["value"] == res["n_resources"][row]
            assert metric(g, "mean_test_score")["value"] == pytest.approx(
                res["mean_test_score"][row], rel=1e-6
            )
        assert max(it for it, _ in last_iter.values()) >= 1
        best = (search.best_params_["max_depth"], search.best_params_["learning_rate"])
        (best_run,) = [
            run
            for run, g in groups.items()
            if (int(g["hparams"]["max_depth"]), g["hparams"]["learning_rate"]) == best
        ]
        curve = tb.scalars(best_run, "estimator/train_score")
        assert [p[2] for p in curve] == pytest.approx(search.best_estimator_.train_score_, rel=1e-5)


# -- Optuna ---------------------------------------------------------------------------------------


def _optuna_objective(trial):
    import optuna

    x = trial.suggest_float("x", -3.0, 3.0)
    layers = trial.suggest_int("layers", 1, 4)
    opt = trial.suggest_categorical("optimizer", ["adam", "sgd"])
    act = trial.suggest_categorical("activation", [None, "relu"])
    trial.suggest_categorical("batchnorm", [True, False])
    if trial.number % 4 == 3:
        raise ValueError("objective failed")
    value = 0.0
    for step in range(3):
        value = (x - 1.0) ** 2 + layers + 0.5 * step + (opt == "sgd") + (act is None)
        trial.report(value, step)
        if trial.number % 4 == 2 and step == 1:  # pruned, as a pruner would
            raise optuna.TrialPruned()
    return value - 10.0  # the final value differs from the last intermediate one


def _optuna_worker(storage: str, logdir: str, n_trials: int) -> None:
    import optuna

    from tbwrite.integrations.optuna import TensorBoardCallback

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name="sweep", storage=storage)
    study.optimize(
        _optuna_objective,
        n_trials=n_trials,
        catch=(ValueError,),
        callbacks=[TensorBoardCallback(logdir, metric_name="loss")],
    )


@pytest.fixture(scope="module")
def optuna_study(tmp_path_factory):
    optuna = _need("optuna")
    root = tmp_path_factory.mktemp("optuna")
    storage = f"sqlite:///{root / 'study.db'}"
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    optuna.create_study(
        study_name="sweep",
        storage=storage,
        direction="minimize",
    )
    logdir = root / "logs"
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_optuna_worker, args=(storage, str(logdir), 6)) for _ in range(2)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
    assert [p.exitcode for p in workers] == [0, 0]
    study = optuna.load_study(study_name="sweep", storage=storage)
    return study, logdir, [p.pid for p in workers]


def test_optuna_workers_each_write_their_trials(optuna_study) -> None:
    study, logdir, pids = optuna_study
    trials = study.get_trials()
    assert len(trials) == 12
    writers = {}
    for t in trials:
        files = glob.glob(str(logdir / f"trial-{t.number}" / "events.out.tfevents.*"))
        assert len(files) == 1, t.number
        writers[t.number] = int(os.path.basename(files[0]).rsplit(".", 2)[1])  # ...{pid}.{n}
    assert set(writers.values()) == set(pids)  # both processes wrote trials
    # One experiment config, written by one process.
    assert len(glob.glob(str(logdir / "events.out.tfevents.*"))) == 1


@pytest.mark.parametrize("load_fast", LOADERS)
def test_optuna_sessions(optuna_study, load_fast) -> None:
    import optuna

    study, logdir, _ = optuna_study
    trials = {f"trial-{t.number}": t for t in study.get_trials()}
    states = {t.state for t in trials.values()}
    assert {
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.FAIL,
        optuna.trial.TrialState.PRUNED,
    } <= states
    want_status = {
        optuna.trial.TrialState.COMPLETE: "STATUS_SUCCESS",
        optuna.trial.TrialState.FAIL: "STATUS_FAILURE",
        optuna.trial.TrialState.PRUNED: "STATUS_UNKNOWN",
    }
    with TensorBoardServer(logdir, load_fast=load_fast) as tb:
        exp, groups = finished_groups(tb, 12)
        assert exp["name"] == "sweep"
        infos = {h["name"]: h for h in exp["hparamInfos"]}
        assert infos["x"]["domainInterval"] == {"minValue": -3.0, "maxValue": 3.0}
        assert infos["layers"]["domainInterval"] == {"minValue": 1.0, "maxValue": 4.0}
        assert infos["optimizer"]["domainDiscrete"] == ["adam", "sgd"]
        assert infos["batchnorm"]["type"] == "DATA_TYPE_BOOL"
        assert infos["activation"]["domainDiscrete"] == ["None", "relu"]
        assert [m["name"]["tag"] for m in exp["metricInfos"]] == ["loss"]
        assert set(groups) == set(trials)
        for run, g in groups.items():
            t = trials[run]
            assert g["hparams"]["x"] == t.params["x"]
            assert g["hparams"]["layers"] == float(t.params["layers"])
            assert g["hparams"]["optimizer"] == t.params["optimizer"]
            assert g["hparams"]["activation"] == str(t.params["activation"])
            assert g["hparams"]["batchnorm"] is t.params["batchnorm"]
            assert status(g) == want_status[t.state], run
            session = g["sessions"][0]
            assert session["startTimeSecs"] == pytest.approx(t.datetime_start.timestamp())
            if t.state == optuna.trial.TrialState.COMPLETE:
                m = metric(g, "loss")
                assert m["value"] == pytest.approx(t.value, rel=1e-6) and m["trainingStep"] == 3
                points = tb.scalars(run, "loss")
                assert [p[1] for p in points] == [0, 1, 2, 3]
                assert [p[2] for p in points[:3]] == pytest.approx(
                    [t.intermediate_values[s] for s in range(3)], rel=1e-6
                )
            elif t.state == optuna.trial.TrialState.PRUNED:
                last = max(t.intermediate_values)
                m = metric(g, "loss")
                assert m["trainingStep"] == last
                assert m["value"] == pytest.approx(t.intermediate_values[last], rel=1e-6)
            else:
                assert not g["metricValues"] or all(
                    mv.get("value") is None for mv in g["metricValues"]
                )
