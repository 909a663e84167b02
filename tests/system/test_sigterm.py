"""SIGTERM as a scheduler, ``docker stop`` or ``Pool.terminate()`` sends it: the process
dies of it promptly whatever its main thread is doing, and the sessions end as the program
does. Each trial is a child process with a deadline, so a hang fails with a message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from faultlib import REPO, steps

import tbwrite

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


def _child(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=REPO),
    )


def _terminate_when_ready(proc: subprocess.Popen[str], timeout: float = 60) -> float:
    """Send SIGTERM once the child printed "ready"; the seconds until it ended."""
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == "ready", (line, proc.stderr.read() if proc.stderr else "")
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=timeout)
        return time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


_POOL_TRIALS = r"""
import multiprocessing, sys
from tbwrite import SummaryWriter

def init(logdir):
    global writer
    writer = SummaryWriter(logdir, flush_secs=0.01)  # the flusher thread runs

def work(i):
    for step in range(20):
        writer.add_scalar("x", float(i), step)
    return i

if __name__ == "__main__":
    logdir, trials = sys.argv[1], int(sys.argv[2])
    ctx = multiprocessing.get_context("fork")
    for trial in range(trials):
        with ctx.Pool(2, initializer=init, initargs=(f"{logdir}/t{trial}",)) as pool:
            pool.map(work, range(8))
        # leaving the block: Pool.terminate() sends SIGTERM to workers idle on its queue
    print("done", flush=True)
"""


def test_pool_terminate_with_logging_workers_returns(tmp_path) -> None:
    proc = _child(_POOL_TRIALS, str(tmp_path), "10")
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0 and out.strip() == "done", err[-2000:]


_LOGGING_CHILD = r"""
import sys
from tbwrite import SummaryWriter
idle = SummaryWriter(sys.argv[1] + "/idle", max_queue=1000, flush_secs=3600)
idle.add_hparams({"lr": 0.1}, {"loss": None})
idle.add_scalar("loss", 0.5, 0)
busy = SummaryWriter(sys.argv[1] + "/busy", max_queue=1, flush_secs=3600)
busy.add_hparams({"lr": 0.2}, {"loss": None})
step = 0
while True:
    busy.add_scalar("loss", 1.0, step)
    if step == 100:
        print("ready", flush=True)
    step += 1
"""


@pytest.mark.parametrize("trial", range(3))
def test_sigterm_while_logging_dies_of_it_at_once(tmp_path, trial) -> None:
    logdir = str(tmp_path)
    elapsed = _terminate_when_ready(_child(_LOGGING_CHILD, logdir))
    assert elapsed < 5, f"the process took {elapsed:.1f} s to die"
    table = tbwrite.read_hparams(logdir)
    statuses = {row["run"]: row["status"] for row in table.records()}
    # Both sessions end FAILURE and both buffers are written, also the one whose writer
    # the signal interrupted (the handler runs again once the main thread left tbwrite).
    assert statuses == {"idle": "FAILURE", "busy": "FAILURE"}, statuses
    assert steps(f"{logdir}/idle") == [0]
    busy = steps(f"{logdir}/busy")
    assert busy == list(range(len(busy))) and len(busy) > 100


def test_sigterm_while_logging_exits_with_the_signal(tmp_path) -> None:
    proc = _child(_LOGGING_CHILD, str(tmp_path))
    _terminate_when_ready(proc)
    assert proc.returncode == -signal.SIGTERM


_LONG_C_CALL = r"""
import hashlib, sys
from tbwrite import SummaryWriter
w = SummaryWriter(sys.argv[1], max_queue=1000, flush_secs=3600)
w.add_hparams({"lr": 0.1}, {"loss": None})
w.add_scalar("loss", 1.0, 1)
print("ready", flush=True)
hashlib.pbkdf2_hmac("sha256", b"x", b"salt", 100_000_000)  # one C call of many seconds
print("the C call returned", flush=True)
"""


def test_sigterm_during_a_long_c_call_dies_within_a_second(tmp_path) -> None:
    # The main thread cannot run a Python handler until the C call returns; the watchdog
    # thread ends the process instead: status -15, buffers written, session FAILURE.
    proc = _child(_LONG_C_CALL, str(tmp_path))
    elapsed = _terminate_when_ready(proc)
    assert proc.returncode == -signal.SIGTERM
    assert elapsed < 3, f"the process took {elapsed:.1f} s to die"  # 1 s, on a loaded machine
    assert steps(str(tmp_path)) == [1]
    (row,) = tbwrite.read_hparams(str(tmp_path)).records()
    assert row["status"] == "FAILURE"


_EXITING_HANDLER = r"""
import signal, sys, time
from tbwrite import SummaryWriter

def mine(signum, frame):
    sys.exit(int(sys.argv[2]))

signal.signal(signal.SIGTERM, mine)
w = SummaryWriter(sys.argv[1], max_queue=1000, flush_secs=3600)
w.add_hparams({"lr": 0.1}, {"loss": None})
w.add_scalar("loss", 1.0, 1)
print("ready", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize(("code", "status"), [(0, "SUCCESS"), (1, "FAILURE"), (3, "FAILURE")])
def test_a_chained_handler_that_exits_ends_the_session_as_the_program_ends(
    tmp_path, code, status
) -> None:
    logdir = str(tmp_path / "run")
    proc = _child(_EXITING_HANDLER, logdir, str(code))
    _terminate_when_ready(proc)
    assert proc.returncode == code
    (row,) = tbwrite.read_hparams(logdir).records()
    assert row["status"] == status
    assert steps(logdir) == [1]


# The signal lands while the main thread is closing a run (its own close(), a Pool worker's
# exit, the interpreter's exit): the close in progress finishes before the process dies.
# The session end is held up, as tbwrite's own code, until the signal was sent and 0.2 s
# after.
_CLOSING_CHILD = r"""
import os, sys, time
import tbwrite._summaries.hparams as hp
from tbwrite import SummaryWriter

sent = sys.argv[3]
inside = {"__name__": "tbwrite._slow_end", "end": hp.session_end_summary, "time": time,
          "os": os, "sent": sent}
exec(
    "def slow_end(status, end_time):\n"
    "    print('ready', flush=True)\n"
    "    while not os.path.exists(sent):\n"
    "        time.sleep(0.005)\n"
    "    time.sleep(0.2)  # closing goes on after the signal; it has 0.8 s\n"
    "    return end(status, end_time)\n",
    inside,
)
hp.session_end_summary = inside["slow_end"]
w = SummaryWriter(sys.argv[1], max_queue=1000, flush_secs=3600)
w.add_hparams({"lr": 0.1}, {"loss": None})
w.add_scalar("loss", 1.0, 1)
if sys.argv[2] == "close":
    w.close()
    time.sleep(60)
# "exit": the interpreter's exit closes the run
"""


@pytest.mark.parametrize("ending", ["close", "exit"])
def test_sigterm_while_closing_lets_the_close_finish(tmp_path, ending) -> None:
    logdir, sent = tmp_path / "run", tmp_path / "sent"
    proc = _child(_CLOSING_CHILD, str(logdir), ending, str(sent))
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        sent.touch()  # the close goes on only now, with the signal on its way
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGTERM
    assert steps(str(logdir)) == [1]
    (row,) = tbwrite.read_hparams(str(logdir)).records()
    assert row["status"] in ("SUCCESS", "FAILURE")
