"""A forked child never writes, uploads or re-sends anything of its parent's: its flush()
acts on nothing of the parent's sink, and its first write opens a file or object name of
its own. Each case forks a child that calls flush() (as a chained SIGTERM handler would),
then logs once."""

from __future__ import annotations

import os
import shutil
import warnings

import pytest

import tbwrite
from tbwrite import SummaryWriter

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _in_child(work) -> None:
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            work()
        except BaseException:  # noqa: BLE001 - reported through the exit status
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _steps(logdir: str, tag: str = "loss") -> list[int]:
    runs = tbwrite.read_scalars(logdir)
    return sorted(int(s) for run in runs.values() for s in run[tag].steps) if runs else []


def test_child_flush_after_the_log_dir_was_deleted_writes_nothing_of_the_parent(tmp_path):
    logdir = str(tmp_path / "run")
    w = SummaryWriter(logdir, max_queue=1, flush_secs=3600)
    for step in range(5):
        w.add_scalar("loss", float(step), step)
    shutil.rmtree(logdir)  # the parent has not noticed yet: its tail is unchecked
    _in_child(w.flush)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        w.add_scalar("loss", 5.0, 5)
        w.close()
    assert _steps(logdir) == [0, 1, 2, 3, 4, 5], "steps stored twice or lost"


def test_child_flush_uploads_nothing_of_the_parent_on_a_store(tmp_path):
    # fsspec's local:// store: objects, as on S3, but shared between parent and child.
    pytest.importorskip("fsspec")
    (tmp_path / "run").mkdir()  # a store has no directories to make
    url = f"local://{tmp_path}/run"
    # max_queue=1: each record goes to the store sink at once, pending until an upload.
    w = SummaryWriter(url, max_queue=1, flush_secs=3600)
    for step in range(5):
        w.add_scalar("loss", float(step), step)
    w.flush()
    for step in range(5, 10):
        w.add_scalar("loss", float(step), step)

    def child() -> None:
        w.flush()  # nothing of the parent's: not its buffer, not its pending upload
        w.add_scalar("child", 1.0, 0)
        w.close()

    _in_child(child)
    w.close()
    assert _steps(str(tmp_path / "run")) == list(range(10)), "parent steps doubled or lost"
    assert _steps(str(tmp_path / "run"), "child") == [0]
