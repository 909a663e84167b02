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
import time
from dataclasses import dataclass

from tbwrite import NEED_DATA, RecordDecoder
from tbwrite._proto import event_pb2

# The child logs scalars (step i has value i / 2) and texts of random sizes, flushes at
# random moments and, after each flush() returns, reports the last step logged. Every
# reported step must survive the SIGKILL.
CHILD = r"""
import os, random, sys, time
import tbwrite
logdir, seed, max_queue = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
w = tbwrite.SummaryWriter(logdir, max_queue=max_queue, flush_secs=0.05 + rng.random() / 10)
w.add_text("note", "warm-up: imports the text builder before the clock starts", 0)
out = os.fdopen(1, "w", buffering=1)
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


def run_trial(logdir: str, seed: int) -> TrialResult:
    rng = random.Random(seed)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, logdir, str(seed), str(rng.choice([1, 10, 100, 1000]))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.1))
        proc.send_signal(signal.SIGKILL)
        out = proc.stdout.read()
    finally:
        proc.kill()
        proc.wait()
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
