"""The benchmark's workloads, run in a child process per writer: each writer's class, the
timed loops (add_scalar, add_scalars, a series, histograms) and the peak RSS of a series.
"""

from __future__ import annotations

import glob
import importlib
import os
import shutil
import statistics
import tempfile
import time
from typing import Any, Callable

WRITERS = ("tbwrite", "tensorboardX", "torch", "tf.summary")
MODULES = {
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
        raise Skip("no add_scalars")
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


class Skip(Exception):
    pass


WORKLOADS: dict[str, tuple[str, str, Callable[[str, str, int], tuple[float, int]], int]] = {
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


def child(writer: str, workload: str, repeats: int, scale: float) -> dict[str, Any]:
    import resource

    _label, _unit, fn, size = WORKLOADS[workload]
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


def child_series_rss(n: int) -> dict[str, Any]:
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
