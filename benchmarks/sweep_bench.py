"""Read a 200-run sweep from an S3-protocol server: runs fetched concurrently vs one after another.

    python benchmarks/sweep_bench.py [--runs 200] [--latency-ms 0 20] [--repeat 3]
    python benchmarks/sweep_bench.py --local 1000x5x1000 [--repeat 3]

Writes ``--runs`` small runs (2 scalar tags x 100 steps) with tbwrite, uploads them to a moto
S3 server on loopback (tests/helpers/motoserver.py) and times, on the same objects:

- ``read_scalars(url)``: one listing, then runs fetched on 16 threads (the default for URLs);
- ``read_scalars(url, threads=1)``: the same reader, runs fetched one after another;
- a loop of ``read_scalars(run_url)`` per run: one run after another, each on its own;
- ``EventMultiplexer(max_reload_threads=16 / 1).AddRunsFromDirectory(url).Reload()``.

A loopback moto server answers in a few milliseconds of its own CPU time, so there the
client waits little and concurrency is bounded by the server's CPU (two cores here). Real
stores answer after a network round trip; ``--latency-ms`` puts a proxy in front of moto that
delays each request by that much, which is what concurrency hides. Best of ``--repeat``.

``--local RUNSxTAGSxSTEPS`` times a local sweep instead: that many runs, each an HParams
session with TAGS scalar tags of STEPS steps, read whole by ``read_scalars`` (best of
``--repeat``; its peak memory traced in a separate pass and compared with the bytes of the
arrays it returns), by TensorBoard's ``EventMultiplexer`` (``size_guidance={'scalars': 0}``,
every run reloaded and every series asked for) and by ``tbparse.SummaryReader(pivot=False)
.scalars`` when installed; ratios are their time over ``read_scalars``'.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import threading
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "helpers"))


class LatencyProxy:
    """A TCP proxy on loopback that holds every chunk a client sends for ``delay`` s and
    counts the bytes that pass each way (``up``: client to server, ``down``: back)."""

    def __init__(self, host: str, port: int, delay: float) -> None:
        self.target = (host, port)
        self.delay = delay
        self.up = 0
        self.down = 0
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    async def _handle(self, reader: Any, writer: Any) -> None:
        up_r, up_w = await asyncio.open_connection(*self.target)

        async def pump(src: Any, dst: Any, upward: bool) -> None:
            try:
                while data := await src.read(1 << 16):
                    if upward:
                        if self.delay:
                            await asyncio.sleep(self.delay)
                        self.up += len(data)
                    else:
                        self.down += len(data)
                    dst.write(data)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_w, True), pump(up_r, writer, False))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


def write_sweep(root: str, runs: int) -> None:
    import tbwrite

    for r in range(runs):
        with tbwrite.SummaryWriter(os.path.join(root, f"lr_{r % 4}", f"seed{r:03d}")) as w:
            for step in range(100):
                w.add_scalar("loss", 1.0 / (step + 1) + r, step)
                w.add_scalar("acc", step / 100, step)


def timed(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    best, n = float("inf"), 0
    for _ in range(repeat):
        t = time.perf_counter()
        n = fn()
        best = min(best, time.perf_counter() - t)
    return best, n


def points(runs: Any) -> int:
    return sum(len(s) for tags in runs.values() for s in tags.values())


def measure(url: str, repeat: int) -> list[tuple[str, float, int]]:
    import tbwrite

    def per_run() -> int:
        return sum(
            points(tbwrite.read_scalars(url.rstrip("/") + "/" + run))
            for run in tbwrite.find_runs(url)
        )

    def mux(threads: int) -> int:
        em = tbwrite.EventMultiplexer(max_reload_threads=threads, size_guidance={"scalars": 0})
        em.AddRunsFromDirectory(url).Reload()
        return sum(len(em.Scalars(r, t)) for r, tags in em.Runs().items() for t in tags["scalars"])

    return [
        (
            "read_scalars(url)  [16 threads]",
            *timed(lambda: points(tbwrite.read_scalars(url)), repeat),
        ),
        (
            "read_scalars(url, threads=1)",
            *timed(lambda: points(tbwrite.read_scalars(url, threads=1)), repeat),
        ),
        ("read_scalars(run_url) per run", *timed(per_run, repeat)),
        ("EventMultiplexer(max_reload_threads=16)", *timed(lambda: mux(16), repeat)),
        ("EventMultiplexer(max_reload_threads=1)", *timed(lambda: mux(1), repeat)),
    ]


def write_local_sweep(root: str, runs: int, tags: int, steps: int) -> None:
    import tbwrite

    for r in range(runs):
        lr = 10 ** -(1 + r % 4)
        with tbwrite.SummaryWriter(os.path.join(root, f"lr{lr:g}_seed{r}"), max_queue=10_000) as w:
            w.add_hparams({"lr": lr, "seed": r}, {f"m/tag{t}": 0.0 for t in range(tags)})
            for step in range(steps):
                for t in range(tags):
                    w.add_scalar(f"m/tag{t}", step * 1e-3 + t, step, walltime=1.7e9 + step)


def local_case(spec: str, repeat: int) -> int:
    import tracemalloc

    import tbwrite

    runs, tags, steps = (int(x) for x in spec.lower().split("x"))
    root = tempfile.mkdtemp(prefix="tbwrite-sweep-local-")
    try:
        t = time.perf_counter()
        write_local_sweep(root, runs, tags, steps)
        print(f"wrote {runs} runs x {tags} tags x {steps} steps in {time.perf_counter() - t:.1f}s")
        rows: list[tuple[str, float, int]] = []
        secs, n = timed(lambda: points(tbwrite.read_scalars(root)), repeat)
        rows.append(("tbwrite.read_scalars", secs, n))
        tracemalloc.start()
        got = tbwrite.read_scalars(root)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        returned = sum(
            s.steps.nbytes + s.wall_times.nbytes + s.values.nbytes
            for series in got.values()
            for s in series.values()
        )
        del got
        from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

        def tb_mux() -> int:
            em = EventMultiplexer(size_guidance={"scalars": 0})
            em.AddRunsFromDirectory(root).Reload()
            return sum(
                len(em.Scalars(r, t)) for r, kinds in em.Runs().items() for t in kinds["scalars"]
            )

        rows.append(("tensorboard EventMultiplexer(scalars=0)", *timed(tb_mux, 1)))
        try:
            import tbparse
        except ImportError:
            print("tbparse: not installed")
        else:
            rows.append(
                (
                    "tbparse SummaryReader(pivot=False)",
                    *timed(lambda: len(tbparse.SummaryReader(root, pivot=False).scalars), 1),
                )
            )
        base = rows[0][1]
        print(f"{'reader':<42} {'seconds':>8} {'points':>10} {'vs read_scalars':>16}")
        for name, secs, n in rows:
            print(f"{name:<42} {secs:8.3f} {n:10,} {secs / base:15.1f}x")
        print(
            f"read_scalars peak traced memory {peak / 2**20:.1f} MiB for "
            f"{returned / 2**20:.1f} MiB of arrays returned: {peak / returned:.2f}x"
        )
        if len({n for _, _, n in rows}) != 1:
            print(f"WARNING: the readers disagree on the point count: {rows}")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, nargs="*", default=[0.0, 20.0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--pool",
        type=int,
        default=0,
        help="botocore's max_pool_connections for s3fs (default: s3fs's own, 10)",
    )
    parser.add_argument(
        "--local", metavar="RUNSxTAGSxSTEPS", help="time a local sweep instead (1000x5x1000)"
    )
    args = parser.parse_args()
    if args.local:
        return local_case(args.local, args.repeat)
    args.s3_options = {"config_kwargs": {"max_pool_connections": args.pool}} if args.pool else {}

    import fsspec
    import fsspec.config
    from motoserver import MotoServer

    root = tempfile.mkdtemp(prefix="tbwrite-sweep-bench-")
    try:
        write_sweep(root, args.runs)
        with MotoServer() as s3:
            os.environ.update(s3.env)
            fsspec.config.conf["s3"] = {"endpoint_url": s3.url}
            s3.create_bucket("tbwrite")
            fsspec.filesystem("s3").put(root + "/", "tbwrite/sweep/", recursive=True)
            port = int(s3.url.rsplit(":", 1)[1].strip("/"))
            for ms in args.latency_ms:
                proxy = LatencyProxy("127.0.0.1", port, ms / 1000) if ms else None
                endpoint = f"http://127.0.0.1:{proxy.port}" if proxy else s3.url
                fsspec.config.conf["s3"] = {"endpoint_url": endpoint, **args.s3_options}
                os.environ["FSSPEC_S3_ENDPOINT_URL"] = endpoint
                fsspec.filesystem("s3", endpoint_url=endpoint).invalidate_cache()
                results = measure("s3://tbwrite/sweep", args.repeat)
                if proxy:
                    proxy.stop()
                print(f"\n{args.runs} runs on moto S3, {ms:g} ms added per request:")
                print(f"{'reader':<42} {'seconds':>8} {'points':>8} {'vs this':>8}")
                seq = {name: secs for name, secs, _ in results}
                mux_ratio = (
                    seq["EventMultiplexer(max_reload_threads=1)"]
                    / seq["EventMultiplexer(max_reload_threads=16)"]
                )
                for name, secs, n in results:
                    print(f"{name:<42} {secs:8.3f} {n:8,}")
                base = seq["read_scalars(url)  [16 threads]"]
                print(
                    f"  concurrent read_scalars: {seq['read_scalars(url, threads=1)'] / base:.1f}x "
                    f"faster than threads=1, {seq['read_scalars(run_url) per run'] / base:.1f}x "
                    "faster than a per-run loop; EventMultiplexer 16 threads: "
                    f"{mux_ratio:.1f}x faster than 1"
                )
                if len({n for _, _, n in results}) != 1:
                    print(f"WARNING: the readers disagree on the point count: {results}")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
