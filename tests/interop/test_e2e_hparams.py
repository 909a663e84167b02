"""HParams through a live tensorboard server, under --load_fast=true and false.

The sessions are the runs themselves; each metric column is the latest scalar logged and
moves while the server runs; the status is not finished before close and SUCCESS or
FAILURE after; the experiment config's domains and names show up.
"""

from __future__ import annotations

import numpy as np
import pytest
from tbserver import TensorBoardServer

import tbwrite
from tbwrite import HParam, IntInterval, Metric, RealInterval, SummaryWriter

pytestmark = pytest.mark.server
LOADERS = [pytest.param(True, id="load_fast=true"), pytest.param(False, id="load_fast=false")]
FINISHED = {"STATUS_SUCCESS", "STATUS_FAILURE"}


def _by_run(groups):
    return {g["sessions"][0]["name"]: g for g in groups.get("sessionGroups", [])}


def _metric(group, tag):
    for mv in group["metricValues"]:
        if mv["name"]["tag"] == tag and not mv["name"].get("group"):
            return mv
    return None


@pytest.mark.parametrize("load_fast", LOADERS)
def test_sweep_sessions_follow_training_live(tmp_path, load_fast) -> None:
    root = tmp_path / "sweep"
    tbwrite.write_experiment(
        root,
        [
            HParam(
                "lr",
                RealInterval(1e-3, 1.0),
                display_name="learning rate",
                description="SGD step size",
            ),
            HParam("layers", IntInterval(1, 8)),
            HParam("optimizer", ["adam", "sgd"], description="update rule"),
            HParam("batchnorm", [True, False]),
        ],
        [
            Metric(
                "loss",
                display_name="Training loss",
                description="mean batch loss",
                dataset_type="training",
            ),
            Metric("accuracy", display_name="Val accuracy", dataset_type="validation"),
        ],
    )
    settings = {
        "a": {"lr": 0.1, "layers": 2, "optimizer": "adam", "batchnorm": True},
        "b": {"lr": 0.01, "layers": 4, "optimizer": "sgd", "batchnorm": False},
        "c": {"lr": 0.5, "layers": 8, "optimizer": "sgd", "batchnorm": True},
    }
    writers = {}
    for name, hp in settings.items():
        w = SummaryWriter(root / name, flush_secs=3600)
        w.add_hparams(hp, {"loss": None, "accuracy": None})
        for step in range(3):
            w.add_scalar("loss", 1.0 / (step + 1), step)
            w.add_scalar("accuracy", 0.5 + 0.1 * step, step)
        w.flush()
        writers[name] = w

    with TensorBoardServer(root, load_fast=load_fast) as tb:
        exp = tb.wait_for(
            lambda: (e := tb.hparams_experiment()).get("metricInfos") and e, timeout=40
        )
        infos = {h["name"]: h for h in exp["hparamInfos"]}
        assert set(infos) == set(settings["a"])
        assert infos["lr"]["displayName"] == "learning rate"
        assert infos["lr"]["description"] == "SGD step size"
        assert infos["lr"]["domainInterval"] == {"minValue": 1e-3, "maxValue": 1.0}
        assert infos["layers"]["domainInterval"] == {"minValue": 1.0, "maxValue": 8.0}
        assert infos["optimizer"]["domainDiscrete"] == ["adam", "sgd"]
        assert infos["optimizer"]["type"] == "DATA_TYPE_STRING"
        assert infos["batchnorm"]["type"] == "DATA_TYPE_BOOL"
        assert infos["batchnorm"]["domainDiscrete"] == [True, False]
        metrics = {m["name"]["tag"]: m for m in exp["metricInfos"]}
        assert metrics["loss"]["displayName"] == "Training loss"
        assert metrics["loss"]["description"] == "mean batch loss"
        assert metrics["loss"]["datasetType"] == "DATASET_TRAINING"
        assert metrics["accuracy"]["datasetType"] == "DATASET_VALIDATION"

        def sessions_at(step):
            groups = _by_run(tb.hparams_session_groups(experiment=exp))
            if set(groups) != set(settings):
                return None
            if any((_metric(g, "loss") or {}).get("trainingStep") != step for g in groups.values()):
                return None
            return groups

        groups = tb.wait_for(lambda: sessions_at(2), timeout=40, what="3 sessions at step 2")
        # The sessions are the runs themselves: no extra sub-runs (the root "." holds the
        # experiment config only).
        assert set(tb.runs()) == {".", "a", "b", "c"}
        for name, g in groups.items():
            assert g["hparams"] == {
                k: (float(v) if isinstance(v, int) and not isinstance(v, bool) else v)
                for k, v in settings[name].items()
            }
            assert _metric(g, "loss")["value"] == pytest.approx(1.0 / 3, rel=1e-6)
            assert _metric(g, "accuracy")["value"] == pytest.approx(0.7, rel=1e-6)
            assert g["sessions"][0].get("status", "STATUS_UNKNOWN") not in FINISHED

        # Training goes on: the metric columns move with it, while the server runs.
        for step in range(3, 6):
            for w in writers.values():
                w.add_scalar("loss", 1.0 / (step + 1), step)
                w.add_scalar("accuracy", 0.5 + 0.1 * step, step)
        for w in writers.values():
            w.flush()
        groups = tb.wait_for(lambda: sessions_at(5), timeout=40, what="metrics at step 5")
        for g in groups.values():
            assert _metric(g, "loss")["value"] == pytest.approx(1.0 / 6, rel=1e-6)
            assert g["sessions"][0].get("status", "STATUS_UNKNOWN") not in FINISHED

        # Runs end: a with-block that raised, an explicit status, a plain close.
        with pytest.raises(ZeroDivisionError):
            with writers["a"]:
                raise ZeroDivisionError
        writers["b"].close()
        writers["c"].set_status("failure")
        writers["c"].close()
        want = {"a": "STATUS_FAILURE", "b": "STATUS_SUCCESS", "c": "STATUS_FAILURE"}

        def statuses():
            got = {
                n: g["sessions"][0].get("status")
                for n, g in _by_run(tb.hparams_session_groups(experiment=exp)).items()
            }
            return got if got == want else None

        tb.wait_for(statuses, timeout=40, what=f"statuses {want}")
        final = _by_run(tb.hparams_session_groups(experiment=exp))
        for g in final.values():
            s = g["sessions"][0]
            assert s["endTimeSecs"] >= s["startTimeSecs"] > 0


@pytest.mark.parametrize("load_fast", LOADERS)
def test_derived_experiment_without_config(tmp_path, load_fast) -> None:
    # No experiment config anywhere: TensorBoard derives it from the sessions. The runs are
    # exactly the sessions, bool stays BOOL, metric columns are the runs' scalar tags.
    for i, flag in enumerate([True, False]):
        with SummaryWriter(tmp_path / f"run{i}") as w:
            w.add_hparams(
                {"flag": flag, "width": np.int64(16 * (i + 1)), "act": "relu"}, {"score": 0.5 + i}
            )
            w.add_scalar("score", 1.5 + i, 1)
    with TensorBoardServer(tmp_path, load_fast=load_fast) as tb:

        def ready():
            exp = tb.hparams_experiment()
            groups = _by_run(tb.hparams_session_groups(experiment=exp))
            ok = len(groups) == 2 and all(
                g["sessions"][0].get("status") == "STATUS_SUCCESS" for g in groups.values()
            )
            return (exp, groups) if ok else None

        exp, groups = tb.wait_for(ready, timeout=40, what="2 finished sessions")
        assert sorted(tb.runs()) == ["run0", "run1"]
        types = {h["name"]: h["type"] for h in exp["hparamInfos"]}
        assert types == {
            "flag": "DATA_TYPE_BOOL",
            "width": "DATA_TYPE_FLOAT64",
            "act": "DATA_TYPE_STRING",
        }
        assert [m["name"]["tag"] for m in exp["metricInfos"]] == ["score"]
        assert (
            groups["run0"]["hparams"]["flag"] is True and groups["run1"]["hparams"]["flag"] is False
        )
        assert _metric(groups["run0"], "score")["value"] == 1.5
        assert _metric(groups["run1"], "score")["value"] == 2.5
        assert _metric(groups["run1"], "score")["trainingStep"] == 1


@pytest.mark.parametrize("load_fast", LOADERS)
def test_demo_sweep_as_tensorboard_shows_it(tmp_path, load_fast) -> None:
    from tbwrite._cli.demo import run_demo

    run_demo(str(tmp_path), quiet=True)
    with TensorBoardServer(tmp_path, load_fast=load_fast) as tb:

        def ready():
            # Every session, its end and its last values: the loader may show a session
            # before it has read the end of its file.
            exp = tb.hparams_experiment()
            groups = _by_run(tb.hparams_session_groups(experiment=exp))
            if len(groups) != 5 or "lr=0.3,batch=16" not in groups:
                return None
            if any(
                g["sessions"][0].get("status", "STATUS_UNKNOWN") == "STATUS_UNKNOWN"
                for g in groups.values()
            ):
                return None
            metric = _metric(groups["lr=0.3,batch=16"], "loss/train")
            if metric is None or metric.get("trainingStep") != 200:
                return None
            return exp, groups

        exp, groups = tb.wait_for(ready, timeout=60, what="5 demo sessions, ended and loaded")
        statuses = sorted(g["sessions"][0]["status"] for g in groups.values())
        assert statuses == ["STATUS_FAILURE"] + ["STATUS_SUCCESS"] * 4
        assert exp["name"] == "tbwrite demo"
        assert {m["name"]["tag"] for m in exp["metricInfos"]} == {
            "loss/validation",
            "accuracy/validation",
            "loss/train",
        }
        ok = groups["lr=0.3,batch=16"]
        assert ok["hparams"] == {
            "lr": 0.3,
            "batch_size": 16.0,
            "l2": 0.0,
            "optimizer": "sgd",
            "bias": True,
        }
        assert _metric(ok, "accuracy/validation")["value"] > 0.9
        assert _metric(ok, "loss/train")["trainingStep"] == 200
