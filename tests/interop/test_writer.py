"""SummaryWriter: every method read back by TensorBoard's EventAccumulator; the file
contract (naming, first record, flush, close); validation; threads and fork."""

from __future__ import annotations

import math
import os
import re
import socket
import threading
import time

import numpy as np
import pytest
from readback import accumulator, all_events, event_files, raw_events
from tensorboard.util import tensor_util

from tbwrite import SummaryWriter, WriterClosedError


def f32(x: float) -> float:
    return float(np.float32(x))


# -- files -----------------------------------------------------------------------------


def test_file_name_and_first_record(tmp_path) -> None:
    w = SummaryWriter(tmp_path / "run", filename_suffix=".v1")
    files = event_files(tmp_path / "run")
    assert len(files) == 1
    name = os.path.basename(files[0])
    m = re.fullmatch(r"events\.out\.tfevents\.(\d{10})\.(.+)\.(\d+)\.(\d+)\.v1", name)
    assert m, name
    assert abs(int(m.group(1)) - time.time()) < 5
    assert m.group(2) == socket.gethostname()
    assert int(m.group(3)) == os.getpid()
    first = raw_events(files[0])  # on disk before any flush
    assert len(first) == 1
    assert first[0].file_version == "brain.Event:2"
    assert first[0].source_metadata.writer == "tbwrite"
    w.close()


def test_two_writers_same_dir_same_second_never_share_a_file(tmp_path) -> None:
    writers = [SummaryWriter(tmp_path) for _ in range(5)]
    for i, w in enumerate(writers):
        w.add_scalar("x", i, 0)
        w.close()
    files = event_files(tmp_path)
    assert len(files) == 5
    values = sorted(
        e.summary.value[0].simple_value
        for f in files
        for e in raw_events(f)
        if e.HasField("summary")
    )
    assert values == [0, 1, 2, 3, 4]


def test_default_logdir_like_pytorch(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_exp")
    logdir = w.get_logdir()
    assert logdir.startswith("runs" + os.sep)
    assert logdir.endswith(socket.gethostname() + "_exp")
    assert re.match(r"runs/[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_", logdir)
    w.close()
    assert event_files(tmp_path / logdir)


# -- kinds, read back by TensorBoard ---------------------------------------------------


def test_scalars_read_back_exactly(tmp_path) -> None:
    values = [0.0, -0.0, 1.5, -2.25, 1e-30, 3e38, 1e6, 0.1, math.nan, math.inf, -math.inf]
    with SummaryWriter(tmp_path) as w:
        for i, v in enumerate(values):
            w.add_scalar("loss", v, i, walltime=1000.0 + i)
        w.add_scalar("np", np.float32(2.5), 3)
        w.add_scalar("np", np.array([[7]]), 4)
        w.add_scalar("np", np.int64(9), np.int32(5))
        w.add_scalar("big_step", 1.0, (1 << 63) - 1)
        w.add_scalar("neg_step", 1.0, -5)
    acc = accumulator(tmp_path)
    got = acc.Scalars("loss")
    assert [e.step for e in got] == list(range(len(values)))
    assert [e.wall_time for e in got] == [1000.0 + i for i in range(len(values))]
    for e, v in zip(got, values):
        if math.isnan(v):
            assert math.isnan(e.value)
        else:
            assert e.value == f32(v)
    assert [(e.step, e.value) for e in acc.Scalars("np")] == [(3, 2.5), (4, 7.0), (5, 9.0)]
    assert acc.Scalars("big_step")[0].step == (1 << 63) - 1
    assert acc.Scalars("neg_step")[0].step == -5


def test_new_style_scalar_is_float_tensor_with_metadata_once(tmp_path) -> None:
    with SummaryWriter(tmp_path) as w:
        for i in range(3):
            w.add_scalar("acc", 0.25 * i, i, new_style=True)
    events = [e for e in all_events(tmp_path) if e.HasField("summary")]
    assert len(events) == 3
    first = events[0].summary.value[0]
    assert first.metadata.plugin_data.plugin_name == "scalars"
    assert first.tensor.dtype == 1  # DT_FLOAT
    assert not events[1].summary.value[0].HasField("metadata")
    acc = accumulator(tmp_path)
    got = [(t.step, float(tensor_util.make_ndarray(t.tensor_proto))) for t in acc.Tensors("acc")]
    assert got == [(0, 0.0), (1, 0.25), (2, 0.5)]


def test_double_precision_warns_and_stays_visible(tmp_path) -> None:
    import tbwrite._writers.summary_writer as writer_module

    writer_module._double_warned = False
    with SummaryWriter(tmp_path) as w:
        with pytest.warns(UserWarning, match="float64"):
            w.add_scalar("d", 0.1, 1, double_precision=True)
    (event,) = [e for e in all_events(tmp_path) if e.HasField("summary")]
    assert event.summary.value[0].tensor.dtype == 1
    assert event.summary.value[0].tensor.float_val[0] == f32(0.1)


def test_add_scalars_makes_pytorch_sub_runs(tmp_path) -> None:
    with SummaryWriter(tmp_path) as w:
        for step in range(4):
            w.add_scalars("run/loss", {"train": step * 1.0, "val": step * 2.0}, step)
    assert sorted(os.listdir(tmp_path)) == sorted(
        [os.path.basename(event_files(tmp_path)[0]), "run_loss_train", "run_loss_val"]
    )
    for sub, k in [("run_loss_train", 1.0), ("run_loss_val", 2.0)]:
        got = accumulator(tmp_path / sub).Scalars("run/loss")
        assert [(e.step, e.value) for e in got] == [(s, s * k) for s in range(4)]


def _hist(acc, tag):
    return [(t.step, tensor_util.make_ndarray(t.tensor_proto)) for t in acc.Tensors(tag)]


def test_histograms_default_is_pytorchs_legacy_form(tmp_path) -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(size=10_000)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("default", data, 0)
        w.add_histogram("grouped", data, 1, bins=10, max_bins=3)
    acc = accumulator(tmp_path)
    # PyTorch's default edges: 0 and +-1e-12 * 1.1**k below 1e20.
    positive = [1e-12]
    while positive[-1] * 1.1 < 1e20:
        positive.append(positive[-1] * 1.1)
    edges = np.array([-v for v in positive[::-1]] + [0.0] + positive)
    (h,) = acc.Histograms("default")
    hv = h.histogram_value
    assert (hv.min, hv.max, hv.num) == (data.min(), data.max(), 10_000)
    assert hv.sum == pytest.approx(data.sum()) and hv.sum_squares == pytest.approx(data @ data)
    counts, _ = np.histogram(data, bins=edges)
    first, last = np.flatnonzero(counts)[[0, -1]]
    # From the first to the last non-empty bucket, preceded by an empty one; each bucket
    # is stored by its right edge.
    assert list(hv.bucket) == [0.0, *counts[first : last + 1]]
    assert list(hv.bucket_limit) == edges[first : last + 2].tolist()
    (h,) = acc.Histograms("grouped")
    counts, edges = np.histogram(data, bins=10)
    # max_bins=3 groups 10 // 3 = 3 buckets: 3 + 3 + 3 + 1, so 4 buckets (as PyTorch).
    grouped = [counts[0:3].sum(), counts[3:6].sum(), counts[6:9].sum(), counts[9]]
    assert list(h.histogram_value.bucket) == [0.0, *grouped]
    assert list(h.histogram_value.bucket_limit) == [*edges[[0, 3, 6, 9]], edges[-1]]


def test_histograms_tensor_form_default_and_bins(tmp_path) -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(size=10_000)
    with SummaryWriter(tmp_path, histogram_form="tensor") as w:
        w.add_histogram("default", data, 0)
        w.add_histogram("int", data, 1, bins=7)
        w.add_histogram("auto", data, 2, bins="auto")
        w.add_histogram("edges", data, 3, bins=[-1, 0, 1])
        w.add_histogram("capped", data, 4, bins=100, max_bins=10)
        w.add_histogram("const", np.full(5, 3.0), 5)
        w.add_histogram("ints", [1, 2, 2, 3], 6)
    acc = accumulator(tmp_path)
    ((step, b),) = _hist(acc, "default")
    assert b.shape == (30, 3) and b.dtype == np.float64
    assert b[:, 2].sum() == 10_000
    assert b[0, 0] == data.min() and b[-1, 1] == data.max()
    assert np.all(b[1:, 0] == b[:-1, 1])
    assert np.array_equal(b[:, 2], np.histogram(data, bins=30)[0])
    ((_, b),) = _hist(acc, "int")
    assert b.shape == (7, 3) and b[:, 2].sum() == 10_000
    ((_, b),) = _hist(acc, "auto")
    counts, edges = np.histogram(data, bins="auto")
    assert np.array_equal(b[:, 2], counts) and np.array_equal(b[:, 0], edges[:-1])
    ((_, b),) = _hist(acc, "edges")
    assert b.tolist() == [
        [-1, 0, ((data >= -1) & (data < 0)).sum()],
        [0, 1, ((data >= 0) & (data <= 1)).sum()],
    ]
    ((_, b),) = _hist(acc, "capped")
    assert b.shape == (10, 3) and b[:, 2].sum() == 10_000
    ((_, b),) = _hist(acc, "const")
    # tf.summary.histogram's rule for constant input: 30 zero-width buckets, the count in
    # the last.
    assert b.tolist() == [[3.0, 3.0, 0.0]] * 29 + [[3.0, 3.0, 5.0]]
    ((_, b),) = _hist(acc, "ints")
    assert b[:, 2].sum() == 4


def test_histogram_raw_written_as_given(tmp_path) -> None:
    with SummaryWriter(tmp_path) as w:
        w.add_histogram_raw("raw", 0.5, 9.0, 10, 40.0, 200.0, [1.0, 5.0, 1e308], [2, 3, 5], 3)
    ((h),) = accumulator(tmp_path).Histograms("raw")
    hv = h.histogram_value
    assert h.step == 3 and (hv.min, hv.max, hv.num, hv.sum, hv.sum_squares) == (
        0.5,
        9.0,
        10,
        40.0,
        200.0,
    )
    assert list(hv.bucket_limit) == [1.0, 5.0, 1e308] and list(hv.bucket) == [2, 3, 5]


def test_histogram_raw_converted_like_tensorboard(tmp_path) -> None:
    with SummaryWriter(tmp_path, histogram_form="tensor") as w:
        w.add_histogram_raw(
            "raw",
            min=0.5,
            max=9.0,
            num=10,
            sum=40.0,
            sum_squares=200.0,
            bucket_limits=[1.0, 5.0, 1.7976931348623157e308],
            bucket_counts=[2, 3, 5],
            global_step=3,
        )
    ((step, b),) = _hist(accumulator(tmp_path), "raw")
    assert step == 3
    assert b.tolist() == [[0.5, 1.0, 2.0], [1.0, 5.0, 3.0], [5.0, 9.0, 5.0]]


def test_text(tmp_path) -> None:
    with SummaryWriter(tmp_path) as w:
        w.add_text("notes", "# Title\n\n**bold** ü", 2)
        w.add_text("notes", "second", 3)
    got = accumulator(tmp_path).Tensors("notes")
    assert [(t.step, tensor_util.make_ndarray(t.tensor_proto).item().decode()) for t in got] == [
        (2, "# Title\n\n**bold** ü"),
        (3, "second"),
    ]
    events = [e for e in all_events(tmp_path) if e.HasField("summary")]
    assert events[0].summary.value[0].metadata.plugin_data.plugin_name == "text"


def test_purge_step_writes_session_start(tmp_path) -> None:
    with SummaryWriter(tmp_path) as w:
        for i in range(10):
            w.add_scalar("x", i, i)
    with SummaryWriter(tmp_path, purge_step=5) as w:
        w.add_scalar("x", 50.0, 5)
    got = accumulator(tmp_path).Scalars("x")
    assert [(e.step, e.value) for e in got] == [(i, float(i)) for i in range(5)] + [(5, 50.0)]


# -- flush / close contract --------------------------------------------------------------


def _scalar_count(path) -> int:
    return sum(1 for f in event_files(path) for e in raw_events(f) if e.HasField("summary"))


def test_buffering_max_queue_and_flush(tmp_path) -> None:
    w = SummaryWriter(tmp_path, max_queue=5, flush_secs=3600)
    for i in range(4):
        w.add_scalar("x", i, i)
    assert _scalar_count(tmp_path) == 0
    w.add_scalar("x", 4, 4)
    assert _scalar_count(tmp_path) == 5
    w.add_scalar("x", 5, 5)
    w.flush()
    assert _scalar_count(tmp_path) == 6
    w.close()


def test_flush_secs_writes_in_background(tmp_path) -> None:
    w = SummaryWriter(tmp_path, max_queue=1000, flush_secs=0.2)
    w.add_scalar("x", 1.0, 1)
    deadline = time.time() + 5
    while _scalar_count(tmp_path) == 0 and time.time() < deadline:
        time.sleep(0.05)
    assert _scalar_count(tmp_path) == 1
    w.close()


def test_close_twice_and_write_after_close(tmp_path) -> None:
    w = SummaryWriter(tmp_path)
    w.add_scalar("x", 1.0)
    w.close()
    w.close()
    w.flush()
    with pytest.raises(WriterClosedError, match="closed"):
        w.add_scalar("x", 2.0)
    with pytest.raises(WriterClosedError):
        w.add_histogram("h", [1.0, 2.0])
    with pytest.raises(WriterClosedError):
        w.add_scalars("m", {"a": 1.0})
    assert _scalar_count(tmp_path) == 1


def test_exit_flushes_buffered_events(tmp_path) -> None:
    import subprocess
    import sys

    code = (
        "import tbwrite\n"
        f"w = tbwrite.SummaryWriter({str(tmp_path)!r}, max_queue=1000, flush_secs=3600)\n"
        "for i in range(7): w.add_scalar('x', i, i)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert _scalar_count(tmp_path) == 7


def test_threads_share_one_writer(tmp_path) -> None:
    w = SummaryWriter(tmp_path, max_queue=7)

    def log(k: int) -> None:
        for i in range(500):
            w.add_scalar(f"t{k}", float(i), i)

    threads = [threading.Thread(target=log, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.close()
    acc = accumulator(tmp_path)
    for k in range(8):
        assert [e.value for e in acc.Scalars(f"t{k}")] == [float(i) for i in range(500)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_fork_child_never_writes_parent_file_and_buffer_written_once(tmp_path) -> None:
    w = SummaryWriter(tmp_path, max_queue=1000, flush_secs=3600)
    for i in range(3):
        w.add_scalar("parent", i, i)  # buffered at fork time
    parent_file = event_files(tmp_path)[0]
    pid = os.fork()
    if pid == 0:  # child
        try:
            w.add_scalar("child", 1.0, 1)
            w.close()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    w.add_scalar("parent", 3, 3)
    w.close()
    files = event_files(tmp_path)
    assert len(files) == 2
    parent_tags = [
        v.tag for e in raw_events(parent_file) if e.HasField("summary") for v in e.summary.value
    ]
    assert parent_tags == ["parent"] * 4
    (child_file,) = [f for f in files if f != parent_file]
    assert str(pid) in os.path.basename(child_file)
    child_tags = [
        v.tag for e in raw_events(child_file) if e.HasField("summary") for v in e.summary.value
    ]
    assert child_tags == ["child"]


# -- validation ----------------------------------------------------------------------------

BAD_CALLS = [
    ("add_scalar", ("",), {"scalar_value": 1.0}, ValueError, "tag"),
    ("add_scalar", (5, 1.0), {}, TypeError, "tag"),
    ("add_scalar", (None, 1.0), {}, TypeError, "tag"),
    ("add_scalar", ("x", "1.0"), {}, TypeError, "scalar_value"),
    ("add_scalar", ("x", None), {}, TypeError, "scalar_value"),
    ("add_scalar", ("x", 1 + 2j), {}, TypeError, "scalar_value"),
    ("add_scalar", ("x", [1.0, 2.0]), {}, ValueError, "scalar_value"),
    ("add_scalar", ("x", np.array(["a"])), {}, TypeError, "scalar_value"),
    ("add_scalar", ("x", 10**400), {}, ValueError, "scalar_value"),
    ("add_scalar", ("x", 1.0, 1.5), {}, TypeError, "global_step"),
    ("add_scalar", ("x", 1.0, "3"), {}, TypeError, "global_step"),
    ("add_scalar", ("x", 1.0, 1 << 63), {}, ValueError, "global_step"),
    ("add_scalar", ("x", 1.0, -(1 << 63) - 1), {}, ValueError, "global_step"),
    ("add_scalar", ("x", 1.0, 1), {"walltime": math.nan}, ValueError, "walltime"),
    ("add_scalar", ("x", 1.0, 1), {"walltime": math.inf}, ValueError, "walltime"),
    ("add_scalar", ("x", 1.0, 1), {"walltime": "now"}, TypeError, "walltime"),
    ("add_scalar", ("\ud800", 1.0), {}, ValueError, "tag"),
    ("add_scalars", ("m", {"a": 1.0, "b": "x"}), {}, TypeError, "tag_scalar_dict"),
    ("add_scalars", ("m", {"a": 1.0, "": 2.0}), {}, ValueError, "tag_scalar_dict key"),
    ("add_scalars", ("m", {"a": 1.0, "/../../../x": 2.0}), {}, ValueError, "outside the log dir"),
    ("add_scalars", ("m", [1.0]), {}, TypeError, "tag_scalar_dict"),
    ("add_histogram", ("h", []), {}, ValueError, "values"),
    ("add_histogram", ("h", [1.0, math.nan]), {}, ValueError, "values"),
    ("add_histogram", ("h", [1.0, math.inf]), {}, ValueError, "values"),
    ("add_histogram", ("h", ["a", "b"]), {}, TypeError, "values"),
    ("add_histogram", ("h", [[1.0], [1.0, 2.0]]), {}, ValueError, "values"),
    (
        "add_histogram",
        (
            "h",
            np.array([object()]),
        ),
        {},
        TypeError,
        "values",
    ),
    ("add_histogram", ("h", [1.0, 2.0]), {"bins": "nope"}, ValueError, "bins"),
    ("add_histogram", ("h", [1.0, 2.0]), {"bins": 0}, ValueError, "bins"),
    ("add_histogram", ("h", [1.0, 2.0]), {"bins": [3, 1]}, ValueError, "bins"),
    ("add_histogram", ("h", [1.0, 2.0]), {"max_bins": 0}, ValueError, "max_bins"),
    ("add_histogram", ("h", [1.0, 2.0]), {"bins": [5, 6]}, ValueError, "no value falls inside"),
    ("add_histogram_raw", ("h", 0, 1, 2, 1, 1, [1.0], [1, 1]), {}, ValueError, "same length"),
    ("add_histogram_raw", ("h", 0, 1, 2, 1, 1, [], []), {}, ValueError, "bucket_limits"),
    ("add_histogram_raw", ("h", 2, 1, 2, 1, 1, [1.0], [2]), {}, ValueError, "min"),
    ("add_text", ("t", 5), {}, TypeError, "text_string"),
    ("add_text", ("", "x"), {}, ValueError, "tag"),
    ("add_text", ("t", "\udc80"), {}, ValueError, "text_string"),
    ("add_scalar", ("x" * 70000, 1.0), {}, ValueError, "at most 65536 bytes"),
    ("add_scalar", ("é" * 40000, 1.0), {}, ValueError, "at most 65536 bytes"),
    ("add_scalar", ("x" * 70000, 1.0), {"new_style": True}, ValueError, "at most 65536 bytes"),
    ("add_text", ("x" * 70000, "t"), {}, ValueError, "at most 65536 bytes"),
    ("add_histogram", ("x" * 70000, [1.0]), {}, ValueError, "at most 65536 bytes"),
    ("add_scalar", ("x", np.float64(1.0), np.float32(2)), {}, TypeError, "global_step"),
    ("add_scalar", ("x", np.ones(3)), {}, ValueError, "scalar_value"),
    ("add_scalar", ("x", 1.0, 1), {"walltime": -math.inf}, ValueError, "walltime"),
    ("add_scalars", ("m", {"a": 1.0, "x/../../..": 2.0}), {}, ValueError, "outside the log dir"),
    ("add_scalars", ("m", {"a": 1.0, "k" * 300: 2.0}), {}, ValueError, "longer than 255 bytes"),
    ("add_scalars", ("m", {"a": 1.0, "b\x00": 2.0}), {}, ValueError, "NUL"),
    ("add_scalars", ("", {"a": 1.0}), {}, ValueError, "main_tag"),
    ("add_scalars", ("m", {"a": 1.0}, 1 << 64), {}, ValueError, "global_step"),
    ("add_histogram", ("h", np.array([1, 2], dtype=object)), {}, TypeError, "values"),
    ("add_histogram", ("h", np.array(["1", "2"])), {}, TypeError, "values"),
    ("add_histogram", ("h", [1.0, 2.0]), {"walltime": math.nan}, ValueError, "walltime"),
    ("add_histogram_raw", ("h", 0, 1, 2, 1, 1, [1.0], [-1]), {}, ValueError, "bucket_counts"),
    ("add_histogram_raw", ("h", 0, "1", 2, 1, 1, [1.0], [2]), {}, TypeError, "max"),
]


@pytest.mark.parametrize("method,args,kwargs,exc,fragment", BAD_CALLS)
def test_bad_input_rejected_and_writer_usable(
    tmp_path, method, args, kwargs, exc, fragment
) -> None:
    w = SummaryWriter(tmp_path, max_queue=1)
    with pytest.raises(exc, match=re.escape(fragment)):
        getattr(w, method)(*args, **kwargs)
    w.flush()
    assert _scalar_count(tmp_path) == 0, "a rejected call wrote something"
    assert [d for d in os.listdir(tmp_path) if not d.startswith("events")] == []
    w.add_scalar("ok", 1.0, 1)
    w.close()
    assert _scalar_count(tmp_path) == 1


def test_constructor_validation(tmp_path) -> None:
    with pytest.raises(ValueError, match="max_queue"):
        SummaryWriter(tmp_path, max_queue=0)
    with pytest.raises(ValueError, match="flush_secs"):
        SummaryWriter(tmp_path, flush_secs=-1)
    with pytest.raises(TypeError, match="log_dir"):
        SummaryWriter(123)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="filename_suffix"):
        SummaryWriter(tmp_path, filename_suffix="a/b")
    with pytest.raises(ValueError, match="histogram_form"):
        SummaryWriter(tmp_path, histogram_form="legacy")
    assert event_files(tmp_path) == []


class FakeJaxArray:
    """Quacks like a 0-d jax.Array: __float__, __array__, shape, dtype, ndim."""

    def __init__(self, v: float) -> None:
        self._a = np.asarray(v, dtype=np.float32)
        self.shape, self.dtype, self.ndim = (), self._a.dtype, 0

    def __float__(self) -> float:
        return float(self._a)

    def __array__(self, dtype=None, copy=None):
        return self._a


def test_array_likes_without_importing_their_library(tmp_path) -> None:
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("jax", FakeJaxArray(1.25), 1)
        w.add_histogram("jaxh", [FakeJaxArray(1.0), FakeJaxArray(2.0)], 1)
    acc = accumulator(tmp_path)
    assert acc.Scalars("jax")[0].value == 1.25
    assert acc.Histograms("jaxh")[0].histogram_value.num == 2
