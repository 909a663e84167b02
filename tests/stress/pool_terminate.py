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


def _stacks_path(logdir: str, pid: int) -> str:
    return f"{logdir}.{pid}.stacks"


def _init(logdir: str, default_action: bool) -> None:
    global _writer, _stacks
    import faulthandler
    import signal

    from tbwrite import SummaryWriter

    # Stacks of a hung worker, on SIGUSR1, into a file of its own that the trial then reads.
    _stacks = open(_stacks_path(logdir, os.getpid()), "w")
    faulthandler.register(signal.SIGUSR1, file=_stacks, all_threads=True)
    _writer = SummaryWriter(logdir, flush_secs=0.01)
    if default_action:  # the comparison: SIGTERM's default action, no tbwrite handler
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _work(i: int) -> int:
    for step in range(20):
        _writer.add_scalar("x", float(i), step)
    return i


def _trial(logdir: str, default_action: bool) -> None:
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2, initializer=_init, initargs=(logdir, default_action)) as pool:
        pool.map(_work, range(8))


def _describe(pid: int) -> str:
    """The process tree under ``pid``: each process's threads, their state and kernel wait."""
    lines = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for task in sorted(os.listdir(f"/proc/{p}/task")):
                base = f"/proc/{p}/task/{task}"
                comm = open(f"{base}/comm").read().strip()
                stat = open(f"{base}/stat").read().rsplit(")", 1)[1].split()[0]
                wchan = open(f"{base}/wchan").read().strip()
                blocked = [
                    ln
                    for ln in open(f"{base}/status")
                    if ln.startswith(("SigBlk", "SigPnd", "ShdPnd"))
                ]
                masks = " ".join(b.strip() for b in blocked)
                lines.append(f"  pid {p} task {task} {comm} {stat} {wchan} {masks}")
            children = open(f"/proc/{p}/task/{p}/children").read().split()
            todo.extend(int(c) for c in children)
        except OSError:
            continue
    return "\n".join(lines)


def _children(pid: int) -> list[str]:
    try:
        return open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        return []


def _dump_worker_stacks(pid: int, logdir: str) -> None:
    """Print the Python stacks of the hung trial's live workers (faulthandler, on SIGUSR1)."""
    import signal

    asked = [int(child) for child in _children(pid) if _alive(int(child))]
    for child in asked:
        try:
            os.kill(child, signal.SIGUSR1)
        except OSError:
            pass
    # Wait for each worker's stacks; a worker that dies (SIGUSR1 before its initializer
    # registered the handler) or cannot run its handler writes none.
    deadline = time.monotonic() + 10.0
    for child in asked:
        path = _stacks_path(logdir, child)
        while not (os.path.exists(path) and os.path.getsize(path)):
            if not _alive(child) or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        text = open(path).read() if os.path.exists(path) else ""
        print(f"{path}:\n{text or '  (no stacks written)'}", flush=True)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (not a zombie)."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _kill_children(pid: int) -> None:
    import signal

    for child in _children(pid):
        try:
            os.kill(int(child), signal.SIGKILL)
        except OSError:
            pass


def _busy() -> None:
    while True:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--busy", type=int, default=2, help="CPU-bound processes alongside")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a hang")
    parser.add_argument(
        "--default-action",
        action="store_true",
        help="workers reset SIGTERM to its default action (the baseline to compare with)",
    )
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
                logdir = os.path.join(root, f"t{n}")
                trial = ctx.Process(target=_trial, args=(logdir, args.default_action))
                trial.start()
                trial.join(args.timeout)
                if trial.is_alive():
                    hung += 1
                    print(f"trial {n} hung:\n{_describe(trial.pid)}", flush=True)
                    _dump_worker_stacks(trial.pid, logdir)
                    _kill_children(trial.pid)  # the hung workers would outlive the trial
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
