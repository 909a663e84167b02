"""Hang, loss and crash, the quick reproductions: timer overflow, tag cache races, a deleted
log dir. The slow ones (fork trials, signals, a real full file system, remote stores) are in
tests/system/test_fault_trials.py.
"""

from __future__ import annotations

import shutil

import pytest
from faultlib import last_json, log_distinct_tags, run_child, steps

import tbwrite
from tbwrite import SummaryWriter

# -- item 2: flush_secs too large for the flusher's timer -----------------------------------

_FLUSH_SECS_CHILD = r"""
import json, sys, time
import tbwrite
from tbwrite import SummaryWriter
a, b = sys.argv[1], sys.argv[2]
refused = ""
try:
    huge = SummaryWriter(a, flush_secs=1e10)
    huge.add_scalar("loss", 1.0, 1)  # schedules its (distant) timed flush
except ValueError as err:
    refused = str(err)
time.sleep(0.2)
w = SummaryWriter(b, flush_secs=0.2, max_queue=1000)
w.add_scalar("loss", 2.0, 2)
deadline = time.time() + 5
timed = False
while time.time() < deadline:
    runs = tbwrite.read_scalars(b)
    if "loss" in runs.get(".", {}):
        timed = True
        break
    time.sleep(0.05)
print(json.dumps({"refused": refused, "timed_flush": timed}))
"""


def test_huge_flush_secs_never_stops_timed_flushes_of_other_writers(tmp_path):
    out = last_json(run_child(_FLUSH_SECS_CHILD, tmp_path / "a", tmp_path / "b", timeout=30))
    assert out["refused"] == "" or "flush_secs" in out["refused"], out
    assert out["timed_flush"], "no timed flush happened after a writer with flush_secs=1e10"


def test_tag_cache_eviction_under_threads_never_raises(tmp_path, monkeypatch):
    # The cache holds 100,000 tags; shrunk here so that it is evicted thousands of times a
    # second (the system test below does it with the real size).
    from tbwrite._format import fast_scalars as _encode

    monkeypatch.setattr(_encode.ScalarEncoder, "_MAX_CACHED_TAGS", 64)
    w = SummaryWriter(str(tmp_path), max_queue=100_000, flush_secs=3600)
    errors = []
    for _ in range(2):  # the unfixed code fails in the first round
        errors += log_distinct_tags(w, threads=4, per_thread=5000)
        if errors:
            break
    w.close()
    assert errors == []


# -- item 6: the log dir deleted under an open writer --------------------------------------


def test_deleted_log_dir_is_detected_or_recreated(tmp_path):
    logdir = str(tmp_path / "run")
    w = SummaryWriter(logdir, max_queue=10, flush_secs=3600)
    w.add_scalar("loss", 0.0, 0)
    w.flush()
    shutil.rmtree(logdir)
    # The directory is made again and logging goes on in a new file, saying so.
    with pytest.warns(RuntimeWarning, match="was deleted while open"):
        for step in range(1, 101):
            w.add_scalar("loss", float(step), step)
        w.flush()
    w.close()
    assert steps(logdir) == list(range(1, 101)), "100 events went nowhere, without error"


def test_deleted_log_dir_new_file_carries_tag_metadata_again(tmp_path):
    # Readers keep a tag's metadata per run, from the first value that has it: after the
    # old file is gone, the next value of each tag must carry it again. (The value written
    # before the deletion was noticed is written again without it.)
    import numpy as np

    logdir = str(tmp_path / "run")
    w = SummaryWriter(logdir, max_queue=1, flush_secs=3600)
    w.add_histogram("h", np.arange(10.0), 0)
    w.add_text("t", "before", 0)
    w.flush()  # the file is seen in place: what came before went with it
    shutil.rmtree(logdir)
    w.add_histogram("h", np.arange(5.0), 1)
    with pytest.warns(RuntimeWarning, match="deleted"):
        w.flush()
    w.add_histogram("h", np.arange(6.0), 2)
    w.add_text("t", "after", 1)
    w.close()
    assert [int(s) for s in tbwrite.read_histograms(logdir)["."]["h"].steps] == [1, 2]
    assert list(tbwrite.read_text(logdir)["."]["t"].values) == ["after"]


def test_deleted_log_dir_loses_nothing_logged_since_the_last_check(tmp_path):
    # The file is checked at most every CHECK_SECS while logging (a syscall per check),
    # and at every flush and close; what was written since the last check is written
    # again into the new file, so a deletion noticed late loses nothing logged after it.
    import numpy as np

    logdir = str(tmp_path / "run")
    w = SummaryWriter(logdir, max_queue=1, flush_secs=3600)
    w.add_histogram("h", np.arange(10.0), 0)
    w.add_text("t", "before", 0)
    shutil.rmtree(logdir)
    w.add_histogram("h", np.arange(5.0), 1)
    w.add_text("t", "after", 1)
    with pytest.warns(RuntimeWarning, match="deleted"):
        w.close()
    assert [int(s) for s in tbwrite.read_histograms(logdir)["."]["h"].steps] == [0, 1]
    assert list(tbwrite.read_text(logdir)["."]["t"].values) == ["before", "after"]
