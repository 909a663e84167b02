"""Load every scalar of a 1M-event logdir: tbwrite vs EventAccumulator vs tbparse.

    python benchmarks/read_bench.py [--events 1000000] [--runs 10] [--dir DIR]

Writes (once, with tbwrite) a logdir of ``--runs`` runs with 10 scalar tags each, then times,
on the same files in the same process: ``tbwrite.read_scalars``, TensorBoard's
``EventAccumulator(size_guidance={'scalars': 0})`` over every run, and
``tbparse.SummaryReader(logdir, pivot=False).scalars`` when tbparse is installed. Each
loader's point count is checked against the number written. Import time is excluded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def write_logdir(root: str, events: int, runs: int, tags: int = 10) -> None:
    import tbwrite

    steps = events // (runs * tags)
    for r in range(runs):
        with tbwrite.SummaryWriter(os.path.join(root, f"run{r}"), max_queue=10_000) as w:
            for step in range(steps):
                for t in range(tags):
                    w.add_scalar(f"metrics/tag{t}", step * 0.001 + t, step, walltime=1.7e9 + step)


def time_tbwrite(root: str) -> tuple[float, int]:
    import tbwrite

    t = time.perf_counter()
    runs = tbwrite.read_scalars(root)
    elapsed = time.perf_counter() - t
    return elapsed, sum(len(s) for tags in runs.values() for s in tags.values())


def time_event_accumulator(root: str) -> tuple[float, int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    import tbwrite

    run_dirs = [os.path.join(root, r) for r in tbwrite.find_runs(root)]
    t = time.perf_counter()
    n = 0
    for d in run_dirs:
        acc = EventAccumulator(d, size_guidance={"scalars": 0})
        acc.Reload()
        n += sum(len(acc.Scalars(tag)) for tag in acc.Tags()["scalars"])
    return time.perf_counter() - t, n


def time_tbparse(root: str) -> tuple[float, int]:
    from tbparse import SummaryReader

    t = time.perf_counter()
    df = SummaryReader(root, pivot=False, extra_columns={"wall_time"}).scalars
    return time.perf_counter() - t, len(df)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--dir", help="logdir to write (default: a temporary directory)")
    parser.add_argument("--skip-tbparse", action="store_true")
    args = parser.parse_args()

    root = args.dir or tempfile.mkdtemp(prefix="tbwrite-read-bench-")
    try:
        if not os.path.isdir(root) or not os.listdir(root):
            t = time.perf_counter()
            write_logdir(root, args.events, args.runs)
            print(
                f"wrote {args.events:,} scalar events in {args.runs} runs "
                f"in {time.perf_counter() - t:.1f}s: {root}"
            )
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)
        print(f"logdir size {size / 1e6:.1f} MB\n")

        # Imports outside the timings.
        import numpy  # noqa: F401

        import tbwrite._reading.loaders  # noqa: F401
        from tbwrite._proto import event_pb2  # noqa: F401

        results = []
        time_tbwrite(root)  # warm the page cache for everyone
        results.append(("tbwrite.read_scalars", *time_tbwrite(root)))
        import tensorboard.backend.event_processing.event_accumulator  # noqa: F401

        results.append(("EventAccumulator(size_guidance=0)", *time_event_accumulator(root)))
        if args.skip_tbparse:
            print("tbparse: skipped (--skip-tbparse)")
        else:
            try:
                import tbparse  # noqa: F401
            except ImportError as err:
                print(f"tbparse: not installed ({err}); skipped")
            else:
                results.append(("tbparse.SummaryReader(...).scalars", *time_tbparse(root)))

        base = results[0][1]
        print(f"{'loader':<36} {'seconds':>8} {'points':>10} {'events/s':>12} {'vs tbwrite':>11}")
        for name, secs, n in results:
            print(f"{name:<36} {secs:8.2f} {n:10,} {n / secs:12,.0f} {secs / base:10.1f}x")
        counts = {n for _, _, n in results}
        if len(counts) != 1:
            print(f"WARNING: the loaders disagree on the point count: {results}")
        return 0
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
