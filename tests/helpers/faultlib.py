"""Helpers of the fault tests (tests/unit/test_faults_*.py, tests/system/test_fault_trials.py):
children run on this checkout under a timeout, and reading back what they wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest

import tbwrite

# The checkout under test: its children import this tbwrite, not an installed one.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_child(code, *args, timeout=60):
    """Run ``code`` in a fresh interpreter on this checkout; fail (not hang) past ``timeout``."""
    env = dict(os.environ, PYTHONPATH=REPO)
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"the child hung for {timeout} s; its output: {err.stdout!r} {err.stderr!r}")


def last_json(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def steps(logdir, tag="loss", run="."):
    if not os.path.exists(logdir):
        return []
    runs = tbwrite.read_scalars(logdir)
    return [int(s) for s in runs[run][tag].steps] if tag in runs.get(run, {}) else []


def log_distinct_tags(w, threads, per_thread):
    """Log ``per_thread`` distinct scalar tags from each of ``threads`` threads at once;
    the errors raised (repr)."""
    errors = []

    def run(k):
        try:
            for i in range(per_thread):
                w.add_scalar(f"t{k}/{i}", 1.0, 200 + i)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(repr(err))

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # interleave the threads as finely as possible
    try:
        ts = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    return errors
