"""Crash trials: SIGKILL a process that is logging, then check what it left behind.

Used by tests/system/test_reliability.py (a few dozen trials) and tests/stress/crash_stress.py
(as many as you like).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from tbwrite import NEED_DATA, RecordDecoder
from tbwrite._proto import event_pb2

# A trial's child logs scalars (step i has value i / 2) and texts of random sizes, flushes at
# random moments and, after each flush() returns, reports the last step logged. Every
# reported step must survive the SIGKILL.
#
# The children are forked by one zygote, an interpreter that has imported tbwrite once (a
# fresh interpreter per trial spent 0.14 s of its 0.2 s starting and importing). The zygote
# holds no writer, so each child starts as a new process would: its writer, its threads and
# its file are its own. A trial's reports travel over a named pipe that only the child holds
# open for writing, so the test reads them to the end when the SIGKILL closes it.
ZYGOTE = r"""
import os, random, sys, time
import tbwrite
# What a writer's first file and first add_text import (75 ms in each child otherwise),
# imported only: the zygote never writes.
import crc32c, numpy, tbwrite._sinks.local, tbwrite._summaries.scalars_text

def trial(fifo, logdir, seed, max_queue):
    out = open(fifo, "w", buffering=1)  # first: if the child fails, the test reads no "ready"
    rng = random.Random(seed)
    w = tbwrite.SummaryWriter(logdir, max_queue=max_queue, flush_secs=0.05 + rng.random() / 10)
    w.add_text("note", "warm-up: the first text call's work before the clock starts", 0)
    out.write("ready\n")
    step = 0
    while True:
        w.add_scalar("loss", step / 2, step)
        if rng.random() < 0.2:
            w.add_text("note", "x" * rng.randrange(1, 20000), step)
        if rng.random() < 0.05:
            w.flush()
            out.write(f"{step}\n")
        step += 1
        if step % 20 == 0:
            time.sleep(0.001)  # a training loop's pace: keeps files small enough to check fast

for line in sys.stdin:
    fifo, logdir, seed, max_queue = line.split("\t")
    pid = os.fork()
    if pid == 0:
        try:
            trial(fifo, logdir, int(seed), int(max_queue))
        finally:
            os._exit(1)
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("reaped", flush=True)
"""


@dataclass
class TrialResult:
    flushed_step: int  # the last step reported after a flush (-1: none)
    steps: list[int]  # scalar steps found in the files, in order
    trailing_bytes: int  # bytes of an incomplete last record, per tbwrite's decoder
    files: list[str]


def decode_file(path: str) -> tuple[list[bytes], int]:
    """Every complete record of a file (CRCs checked) and the size of a partial tail."""
    dec = RecordDecoder()
    with open(path, "rb") as f:
        dec.receive_data(f.read())
    records = []
    while (rec := dec.next_record()) is not NEED_DATA:
        assert isinstance(rec, bytes)
        records.append(rec)
    return records, dec.pending


class Trials:
    """Runs crash trials, one at a time, in children of one zygote process::

    with Trials() as trials:
        result = trials.run(logdir, seed)
    """

    def __enter__(self) -> Trials:
        self._tmp = tempfile.TemporaryDirectory(prefix="crash-fifos")
        self._zygote = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self._count = 0
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._zygote.stdin is not None
        self._zygote.stdin.close()
        self._zygote.wait(timeout=60)
        self._tmp.cleanup()

    def run(self, logdir: str, seed: int) -> TrialResult:
        """SIGKILL a child logging into ``logdir`` at a random moment; what it left."""
        rng = random.Random(seed)
        zygote_in, zygote_out = self._zygote.stdin, self._zygote.stdout
        assert zygote_in is not None and zygote_out is not None
        self._count += 1
        fifo = os.path.join(self._tmp.name, str(self._count))
        os.mkfifo(fifo)
        max_queue = rng.choice([1, 10, 100, 1000])
        zygote_in.write(f"{fifo}\t{logdir}\t{seed}\t{max_queue}\n")
        zygote_in.flush()
        pid = int(zygote_out.readline())
        try:
            with open(fifo) as reports:  # opens once the child has opened its end
                assert reports.readline() == "ready\n"
                time.sleep(rng.uniform(0.0, 0.1))  # the random moment of the crash
                os.kill(pid, signal.SIGKILL)
                out = reports.read()  # to the end: the child's end closed as it died
        finally:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            assert zygote_out.readline() == "reaped\n"
        return _left_behind(logdir, out)


def _left_behind(logdir: str, out: str) -> TrialResult:
    reported = [int(line) for line in out.split() if line.isdigit()]
    files = sorted(os.path.join(logdir, n) for n in os.listdir(logdir) if "tfevents" in n)
    steps: list[int] = []
    trailing = 0
    for path in files:
        records, pending = decode_file(path)
        trailing += pending
        for rec in records:
            event = event_pb2.Event.FromString(rec)
            for value in event.summary.value:
                if value.tag == "loss":
                    assert value.simple_value == event.step / 2
                    steps.append(event.step)
    return TrialResult(reported[-1] if reported else -1, steps, trailing, files)


def check_trial(result: TrialResult) -> None:
    """What a crash may cost: only what was logged after the last completed flush."""
    assert result.steps == list(range(len(result.steps))), "steps missing or out of order"
    assert len(result.steps) > result.flushed_step, (
        f"flush() reported step {result.flushed_step} durable, file has {len(result.steps)} steps"
    )
    # A SIGKILL can cut a large write short, leaving the start of a record at the end of
    # the file: every reader takes it as "not written yet" (decode_file only ever reports
    # it as pending, never as corrupt), and a restarted writer opens a new file.
