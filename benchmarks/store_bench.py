"""A long run on an S3-protocol store: what the layout costs the writer and every reader.

    python benchmarks/store_bench.py [--flushes 250 2000] [--per-flush 50] [--live]
                                     [--writers one,tbwrite,tensorboardx] [--tbx-max 500]

Writes one run of ``--flushes`` flushes of ``--per-flush`` scalars each (a 3-day run at
``flush_secs=120`` flushes about 2,000 times) to a moto S3 server on loopback
(tests/helpers/motoserver.py), through a proxy that counts the bytes each way, with:

- ``tbwrite``: ``SummaryWriter(s3://...)`` and ``flush()`` after each batch (its segments:
  ``tbwrite/_sinks/remote.py``);
- ``tensorboardx``: tensorboardX's own S3 writer (one object, re-uploaded whole at each
  flush), only up to ``--tbx-max`` flushes (its uploads grow with the square of the flushes);
- ``one``: the same records uploaded once as a single object (the baseline every layout is
  compared with);
- ``tbwrite:BYTES:UPLOADS``: tbwrite with other segment caps, to measure the trade.

Then, on each run: TensorBoard's Python loader (what ``tensorboard --load_fast=false``
runs over ``s3://``: ``EventAccumulator(url).Reload()`` through TensorBoard's own S3 client)
loading every point, and ``tbwrite.read_scalars(url)``, each the best of ``--repeat``
rounds over all the runs. For TensorBoard: seconds, requests and bytes downloaded; for the
writers: objects left, PUT requests and bytes uploaded (HTTP included) over the bytes of
the records. ``--live`` also times TensorBoard following the run from its start while it
is written: the seconds from the writer's close until the follower has every point.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "helpers"))
sys.path.insert(0, HERE)

BUCKET = "bench"
W0 = 1_700_000_000.0


def _log(writer_class: Any, url: str, flushes: int, per_flush: int, pace: float) -> None:
    w = writer_class(url, flush_secs=3600, max_queue=per_flush + 1)
    for k in range(flushes):
        for i in range(per_flush):
            step = k * per_flush + i
            w.add_scalar("loss", 1.0 / (step + 1), step, walltime=W0 + step)
        w.flush()
        if pace:
            time.sleep(pace)
    w.close()


def log_tbwrite(url: str, flushes: int, per_flush: int, pace: float = 0.0) -> None:
    import tbwrite

    _log(tbwrite.SummaryWriter, url, flushes, per_flush, pace)


def log_tensorboardx(url: str, flushes: int, per_flush: int, pace: float = 0.0) -> None:
    import tensorboardX

    _log(tensorboardX.SummaryWriter, url, flushes, per_flush, pace)


def log_one(url: str, flushes: int, per_flush: int, pace: float = 0.0) -> None:
    """The same records, written locally and uploaded as one object."""
    import fsspec

    import tbwrite

    tmp = tempfile.mkdtemp(prefix="tbwrite-store-bench-")
    try:
        log_tbwrite(tmp, flushes, per_flush)
        (name,) = os.listdir(tmp)
        with open(os.path.join(tmp, name), "rb") as f:
            data = f.read()
        fsspec.filesystem("s3").pipe_file(f"{url[len('s3://') :]}/{name}", data)
    finally:
        shutil.rmtree(tmp)
    del tbwrite


WRITERS = {"tbwrite": log_tbwrite, "tensorboardx": log_tensorboardx, "one": log_one}


class Meter:
    """Requests (moto's log) and bytes (the proxy) between two points in time."""

    def __init__(self, s3: Any, proxy: Any) -> None:
        self.s3, self.proxy = s3, proxy
        self.start = (len(s3.requests()), proxy.up, proxy.down)

    def read(self) -> dict[str, int]:
        reqs = self.s3.requests()[self.start[0] :]
        return {
            "requests": len(reqs),
            "puts": sum(1 for m, _, _ in reqs if m == "PUT"),
            "up": self.proxy.up - self.start[1],
            "down": self.proxy.down - self.start[2],
        }


def tensorboard_load(url: str) -> int:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(url, size_guidance={"scalars": 0})
    acc.Reload()
    return len(acc.Scalars("loss"))


def tensorboard_follow(url: str, stop: threading.Event, want: int, out: dict[str, float]) -> None:
    """Reload in a loop from the run's start, as a live TensorBoard does; records when the
    writer closed (``stop``) and when every point was loaded."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = None
    while True:
        if acc is None:
            try:
                acc = EventAccumulator(url, size_guidance={"scalars": 0})
            except Exception:  # noqa: BLE001 - not listed yet
                time.sleep(0.05)
                continue
        acc.Reload()
        n = len(acc.Scalars("loss")) if "loss" in acc.Tags()["scalars"] else 0
        if n >= want:
            out["done"] = time.perf_counter()
            return
        if not stop.is_set():
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flushes", type=int, nargs="+", default=[250, 2000])
    parser.add_argument("--per-flush", type=int, default=50)
    parser.add_argument("--writers", default="one,tbwrite,tensorboardx")
    parser.add_argument("--tbx-max", type=int, default=500)
    parser.add_argument("--live", action="store_true", help="also time a live TensorBoard")
    parser.add_argument("--repeat", type=int, default=3, help="readers: best of")
    parser.add_argument("--no-tensorboard", action="store_true", help="skip TensorBoard's loads")
    args = parser.parse_args()

    import fsspec
    import fsspec.config
    from motoserver import MotoServer
    from sweep_bench import LatencyProxy

    import tbwrite
    from tbwrite._sinks import remote

    writers = args.writers.split(",")
    defaults = (remote.SEGMENT_BYTES, remote.SEGMENT_UPLOADS)
    print(f"tbwrite's segments: {defaults[0]:,} bytes or {defaults[1]} uploads")
    with MotoServer() as s3:
        os.environ.update(s3.env)
        s3.create_bucket(BUCKET)
        port = int(s3.url.rsplit(":", 1)[1].strip("/"))
        proxy = LatencyProxy("127.0.0.1", port, 0.0)
        endpoint = f"http://127.0.0.1:{proxy.port}"
        # Every client goes through the proxy: s3fs (tbwrite), boto3 (TensorBoard, tensorboardX).
        fsspec.config.conf["s3"] = {"endpoint_url": endpoint}
        os.environ.update(
            FSSPEC_S3_ENDPOINT_URL=endpoint, AWS_ENDPOINT_URL=endpoint, S3_ENDPOINT=endpoint
        )
        for flushes in args.flushes:
            points = flushes * args.per_flush
            print(f"\n{flushes:,} flushes of {args.per_flush} scalars ({points:,} points):")
            head = (
                f"{'writer':<13} {'objects':>8} {'PUTs':>6} {'up/records':>10} "
                f"{'TB load s':>9} {'TB reqs':>8} {'TB MB down':>10} "
                f"{'read_scalars s':>14}"
            )
            if args.live:
                head += f" {'TB live lag s':>13}"
            print(head)
            tmp = tempfile.mkdtemp(prefix="tbwrite-store-bench-")
            log_tbwrite(tmp, flushes, args.per_flush)
            record_bytes = sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp))
            shutil.rmtree(tmp)
            # Write every run first, then time the readers in rounds (each writer once per
            # round, best of --repeat): a machine whose load changes hurts all of them alike.
            runs: dict[str, dict[str, Any]] = {}
            for name in writers:
                if name == "tensorboardx" and flushes > args.tbx_max:
                    print(f"{name:<13} (skipped: more than --tbx-max {args.tbx_max} flushes)")
                    continue
                kind, _, caps = name.partition(":")
                if caps:  # tbwrite:BYTES:UPLOADS, other segment caps
                    remote.SEGMENT_BYTES, remote.SEGMENT_UPLOADS = map(int, caps.split(":"))
                url = f"s3://{BUCKET}/{kind}-{flushes}-{caps.replace(':', '-')}".rstrip("-")
                m = Meter(s3, proxy)
                WRITERS[kind](url, flushes, args.per_flush)
                wrote = m.read()
                objs = s3.objects(BUCKET, url[len(f"s3://{BUCKET}/") :] + "/")
                runs[name] = {"url": url, "objects": len(objs), **wrote, "tb": [], "rs": []}
                if args.live and kind != "one":
                    live_url = f"{url}-live"
                    stop = threading.Event()
                    out: dict[str, float] = {}
                    t = threading.Thread(
                        target=tensorboard_follow, args=(live_url, stop, points, out), daemon=True
                    )
                    t.start()
                    WRITERS[kind](live_url, flushes, args.per_flush)
                    closed = time.perf_counter()
                    stop.set()
                    t.join()
                    runs[name]["live"] = out["done"] - closed
                remote.SEGMENT_BYTES, remote.SEGMENT_UPLOADS = defaults
            for _ in range(args.repeat):
                for run in runs.values():
                    if not args.no_tensorboard:
                        m = Meter(s3, proxy)
                        t0 = time.perf_counter()
                        n = tensorboard_load(run["url"])
                        run["tb"].append(time.perf_counter() - t0)
                        run["tb_got"] = m.read()
                        if n != points:
                            print(f"WARNING: TensorBoard loaded {n} points of {points}")
                    t0 = time.perf_counter()
                    series = tbwrite.read_scalars(run["url"])
                    run["rs"].append(time.perf_counter() - t0)
                    if [len(s) for tags in series.values() for s in tags.values()] != [points]:
                        print(f"WARNING: read_scalars returned {series}")
            for name, run in runs.items():
                line = (
                    f"{name:<13} {run['objects']:8,} {run['puts']:6,} "
                    f"{run['up'] / record_bytes:9.1f}x "
                )
                if args.no_tensorboard:
                    line += f"{'-':>9} {'-':>8} {'-':>10} "
                else:
                    got = run["tb_got"]
                    line += f"{min(run['tb']):9.2f} {got['requests']:8,} {got['down'] / 1e6:10.2f} "
                line += f"{min(run['rs']):14.3f}"
                if "live" in run:
                    line += f" {run['live']:13.2f}"
                print(line)
            if "one" in runs:
                one = runs["one"]
                for name, run in runs.items():
                    if name == "one":
                        continue
                    parts = [f"read_scalars {min(run['rs']) / min(one['rs']):.2f}x"]
                    if not args.no_tensorboard:
                        parts.insert(0, f"TensorBoard {min(run['tb']) / min(one['tb']):.2f}x")
                    print(f"  {name} vs one object: " + ", ".join(parts))
        proxy.stop()


if __name__ == "__main__":
    main()
