"""Hang, loss and crash, the slow trials: fork under load, disk full at open and while
logging (a real full tmpfs: needs root), SIGTERM, a slow or silent store.

Every reproduction is bounded in time: children run under a timeout (a hang fails the test
within ~20 s instead of hanging the suite) and repeated trials have a fixed count.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from faultlib import REPO, last_json, run_child, steps

import tbwrite
from tbwrite import SummaryWriter, WriterFailedError

pytestmark = pytest.mark.system


# -- item 1: fork while another thread is inside the writer ---------------------------------

_FORK_CHILD = r"""
import json, os, sys, threading, time
from tbwrite import SummaryWriter
root, trials = sys.argv[1], int(sys.argv[2])
hung = 0
for trial in range(trials):
    w = SummaryWriter(os.path.join(root, f"t{trial}"), max_queue=5, flush_secs=3600)
    stop = threading.Event()

    def busy():
        i = 0
        while not stop.is_set():  # opens a new add_scalars sub-run on every call
            w.add_scalars("m", {f"k{i}": float(i)}, i)
            w.flush()
            i += 1

    t = threading.Thread(target=busy)
    t.start()
    time.sleep(0.02 + 0.003 * trial)
    pid = os.fork()
    if pid == 0:
        try:
            w.add_scalar("child", 1.0, 1)
            w.close()
        finally:
            os._exit(0)
    deadline = time.monotonic() + 3.0
    while True:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            hung += 1
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            break
        time.sleep(0.01)
    stop.set()
    t.join()
    w.close()
print(json.dumps({"hung": hung, "trials": trials}))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_fork_while_another_thread_opens_sub_runs_never_deadlocks_the_child(tmp_path):
    out = last_json(run_child(_FORK_CHILD, tmp_path, 10, timeout=90))
    assert out["hung"] == 0, f"{out['hung']} of {out['trials']} forked children hung in close()"


# -- a small file system that can be filled -------------------------------------------------


class SmallDisk:
    """A 1 MiB tmpfs mounted at ``path`` (root only), filled and freed on demand."""

    def __init__(self, path):
        self.path = str(path)
        os.makedirs(self.path, exist_ok=True)
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", self.path],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs for a real full disk: {proc.stderr.strip()}")
        self._filler = os.path.join(self.path, "filler")

    def fill(self, leave=0):
        """Fill the disk up to ``leave`` bytes (rounded to the page size)."""
        fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        block = b"\0" * 4096
        try:
            while True:
                os.write(fd, block)
        except OSError as err:
            assert err.errno == errno.ENOSPC
        finally:
            os.close(fd)
        if leave:
            size = os.path.getsize(self._filler)
            os.truncate(self._filler, max(0, size - leave))

    def free(self):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._filler)

    def unmount(self):
        subprocess.run(["umount", "-l", self.path], capture_output=True)


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = SmallDisk(tmp_path / "disk")
    try:
        yield disk
    finally:
        disk.unmount()


def _open_fds():
    return len(os.listdir("/proc/self/fd"))


# -- item 4: disk full at open ------------------------------------------------------------


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_disk_full_at_open_leaks_no_fd_and_leaves_no_file(small_disk):
    logdir = os.path.join(small_disk.path, "run")
    os.makedirs(logdir)
    small_disk.fill()
    fds = _open_fds()
    for _ in range(20):
        with pytest.raises(WriterFailedError):
            SummaryWriter(logdir)
    assert _open_fds() == fds, "file descriptors leaked by failed opens"
    assert os.listdir(logdir) == [], "failed opens left event files behind"


# -- item 5: disk full while logging: one rule for a call that raised ------------------------


def test_disk_full_a_call_that_raised_follows_one_rule(small_disk):
    direct = os.path.join(small_disk.path, "direct")  # each call writes (max_queue=1)
    background = os.path.join(small_disk.path, "background")  # timed flushes write
    w1 = SummaryWriter(direct, max_queue=1, flush_secs=3600)
    w2 = SummaryWriter(background, max_queue=100_000, flush_secs=0.05)
    big = "x" * 10_000
    small_disk.fill()
    raised = {"direct": [], "background": []}
    accepted = {"direct": [], "background": []}
    for step in range(20):
        for name, w in (("direct", w1), ("background", w2)):
            try:
                w.add_text("t", big, step)
                accepted[name].append(step)
            except WriterFailedError:
                raised[name].append(step)
        time.sleep(0.1)  # the background flush fails in the meantime
    assert raised["direct"] and raised["background"], raised
    small_disk.free()
    for w in (w1, w2):
        with contextlib.suppress(WriterFailedError):
            w.flush()
        w.close()
    written = {}
    for name, logdir in (("direct", direct), ("background", background)):
        texts = tbwrite.read_text(logdir).get(".", {})
        steps = [int(s) for s in texts["t"].steps] if "t" in texts else []
        assert len(steps) == len(set(steps)), f"{name}: a record was written twice"
        written[name] = set(steps)
        assert set(accepted[name]) <= written[name], f"{name}: an accepted call was lost"
    # One rule for every call that raised: all of them kept (written once), or none.
    kept = {name: [s in written[name] for s in raised[name]] for name in raised}
    flat = kept["direct"] + kept["background"]
    assert all(flat) or not any(flat), (
        f"calls that raised were kept in one case and dropped in another: {kept}"
    )


# -- item 7: SIGTERM ------------------------------------------------------------------------

_SIGTERM_CHILD = r"""
import sys, time
from tbwrite import SummaryWriter
w = SummaryWriter(sys.argv[1], max_queue=1000, flush_secs=3600)
w.add_hparams({"lr": 0.1}, {"loss": None})
for step in range(50):
    w.add_scalar("loss", step / 10, step)
print("ready", flush=True)
time.sleep(60)
"""


def test_sigterm_flushes_and_ends_the_session_as_failure(tmp_path):
    logdir = str(tmp_path / "run")
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_SIGTERM_CHILD), logdir],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode in (-signal.SIGTERM, 128 + signal.SIGTERM), proc.returncode
    assert steps(logdir) == list(range(50)), "records since the last flush were lost"
    (row,) = tbwrite.read_hparams(logdir).records()
    assert row["status"] == "FAILURE"


# -- item 8: a slow or silent store --------------------------------------------------------


def _store_knobs(monkeypatch, **values):
    """Set the store module's retry knobs (ATTEMPTS, BACKOFF, CALL_TIMEOUT)."""
    from tbwrite._sinks import remote

    for key, value in values.items():
        monkeypatch.setattr(remote, key, value)


@pytest.fixture
def memory_store():
    fsspec = pytest.importorskip("fsspec")
    import uuid

    root = f"memory://tbw-faults-{uuid.uuid4().hex[:8]}"
    yield root
    fs = fsspec.filesystem("memory")
    path = root[len("memory://") :]
    if fs.exists(path):
        fs.rm(path, recursive=True)


class SlowStore:
    """fsspec's memory store with calls that take ``delay`` seconds (then land) while
    ``slow`` is set, or never answer while ``silent`` is set (until released)."""

    def __init__(self, monkeypatch):
        from fsspec.implementations.memory import MemoryFileSystem

        real = MemoryFileSystem.pipe_file
        self.slow = threading.Event()
        self.silent = threading.Event()
        self.release = threading.Event()
        self.delay = 0.5
        self.calls = 0
        self._running = 0
        self._idle = threading.Condition()

        def pipe_file(fs, path, value, *args, **kwargs):
            with self._idle:
                self.calls += 1
                self._running += 1
            try:
                if self.silent.is_set():
                    self.release.wait(60)
                elif self.slow.is_set():
                    time.sleep(self.delay)
                return real(fs, path, value, *args, **kwargs)
            finally:
                with self._idle:
                    self._running -= 1
                    self._idle.notify_all()

        monkeypatch.setattr(MemoryFileSystem, "pipe_file", pipe_file)

    def wait_until_landed(self, timeout: float = 60.0) -> None:
        """Until no call is under way: every abandoned one has landed."""
        with self._idle:
            assert self._idle.wait_for(lambda: self._running == 0, timeout), "calls still running"


def test_store_retry_after_an_abandoned_call_never_stores_records_twice(memory_store, monkeypatch):
    pytest.importorskip("fsspec")
    store = SlowStore(monkeypatch)
    _store_knobs(monkeypatch, ATTEMPTS=2, BACKOFF=0.01, CALL_TIMEOUT=0.2)
    run = f"{memory_store}/run"
    w = SummaryWriter(run, max_queue=100_000, flush_secs=3600)
    store.slow.set()  # every call passes its deadline, then lands
    for step in range(100):
        w.add_scalar("loss", float(step), step)
    with contextlib.suppress(WriterFailedError):
        w.flush()  # the caller is told it failed; the calls land later anyway
    store.slow.clear()
    w.flush()
    w.close()
    store.wait_until_landed()
    runs = tbwrite.read_scalars(run)
    steps = [int(s) for s in runs["."]["loss"].steps]
    assert sorted(steps) == list(range(100)), f"{len(steps)} points for 100 records"


def test_close_against_a_silent_store_is_bounded_by_one_deadline(memory_store, monkeypatch):
    pytest.importorskip("fsspec")
    store = SlowStore(monkeypatch)
    _store_knobs(monkeypatch, ATTEMPTS=2, BACKOFF=0.1, CALL_TIMEOUT=1.0)
    one_writer = 2 * 1.0 + 0.1  # what closing one writer may take: its attempts and backoff
    w = SummaryWriter(f"{memory_store}/run", max_queue=100_000, flush_secs=3600)
    for key in range(6):
        w.add_scalars("m", {f"k{key}": 1.0}, 0)
    w.add_scalar("loss", 1.0, 0)
    store.silent.set()
    start = time.monotonic()
    try:
        with contextlib.suppress(WriterFailedError):
            w.close()
        elapsed = time.monotonic() - start
    finally:
        store.release.set()
    assert elapsed < 2 * one_writer, (
        f"close() of 7 writers took {elapsed:.1f} s: deadlines summed writer by writer"
    )


_OWN_HANDLER_CHILD = r"""
import signal, sys, time
from tbwrite import SummaryWriter

def mine(signum, frame):
    print("own handler", flush=True)
    sys.exit(3)

signal.signal(signal.SIGTERM, mine)
w = SummaryWriter(sys.argv[1], max_queue=1000, flush_secs=3600)
w.add_scalar("loss", 1.0, 1)
print("ready", flush=True)
time.sleep(60)
"""


def _terminated(child: str, logdir: str) -> tuple[str, int]:
    """Run ``child`` on ``logdir``, send it SIGTERM once it says "ready": (stdout, code)."""
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(child), logdir],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out, proc.returncode


def test_sigterm_handler_of_the_program_is_left_in_place(tmp_path):
    logdir = str(tmp_path / "run")
    out, code = _terminated(_OWN_HANDLER_CHILD, logdir)
    assert "own handler" in out
    assert code == 3
    assert steps(logdir) == [1]  # sys.exit ran atexit: the writer was closed there


_EXIT_CHILD = r"""
import sys, threading, time
from fsspec.implementations.memory import MemoryFileSystem
from tbwrite import SummaryWriter
from tbwrite._sinks import remote as store

store.ATTEMPTS, store.CALL_TIMEOUT, store.BACKOFF = 1, 1.0, 0.1
real = MemoryFileSystem.pipe_file
silent = threading.Event()

def pipe_file(fs, path, value, *args, **kwargs):
    if silent.is_set():
        time.sleep(60)
    return real(fs, path, value, *args, **kwargs)

MemoryFileSystem.pipe_file = pipe_file
writers = []
for i in range(2):
    w = SummaryWriter(f"memory://exit-deadline/run{i}", max_queue=10_000, flush_secs=3600)
    for k in range(3):
        w.add_scalars("m", {f"k{k}": 1.0}, 0)
    w.add_scalar("loss", 1.0, 0)
    writers.append(w)
silent.set()
print("exiting", flush=True)
"""


def test_exit_against_a_silent_store_is_bounded_by_one_deadline():
    pytest.importorskip("fsspec")
    start = time.monotonic()
    proc = run_child(_EXIT_CHILD, timeout=30)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-2000:]
    # 8 writers (2 runs, 3 sub-runs each) with one 1 s attempt each: 8 s one after the
    # other, about 1 s side by side (plus the interpreter's start).
    assert elapsed < 5, f"exit took {elapsed:.1f} s"


_CHAINED_CHILD = r"""
import os, signal, sys, time
from tbwrite import SummaryWriter

def mine(signum, frame):
    print("own handler", flush=True)
    os._exit(3)  # no atexit: only what was written before this call is in the file

signal.signal(signal.SIGTERM, mine)
w = SummaryWriter(sys.argv[1], max_queue=1000, flush_secs=3600)
for step in range(5):
    w.add_scalar("loss", 1.0, step)
print("ready", flush=True)
time.sleep(60)
"""


def test_sigterm_handler_of_the_program_is_chained_after_a_flush(tmp_path):
    logdir = str(tmp_path / "run")
    out, code = _terminated(_CHAINED_CHILD, logdir)
    assert "own handler" in out and code == 3
    assert steps(logdir) == [0, 1, 2, 3, 4]  # written out before the program's handler ran
