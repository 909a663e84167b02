"""Stress trial: leave ``with multiprocessing.Pool(...)`` whose workers log with tbwrite, many
times, with CPU-bound processes alongside; count the trials that hang.

``Pool.terminate()`` sends SIGTERM to workers that wait on the pool's queue lock. A worker
dies only if the signal interrupts that wait, i.e. lands on its main thread; tbwrite's own
threads block it (tbwrite._threads) so that it does.

    python tests/stress/pool_terminate.py --trials 1000 --busy 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time


def _init(logdir: str) -> None:
    global _writer
    from tbwrite import SummaryWriter

    _writer = SummaryWriter(logdir, flush_secs=0.01)


def _work(i: int) -> int:
    for step in range(20):
        _writer.add_scalar("x", float(i), step)
    return i


def _trial(logdir: str) -> None:
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2, initializer=_init, initargs=(logdir,)) as pool:
        pool.map(_work, range(8))


def _busy() -> None:
    while True:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--busy", type=int, default=2, help="CPU-bound processes alongside")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a hang")
    args = parser.parse_args()
    ctx = multiprocessing.get_context("fork")
    hogs = [ctx.Process(target=_busy, daemon=True) for _ in range(args.busy)]
    for hog in hogs:
        hog.start()
    hung = 0
    start = time.monotonic()
    try:
        with tempfile.TemporaryDirectory() as root:
            for n in range(args.trials):
                trial = ctx.Process(target=_trial, args=(os.path.join(root, f"t{n}"),))
                trial.start()
                trial.join(args.timeout)
                if trial.is_alive():
                    hung += 1
                    trial.kill()
                    trial.join()
    finally:
        for hog in hogs:
            hog.kill()
    print(
        f"{hung} of {args.trials} trials hung ({args.busy} CPU-bound processes alongside, "
        f"{time.monotonic() - start:.0f} s)"
    )
    return 1 if hung else 0


if __name__ == "__main__":
    sys.exit(main())
