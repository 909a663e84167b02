"""Scalars logged as device arrays (JAX arrays) are read when written, never at the call.

A fake device array stands in for ``jax.Array``: what tbwrite relies on is
``copy_to_host_async()``, ``is_ready()``, ``shape``, ``dtype`` and ``float()``, which waits
until the value is "computed" (``finish()``). No JAX needed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tbwrite import NEED_DATA, DeviceValueError, RecordDecoder, SummaryWriter, frame, read_scalars
from tbwrite.integrations.clu import SummaryWriter as CluWriter

ROOT = Path(__file__).resolve().parents[2]


class FakeDeviceArray:
    """A scalar being computed on a device: ``float()`` waits for :meth:`finish`."""

    def __init__(
        self,
        value: float,
        *,
        ready: bool = False,
        shape: tuple[int, ...] = (),
        dtype: str = "float32",
        fail: BaseException | None = None,
    ) -> None:
        self.value = value
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self.fail = fail
        self.deleted = False
        self.copies = 0
        self.read_by: list[str] = []  # the threads that read the value
        self.reading = threading.Event()  # set when a read starts waiting
        self._done = threading.Event()
        if ready:
            self._done.set()

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def finish(self) -> None:
        self._done.set()

    def copy_to_host_async(self) -> None:
        self.copies += 1

    def is_ready(self) -> bool:
        if self.deleted:
            raise AssertionError("is_ready() on a deleted array (jaxlib crashes on this)")
        return self._done.is_set()

    def is_deleted(self) -> bool:
        return self.deleted

    def _read(self) -> float:
        self.reading.set()
        if not self._done.wait(10):
            raise AssertionError("read before the device finished, and it never did")
        self.read_by.append(threading.current_thread().name)
        if self.deleted:
            raise RuntimeError("Array has been deleted")
        if self.fail is not None:
            raise self.fail
        return self.value

    def __float__(self) -> float:
        if self.ndim:
            raise TypeError("only 0-d arrays convert to a float")
        return self._read()

    def item(self) -> float:
        return self._read()


def _points(logdir: Any, tag: str = "loss", run: str = ".") -> list[tuple[int, float]]:
    runs = read_scalars(str(logdir))
    if run not in runs or tag not in runs[run]:
        return []
    series = runs[run][tag]
    return [(int(s), float(v)) for s, v in zip(series.steps, series.values)]


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


def test_the_call_starts_the_copy_and_does_not_read(tmp_path) -> None:
    x = FakeDeviceArray(1.5)
    w = SummaryWriter(tmp_path, max_queue=100)
    w.add_scalar("loss", x, 3)
    assert x.copies == 1 and x.read_by == []
    x.finish()
    w.flush()
    assert _points(tmp_path) == [(3, 1.5)]
    assert x.read_by == ["MainThread"]
    w.close()


def test_a_drain_on_the_callers_thread_writes_the_ready_prefix_in_order(tmp_path) -> None:
    first, late = FakeDeviceArray(1.0, ready=True), FakeDeviceArray(2.0)
    w = SummaryWriter(tmp_path, max_queue=3)
    w.add_scalar("loss", first, 1)
    w.add_scalar("loss", late, 2)
    w.add_scalar("loss", 3.0, 3)  # max_queue: written up to the value not computed yet
    assert _points(tmp_path) == [(1, 1.0)]
    for step in range(4, 10):  # every call tries again; none waits for the device
        w.add_scalar("loss", float(step), step)
    assert _points(tmp_path) == [(1, 1.0)] and late.read_by == []
    late.finish()
    w.add_scalar("loss", 10.0, 10)
    assert _points(tmp_path) == [(s, float(s)) for s in range(1, 11)]
    w.close()


def test_a_series_logged_after_a_pending_value_waits_behind_it(tmp_path) -> None:
    late = FakeDeviceArray(-1.0)
    w = SummaryWriter(tmp_path)
    w.add_scalar("loss", late, 0)
    w.add_scalar_series("loss", [1.0, 2.0, 3.0], [1, 2, 3])  # does not wait for the device
    assert _points(tmp_path) == [] and late.read_by == []
    late.finish()
    w.flush()
    assert _points(tmp_path) == [(0, -1.0), (1, 1.0), (2, 2.0), (3, 3.0)]
    w.close()


def test_flush_waits_for_every_value_logged_before_it(tmp_path) -> None:
    values = [FakeDeviceArray(float(i)) for i in range(5)]
    w = SummaryWriter(tmp_path, max_queue=2)
    for i, x in enumerate(values):
        w.add_scalar("loss", x, i)
        w.add_scalar("lr", 0.1, i)
    threading.Timer(0.2, lambda: [x.finish() for x in values]).start()
    t0 = time.monotonic()
    w.flush()
    assert time.monotonic() - t0 >= 0.15  # it waited for the device
    assert _points(tmp_path) == [(i, float(i)) for i in range(5)]
    assert _points(tmp_path, "lr") == [(i, pytest.approx(0.1)) for i in range(5)]
    w.close()


def test_close_and_add_scalars_and_clu_write_scalars_take_device_values(tmp_path) -> None:
    a, b, c = FakeDeviceArray(1.0), FakeDeviceArray(2.0, shape=(1,)), FakeDeviceArray(4.0)
    w = SummaryWriter(tmp_path / "torch")
    w.add_scalars("m", {"a": a, "b": b, "c": 3.0}, 7)
    assert (a.copies, b.copies, a.read_by, b.read_by) == (1, 1, [], [])
    a.finish()
    b.finish()
    w.close()
    assert _points(tmp_path / "torch", "m", "m_a") == [(7, 1.0)]
    assert _points(tmp_path / "torch", "m", "m_b") == [(7, 2.0)]
    assert _points(tmp_path / "torch", "m", "m_c") == [(7, 3.0)]

    clu = CluWriter(tmp_path / "clu")
    clu.write_scalars(5, {"loss": c, "acc": 0.5})
    assert c.copies == 1 and c.read_by == []
    c.finish()
    clu.close()
    assert _points(tmp_path / "clu") == [(5, 4.0)]
    assert _points(tmp_path / "clu", "acc") == [(5, 0.5)]


def test_the_timed_flush_waits_on_the_flusher_thread_and_logging_goes_on(tmp_path) -> None:
    slow = FakeDeviceArray(9.0)
    w = SummaryWriter(tmp_path, max_queue=2, flush_secs=0.05)
    w.add_scalar("loss", slow, 0)
    assert slow.reading.wait(5)  # the flusher thread is waiting for the device now
    t0 = time.monotonic()
    for step in range(1, 200):  # many drains on this thread while the flusher waits
        w.add_scalar("loss", float(step), step)
    assert time.monotonic() - t0 < 2.0  # nothing waited for the device
    assert _points(tmp_path) == []  # nothing can be written before the first value
    slow.finish()
    _wait_for(lambda: len(_points(tmp_path)) >= 1)
    # Read by a background thread of tbwrite's (the timed flush's), not by the caller.
    assert slow.read_by[0].startswith("tbwrite-"), slow.read_by
    w.flush()
    assert _points(tmp_path) == [(0, 9.0)] + [(s, float(s)) for s in range(1, 200)]
    w.close()


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (FakeDeviceArray(1.0, shape=(2,)), ValueError, r"scalar_value must hold exactly one"),
        (FakeDeviceArray(1.0, shape=(1, 3)), ValueError, r"shape \(1, 3\)"),
        (FakeDeviceArray(1.0, dtype="complex64"), TypeError, r"scalar_value must be a real"),
        (FakeDeviceArray(1.0, dtype="U3"), TypeError, r"dtype <U3"),
    ],
)
def test_a_bad_device_value_is_refused_at_the_call(tmp_path, value, error, match) -> None:
    w = SummaryWriter(tmp_path)
    with pytest.raises(error, match=match):
        w.add_scalar("loss", value, 1)
    ok = FakeDeviceArray(2.0)
    with pytest.raises(error, match=r"tag_scalar_dict\['bad'\]"):
        w.add_scalars("m", {"ok": ok, "bad": value}, 1)
    clu = CluWriter(tmp_path / "clu")
    with pytest.raises(error, match=r"scalars\['bad'\]"):
        clu.write_scalars(1, {"ok": ok, "bad": value})
    assert value.copies == 0 and ok.copies == 0  # refused before anything started
    w.add_scalar("loss", 1.0, 2)  # still usable
    w.close()
    clu.close()
    assert _points(tmp_path) == [(2, 1.0)]
    assert set(read_scalars(str(tmp_path))) == {"."}  # no sub-run, nothing from clu


def test_a_deleted_array_is_refused_at_the_call(tmp_path) -> None:
    x = FakeDeviceArray(1.0, ready=True)
    x.deleted = True
    with SummaryWriter(tmp_path) as w, pytest.raises(ValueError, match="deleted"):
        w.add_scalar("loss", x, 1)
    assert x.copies == 0


def test_a_value_that_fails_at_flush_is_reported_by_that_flush(tmp_path) -> None:
    bad = FakeDeviceArray(0.0, ready=True, fail=RuntimeError("XLA: the step failed"))
    w = SummaryWriter(tmp_path, max_queue=100)
    w.add_scalar("loss", 1.0, 1)
    w.add_scalar("loss", bad, 2)
    w.add_scalar("loss", 3.0, 3)
    with pytest.raises(DeviceValueError, match=r"'loss' at step 2.*the step failed") as info:
        w.flush()
    assert (info.value.tag, info.value.step) == ("loss", 2)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert _points(tmp_path) == [(1, 1.0), (3, 3.0)]  # the others are written, in order
    w.add_scalar("loss", 4.0, 4)  # reported once; the writer goes on
    w.close()
    assert _points(tmp_path) == [(1, 1.0), (3, 3.0), (4, 4.0)]


def test_a_value_that_fails_in_a_callers_drain_is_raised_by_the_next_call(tmp_path) -> None:
    gone = FakeDeviceArray(0.0, ready=True)
    w = SummaryWriter(tmp_path, max_queue=2)
    w.add_scalar("loss", gone, 1)
    gone.deleted = True  # donated to a later step, say
    w.add_scalar("loss", 2.0, 2)  # the drain drops it; this call's own value is kept
    with pytest.raises(DeviceValueError, match="step 1"):
        w.add_scalar("loss", 3.0, 3)  # raised, and this call keeps nothing
    w.add_scalar("loss", 4.0, 4)
    w.close()
    assert _points(tmp_path) == [(2, 2.0), (4, 4.0)]


def test_a_value_that_fails_in_the_timed_flush_is_raised_by_the_next_call(tmp_path) -> None:
    bad = FakeDeviceArray(0.0, ready=True, fail=RuntimeError("boom"))
    w = SummaryWriter(tmp_path, flush_secs=0.05)
    w.add_scalar("loss", 1.0, 1)
    w.add_scalar("loss", bad, 2)
    _wait_for(lambda: _points(tmp_path) == [(1, 1.0)])
    with pytest.raises(DeviceValueError, match="boom"):
        w.add_scalar("loss", 3.0, 3)
    w.close()
    assert _points(tmp_path) == [(1, 1.0)]


def test_close_reports_a_failed_value_after_writing_the_rest(tmp_path) -> None:
    bad = FakeDeviceArray(0.0, ready=True, fail=RuntimeError("boom"))
    w = SummaryWriter(tmp_path)
    w.add_scalar("loss", bad, 1)
    w.add_scalar("loss", 2.0, 2)
    with pytest.raises(DeviceValueError):
        w.close()
    assert _points(tmp_path) == [(2, 2.0)]
    w.close()  # closed: harmless


def test_new_style_reads_the_value_at_the_call(tmp_path) -> None:
    x = FakeDeviceArray(2.5, ready=True)
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("loss", x, 1, new_style=True)
        assert x.read_by == ["MainThread"]
    assert _points(tmp_path) == [(1, 2.5)]


def test_floats_never_take_the_deferred_path(tmp_path) -> None:
    with SummaryWriter(tmp_path, max_queue=1) as w:
        w.add_scalar("loss", 1.0, 1)
        w.add_scalar("loss", np.float32(2.0), 2)
        w.add_scalar("loss", np.array([3.0]), 3)
        assert _points(tmp_path) == [(1, 1.0), (2, 2.0), (3, 3.0)]  # written at once


_EXIT_SCRIPT = """
import sys, threading
sys.path.insert(0, {tests!r})
from unit.test_device_values import FakeDeviceArray
from tbwrite import SummaryWriter

w = SummaryWriter(sys.argv[1])
x = FakeDeviceArray(7.0)
w.add_scalar("loss", x, 1)
w.add_scalar("loss", 8.0, 2)
threading.Timer(0.3, x.finish).start()
# no close(): the exit hook waits for the value
"""


def test_exit_writes_values_still_being_computed(tmp_path) -> None:
    script = _EXIT_SCRIPT.format(tests=str(ROOT / "tests"))
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert _points(tmp_path) == [(1, 7.0), (2, 8.0)]


def test_clu_write_scalars_checks_every_value_before_writing_any(tmp_path) -> None:
    clu = CluWriter(tmp_path, max_queue=1)
    with pytest.raises(ValueError, match="scalars key must be encodable"):
        clu.write_scalars(1, {"a": 1.0, "\ud800": 2.0})
    with pytest.raises(TypeError, match=r"scalars\['b'\]"):
        clu.write_scalars(1, {"a": 1.0, "b": "two"})
    clu.write_scalars(2, {"a": 3.0, "b": np.float32(4.0)})
    assert _points(tmp_path, "a") == [(2, 3.0)]  # written at once (max_queue 1)
    assert _points(tmp_path, "b") == [(2, 4.0)]
    clu.close()


def test_device_values_and_a_failing_disk_keep_every_record_for_the_retry() -> None:
    import errno

    from tbwrite import WriterFailedError
    from tbwrite._deferred import DeferredRecord
    from tbwrite._eventfile import EventFileWriter
    from tbwrite._sinks.memory import MemorySink

    sink = MemorySink("mem")
    w = EventFileWriter(lambda: sink, name="mem", max_queue=100, flush_secs=60)
    x = FakeDeviceArray(5.0, ready=True)
    w.write_record(frame(b"before"))
    w.write_deferred(DeferredRecord(x, lambda v: frame(str(v).encode()), "t", 1))
    w.write_record(frame(b"after"))
    sink.fail_writes = OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(WriterFailedError):
        w.flush()
    sink.fail_writes = None
    w.close()  # the retry writes them all, once, in order
    dec = RecordDecoder()
    dec.receive_data(bytes(sink.data))
    records = []
    while (rec := dec.next_record()) is not NEED_DATA:
        records.append(rec)
    assert records[1:] == [b"before", b"5.0", b"after"]


def test_threads_logging_device_values_while_another_flushes(tmp_path) -> None:
    w = SummaryWriter(tmp_path, max_queue=5, flush_secs=0.02)
    arrays: list[FakeDeviceArray] = []
    stop = threading.Event()

    def device() -> None:  # finishes the values in the order they were made
        while not stop.is_set() or any(not a.is_ready() for a in list(arrays)):
            for a in list(arrays):
                a.finish()
            time.sleep(0.001)

    def log(tag: str) -> None:
        for step in range(300):
            if step % 3:
                w.add_scalar(tag, float(step), step)
            else:
                x = FakeDeviceArray(float(step))
                arrays.append(x)
                w.add_scalar(tag, x, step)

    def flush() -> None:
        while not stop.is_set():
            w.flush()

    finisher, flusher = threading.Thread(target=device), threading.Thread(target=flush)
    loggers = [threading.Thread(target=log, args=(tag,)) for tag in ("a", "b")]
    for t in [finisher, flusher, *loggers]:
        t.start()
    for t in loggers:
        t.join(30)
    stop.set()
    finisher.join(30)
    flusher.join(30)
    w.close()
    for tag in ("a", "b"):
        assert _points(tmp_path, tag) == [(s, float(s)) for s in range(300)]


def test_a_value_not_computed_yet_delays_no_other_writers_timed_flush(tmp_path) -> None:
    slow = FakeDeviceArray(1.0)
    a = SummaryWriter(tmp_path / "a", flush_secs=0.05)
    b = SummaryWriter(tmp_path / "b", flush_secs=0.05)
    try:
        a.add_scalar("pending", slow, 0)
        assert slow.reading.wait(30)  # a's timed flush waits for the device now
        b.add_scalar("ready", 2.0, 0)
        deadline = time.monotonic() + 30
        seen: list[float] = []
        while time.monotonic() < deadline:
            runs = read_scalars(tmp_path / "b")
            if runs and "ready" in runs["."]:
                seen = list(runs["."]["ready"].values)
                break
            time.sleep(0.02)  # polling for the flusher's write, bounded by the deadline
        assert seen == [2.0], "b's timed flush waited behind a's device value"
        assert not read_scalars(tmp_path / "a").get(".", {}).get("pending")
    finally:
        slow.finish()
        a.close()
        b.close()
    assert list(read_scalars(tmp_path / "a")["."]["pending"].values) == [1.0]
