"""The HParams dashboard's view of a log dir, as a live tensorboard server's hparams
endpoints give it: the integrations' tests (``tests/system/test_integrations.py`` and the
Ray Tune test in its own environment, ``tests/extras/test_ray.py``) check their sessions
through these."""

from __future__ import annotations

import pytest

# Every server-side check runs under both of TensorBoard's loaders.
LOADERS = [pytest.param(True, id="load_fast=true"), pytest.param(False, id="load_fast=false")]
# Seconds a server has to show what a test then asserts (on a loaded 2-core machine).
WAIT = 40.0


def finished_groups(tb, n):
    """(experiment, {run: session group}) once the server shows ``n`` finished sessions."""

    def ready():
        exp = tb.hparams_experiment()
        groups = {
            g["sessions"][0]["name"]: g
            for g in tb.hparams_session_groups(experiment=exp).get("sessionGroups", [])
        }
        if len(groups) != n or any(
            not g["sessions"][0].get("endTimeSecs") for g in groups.values()
        ):
            return None
        return exp, groups

    return tb.wait_for(ready, timeout=WAIT, what=f"{n} finished sessions")


def metric(group, tag):
    """The metric value of ``tag`` (no group: the run's own) in a session group."""
    for mv in group["metricValues"]:
        if mv["name"]["tag"] == tag and not mv["name"].get("group"):
            return mv
    raise KeyError(tag)


def status(group):
    return group["sessions"][0].get("status", "STATUS_UNKNOWN")


def hparam_types(exp):
    """{hparam name: its DATA_TYPE_*} of the experiment."""
    return {h["name"]: h["type"] for h in exp["hparamInfos"]}
