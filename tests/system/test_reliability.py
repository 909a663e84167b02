"""Guarantees under crashes, faults and concurrency, proven.

- SIGKILL at random moments: every file is readable up to its last complete record, by
  TensorBoard's loaders and tbwrite's decoder; every step logged before the last completed
  flush() is there.
- Disk full (a real tiny tmpfs) and a file-size limit (RLIMIT_FSIZE, a real short write),
  and injected EIO: the error reaches the caller, chained with `from`; the file holds only
  whole records; nothing hangs; close() returns; buffered records are kept and written
  once space is back.
- Threads, fork, spawn, and writers created in one directory in one second.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import subprocess
import sys
import threading
import time
import uuid
import warnings

import pytest
from crashlib import Trials, check_trial, decode_file
from readback import accumulator, event_files, raw_events
from tbserver import TensorBoardServer

import tbwrite
from tbwrite import SummaryWriter, WriterFailedError
from tbwrite._proto import event_pb2
from tbwrite._sinks import local as eventfile_module

CRASH_TRIALS = 50


def _scalar_steps(path) -> list[int]:
    return [
        e.step
        for f in event_files(path)
        for e in raw_events(f)
        for v in e.summary.value
        if v.tag == "loss"
    ]


# -- crashes ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crashed_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("crashes")
    results = {}
    with Trials() as trials:
        for seed in range(CRASH_TRIALS):
            logdir = root / f"trial{seed:02d}"
            logdir.mkdir()
            results[logdir] = trials.run(str(logdir), seed)
    return root, results


def test_sigkill_trials_lose_only_unflushed(crashed_runs) -> None:
    _, results = crashed_runs
    assert len(results) == CRASH_TRIALS
    for result in results.values():
        check_trial(result)
    # The trials did kill mid-flight: some flushed, some steps were buffered and lost.
    assert sum(r.flushed_step >= 0 for r in results.values()) >= CRASH_TRIALS // 2


def test_sigkill_files_read_by_tensorboard_python_loader(crashed_runs) -> None:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    _, results = crashed_runs
    for i, (logdir, result) in enumerate(results.items()):
        # TensorBoard's file loader (CRCs checked, events parsed, in pure Python: a quarter
        # of a second per trial) on every fifth trial and on every trial whose file ends in
        # a cut record; tbwrite's decoder checked them all (Trials.run) ...
        if i % 5 and not result.trailing_bytes:
            continue
        got = [
            e.step
            for f in result.files
            for e in EventFileLoader(f).Load()
            for v in e.summary.value
            if v.tag == "loss"
        ]
        assert got == result.steps, logdir
        if i % 10 == 0:  # ... and the whole EventAccumulator on every tenth
            acc = accumulator(logdir)
            got = [e.step for e in acc.Scalars("loss")] if "loss" in acc.Tags()["scalars"] else []
            assert got == result.steps, logdir


@pytest.mark.server
def test_sigkill_files_read_by_rust_loader(crashed_runs) -> None:
    root, results = crashed_runs
    want = {logdir.name: len(r.steps) for logdir, r in list(results.items())[:12] if r.steps}
    sub = root / "rust"
    sub.mkdir()
    for name in want:
        os.symlink(root / name, sub / name)
    with TensorBoardServer(sub, load_fast=True) as tb:

        def counts():
            got = {run: len(tb.scalars(run, "loss")) for run in want}
            return got if got == want else None

        tb.wait_for(counts, timeout=60, what=f"scalar counts {want}")


# -- faults ---------------------------------------------------------------------------------


FSIZE_CHILD = r"""
import errno, os, resource, signal, sys
import tbwrite
limit = int(sys.argv[2])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # get EFBIG from write() instead of dying
w = tbwrite.SummaryWriter(sys.argv[1], max_queue=16)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
errors = []
for step in range(5000):
    try:
        w.add_scalar("loss", step / 2, step)
    except tbwrite.WriterFailedError as err:
        errors.append((step, type(err.__cause__).__name__, err.__cause__.errno))
        if len(errors) == 3:
            break
try:
    w.close()
    print("close ok")
except tbwrite.WriterFailedError as err:
    print("close raised", err.__cause__.errno)
print("errors", errors)
"""


def test_file_size_limit_short_write_keeps_whole_records(tmp_path) -> None:
    limit = 4000  # not a record boundary: the kernel writes part of a record, then EFBIG
    out = subprocess.run(
        [sys.executable, "-c", FSIZE_CHILD, str(tmp_path), str(limit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "errors [(" in out.stdout and "'OSError', 27)" in out.stdout  # EFBIG, chained
    assert "close raised 27" in out.stdout  # the buffered records could not be written
    (path,) = event_files(tmp_path)
    records, pending = decode_file(path)
    assert pending == 0, "the short write's partial record was cut off"
    assert os.path.getsize(path) <= limit
    steps = _scalar_steps(tmp_path)
    assert steps == list(range(len(steps))) and len(steps) > 50


def _mount_tmpfs(path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    out = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    return out.returncode == 0


def test_disk_full_then_space_back(tmp_path) -> None:
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if not _mount_tmpfs(mnt, "256k"):
        pytest.skip(
            "mounting a tmpfs needs root and CAP_SYS_ADMIN; "
            "the RLIMIT_FSIZE test covers short writes"
        )
    try:
        filler = mnt / "filler"
        w = SummaryWriter(mnt / "run", max_queue=50, flush_secs=3600)
        # Leave ~20 kB free, then log until the disk is full.
        with open(filler, "wb") as f:
            f.write(b"\0" * (256 * 1024 - 24 * 1024))
        failed_at = None
        for step in range(20000):
            try:
                w.add_scalar("loss", step / 2, step)
            except WriterFailedError as err:
                assert isinstance(err.__cause__, OSError) and err.__cause__.errno == errno.ENOSPC
                assert err.path and err.path.startswith(str(mnt))
                failed_at = step
                break
        assert failed_at is not None, "the disk never filled"
        (path,) = event_files(mnt / "run")
        _, pending = decode_file(path)
        assert pending == 0
        on_disk = _scalar_steps(mnt / "run")
        assert on_disk == list(range(len(on_disk)))
        # The writer stays usable and loses nothing of the calls that returned: free space,
        # flush, all their steps are there. The call that raised kept nothing (the caller
        # may log it again).
        with pytest.raises(WriterFailedError):
            w.flush()
        filler.unlink()
        w.add_scalar("loss", (failed_at + 1) / 2, failed_at + 1)
        w.close()
        assert _scalar_steps(mnt / "run") == [*range(failed_at), failed_at + 1]
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


class FailingWrite:
    """os.write replacement: fails with `err` while `failing` is set."""

    def __init__(self, err: int) -> None:
        self.err = err
        self.failing = threading.Event()
        self.real = os.write
        self.calls = 0

    def __call__(self, fd: int, data) -> int:
        self.calls += 1
        if self.failing.is_set():
            raise OSError(self.err, os.strerror(self.err))
        return self.real(fd, data)


def test_background_flush_error_surfaces_at_next_call(tmp_path, monkeypatch) -> None:
    fake = FailingWrite(errno.EIO)
    monkeypatch.setattr(eventfile_module.os, "write", fake)
    w = SummaryWriter(tmp_path, max_queue=1000, flush_secs=0.05)
    w.add_scalar("loss", 0.0, 0)
    fake.failing.set()
    w.add_scalar("loss", 0.5, 1)
    deadline = time.time() + 10
    while fake.calls < 2 and time.time() < deadline:  # the flusher thread tried and failed
        time.sleep(0.01)
    assert fake.calls == 2  # the file_version record, then the failed background flush
    with pytest.raises(WriterFailedError, match="background") as info:
        w.add_scalar("loss", 1.0, 2)
    assert isinstance(info.value.__cause__, OSError) and info.value.__cause__.errno == errno.EIO
    fake.failing.clear()
    w.add_scalar("loss", 1.0, 2)  # usable again; the error was reported once
    # No flush(): the flusher thread writes the kept records and the new one, once.
    deadline = time.time() + 10
    while _scalar_steps(tmp_path) != [0, 1, 2] and time.time() < deadline:
        time.sleep(0.02)
    assert _scalar_steps(tmp_path) == [0, 1, 2], (
        "records buffered during the fault are written once"
    )
    w.close()


def test_close_returns_when_the_disk_fails(tmp_path, monkeypatch) -> None:
    fake = FailingWrite(errno.EIO)
    monkeypatch.setattr(eventfile_module.os, "write", fake)
    w = SummaryWriter(tmp_path, max_queue=1000)
    w.add_scalar("loss", 0.0, 0)
    fake.failing.set()
    done = threading.Event()
    errors = []

    def close() -> None:
        try:
            w.close()
        except WriterFailedError as err:
            errors.append(err)
        done.set()

    threading.Thread(target=close, daemon=True).start()
    assert done.wait(10), "close() hung"
    assert len(errors) == 1 and errors[0].__cause__.errno == errno.EIO
    w.close()  # harmless
    with pytest.raises(tbwrite.WriterClosedError):
        w.add_scalar("loss", 1.0, 1)


# -- concurrency ----------------------------------------------------------------------------


def _spawn_worker(logdir: str, rank: int) -> str:
    with tbwrite.SummaryWriter(logdir) as w:
        for step in range(200):
            w.add_scalar("loss", rank * 1000 + step, step)
        return os.path.basename(w._run.main.path)


def test_spawned_processes_share_a_logdir(tmp_path) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        names = pool.starmap(_spawn_worker, [(str(tmp_path), r) for r in range(6)])
    assert len(set(names)) == 6 and sorted(names) == sorted(
        os.path.basename(f) for f in event_files(tmp_path)
    )
    values = sorted(
        int(v.simple_value)
        for f in event_files(tmp_path)
        for e in raw_events(f)
        for v in e.summary.value
    )
    assert values == sorted(r * 1000 + s for r in range(6) for s in range(200))


def test_many_writers_same_second_same_dir(tmp_path) -> None:
    writers = [SummaryWriter(tmp_path) for _ in range(50)]
    stamps = {os.path.basename(w._run.main.path).split(".")[3] for w in writers}
    for w in writers:
        w.close()
    assert len(event_files(tmp_path)) == 50
    assert len(stamps) <= 2  # they really were created within a second or two


def test_threads_flush_and_close_race(tmp_path) -> None:
    w = SummaryWriter(tmp_path, max_queue=3, flush_secs=0.01)
    stop = threading.Event()
    logged, refused = [], []
    # close() comes once every thread is well under way (each logger 300 points, the
    # flusher 30 flushes); the loggers go on until the closed writer refuses them
    under_way = threading.Barrier(5 + 1)

    def log(k: int) -> None:
        i = 0
        while True:
            try:
                w.add_scalar(f"t{k}", float(i), i)
            except tbwrite.WriterClosedError:
                refused.append(k)
                return
            logged.append((k, i))
            i += 1
            if i == 300:
                under_way.wait(30)

    def flusher() -> None:
        n = 0
        while not stop.is_set():
            w.flush()
            n += 1
            if n == 30:
                under_way.wait(30)

    threads = [threading.Thread(target=log, args=(k,), daemon=True) for k in range(4)]
    threads.append(threading.Thread(target=flusher, daemon=True))
    for t in threads:
        t.start()
    under_way.wait(30)
    w.close()
    stop.set()
    for t in threads:
        t.join(10)
        assert not t.is_alive()
    assert sorted(refused) == [0, 1, 2, 3]
    acc = accumulator(tmp_path)
    for k in range(4):
        assert [int(e.step) for e in acc.Scalars(f"t{k}")] == [i for kk, i in logged if kk == k]


# -- the decoder under fuzzing ------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tbwrite import NEED_DATA, CorruptRecordError, RecordDecoder, frame  # noqa: E402


def _drain(dec: RecordDecoder) -> list[bytes]:
    out = []
    while True:
        try:
            rec = dec.next_record()
        except CorruptRecordError as err:
            assert err.offset == dec.offset
            dec.skip_byte()
            continue
        if rec is NEED_DATA:
            return out
        out.append(rec)


@settings(max_examples=300)
@given(st.binary(max_size=2000), st.integers(1, 50))
def test_fuzz_decoder_arbitrary_bytes(data: bytes, chunk: int) -> None:
    # Records, NEED_DATA or CorruptRecordError; never anything else; memory bounded by input.
    whole = RecordDecoder()
    whole.receive_data(data)
    a = _drain(whole)
    pieces = RecordDecoder()
    b = []
    for i in range(0, len(data), chunk):
        pieces.receive_data(data[i : i + chunk])
        b.extend(_drain(pieces))
        assert pieces.pending <= len(data)
    assert a == b
    assert sum(len(r) for r in a) <= len(data)


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=10), st.data())
def test_fuzz_decoder_corrupted_stream_recovers_later_records(payloads, data) -> None:
    stream = bytearray(b"".join(frame(p) for p in payloads))
    pos = data.draw(st.integers(0, len(stream) - 1))
    stream[pos] ^= data.draw(st.integers(1, 255))
    dec = RecordDecoder()
    dec.receive_data(bytes(stream))
    got = _drain(dec)
    while dec.pending:
        # The stream is complete, so a header claiming more bytes than are left is a false
        # one found while resynchronising (any 8-byte payload followed by its own CRC looks
        # like a valid length header): skip it, as a lenient reader at end of file does.
        dec.skip_byte()
        got.extend(_drain(dec))
    # Every record that does not contain the flipped byte is still found, in order.
    offsets, start = [], 0
    for p in payloads:
        offsets.append((start, start + len(frame(p)), p))
        start += len(frame(p))
    intact = [p for s, e, p in offsets if not s <= pos < e]
    it = iter(got)
    assert all(any(p == g for g in it) for p in intact)


def test_event_parse_of_random_payload_is_protobuf_error_only() -> None:
    from google.protobuf.message import DecodeError

    rnd = uuid.uuid4().bytes * 10
    try:
        event_pb2.Event.FromString(rnd)
    except DecodeError:
        pass


# -- the reader under fuzzing -----------------------------------------------------------------

from tbwrite._format.fast_scalars import ScalarEncoder  # noqa: E402
from tbwrite._format.wire import file_version_event  # noqa: E402


def _read_everything(root) -> None:
    tbwrite.read_scalars(root)
    tbwrite.read_histograms(root)
    tbwrite.read_text(root)
    tbwrite.read_hparams(root)
    list(tbwrite.iter_events(root))


def _only_our_error(root) -> None:
    try:
        _read_everything(root)
    except CorruptRecordError as err:
        assert err.path is not None and err.offset >= 0


_enc = ScalarEncoder()
_VALID_EVENT = _enc.encode("loss", 0.5, 3, 1.5)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_fuzz_reader_arbitrary_file(tmp_path_factory, data: bytes) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "events.out.tfevents.1.fuzz").write_bytes(data)
    _only_our_error(root)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=200),
            st.just(_VALID_EVENT),
            st.builds(
                lambda b, i: _VALID_EVENT[:i] + b + _VALID_EVENT[i:],
                st.binary(max_size=8),
                st.integers(0, len(_VALID_EVENT)),
            ),
        ),
        max_size=8,
    )
)
def test_fuzz_reader_payloads_with_valid_crcs(tmp_path_factory, payloads: list[bytes]) -> None:
    # Framing is intact, the payloads are arbitrary or damaged scalar events: the reader's
    # own fast scalar parser and protobuf both see them. Parsed or our error, nothing else.
    root = tmp_path_factory.mktemp("fuzzp")
    (root / "events.out.tfevents.1.fuzz").write_bytes(
        frame(file_version_event(1.0)) + b"".join(frame(p) for p in payloads)
    )
    _only_our_error(root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        runs = tbwrite.read_scalars(root, on_corrupt="skip")
    intact = sum(p == _VALID_EVENT for p in payloads)
    assert len(runs.get(".", {}).get("loss", ())) >= intact


def _summary_record(tag: str, plugin: str, content: bytes, tensor=None) -> bytes:
    from tbwrite._format.wire import wrap_summary_event
    from tbwrite._proto import summary_pb2

    value = summary_pb2.Summary.Value(tag=tag)
    value.metadata.plugin_data.plugin_name = plugin
    value.metadata.plugin_data.content = content
    if tensor is not None:
        value.tensor.CopyFrom(tensor)
    return frame(wrap_summary_event(2.0, 1, summary_pb2.Summary(value=[value]).SerializeToString()))


def test_found_by_fuzzing_bad_hparams_plugin_data_is_left_out(tmp_path) -> None:
    # atheris found read_hparams raising protobuf's DecodeError on such a record.
    good = tmp_path / "good"
    with SummaryWriter(good) as w:
        w.add_hparams({"lr": 0.1})
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "events.out.tfevents.1.x").write_bytes(
        frame(file_version_event(1.0))
        + _summary_record("_hparams_/session_start_info", "hparams", b"\xff\xff")
    )
    with pytest.warns(RuntimeWarning, match="does not parse"):
        table = tbwrite.read_hparams(tmp_path)
    assert [r.run for r in table] == ["good"]


def test_found_by_fuzzing_undecodable_tensors_are_left_out(tmp_path) -> None:
    # atheris found read_* raising ValueError("unsupported tensor dtype 0").
    from tbwrite._proto import tensor_pb2

    bad_dtype = tensor_pb2.TensorProto(dtype=0, tensor_content=b"1234")
    ragged = tensor_pb2.TensorProto(dtype=2, tensor_content=b"12345")  # not a multiple of 8
    two = tensor_pb2.TensorProto(dtype=2, tensor_content=b"\0" * 16)  # not [k, 3]
    (tmp_path / "events.out.tfevents.1.x").write_bytes(
        frame(file_version_event(1.0))
        + _summary_record("s", "scalars", b"", bad_dtype)
        + _summary_record("h", "histograms", b"", ragged)
        + _summary_record("h2", "histograms", b"", two)
        + _summary_record("t", "text", b"", bad_dtype)
    )
    with pytest.warns(RuntimeWarning, match="does not decode"):
        runs = tbwrite.read_scalars(tmp_path)
    assert runs.get(".", {}) == {}
    with pytest.warns(RuntimeWarning, match="does not decode"):
        assert tbwrite.read_histograms(tmp_path).get(".", {}) == {}
    with pytest.warns(RuntimeWarning, match="does not decode"):
        assert tbwrite.read_text(tmp_path).get(".", {}) == {}
