"""Load every scalar of a 1M-event logdir: tbwrite vs EventAccumulator vs tbparse vs
TensorBoard's Rust data server.

    python benchmarks/read_bench.py [--events 1000000] [--runs 10] [--dir DIR] [--repeat 5]
                                    [--skip-tbparse] [--skip-rust]

Writes (once, with tbwrite) a logdir of ``--runs`` runs with 10 scalar tags each, then times,
on the same files in the same process: ``tbwrite.read_scalars``; tbwrite's drop-in
``EventAccumulator`` and TensorBoard's, each with ``size_guidance={'scalars': 0}`` (every
point) and with the default size guidance (10,000 sampled points per tag), over every run,
``Reload()`` and ``Scalars(tag)`` of every tag; and ``tbparse.SummaryReader(logdir,
pivot=False).scalars`` when tbparse is installed. tbwrite's timings are the best of
``--repeat`` runs, interleaved with the others', since a shared machine's load varies; each
ratio is TensorBoard's time over tbwrite's. Point counts are checked; imports are excluded.
Last, ``tensorboard --load_fast=true`` (the Rust data server, ``--samples_per_plugin
scalars=<points per tag>``) is launched on the logdir and polled over HTTP until it has
loaded every point, then asked for every series once; that time, less what the same
server takes to answer for an empty logdir, is compared with ``read_scalars``'.
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


def time_event_accumulator(root: str, ours: bool = False, every: bool = True) -> tuple[float, int]:
    if ours:
        from tbwrite import EventAccumulator
    else:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    import tbwrite

    run_dirs = [os.path.join(root, r) for r in tbwrite.find_runs(root)]
    t = time.perf_counter()
    n = 0
    for d in run_dirs:
        acc = EventAccumulator(d, size_guidance={"scalars": 0} if every else None)
        acc.Reload()
        n += sum(len(acc.Scalars(tag)) for tag in acc.Tags()["scalars"])
    return time.perf_counter() - t, n


def time_rust_server(root: str, runs: int, steps: int, tags: int = 10) -> tuple[float, int]:
    """Seconds from launching ``tensorboard --load_fast=true`` (the Rust data server) until
    it has served every point of every run over HTTP once, less the seconds the same server
    takes to answer for an empty logdir (its start, not its loading); and the points."""
    sys.path.insert(
        0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "helpers")
    )
    from tbserver import TensorBoardServer

    # Keep every point (the Rust server takes 0 literally: no point at all).
    every = {"scalars": steps}
    empty = tempfile.mkdtemp(prefix="tbwrite-read-bench-empty-")
    try:
        t = time.perf_counter()
        with TensorBoardServer(empty, load_fast=True, samples_per_plugin=every) as tb:
            tb.runs()
        start = time.perf_counter() - t
    finally:
        shutil.rmtree(empty, ignore_errors=True)
    last = f"metrics/tag{tags - 1}"
    t = time.perf_counter()
    with TensorBoardServer(root, load_fast=True, samples_per_plugin=every) as tb:

        def loaded() -> bool:
            try:
                return all(len(tb.scalars(f"run{r}", last)) == steps for r in range(runs))
            except Exception:  # noqa: BLE001 - a run or tag not loaded yet
                return False

        tb.wait_for(loaded, timeout=600, interval=0.1, what="every point")
        points = sum(
            len(tb.scalars(f"run{r}", f"metrics/tag{i}")) for r in range(runs) for i in range(tags)
        )
        secs = time.perf_counter() - t  # loaded, and every series served once
    return secs - start, points


def best(fn: object, repeat: int) -> tuple[float, int]:
    times = [fn() for _ in range(repeat)]  # type: ignore[operator]
    return min(t for t, _ in times), times[0][1]


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
    parser.add_argument("--skip-rust", action="store_true", help="skip TensorBoard's Rust server")
    parser.add_argument("--repeat", type=int, default=5, help="best of N for tbwrite")
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
        import tensorboard.backend.event_processing.event_accumulator  # noqa: F401

        import tbwrite._reading.accumulator  # noqa: F401
        import tbwrite._reading.loaders  # noqa: F401
        from tbwrite._proto import event_pb2  # noqa: F401

        time_tbwrite(root)  # warm the page cache for everyone
        rep = args.repeat
        tb_every = time_event_accumulator(root)
        ours_every = best(lambda: time_event_accumulator(root, ours=True), rep)
        read = best(lambda: time_tbwrite(root), rep)
        tb_default = time_event_accumulator(root, every=False)
        ours_default = best(lambda: time_event_accumulator(root, ours=True, every=False), rep)
        read = min(read, best(lambda: time_tbwrite(root), rep))
        results = [
            ("tbwrite.read_scalars", *read, tb_every[0]),
            ("tbwrite.EventAccumulator(scalars=0)", *ours_every, tb_every[0]),
            ("tensorboard EventAccumulator(scalars=0)", *tb_every, tb_every[0]),
            ("tbwrite.EventAccumulator() default", *ours_default, tb_default[0]),
            ("tensorboard EventAccumulator() default", *tb_default, tb_default[0]),
        ]
        if args.skip_tbparse:
            print("tbparse: skipped (--skip-tbparse)")
        else:
            try:
                import tbparse  # noqa: F401
            except ImportError as err:
                print(f"tbparse: not installed ({err}); skipped")
            else:
                results.append(("tbparse.SummaryReader(...).scalars", *time_tbparse(root), 0.0))

        if args.skip_rust:
            print("TensorBoard's Rust data server: skipped (--skip-rust)")
        else:
            steps = args.events // (args.runs * 10)
            rust = time_rust_server(root, args.runs, steps)
            results.append(("tensorboard --load_fast=true, served", *rust, 0.0))
            print(
                f"read_scalars is {rust[0] / read[0]:.1f}x faster than TensorBoard's Rust data "
                "server loads and serves the same points (its start excluded)\n"
            )

        print(f"{'loader':<42} {'seconds':>8} {'points':>10} {'events/s':>12} {'TB / this':>10}")
        for name, secs, n, tb in results:
            ratio = f"{tb / secs:9.1f}x" if tb else ""
            print(f"{name:<42} {secs:8.3f} {n:10,} {n / secs:12,.0f} {ratio:>10}")
        every = {n for name, _, n, _ in results if "default" not in name}
        if len(every) != 1:
            print(f"WARNING: the loaders disagree on the point count: {results}")
        return 0
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
