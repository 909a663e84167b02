"""``tbwrite bench``: tbwrite against the other TensorBoard writers, side by side.

Strategy: every (writer, workload) pair runs in a fresh subprocess of this interpreter, so
import time and peak RSS are each writer's own. Each child repeats its workload, times it
from the first call through ``close()`` (the writers' defaults otherwise), and reports the
median. The add_scalar loop is read back after timing: every event must be in the files.
Writers that are not installed are skipped with the reason. Figures only: nothing here
asserts a speed.
"""

from __future__ import annotations

import glob
import importlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

__all__ = ["main"]

WRITERS = ("tbwrite", "tensorboardX", "torch", "tf.summary")
_MODULES = {
    "tbwrite": "tbwrite",
    "tensorboardX": "tensorboardX",
    "torch": "torch.utils.tensorboard",
    "tf.summary": "tensorflow",
}

# (name, label, unit, scale): scale maps the --quick flag to smaller sizes.
N_SCALARS = 20_000
N_SCALARS_DICT = 5_000  # add_scalars calls, 3 keys each
N_SERIES = 1_000_000  # tbwrite's add_scalar_series; the others loop add_scalar over N_SERIES_LOOP
N_SERIES_LOOP = 50_000
N_HIST = 500  # add_histogram calls of 10k float64 each
N_RSS_SERIES = 10_000_000


# -- the workloads, run in the child ------------------------------------------------------


def _writer_class(name: str) -> Any:
    module = {
        "tbwrite": "tbwrite",
        "tensorboardX": "tensorboardX",
        "torch": "torch.utils.tensorboard",
    }.get(name)
    if module is None:
        return None
    return importlib.import_module(module).SummaryWriter


class _TfWriter:
    """tf.summary behind the SummaryWriter calls used here."""

    def __init__(self, logdir: str) -> None:
        tf: Any = importlib.import_module("tensorflow")

        self._tf = tf
        self._w = tf.summary.create_file_writer(logdir)

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        with self._w.as_default():
            self._tf.summary.scalar(tag, value, step=step)

    def add_histogram(self, tag: str, values: Any, step: int) -> None:
        with self._w.as_default():
            self._tf.summary.histogram(tag, values, step=step)

    def close(self) -> None:
        self._w.close()


def _make(name: str, logdir: str) -> Any:
    if name == "tf.summary":
        return _TfWriter(logdir)
    return _writer_class(name)(logdir)


def _count_events(logdir: str, tag: str) -> int:
    """Events holding ``tag`` in every event file under ``logdir``, CRCs checked."""
    from tbwrite import NEED_DATA, RecordDecoder
    from tbwrite._proto import event_pb2

    count = 0
    for path in glob.glob(os.path.join(logdir, "**", "*tfevents*"), recursive=True):
        dec = RecordDecoder()
        with open(path, "rb") as f:
            dec.receive_data(f.read())
        while (rec := dec.next_record()) is not NEED_DATA:
            ev = event_pb2.Event.FromString(rec)  # type: ignore[arg-type]
            count += sum(1 for v in ev.summary.value if v.tag == tag)
    return count


def _w_scalar(name: str, logdir: str, n: int) -> tuple[float, int]:
    w = _make(name, logdir)
    add = w.add_scalar
    t = time.perf_counter()
    for i in range(n):
        add("loss", (i % 100) * 0.01, i)
    w.close()
    return time.perf_counter() - t, n


def _w_scalars(name: str, logdir: str, n: int) -> tuple[float, int]:
    if name == "tf.summary":
        raise _Skip("no add_scalars")
    w = _make(name, logdir)
    t = time.perf_counter()
    for i in range(n):
        x = (i % 100) * 0.01
        w.add_scalars("metrics", {"train": x, "val": x + 1.0, "test": x + 2.0}, i)
    w.close()
    return time.perf_counter() - t, 3 * n


def _w_series(name: str, logdir: str, n: int) -> tuple[float, int]:
    import numpy as np

    values = np.sin(np.arange(n) / 100.0)
    w = _make(name, logdir)
    t = time.perf_counter()
    if name == "tbwrite":
        w.add_scalar_series("series", values)
    else:  # the others have no bulk path: their add_scalar loop over the same array
        add = w.add_scalar
        for i, v in enumerate(values.tolist()):
            add("series", v, i)
    w.close()
    return time.perf_counter() - t, n


def _w_hist(name: str, logdir: str, n: int) -> tuple[float, int]:
    import numpy as np

    values = np.random.default_rng(0).standard_normal(10_000)
    w = _make(name, logdir)
    t = time.perf_counter()
    for i in range(n):
        w.add_histogram("weights", values, i)
    w.close()
    return time.perf_counter() - t, n


class _Skip(Exception):
    pass


_WORKLOADS: dict[str, tuple[str, str, Callable[[str, str, int], tuple[float, int]], int]] = {
    # key: (label, unit, function, size)
    "scalar": (f"add_scalar loop ({N_SCALARS // 1000}k calls)", "scalars/s", _w_scalar, N_SCALARS),
    "scalars": (
        f"add_scalars ({N_SCALARS_DICT // 1000}k calls x 3)",
        "scalars/s",
        _w_scalars,
        N_SCALARS_DICT,
    ),
    "series": (f"bulk series ({N_SERIES // 1_000_000}M points)", "scalars/s", _w_series, N_SERIES),
    "hist": ("add_histogram (10k floats)", "histograms/s", _w_hist, N_HIST),
}


def _child(writer: str, workload: str, repeats: int, scale: float) -> dict[str, Any]:
    import resource

    _label, _unit, fn, size = _WORKLOADS[workload]
    if workload == "series" and writer != "tbwrite":
        size = N_SERIES_LOOP
    size = max(1, int(size * scale))
    rates = []
    verified = None
    # One small untimed run first, for every writer alike: lazy imports (numpy and
    # protobuf for tbwrite's histograms) and first-call setup are not throughput.
    warm = tempfile.mkdtemp(prefix="tbwrite-bench-")
    try:
        fn(writer, warm, min(size, 10))
    finally:
        shutil.rmtree(warm, ignore_errors=True)
    for _ in range(repeats):
        logdir = tempfile.mkdtemp(prefix="tbwrite-bench-")
        try:
            seconds, items = fn(writer, logdir, size)
            rates.append(items / seconds)
            if workload == "scalar":
                got = _count_events(logdir, "loss")
                verified = got if verified is None else min(verified, got)
                if got != items:
                    raise RuntimeError(f"{writer}: read back {got} of {items} events")
        finally:
            shutil.rmtree(logdir, ignore_errors=True)
    return {
        "rate": statistics.median(rates),
        "rates": rates,
        "items": size,
        "verified": verified,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child_series_rss(n: int) -> dict[str, Any]:
    import resource

    import numpy as np

    import tbwrite

    values = np.full(n, 0.5, dtype=np.float32)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    logdir = tempfile.mkdtemp(prefix="tbwrite-bench-")
    try:
        t = time.perf_counter()
        with tbwrite.SummaryWriter(logdir) as w:
            w.add_scalar_series("x", values)
        seconds = time.perf_counter() - t
        size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(logdir, "*tfevents*")))
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rate": n / seconds,
        "growth_mib": (peak - base) / 1024,
        "input_mib": values.nbytes / 2**20,
        "file_mb": size / 1e6,
    }


_IMPORT_CODE = """
import sys, time
if {block_torch}:
    class _NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ModuleNotFoundError(name)
    sys.meta_path.insert(0, _NoTorch())
t = time.perf_counter()
import {module}
print(time.perf_counter() - t)
"""


def _import_time(module: str, repeats: int, block_torch: bool) -> float:
    code = _IMPORT_CODE.format(module=module, block_torch=block_torch)
    times = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.split()[-1]))
    return statistics.median(times)


# -- the parent ---------------------------------------------------------------------------


def _available(writer: str) -> str | None:
    """None when importable, else why not."""
    import importlib.util

    top = _MODULES[writer].split(".")[0]
    if importlib.util.find_spec(top) is None:
        return f"{top} is not installed"
    return None


def _run_child(args: list[str]) -> dict[str, Any]:
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    out = subprocess.run(
        [sys.executable, "-m", "tbwrite._cli.bench", "--child", *args],
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": last}
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _fmt_rate(rate: float) -> str:
    if rate >= 1e6:
        return f"{rate / 1e6:.2f}M/s"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f}k/s"
    return f"{rate:.0f}/s"


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="tbwrite bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per measurement (median; default 3)"
    )
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes, one repeat")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind = args.child[0]
        if kind == "rss":
            result = _child_series_rss(int(args.child[1]))
        else:
            writer, workload, repeats, scale = args.child
            try:
                result = _child(writer, workload, int(repeats), float(scale))
            except _Skip as skip:
                result = {"skip": str(skip)}
        print(json.dumps(result))
        return 0
    return _parent(args.repeats if not args.quick else 1, 0.1 if args.quick else 1.0)


def _parent(repeats: int, scale: float) -> int:
    print(f"machine: {machine()}")
    present = []
    for writer in WRITERS:
        why = _available(writer)
        if why:
            print(f"skipping {writer}: {why}")
        else:
            present.append(writer)
    versions = {}
    for writer in present:
        mod = _MODULES[writer].split(".")[0]
        try:
            versions[writer] = __import__("importlib.metadata").metadata.version(
                {"tf.summary": "tensorflow", "torch": "torch"}.get(writer, writer)
            )
        except Exception:  # noqa: BLE001 - a version is only decoration
            versions[writer] = "?"
        del mod
    print("versions: " + ", ".join(f"{w} {v}" for w, v in versions.items()))
    print(
        f"each figure: median of {repeats} runs in a fresh process after one untimed "
        "warm-up run, timed through close()\n"
    )

    others = [w for w in present if w != "tbwrite"]
    header = ["workload", "tbwrite"] + [x for w in others for x in (w, "ratio")]
    rows: list[list[str]] = []
    for key, (label, _unit, _fn, _size) in _WORKLOADS.items():
        results = {w: _run_child([w, key, str(repeats), str(scale)]) for w in present}
        ours = results.get("tbwrite", {})
        row = [label, _fmt_rate(ours["rate"]) if "rate" in ours else ours.get("error", "-")]
        for w in others:
            r = results[w]
            if "rate" in r:
                ratio = f"{ours['rate'] / r['rate']:.1f}x" if "rate" in ours else "-"
                row += [_fmt_rate(r["rate"]), ratio]
            else:
                row += [r.get("skip") or r.get("error", "-"), "-"]
        rows.append(row)
        if key == "scalar":
            rss = {w: results[w].get("peak_rss_mib") for w in present}

    imports = {}
    for w in present:
        imports[w] = _import_time(_MODULES[w], max(repeats, 5), block_torch=(w == "tensorboardX"))
    row = ["import time", f"{imports['tbwrite'] * 1000:.0f} ms"]
    for w in others:
        row += [f"{imports[w] * 1000:.0f} ms", f"{imports[w] / imports['tbwrite']:.0f}x less"]
    rows.append(row)
    row = ["peak RSS, add_scalar loop", f"{rss['tbwrite']:.0f} MiB"]
    for w in others:
        value = rss.get(w)
        row += [
            f"{value:.0f} MiB" if value else "-",
            f"{value / rss['tbwrite']:.1f}x less" if value else "-",
        ]
    rows.append(row)

    widths = [max(len(cells[i]) for cells in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(wd) for c, wd in zip(cells, widths)) + " |"

    print(line(header))
    print("|" + "|".join("-" * (wd + 2) for wd in widths) + "|")
    for cells in rows:
        print(line(cells))
    print("\nratio: tbwrite's rate / the other's (import, RSS: the other's / tbwrite's).")
    print("tensorboardX's import is timed with torch hidden (it imports torch when present);")
    print(
        "the others have no bulk path: their row is their add_scalar loop over "
        f"{int(N_SERIES_LOOP * scale)} points."
    )

    n = int(N_RSS_SERIES * scale)
    r = _run_child(["rss", str(n)])
    if "rate" in r:
        print(
            f"\ntbwrite add_scalar_series of {n / 1e6:g}M points: {_fmt_rate(r['rate'])}, "
            f"{r['file_mb']:.0f} MB written, peak RSS +{r['growth_mib']:.0f} MiB over the "
            f"{r['input_mib']:.0f} MiB input array"
        )
    else:
        print(f"\nseries RSS run failed: {r.get('error')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
