"""Ray Tune (``tbwrite[ray]``) with the real library, in an environment of its own: Ray and
the pyarrow its Tune imports are over 400 MB, so the ``test`` extra leaves them out and
``tests/package/test_extras.py`` runs this file in a fresh venv holding ``tbwrite[ray]``.

The docs' example runs first, as written, then trials of every hparam type and a failing
one, all in one Ray session; a live tensorboard server reads them back under both loaders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from docblocks import RAY_TUNE_BLOCK, script
from hpsessions import LOADERS, finished_groups, hparam_types, metric, status
from tbserver import TensorBoardServer

import tbwrite

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parents[2]


def test_the_integration_imports_ray_only_when_used() -> None:
    code = (
        "import sys, json, tbwrite.integrations.ray\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    loaded = set(json.loads(out.stdout))
    assert "ray" not in loaded and "pyarrow" not in loaded, loaded


# The docs' Ray Tune example runs first, as written (its cwd and HOME a scratch dir: its runs
# go to runs/tune, Ray's results to ~/ray_results), then these trials in its Ray session.
RAY_SCRIPT = r"""
import sys
import ray
from ray import tune
from tbwrite.integrations.ray import TbwriteLoggerCallback

def trainable(config):
    for i in range(3):
        if config["opt"] == "bad" and i == 1:
            raise RuntimeError("diverged")
        tune.report({"loss": config["lr"] * (3 - i), "eval": {"acc": 0.25 * i}})

root = sys.argv[1]
# Ray is running: the docs' example, run first in this process, started it.
try:
    tuner = tune.Tuner(
        trainable,
        param_space={"lr": tune.grid_search([0.1, 0.2]), "opt": tune.choice(["sgd"]),
                     "model": {"deep": tune.grid_search([True])}},
        run_config=tune.RunConfig(name="exp", storage_path=root + "/ray_results", verbose=0,
                                  callbacks=[TbwriteLoggerCallback(root + "/tb")]),
    )
    tuner.fit()
    bad = tune.Tuner(
        trainable, param_space={"lr": 0.5, "opt": "bad", "model": {"deep": False}},
        run_config=tune.RunConfig(name="bad", storage_path=root + "/ray_results", verbose=0,
                                  callbacks=[TbwriteLoggerCallback(root + "/tb")]),
    )
    bad.fit()
finally:
    ray.shutdown()
print("ok")
"""


@pytest.fixture(scope="module")
def ray_tmp():
    """Ray's temp dir: short, since Ray's socket paths under it must fit in AF_UNIX's 107
    bytes (under pytest's tmp_path they did not, once its counter reached 3 digits)."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_root(tmp_path_factory, ray_tmp):
    """The scratch dir of one process that ran the docs' example and the trials below."""
    root = tmp_path_factory.mktemp("ray")
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_TMPDIR=str(ray_tmp), HOME=str(root))
    # A subprocess, so that every Ray process is gone with it (checked below).
    out = subprocess.run(
        [sys.executable, "-c", script(RAY_TUNE_BLOCK, then=RAY_SCRIPT), str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        cwd=root,
        start_new_session=True,
    )
    ok = out.returncode == 0 and out.stdout.strip().endswith("ok")
    assert ok, out.stdout[-3000:] + out.stderr[-5000:]
    return root


@pytest.fixture(scope="module")
def ray_logdir(ray_root):
    return ray_root / "tb"


def test_ray_tune_docs_example_writes_what_the_docs_say(ray_root) -> None:
    """Each trial of the example: its searched ``lr`` as hparams, its results as
    ``ray/tune/<key>`` scalars at ``training_iteration``, SUCCESS at its end."""
    logdir = ray_root / "runs" / "tune"
    table = tbwrite.read_hparams(logdir)
    assert sorted(row.hparams["lr"] for row in table) == [0.01, 0.1]
    scalars = tbwrite.read_scalars(logdir)
    assert sorted(scalars) == sorted(row.run for row in table)
    for row in table:
        lr = row.hparams["lr"]
        assert row.hparams == {"lr": lr} and row.status == "SUCCESS", row
        loss = scalars[row.run]["ray/tune/loss"]
        assert list(loss.steps) == [1, 2, 3]
        assert list(loss.values) == pytest.approx([3 * lr, 2 * lr, lr], rel=1e-6)
    assert list((ray_root / "ray_results").iterdir()), "Ray's results went outside HOME"


def test_ray_tune_left_no_processes(ray_logdir, ray_tmp) -> None:
    leftovers = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if str(ray_logdir.parent).encode() in cmd or str(ray_tmp).encode() in cmd:
                leftovers.append(cmd[:200])
    assert not leftovers


@pytest.mark.parametrize("load_fast", LOADERS)
def test_ray_tune_trials(ray_logdir, load_fast) -> None:
    with TensorBoardServer(ray_logdir, load_fast=load_fast) as tb:
        exp, groups = finished_groups(tb, 3)
        assert hparam_types(exp) == {
            "lr": "DATA_TYPE_FLOAT64",
            "opt": "DATA_TYPE_STRING",
            "model/deep": "DATA_TYPE_BOOL",
        }
        by_lr = {g["hparams"]["lr"]: (run, g) for run, g in groups.items()}
        assert set(by_lr) == {0.1, 0.2, 0.5}
        for lr in (0.1, 0.2):
            run, g = by_lr[lr]
            assert g["hparams"] == {"lr": lr, "opt": "sgd", "model/deep": True}
            assert status(g) == "STATUS_SUCCESS"
            loss = metric(g, "ray/tune/loss")
            assert loss["value"] == pytest.approx(lr, rel=1e-6) and loss["trainingStep"] == 3
            assert metric(g, "ray/tune/eval/acc")["value"] == 0.5
            assert [p[1] for p in tb.scalars(run, "ray/tune/loss")] == [1, 2, 3]
        run, bad = by_lr[0.5]
        assert bad["hparams"] == {"lr": 0.5, "opt": "bad", "model/deep": False}
        assert status(bad) == "STATUS_FAILURE"
        assert metric(bad, "ray/tune/loss")["trainingStep"] == 1
