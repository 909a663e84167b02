"""Remote log dirs: ``memory://`` unit tests and a real S3-protocol server (moto) end to end.

The S3 tests need moto's server, boto3 and s3fs (the test extra installs them); without
them they fail, they do not skip.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from readback import accumulator

import tbwrite
from tbwrite import SummaryWriter, WriterFailedError
from tbwrite._format.tfrecord import frame
from tbwrite._format.wire import file_version_event
from tbwrite._sinks import Outcome, is_remote
from tbwrite._sinks import remote as _remote

W0 = 1_700_000_000.0
HEADER = len(frame(file_version_event(W0)))  # wall_time 0.0 would be omitted


@pytest.fixture
def mem():
    """A fresh memory:// directory; the memory store is process-wide."""
    root = f"memory://tbw-{uuid.uuid4().hex[:8]}"
    yield root
    fs = fsspec.filesystem("memory")
    path = root[len("memory://") :]
    if fs.exists(path):
        fs.rm(path, recursive=True)


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr(_remote, "ATTEMPTS", 3)
    monkeypatch.setattr(_remote, "BACKOFF", 0.01)
    monkeypatch.setattr(_remote, "CALL_TIMEOUT", 5.0)


def objects(url: str) -> dict[str, bytes]:
    """{object name: content} of one run directory, in name order."""
    fs, path = fsspec.core.url_to_fs(url)
    fs.invalidate_cache()
    return {p.rsplit("/", 1)[1]: fs.cat_file(p) for p in sorted(fs.ls(path, detail=False))}


def record_bytes(url: str) -> int:
    """Bytes of all the records of all the files under ``url``, framing included."""
    return sum(len(r.event) + 16 for r in tbwrite.iter_events(url, raw=True))


def steps_of(url: str, tag: str = "loss") -> list[int]:
    runs = tbwrite.read_scalars(url)
    return [int(s) for run in runs.values() if tag in run for s in run[tag].steps]


class FlakyControl:
    """What the ``flaky://`` store does at each upload, as a test tells it: fail, hang
    until released, or run a test's own ``on_call(path, data, upload)``; counts calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail_next = 0
        self.error: Exception = OSError("503 SlowDown: reduce your request rate")
        self.hang = threading.Event()  # set: calls hang until released
        self.release = threading.Event()
        self.on_call: Any = None


FLAKY = FlakyControl()


class FlakyFileSystem(MemoryFileSystem):
    """An in-memory store of its own (``flaky://``) whose uploads obey :data:`FLAKY`: a
    writer is tested through its URL alone."""

    protocol = "flaky"
    store: dict[str, Any] = {}  # noqa: RUF012 - fsspec's memory store is a class attribute
    pseudo_dirs = [""]  # noqa: RUF012

    def pipe_file(self, path, value, *args, **kwargs):
        control = FLAKY
        control.calls.append(path)

        def upload() -> None:
            super(FlakyFileSystem, self).pipe_file(path, value, *args, **kwargs)

        if control.on_call is not None:
            return control.on_call(path, value, upload)
        if control.hang.is_set():
            control.release.wait(30)
        if control.fail_next:
            control.fail_next -= 1
            raise control.error
        return upload()


fsspec.register_implementation("flaky", FlakyFileSystem, clobber=True)


@pytest.fixture
def flaky():
    """(a fresh ``flaky://`` directory, its control); calls counted from the first writer
    made in the test on (use ``control.calls.clear()`` after opening one)."""
    global FLAKY
    FLAKY = FlakyControl()
    root = f"flaky://tbw-{uuid.uuid4().hex[:8]}"
    yield root, FLAKY
    FLAKY.release.set()


# -- memory:// ----------------------------------------------------------------------------


def test_segments_grow_like_files_then_roll_over_in_order(mem, monkeypatch) -> None:
    monkeypatch.setattr(_remote, "SEGMENT_UPLOADS", 3)
    run = f"{mem}/run"
    w = SummaryWriter(run, flush_secs=3600)
    first = objects(run)
    assert len(first) == 1, "the run is visible at once: its header object"
    (only,) = first.values()
    assert len(only) == HEADER
    counts = []
    before = first
    for k in range(7):
        for i in range(20):
            w.add_scalar("loss", i / 2, 20 * k + i, walltime=W0)
        w.flush()
        now = objects(run)
        counts.append(len(now))
        # An object is only ever rewritten as itself plus what was logged since: a reader
        # at any offset of the old version reads on in the new one.
        for name, old in before.items():
            assert now[name][: len(old)] == old
        before = now
    w.close()
    # Segment 0: header, flushes 0 and 1 (3 uploads); segment 1: flushes 2-4; then 5, 6.
    assert counts == [1, 1, 2, 2, 2, 3, 3]
    objs = objects(run)
    names = list(objs)
    seqs = [int(n.rsplit(".", 1)[1]) for n in names]
    assert seqs == [0, 1, 2]
    # Every object is a valid event file of its own that starts with file_version.
    for name in names:
        events = list(tbwrite.iter_events(f"{run}/{name}"))
        assert events[0].event.file_version == "brain.Event:2"
        assert all(not e.event.file_version for e in events[1:])
    assert steps_of(run) == list(range(140))
    # Each record is stored once: the objects hold the records plus their headers.
    assert sum(len(b) for b in objs.values()) == record_bytes(run)
    assert len(list(tbwrite.iter_events(run))) == 3 + 140


def test_a_segment_full_of_bytes_rolls_over(mem, monkeypatch) -> None:
    run = f"{mem}/run"
    w = SummaryWriter(run, flush_secs=3600)
    monkeypatch.setattr(_remote, "SEGMENT_BYTES", 1000)
    counts = []
    for k in range(4):
        w.add_text("note", "x" * 2000, k)  # one record fills a segment alone
        w.flush()
        counts.append(len(objects(run)))
    w.close()
    # The header object is rewritten once with the first record; then one object each.
    assert counts == [1, 2, 3, 4]
    assert sum(len(b) for b in objects(run).values()) == record_bytes(run)
    steps = [e.event.step for e in tbwrite.iter_events(run) if e.event.HasField("summary")]
    assert steps == [0, 1, 2, 3]


def test_nothing_is_uploaded_twice(flaky) -> None:
    root, store = flaky
    run = f"{root}/run"
    w = SummaryWriter(run, flush_secs=3600)
    store.calls.clear()  # count from here: the uploads after the open
    for k in range(30):
        w.add_scalar("loss", k, k)
        w.flush()
        w.flush()  # nothing new: no upload
    w.close()
    assert len(store.calls) == 30
    # Each record is stored once, in segments of at most SEGMENT_UPLOADS uploads each.
    names = sorted(objects(run))
    assert len(names) == -(-31 // _remote.SEGMENT_UPLOADS)
    assert sum(len(b) for b in objects(run).values()) == record_bytes(run)
    assert steps_of(run) == list(range(30))


def test_timed_flush_uploads_in_the_background(mem) -> None:
    run = f"{mem}/run"
    w = SummaryWriter(run, flush_secs=0.1)
    try:
        for i in range(10):
            w.add_scalar("loss", i, i)
        deadline = time.monotonic() + 30
        while steps_of(run) != list(range(10)):
            assert time.monotonic() < deadline, "the flusher thread did not upload"
            time.sleep(0.05)
    finally:
        w.close()


def test_size_threshold_uploads_without_waiting(mem, monkeypatch) -> None:
    monkeypatch.setattr(_remote, "UPLOAD_BYTES", 2000)
    run = f"{mem}/run"
    w = SummaryWriter(run, flush_secs=3600, max_queue=5)
    try:
        for i in range(200):
            w.add_scalar("loss", i, i)
        # No flush(), and flush_secs far away: the size threshold alone uploads.
        deadline = time.monotonic() + 30
        while steps_of(run) != list(range(200)):
            assert time.monotonic() < deadline, "no upload at the size threshold"
            time.sleep(0.05)
    finally:
        w.close()


def test_python_loader_reads_many_objects_in_order(mem, monkeypatch) -> None:
    # TensorBoard's Python loader (DirectoryWatcher: files in name order, never back),
    # in-process through its fsspec support.
    monkeypatch.setattr(_remote, "SEGMENT_UPLOADS", 2)
    run = f"{mem}/run"
    with SummaryWriter(run, flush_secs=3600) as w:
        for k in range(25):
            for i in range(4):
                w.add_scalar("loss", float(4 * k + i), 4 * k + i, walltime=W0 + k)
            w.add_text("note", f"flush {k}", k, walltime=W0 + k)
            w.flush()
    assert len(objects(run)) == 13
    acc = accumulator(run)
    assert [e.step for e in acc.Scalars("loss")] == list(range(100))
    assert [e.value for e in acc.Scalars("loss")] == [float(i) for i in range(100)]
    assert len(acc.Tensors("note")) == 25


def test_reader_on_urls(mem) -> None:
    for name in ("a", "b/c"):
        with SummaryWriter(f"{mem}/logs/{name}") as w:
            w.add_scalar("loss", 1.0, 1)
            w.add_text("t", name, 1)
    runs = tbwrite.find_runs(f"{mem}/logs")
    assert list(runs) == ["a", "b/c"]
    assert all(f.startswith(f"{mem}/logs/") for files in runs.values() for f in files)
    assert {r: list(s) for r, s in tbwrite.read_scalars(f"{mem}/logs").items()} == {
        "a": ["loss"],
        "b/c": ["loss"],
    }
    assert tbwrite.read_text(f"{mem}/logs")["b/c"]["t"].values == ["b/c"]
    one = runs["a"][-1]
    assert [e.event.step for e in tbwrite.iter_events(one)][-2:] == [1, 1]
    with pytest.raises(FileNotFoundError):
        tbwrite.find_runs(f"{mem}/nothing-here")


def test_iter_events_follows_new_objects(mem) -> None:
    run = f"{mem}/run"
    w = SummaryWriter(run, flush_secs=3600)
    got: list[int] = []

    def follow() -> None:
        for rec in tbwrite.iter_events(run, follow=True, poll_interval=0.05, timeout=3):
            if rec.event.summary.value:
                got.append(rec.event.step)
                if len(got) == 6:
                    return

    t = threading.Thread(target=follow)
    t.start()
    for i in range(6):
        w.add_scalar("loss", i, i)
        w.flush()
        time.sleep(0.02)
    t.join(30)
    w.close()
    assert got == list(range(6))


def test_transient_errors_are_retried(flaky, fast_retries) -> None:
    root, store = flaky
    run = f"{root}/run"
    w = SummaryWriter(run, flush_secs=3600)
    store.calls.clear()  # count from here: the uploads after the open
    store.fail_next = 2  # within ATTEMPTS = 3
    w.add_scalar("loss", 1.0, 1)
    w.flush()
    assert len(store.calls) == 3 and len(set(store.calls)) == 1  # same name each time
    w.close()
    assert steps_of(run) == [1]


def test_persistent_failure_raises_keeps_records_and_recovers(flaky, fast_retries) -> None:
    root, store = flaky
    run = f"{root}/run"
    w = SummaryWriter(run, flush_secs=3600)
    store.calls.clear()  # count from here: the uploads after the open
    store.fail_next = 3
    w.add_scalar("loss", 0.0, 0)
    with pytest.raises(WriterFailedError) as info:
        w.flush()
    assert isinstance(info.value.__cause__, OSError) and "SlowDown" in str(info.value.__cause__)
    assert info.value.path and info.value.path.startswith(run)
    failed_name = store.calls[-1]
    # The store recovers: the kept records go up with the new ones, under the same name.
    w.add_scalar("loss", 1.0, 1)
    w.flush()
    assert store.calls[-1] == failed_name
    w.close()
    assert steps_of(run) == [0, 1]


def test_background_failure_surfaces_at_next_call(flaky, fast_retries) -> None:
    root, store = flaky
    run = f"{root}/run"
    w = SummaryWriter(run, flush_secs=0.05)
    store.calls.clear()  # count from here: the uploads after the open
    store.fail_next = 10**9
    w.add_scalar("loss", 0.0, 0)
    deadline = time.monotonic() + 30
    while w._run.main._error is None:
        assert time.monotonic() < deadline, "the background upload never failed"
        time.sleep(0.02)
    with pytest.raises(WriterFailedError, match="in the background") as info:
        w.add_scalar("loss", 1.0, 1)
    assert info.value.__cause__ is not None
    store.fail_next = 0
    w.add_scalar("loss", 2.0, 2)
    w.close()
    assert steps_of(run) == [0, 2]  # step 1 was refused by the raising call


def test_a_hung_store_call_is_abandoned(flaky, monkeypatch) -> None:
    monkeypatch.setattr(_remote, "ATTEMPTS", 1)
    monkeypatch.setattr(_remote, "CALL_TIMEOUT", 0.2)
    root, store = flaky
    run = f"{root}/run"
    w = SummaryWriter(run, flush_secs=3600)
    store.calls.clear()  # count from here: the uploads after the open
    store.hang.set()
    w.add_scalar("loss", 0.0, 0)
    try:
        with pytest.raises(WriterFailedError) as info:
            w.flush()
        assert isinstance(info.value.__cause__, TimeoutError)
        hung_name = store.calls[-1]
        store.hang.clear()
        w.add_scalar("loss", 1.0, 1)
        w.flush()
        # The abandoned call may still land: the retry must not reuse its name.
        assert store.calls[-1] != hung_name
    finally:
        store.release.set()
        w.close()
    time.sleep(0.1)
    steps = steps_of(run)
    assert sorted(set(steps)) == [0, 1]


def test_a_late_landing_never_shortens_a_segment(flaky, monkeypatch) -> None:
    # The first call hangs past its deadline, the retry succeeds: the hung call may still
    # land, with the same bytes. The next flush must not grow that segment, or the late
    # landing would overwrite the longer version and lose what it added.
    monkeypatch.setattr(_remote, "ATTEMPTS", 2)
    monkeypatch.setattr(_remote, "BACKOFF", 0.01)
    monkeypatch.setattr(_remote, "CALL_TIMEOUT", 0.2)
    root, store = flaky
    run = f"{root}/run"
    w = SummaryWriter(run, flush_secs=3600)
    store.calls.clear()
    release, landed = threading.Event(), threading.Event()

    def on_call(path, data, upload):
        if len(store.calls) == 1:  # the first call hangs until released, then lands
            release.wait(30)
            upload()
            landed.set()
            return
        upload()

    store.on_call = on_call
    calls = store.calls
    try:
        w.add_scalar("loss", 0.0, 0)
        w.flush()  # the retry stored it
        assert calls[0] == calls[1]
        w.add_scalar("loss", 1.0, 1)
        w.flush()
        assert calls[2] != calls[0], "a segment with a call in flight was grown"
        release.set()
        assert landed.wait(30)
    finally:
        release.set()
        w.close()
    assert steps_of(run) == [0, 1]


def test_a_hung_store_does_not_delay_local_timed_flushes(flaky, tmp_path, monkeypatch) -> None:
    # One flusher thread keeps every writer's deadline; a store's upload runs on a thread
    # of its own, so a local writer's timed flush happens on time while the store hangs.
    root, store = flaky
    monkeypatch.setattr(_remote, "ATTEMPTS", 1)
    monkeypatch.setattr(_remote, "CALL_TIMEOUT", 30.0)
    remote = SummaryWriter(f"{root}/run", flush_secs=0.05)
    store.calls.clear()  # count from here: the uploads after the open
    store.hang.set()
    local = SummaryWriter(tmp_path, flush_secs=0.3, max_queue=1000)
    try:
        remote.add_scalar("loss", 0.0, 0)
        deadline = time.time() + 10
        while not store.calls and time.time() < deadline:  # the upload is now hanging
            time.sleep(0.01)
        assert store.calls
        local.add_scalar("loss", 1.0, 1)
        deadline = time.time() + 5
        while time.time() < deadline and not steps_of(str(tmp_path)):
            time.sleep(0.02)
        assert steps_of(str(tmp_path)) == [1], "the local timed flush waited for the store"
    finally:
        store.release.set()
        store.hang.clear()
        local.close()
        remote.close()


def test_the_store_sink_refuses_a_write_past_its_cap_keeping_none_of_it(
    flaky, fast_retries, monkeypatch
) -> None:
    monkeypatch.setattr(_remote, "MAX_PENDING_BYTES", 100)
    root, store = flaky
    sink = _remote.RemoteSink(f"{root}/run")
    sink.write(frame(b"x" * 50))  # 66 bytes pending
    store.fail_next = 10**9
    with pytest.raises(WriterFailedError):
        sink.sync()  # the store fails: the 66 bytes stay pending
    with pytest.raises(WriterFailedError, match=r"66 bytes wait .* memory cap of 100") as info:
        sink.write(frame(b"y" * 50))  # 66 more would hold 132 > 100
    assert isinstance(info.value.__cause__, OSError)  # the store's own error
    assert info.value.path and info.value.path.startswith(root)
    store.fail_next = 0
    sink.close()
    records = [r.event for r in tbwrite.iter_events(f"{root}/run", raw=True)]
    assert records[1:] == [b"x" * 50]  # the refused write left nothing


def test_the_store_sink_asks_for_a_sync_once_an_upload_is_worth_it(mem, monkeypatch) -> None:
    monkeypatch.setattr(_remote, "UPLOAD_BYTES", 100)
    sink = _remote.RemoteSink(f"{mem}/run")
    assert sink.write(frame(b"x" * 50)) is Outcome.NOTHING  # 66 bytes pending
    assert sink.write(frame(b"y" * 50)) is Outcome.SYNC_SOON  # 132: an upload's worth
    assert sink.sync() is Outcome.NOTHING  # a store sink never begins a new file
    assert sink.write(frame(b"z")) is Outcome.NOTHING
    sink.close()


def test_the_store_sink_waits_for_a_slow_store_rather_than_refuse(flaky, monkeypatch) -> None:
    monkeypatch.setattr(_remote, "MAX_PENDING_BYTES", 100)
    root, store = flaky
    sink = _remote.RemoteSink(f"{root}/run")
    store.calls.clear()
    sink.write(frame(b"x" * 50))
    sink.write(frame(b"y" * 50))  # past the cap, the store answers: uploaded here first
    assert len(store.calls) == 1
    sink.close()
    records = [r.event for r in tbwrite.iter_events(f"{root}/run", raw=True)]
    assert records[1:] == [b"x" * 50, b"y" * 50]


def test_cap_refuses_records_and_close_returns(flaky, fast_retries, monkeypatch) -> None:
    monkeypatch.setattr(_remote, "MAX_PENDING_BYTES", 3000)
    monkeypatch.setattr(_remote, "UPLOAD_BYTES", 1000)
    root, store = flaky
    run = f"{root}/run"
    w = SummaryWriter(run, flush_secs=3600, max_queue=1)
    store.calls.clear()  # count from here: the uploads after the open
    store.fail_next = 10**9
    refused = None
    for i in range(1000):
        try:
            w.add_scalar("loss", float(i), i)
        except WriterFailedError as err:
            if "was not kept" in str(err):
                refused = (i, err)
                break
    assert refused is not None, "the writer never refused a record"
    i, err = refused
    pending = re.search(r"(\d+) bytes wait to be uploaded", str(err))
    assert pending is not None, str(err)
    assert int(pending[1]) < 3000 + 1000  # the cap, and at most one upload's worth over it
    with pytest.raises(WriterFailedError):
        w.close()
    w.close()  # harmless
    assert steps_of(run) == []


def test_store_recovery_after_cap_accepts_again(flaky, fast_retries, monkeypatch) -> None:
    monkeypatch.setattr(_remote, "MAX_PENDING_BYTES", 3000)
    monkeypatch.setattr(_remote, "UPLOAD_BYTES", 1000)
    root, store = flaky
    run = f"{root}/run"
    w = SummaryWriter(run, flush_secs=3600, max_queue=1)
    store.calls.clear()  # count from here: the uploads after the open
    store.fail_next = 10**9
    kept = []
    for i in range(300):
        try:
            w.add_scalar("loss", float(i), i)
            kept.append(i)
        except WriterFailedError:
            pass
    store.fail_next = 0
    w.flush()  # uploads the kept records (and forgets the background error)
    w.add_scalar("loss", 1000.0, 1000)
    w.close()
    assert steps_of(run) == kept + [1000]


def test_local_paths_do_not_import_fsspec(tmp_path) -> None:
    code = (
        "import sys, tbwrite\n"
        f"w = tbwrite.SummaryWriter({str(tmp_path)!r}); w.add_scalar('x', 1, 1); w.close()\n"
        f"w = tbwrite.SummaryWriter('file://' + {str(tmp_path / 'f')!r}); w.close()\n"
        f"assert list(tbwrite.read_scalars({str(tmp_path)!r})) == ['.']\n"
        "assert 'fsspec' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert os.path.isdir(tmp_path / "f")


def test_add_embedding_on_a_url(mem) -> None:
    import numpy as np
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    mat = np.arange(12.0).reshape(4, 3) / 8
    labels = np.zeros((4, 3, 2, 2), dtype=np.uint8)
    with SummaryWriter(f"{mem}/run") as w:
        w.add_embedding(mat, metadata=list("abcd"), label_img=labels, global_step=2, tag="e")
        w.add_embedding(mat[:, :2], global_step=3)
    with SummaryWriter(f"{mem}/run") as w:  # a restarted writer keeps the earlier entries
        w.add_embedding(mat * 2, global_step=3)  # and replaces the one it logs again
    files = objects(f"{mem}/run/00002/e")
    assert sorted(files) == ["metadata.tsv", "sprite.png", "tensors.tsv"]

    def cat(rel):
        fs, path = fsspec.core.url_to_fs(f"{mem}/run/{rel}")
        return fs.cat_file(path)

    rows = [
        [float(x) for x in line.split("\t")]
        for line in files["tensors.tsv"].decode().split("\n")[:-1]
    ]
    assert rows == mat.tolist()
    assert files["metadata.tsv"] == b"a\nb\nc\nd\n"
    config = text_format.Parse(cat("projector_config.pbtxt").decode(), ProjectorConfig())
    assert [(e.tensor_name, e.tensor_path) for e in config.embeddings] == [
        ("e:00002", "00002/e/tensors.tsv"),
        ("default:00003", "00003/default/tensors.tsv"),
    ]
    assert config.embeddings[0].sprite.image_path == "00002/e/sprite.png"
    replaced = cat("00003/default/tensors.tsv").decode().split("\n")[0]
    assert [float(x) for x in replaced.split("\t")] == (mat[0] * 2).tolist()


def test_is_remote() -> None:
    assert (
        is_remote("s3://b/x")
        and is_remote("gs://b")
        and is_remote("memory://x")
        and is_remote("simplecache::s3://b/x") is False
    )
    assert not is_remote("/tmp/x") and not is_remote("file:///tmp/x")
    assert not is_remote("runs/a://b")


# -- a real S3-protocol server (moto) ---------------------------------------------------

LOGGER = r"""
import os, sys, time
import tbwrite
url, n = sys.argv[1], int(sys.argv[2])
w = tbwrite.SummaryWriter(url, flush_secs=3600)
out = os.fdopen(1, "w", buffering=1)
step = 0
while True:
    w.add_scalar("loss", step / 2, step)
    if step % 25 == 24:
        w.flush()
        out.write(f"{step}\n")
    step += 1
    if n and step == n:
        break
    if step % 10 == 0:
        time.sleep(0.001)
if n:
    w.close()
"""


@pytest.mark.server
def test_s3_tensorboard_reads_while_open_and_after_close(moto_s3, tb_server, monkeypatch) -> None:
    # TensorBoard reads a segment as it grows, then moves on to the next one.
    monkeypatch.setattr(_remote, "SEGMENT_UPLOADS", 3)
    run_url = "s3://tbwrite/e2e/logs/live"
    w = SummaryWriter(run_url, flush_secs=3600)
    try:
        for i in range(50):
            w.add_scalar("loss", i * 0.5, i, walltime=W0 + i)
        w.flush()
        tb = tb_server(
            "s3://tbwrite/e2e/logs",
            load_fast=False,
            env={
                "S3_ENDPOINT": moto_s3.url,
                "AWS_ENDPOINT_URL": None,
                "FSSPEC_S3_ENDPOINT_URL": None,
            },
        )
        got = tb.wait_for(
            lambda: (
                "live" in tb.runs()
                and len(tb.scalars("live", "loss")) == 50
                and tb.scalars("live", "loss")
            ),
            timeout=60,
            what="50 points",
        )
        assert got == [[W0 + i, i, i * 0.5] for i in range(50)]
        for i in range(50, 80):
            w.add_scalar("loss", i * 0.5, i, walltime=W0 + i)
        w.add_text("note", "still *open*", 79, walltime=W0 + 79)
        w.flush()
        got = tb.wait_for(
            lambda: len(tb.scalars("live", "loss")) == 80 and tb.scalars("live", "loss"),
            timeout=60,
            what="80 points",
        )
        assert got == [[W0 + i, i, i * 0.5] for i in range(80)]
        w.add_scalar("loss", 100.0, 100, walltime=W0 + 100)
    finally:
        w.close()
    got = tb.wait_for(
        lambda: len(tb.scalars("live", "loss")) == 81 and tb.scalars("live", "loss"),
        timeout=60,
        what="81 points",
    )
    assert got[-1] == [W0 + 100, 100, 100.0]
    # One PUT per upload: segment 0 takes the header and two flushes, segment 1 the close.
    puts = moto_s3.puts("/tbwrite/e2e/logs/live/")
    keys = [p for p, _ in puts]
    assert all(s == 200 for _, s in puts)
    assert len(keys) == 4 and keys[0] == keys[1] == keys[2] < keys[3]
    # TensorBoard only read.
    assert [p for p in moto_s3.puts("/tbwrite/e2e/") if p[0] not in keys] == []


@pytest.mark.server
def test_s3_segments_bound_objects_and_upload_bytes(moto_s3, monkeypatch) -> None:
    # tensorboardX re-uploads its whole file at each flush (bytes grow with the square of
    # the flushes); one object per flush makes TensorBoard's loader slow (it re-lists the
    # run at each object). A segment takes SEGMENT_UPLOADS flushes, then the next one starts.
    monkeypatch.setattr(_remote, "SEGMENT_UPLOADS", 8)
    client = moto_s3.client()
    client.create_bucket(Bucket="versioned")
    client.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    run_url = "s3://versioned/run"
    flushes, per_flush = 40, 50
    w = SummaryWriter(run_url, flush_secs=3600)
    for k in range(flushes):
        for i in range(per_flush):
            w.add_scalar("loss", float(i), k * per_flush + i, walltime=W0)
        w.flush()
    w.close()
    puts = moto_s3.puts("/versioned/run/")
    assert len(puts) == flushes + 1 and all(s == 200 for _, s in puts)
    versions: dict[str, list[bytes]] = {}
    pages = client.get_paginator("list_object_versions").paginate(Bucket="versioned")
    for page in pages:
        for v in sorted(page.get("Versions", []), key=lambda v: v["LastModified"]):
            body = client.get_object(Bucket="versioned", Key=v["Key"], VersionId=v["VersionId"])
            versions.setdefault(v["Key"], []).append(body["Body"].read())
    assert len(versions) == -(-(flushes + 1) // 8) == 6
    for key, bodies in versions.items():
        bodies.sort(key=len)
        assert all(b.startswith(a) for a, b in zip(bodies, bodies[1:])), key
    records = record_bytes(run_url)
    assert sum(len(bodies[-1]) for bodies in versions.values()) == records
    uploaded = sum(len(b) for bodies in versions.values() for b in bodies)
    # At most (SEGMENT_UPLOADS + 1) / 2 times the records when every flush is alike.
    assert records < uploaded <= 4.5 * records
    print(
        f"\n{flushes} flushes of {per_flush} scalars: {len(versions)} objects, "
        f"{uploaded / records:.2f}x the records uploaded"
    )
    assert steps_of(run_url) == list(range(flushes * per_flush))


@pytest.mark.server
def test_s3_killed_writer_keeps_what_was_flushed(moto_s3) -> None:
    url = "s3://tbwrite/killed/run"
    env = {**os.environ, **moto_s3.env}
    proc = subprocess.Popen(
        [sys.executable, "-c", LOGGER, url, "0"], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        lines = []
        while len(lines) < 8:
            line = proc.stdout.readline()
            assert line, "the writer died"
            lines.append(int(line))
        proc.send_signal(signal.SIGKILL)
        rest = proc.stdout.read()
    finally:
        proc.kill()
        proc.wait()
    flushed = [*lines, *(int(x) for x in rest.split())][-1]
    steps = steps_of(url)
    assert steps == list(range(len(steps))), "steps missing, out of order or twice"
    assert len(steps) > flushed


@pytest.mark.server
def test_s3_missing_bucket_fails_at_once(moto_s3) -> None:
    with pytest.raises(WriterFailedError, match="bucket") as info:
        SummaryWriter("s3://no-such-bucket-here/run")
    assert isinstance(info.value.__cause__, FileNotFoundError)


@pytest.mark.server
def test_s3_dropped_server_surfaces_and_recovers(monkeypatch) -> None:
    # A server of our own, stopped and restarted under the writer.
    from motoserver import MotoServer

    monkeypatch.setattr(_remote, "ATTEMPTS", 2)
    monkeypatch.setattr(_remote, "BACKOFF", 0.05)
    monkeypatch.setattr(_remote, "CALL_TIMEOUT", 10.0)
    with MotoServer() as s3:
        for k, v in s3.env.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setitem(
            fsspec.config.conf,
            "s3",
            {
                "endpoint_url": s3.url,
                "config_kwargs": {
                    "connect_timeout": 2,
                    "read_timeout": 2,
                    "retries": {"max_attempts": 1},
                },
            },
        )
        s3.create_bucket("dropped")
        url = "s3://dropped/run"
        w = SummaryWriter(url, flush_secs=3600)
        w.add_scalar("loss", 0.0, 0)
        w.flush()
        port = s3.port
        s3.stop()
        w.add_scalar("loss", 1.0, 1)
        t0 = time.monotonic()
        with pytest.raises(WriterFailedError) as info:
            w.flush()
        assert info.value.__cause__ is not None
        assert time.monotonic() - t0 < 120  # bounded, whatever the machine's speed
        s3.start(port=port)  # back, empty (moto keeps nothing): the bucket again
        s3.create_bucket("dropped")
        w.add_scalar("loss", 2.0, 2)
        w.close()
        # The new server started empty; the segment is uploaded whole again, so step 0
        # (lost with the old server) is back too.
        assert steps_of(url) == [0, 1, 2]


@pytest.mark.server
def test_s3_writer_left_open_is_closed_at_exit(moto_s3) -> None:
    # At exit, asyncio stores (s3fs) can no longer resolve names once concurrent.futures
    # has shut down; tbwrite closes remote writers before that.
    url = "s3://tbwrite/atexit/run"
    code = (
        "import tbwrite\n"
        f"w = tbwrite.SummaryWriter({url!r}, flush_secs=3600)\n"
        "w.add_hparams({'lr': 0.1}, {})\n"
        "for i in range(10):\n"
        "    w.add_scalar('loss', i, i)\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **moto_s3.env}, check=True, timeout=120
    )
    assert steps_of(url) == list(range(10))
    (row,) = tbwrite.read_hparams(url)
    assert row.status == "SUCCESS"


@pytest.mark.server
def test_s3_embedding_shows_in_tensorboards_projector(moto_s3, tb_server) -> None:
    import numpy as np

    root = f"s3://tbwrite/emb-{uuid.uuid4().hex[:8]}"
    mat = np.arange(15.0).reshape(5, 3) / 4
    labels = np.arange(5 * 3 * 2 * 2, dtype=np.uint8).reshape(5, 3, 2, 2)
    with SummaryWriter(f"{root}/run") as w:
        w.add_scalar("loss", 1.0, 0)  # the projector lists runs the loader knows
        w.add_embedding(mat, metadata=list("abcde"), label_img=labels, global_step=1, tag="w")
    tb = tb_server(
        root,
        load_fast=False,
        env={"S3_ENDPOINT": moto_s3.url, "AWS_ENDPOINT_URL": None, "FSSPEC_S3_ENDPOINT_URL": None},
    )
    tb.wait_for(
        lambda: tb.get_json("/data/plugin/projector/runs") == ["run"],
        timeout=60,
        what="projector run",
    )
    info = tb.get_json("/data/plugin/projector/info", run="run")
    ((entry),) = info["embeddings"]
    assert entry["tensorName"] == "w:00001" and entry["tensorShape"] == [5, 3]
    assert entry["sprite"]["singleImageDim"] == [2, 2]
    from tbserver import TensorBoardHTTPError

    with pytest.raises(TensorBoardHTTPError, match="does not exist"):
        tb.get("/data/plugin/projector/tensor", run="run", name="w:00001")
    # TensorBoard 2.21's projector resolves each file's path with os.path.realpath, which
    # turns s3://... into a local path: it lists the embeddings of an s3:// log dir but
    # cannot load their files, whoever wrote them. So the files are read here as the
    # plugin reads them (its gfile with S3_ENDPOINT, its TSV parser), at their URLs.
    code = f"""
import json, sys
from tensorboard.compat import tf
from tensorboard.plugins.projector import projector_plugin as pp
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig
from google.protobuf import text_format
run = "{root}/run"
with tf.io.gfile.GFile(run + "/projector_config.pbtxt", "r") as f:
    config = text_format.Parse(f.read(), ProjectorConfig())
(e,) = config.embeddings
tensor = pp._read_tensor_tsv_file(run + "/" + e.tensor_path)
with tf.io.gfile.GFile(run + "/" + e.metadata_path, "r") as f:
    meta = f.read()
with tf.io.gfile.GFile(run + "/" + e.sprite.image_path, "rb") as f:
    sprite = f.read()
print(json.dumps([e.tensor_name, tensor.tolist(), meta, sprite[:4].hex()]))
"""
    env = {**os.environ, "S3_ENDPOINT": moto_s3.url}
    env.pop("AWS_ENDPOINT_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout
    name, tensor, meta, sprite_head = json.loads(out.splitlines()[-1])
    assert name == "w:00001"
    assert tensor == mat.astype(np.float32).tolist()
    assert meta.splitlines() == list("abcde")
    assert sprite_head == "89504e47"  # PNG


def test_finished_segments_are_those_with_a_later_one_of_their_writer() -> None:
    a = "s3://b/run/events.out.tfevents.1700000000.h.o.st.12.00000003.a1b2c3"
    b = "s3://b/run/events.out.tfevents.1700000001.host.13.00000004.ffffff"
    urls = [f"{a}.00000000", f"{a}.00000001.v2", f"{a}.00000002", f"{b}.00000000"]
    # b's segment 0 sorts after a's, but a's segment 2 may still grow; so may b's 0.
    assert _remote.finished_segments(urls) == {f"{a}.00000000", f"{a}.00000001.v2"}
    assert _remote.finished_segments([]) == set()


def test_follow_reads_a_segment_that_grows_after_another_writer_started(mem) -> None:
    # Two writers in one run: the first one's segment sorts before the second's and still
    # grows; a follower must keep reading it.
    run = f"{mem}/run"
    w1 = SummaryWriter(run, flush_secs=3600)
    w2 = SummaryWriter(run, flush_secs=3600)
    events = tbwrite.iter_events(run, follow=True, timeout=30, poll_interval=0.01)
    try:
        w2.add_scalar("b", 1.0, 0)
        w2.flush()
        seen = []
        for rec in events:
            if rec.event.HasField("summary"):
                seen.append(rec.event.summary.value[0].tag)
                if seen == ["b"]:
                    w1.add_scalar("a", 2.0, 0)
                    w1.flush()
                elif "a" in seen:
                    break
        assert seen == ["b", "a"]
    finally:
        events.close()
        w1.close()
        w2.close()


def test_a_run_s_objects_are_fetched_at_once(mem, monkeypatch) -> None:
    # Reading a run of many store objects is mostly waiting on the network: the reader
    # fetches the next ones while it reads one. Two fetches must be under way together.
    import tbwrite._reading.records as records

    monkeypatch.setattr(_remote, "SEGMENT_UPLOADS", 2)
    run = f"{mem}/run"
    with SummaryWriter(run, flush_secs=3600) as w:
        for k in range(8):
            w.add_scalar("loss", float(k), k)
            w.flush()
    assert len(objects(run)) >= 4
    together = threading.Barrier(2, timeout=30)
    calls = itertools.count()
    real = records.open_read

    def open_read(path):
        if next(calls) < 2:  # the first two fetches wait for each other: a broken barrier
            together.wait()  # (one fetch at a time) fails the read
        return real(path)

    monkeypatch.setattr(records, "open_read", open_read)
    assert steps_of(run) == list(range(8))


LIVE_LOGGER = r"""
import sys
import tbwrite
from tbwrite._sinks import remote
remote.SEGMENT_UPLOADS = 4  # many segments while the readers read
url, n = sys.argv[1], int(sys.argv[2])
with tbwrite.SummaryWriter(url, flush_secs=0.05) as w:
    for step in range(n):
        w.add_scalar("loss", step / 2, step)
        if step % 20 == 19:
            w.flush()
            print(step, flush=True)
"""


@pytest.mark.server
@pytest.mark.timeout(300)
def test_s3_live_run_read_and_followed_from_several_threads(moto_s3) -> None:
    # Another process writes a run while two threads read it whole over and over and a
    # third follows it: none of them may ever see an error from a stale listing, and what
    # is read is a prefix of what was written, in order.
    url = "s3://tbwrite/live-threads/run"
    n = 1000
    env = {**os.environ, **moto_s3.env}
    proc = subprocess.Popen(
        [sys.executable, "-c", LIVE_LOGGER, url, str(n)], stdout=subprocess.PIPE, env=env
    )
    errors: list[BaseException] = []
    stop = threading.Event()

    def read_loop() -> None:
        try:
            while not stop.is_set():
                try:
                    runs = tbwrite.read_scalars(url)
                except FileNotFoundError as err:
                    if "no such file" in str(err) and not tbwrite.find_runs(url.rsplit("/", 1)[0]):
                        continue  # the run does not exist yet
                    raise
                steps = [int(s) for tags in runs.values() for s in tags["loss"].steps]
                assert steps == list(range(len(steps)))
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    followed: list[int] = []

    def follow() -> None:
        try:
            for rec in tbwrite.iter_events(url, follow=True, timeout=60, poll_interval=0.02):
                if rec.event.HasField("summary"):
                    followed.append(rec.event.step)
                    if len(followed) == n:
                        return
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    assert proc.stdout is not None
    assert proc.stdout.readline()  # the run exists: its first flush is done
    threads = [threading.Thread(target=read_loop) for _ in range(2)]
    threads.append(threading.Thread(target=follow))
    for t in threads:
        t.start()
    try:
        assert proc.wait(timeout=240) == 0
        threads[2].join(timeout=120)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        proc.kill()
    assert errors == []
    assert followed == list(range(n))
    assert steps_of(url) == list(range(n))
