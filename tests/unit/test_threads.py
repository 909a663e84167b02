"""tbwrite's own threads never receive the process's stop signals (see tbwrite._threads):
a SIGTERM must land on a thread of the program, whose waits it interrupts."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import pytest

import tbwrite
from tbwrite._threads import STOP_SIGNALS, start_daemon

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the signal masks in /proc"
)


def _blocked(thread: threading.Thread) -> set[int]:
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    (mask,) = [line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")]
    bits = int(mask, 16)
    return {n for n in range(1, 65) if bits >> (n - 1) & 1}


def test_started_threads_block_the_stop_signals_and_the_starter_does_not() -> None:
    started = threading.Event()
    done = threading.Event()
    thread = start_daemon(lambda: (started.set(), done.wait(30)), "tbwrite-test")
    try:
        assert started.wait(30)
        assert set(STOP_SIGNALS) <= _blocked(thread)
        assert not set(STOP_SIGNALS) & _blocked(threading.current_thread())
    finally:
        done.set()
        thread.join(30)


def test_the_flusher_of_a_writer_blocks_sigterm(tmp_path) -> None:
    with tbwrite.SummaryWriter(tmp_path, flush_secs=3600) as writer:
        writer.add_scalar("loss", 1.0, 0)  # schedules a flush: the flusher thread runs
        flushers = [t for t in threading.enumerate() if t.name == "tbwrite-flusher"]
        assert flushers, [t.name for t in threading.enumerate()]
        for thread in flushers:
            assert signal.SIGTERM in _blocked(thread)
