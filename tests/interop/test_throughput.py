"""The bulk path (add_scalar_series) and the fast scalar path: exact bytes, read back,
argument checks, bounded memory. Behaviour only: timings are in benchmarks/."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from readback import accumulator, all_events, event_files

from tbwrite import SummaryWriter
from tbwrite._checks import check_series
from tbwrite._format.fast_scalars import ScalarEncoder
from tbwrite._format.fast_series import CHUNK_RECORDS, encode_series
from tbwrite._format.tfrecord import frame
from tbwrite._proto import event_pb2

ROOT = Path(__file__).resolve().parents[2]
INT64 = st.integers(-(1 << 63), (1 << 63) - 1)
TAGS = st.one_of(
    st.sampled_from(["loss", "a/b/c", "ü/λ/😀", "x" * 200, "t" * 5000]),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60),
)


def _reference_records(tag: str, values, steps, walltimes) -> bytes:
    out = []
    for i, v in enumerate(values):
        w = float(walltimes) if np.ndim(walltimes) == 0 else float(walltimes[i])
        event = event_pb2.Event(wall_time=w, step=int(steps[i]))
        event.summary.value.add(tag=tag, simple_value=float(v))
        out.append(frame(event.SerializeToString()))
    return b"".join(out)


def _encoded(tag: str, values, steps, walltimes) -> bytes:
    series = check_series(tag, values, steps, walltimes)
    return b"".join(bytes(c) for c in encode_series(series, ScalarEncoder()))


@st.composite
def series(draw):
    n = draw(st.integers(0, 40))
    values = draw(
        hnp.arrays(np.float64, n, elements=st.floats(allow_nan=True, allow_infinity=True))
    )
    steps = draw(
        st.one_of(
            hnp.arrays(
                np.int64,
                n,
                elements=st.one_of(
                    INT64, st.sampled_from([0, 1, 127, 128, 16383, 16384, (1 << 63) - 1, -1])
                ),
            )
        )
    )
    walltimes = draw(
        st.one_of(
            st.sampled_from([1.7e9, 0.0, -0.0, 1e-300]),
            hnp.arrays(
                np.float64,
                n,
                elements=st.one_of(
                    st.sampled_from([0.0, -0.0, 1.7e9]),
                    st.floats(allow_nan=False, allow_infinity=False),
                ),
            ),
        )
    )
    return values, steps, walltimes


@given(TAGS, series())
@settings(max_examples=200, deadline=None)
def test_series_bytes_equal_protobuf(tag, data) -> None:
    values, steps, walltimes = data
    assert _encoded(tag, values, steps, walltimes) == _reference_records(
        tag, values, steps, walltimes
    )


def test_series_special_values_and_boundaries() -> None:
    values = np.array(
        [
            0.0,
            -0.0,
            math.nan,
            math.inf,
            -math.inf,
            5e-324,
            1e-45,
            1.4e-45,
            3.4028235e38,
            3.4028236e38,
            1e39,
            -1e300,
            2.2250738585072014e-308,
            0.1,
        ]
    )
    steps = np.array(
        [
            0,
            1,
            127,
            128,
            129,
            16383,
            16384,
            2**21 - 1,
            2**21,
            2**28,
            2**35,
            2**63 - 1,
            -1,
            -(2**63),
        ],
        dtype=np.int64,
    )
    for walltimes in (1.7e9, 0.0, -0.0, np.linspace(0.0, 1.7e9, len(values))):
        got = _encoded("ü/loss", values, steps, walltimes)
        assert got == _reference_records("ü/loss", values, steps, walltimes)


def test_series_input_dtypes_match_add_scalar() -> None:
    # ints round through float64 then float32, as add_scalar's float(value) does.
    ints = np.array([2**53 + 1, 2**24 + 1, -(2**62), 7], dtype=np.int64)
    assert _encoded("t", ints, np.arange(4), 1.0) == _reference_records(
        "t", [float(v) for v in ints.tolist()], range(4), 1.0
    )
    for arr in (
        np.arange(5, dtype=np.float16),
        np.arange(5, dtype=np.uint8),
        np.array([True, False]),
        [1, 2.5, 3],
    ):
        values = np.asarray(arr).astype(np.float64)
        assert _encoded("t", arr, None, 2.0) == _reference_records(
            "t", values, range(len(values)), 2.0
        )
    assert _encoded("t", [1.0, 2.0], np.array([5, 6], dtype=np.uint32), 3.0) == _reference_records(
        "t", [1.0, 2.0], [5, 6], 3.0
    )


def test_series_spanning_chunks_and_mixed_layouts() -> None:
    n = CHUNK_RECORDS * 2 + 17
    rng = np.random.default_rng(1)
    values = rng.standard_normal(n)
    steps = np.arange(n, dtype=np.int64) * 3 - 5  # negative, zero, then 1..3 byte varints
    walls = 1.7e9 + rng.random(n)
    walls[::1000] = 0.0
    assert _encoded("loss", values, steps, walls) == _reference_records(
        "loss", values, steps, walls
    )


def test_add_scalar_series_reads_back_in_tensorboard(tmp_path) -> None:
    # Two chunks, the second short; steps crossing a varint width (16384) in the first.
    n = CHUNK_RECORDS + 4_000
    values = np.sin(np.arange(n) / 100.0)
    steps = np.arange(n, dtype=np.int64) * 10
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("before", 1.0, 0)
        w.add_scalar_series("sin", values, steps, walltimes=1.7e9)
        w.add_scalar_series("nan", [math.nan, math.inf, 1.0], walltimes=[1.0, 2.0, 3.0])
        w.add_scalar("after", 2.0, 1)
    acc = accumulator(tmp_path)
    got = acc.Scalars("sin")
    assert len(got) == n
    assert [e.step for e in got] == steps.tolist()
    assert np.array_equal(np.array([e.value for e in got]), values.astype(np.float32))
    assert {e.wall_time for e in got} == {1.7e9}
    nan = acc.Scalars("nan")
    assert math.isnan(nan[0].value) and nan[1].value == math.inf and nan[2].value == 1.0
    assert [e.wall_time for e in nan] == [1.0, 2.0, 3.0]
    tags = [e.summary.value[0].tag for e in all_events(tmp_path) if e.HasField("summary")]
    assert tags[0] == "before" and tags[-1] == "after" and len(tags) == n + 5


def test_add_scalar_series_default_walltime_is_now(tmp_path) -> None:
    import time

    before = time.time()
    with SummaryWriter(tmp_path) as w:
        w.add_scalar_series("x", np.ones(10))
    after = time.time()
    events = [e for e in all_events(tmp_path) if e.HasField("summary")]
    assert [e.step for e in events] == list(range(10))
    assert all(before <= e.wall_time <= after for e in events)


@pytest.mark.parametrize(
    "kwargs, exc, word",
    [
        (dict(tag="", values=[1.0]), ValueError, "tag"),
        (dict(tag=3, values=[1.0]), TypeError, "tag"),
        (dict(tag="t", values=[[1.0, 2.0]]), ValueError, "values"),
        (dict(tag="t", values=5.0), ValueError, "values"),
        (dict(tag="t", values=["a"]), TypeError, "values"),
        (dict(tag="t", values=[1.0, 2.0], steps=[1]), ValueError, "steps"),
        (dict(tag="t", values=[1.0], steps=[1.5]), TypeError, "steps"),
        (
            dict(tag="t", values=[1.0], steps=np.array([2**63], dtype=np.uint64)),
            ValueError,
            "steps",
        ),
        (dict(tag="t", values=[1.0], steps=[2**64]), TypeError, "steps"),
        (dict(tag="t", values=[1.0, 2.0], walltimes=[1.0]), ValueError, "walltimes"),
        (dict(tag="t", values=[1.0, 2.0], walltimes=[1.0, math.nan]), ValueError, "walltimes"),
        (dict(tag="t", values=[1.0], walltimes=math.inf), ValueError, "walltimes"),
        (dict(tag="t", values=[1.0], walltimes="now"), TypeError, "walltimes"),
    ],
)
def test_add_scalar_series_rejects_bad_input_and_writes_nothing(
    tmp_path, kwargs, exc, word
) -> None:
    w = SummaryWriter(tmp_path)
    with pytest.raises(exc, match=word):
        w.add_scalar_series(**kwargs)
    w.add_scalar_series("ok", [1.0, 2.0])  # still usable
    w.close()
    tags = [e.summary.value[0].tag for e in all_events(tmp_path) if e.HasField("summary")]
    assert tags == ["ok", "ok"]


def test_add_scalar_series_after_close_raises(tmp_path) -> None:
    from tbwrite import WriterClosedError

    w = SummaryWriter(tmp_path)
    w.close()
    with pytest.raises(WriterClosedError):
        w.add_scalar_series("x", [1.0])


def test_empty_series_writes_nothing(tmp_path) -> None:
    with SummaryWriter(tmp_path) as w:
        w.add_scalar_series("x", np.array([]))
    assert [e for e in all_events(tmp_path) if e.HasField("summary")] == []


def test_add_scalar_fast_path_reads_back(tmp_path) -> None:
    # Exercises every record() layout, the fallbacks and the buffer drains.
    steps = [0, 1, 127, 128, 16383, 16384, 2**21 - 1, 2**21, 2**40, -3]
    with SummaryWriter(tmp_path) as w:
        for i, step in enumerate(steps):
            w.add_scalar("a", float(i), step)
            w.add_scalar("b/ü", 1e39 if i == 3 else i, step, walltime=0.0 if i == 4 else None)
    acc = accumulator(tmp_path)
    assert [e.step for e in acc.Scalars("a")] == steps
    assert [e.value for e in acc.Scalars("a")] == [float(i) for i in range(len(steps))]
    assert acc.Scalars("b/ü")[3].value == math.inf
    assert acc.Scalars("b/ü")[4].wall_time == 0.0
    assert len(event_files(tmp_path)) == 1


def _peak_rss_mib_of_child(code: str, *args: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return float(out.stdout.split()[-1])


_RSS_CODE = """
import resource, sys, numpy as np, tbwrite
n = int(sys.argv[2])
values = np.full(n, 0.5, dtype=np.float32)  # no temporaries: the baseline peak is just this
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with tbwrite.SummaryWriter(sys.argv[1]) as w:
    w.add_scalar_series("x", values, walltimes=1.7e9)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
"""


def test_bulk_series_memory_stays_flat(tmp_path) -> None:
    # 1M points: ~45 MB of records on disk; the writer's working set stays a few chunks.
    growth = _peak_rss_mib_of_child(_RSS_CODE, str(tmp_path), "1000000")
    size = sum(os.path.getsize(f) for f in event_files(tmp_path))
    assert size > 40e6
    assert growth < 32, f"peak RSS grew by {growth:.1f} MiB writing {size / 1e6:.0f} MB"


def _histogram_summary_reference(tag: str, buckets: np.ndarray, with_metadata: bool) -> bytes:
    from tbwrite._proto import summary_pb2, tensor_pb2

    buckets = np.ascontiguousarray(buckets, dtype="<f8")
    value = summary_pb2.Summary.Value(tag=tag)
    value.tensor.dtype = tensor_pb2.DT_DOUBLE
    value.tensor.tensor_content = buckets.tobytes()
    for size in buckets.shape:
        value.tensor.tensor_shape.dim.add(size=size)
    if with_metadata:
        value.metadata.plugin_data.plugin_name = "histograms"
        value.metadata.data_class = summary_pb2.DATA_CLASS_TENSOR
    return summary_pb2.Summary(value=[value]).SerializeToString()


@given(
    st.text(min_size=1, max_size=300),
    st.integers(0, 300),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_histogram_summary_bytes_equal_protobuf(tag, k, with_metadata, seed) -> None:
    from tbwrite._summaries.histograms import histogram_summary

    try:
        tag.encode("utf-8")
    except UnicodeEncodeError:
        assume(False)
    buckets = np.random.default_rng(seed).normal(size=(k, 3)) * 1e6
    got = histogram_summary(tag, buckets, with_metadata=with_metadata)
    assert got == _histogram_summary_reference(tag, buckets, with_metadata)
