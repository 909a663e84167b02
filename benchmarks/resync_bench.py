"""Reading through damage with ``on_corrupt="skip"``: how fast a reader resynchronises.

    python benchmarks/resync_bench.py [--region-mib 4] [--records 20000] [--repeat 5]

Writes (with tbwrite) event files of good scalar records and damages them:

- ``zeroed``: good records, ``--region-mib`` MiB of zero bytes, good records;
- ``random``: the same with random bytes (fixed seed) in place of the zeros;
- ``every other (data)``: ``--records`` records, every other one with a payload byte
  flipped (its data checksum fails);
- ``every other (length)``: the same with a length byte flipped (its length checksum fails).

Then times ``tbwrite.read_scalars`` (the loaders' record scan) and ``tbwrite.iter_events(raw=True)``
(the streaming decoder) on each, with ``on_corrupt="skip"``, and prints the median of
``--repeat`` rounds. For a region, MB/s is the region's bytes over the time the damaged file
takes beyond the same file without the region; for every-other, the file's bytes over the
whole read. The points read and bytes skipped are printed too, so two versions can be
compared for what they recover, not only for speed. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from typing import Any, Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def good_records(n: int, first_step: int = 0) -> bytes:
    from tbwrite import frame
    from tbwrite._proto import event_pb2

    out = []
    for step in range(first_step, first_step + n):
        ev = event_pb2.Event(wall_time=1.7e9 + step, step=step)
        ev.summary.value.add(tag=f"metrics/tag{step % 10}", simple_value=step * 0.001)
        out.append(frame(ev.SerializeToString()))
    return b"".join(out)


def every_other(n: int, where: str) -> bytes:
    import struct

    data = bytearray(good_records(n))
    pos = i = 0
    while pos < len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        if i % 2:
            data[pos + (14 if where == "data" else 2)] ^= 0x40
        pos += length + 16
        i += 1
    return bytes(data)


def read_scan(path: str) -> tuple[int, int]:
    import tbwrite

    runs = tbwrite.read_scalars(path, on_corrupt="skip")
    points = sum(len(s) for tags in runs.values() for s in tags.values())
    return points, sum(s.nbytes for s in runs.skipped)


def read_stream(path: str) -> tuple[int, int]:
    import tbwrite

    n = 0
    for _ in tbwrite.iter_events(path, on_corrupt="skip", raw=True):
        n += 1
    return n, -1  # the stream reports skips as warnings only


def median_time(fn: Callable[[str], tuple[int, int]], path: str, repeat: int) -> tuple[float, Any]:
    times = []
    result = None
    for _ in range(repeat):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            t = time.perf_counter()
            result = fn(path)
            times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--region-mib", type=float, default=4.0)
    parser.add_argument("--records", type=int, default=20_000, help="records of every-other")
    parser.add_argument("--good", type=int, default=10_000, help="good records around a region")
    parser.add_argument("--repeat", type=int, default=5, help="median of N")
    args = parser.parse_args()

    import numpy as np

    import tbwrite._reading.loaders  # noqa: F401 - imports outside the timings
    from tbwrite._proto import event_pb2  # noqa: F401

    region = int(args.region_mib * (1 << 20))
    before, after = good_records(args.good), good_records(args.good, args.good)
    noise = np.random.default_rng(21).integers(0, 256, region, dtype=np.uint8).tobytes()
    files = {
        "clean": before + after,
        "zeroed": before + bytes(region) + after,
        "random": before + noise + after,
        "every other (data)": every_other(args.records, "data"),
        "every other (length)": every_other(args.records, "length"),
    }
    root = tempfile.mkdtemp(prefix="tbwrite-resync-bench-")
    try:
        paths = {}
        for name, data in files.items():
            d = os.path.join(root, name.replace(" ", "_").replace("(", "").replace(")", ""))
            os.mkdir(d)
            paths[name] = os.path.join(d, "events.out.tfevents.0.bench")
            with open(paths[name], "wb") as f:
                f.write(data)
        print(
            f"regions of {region / 1e6:.1f} MB between 2 x {args.good:,} good records; "
            f"every-other files of {args.records:,} records; median of {args.repeat}\n"
        )
        print(f"{'reader':<14} {'file':<22} {'seconds':>8} {'MB/s':>9} {'read':>8} {'skipped':>10}")
        for reader, fn in (("read_scalars", read_scan), ("iter_events", read_stream)):
            median_time(fn, paths["clean"], 1)  # warm up: first-use imports and tables
            clean, _ = median_time(fn, paths["clean"], args.repeat)
            for name, path in paths.items():
                secs, (points, skipped) = median_time(fn, path, args.repeat)
                if name in ("zeroed", "random"):
                    extra = secs - clean
                    rate = f"{region / extra / 1e6:9.1f}" if extra > 0 else "      inf"
                elif name == "clean":
                    rate = ""
                else:
                    rate = f"{len(files[name]) / secs / 1e6:9.1f}"
                shown = "" if skipped < 0 else f"{skipped:,}"
                print(f"{reader:<14} {name:<22} {secs:8.3f} {rate:>9} {points:8,} {shown:>10}")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
