"""The hand-written encoder produces exactly protobuf's bytes."""

from __future__ import annotations

import math
import struct

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from tbwrite._format.fast_scalars import ScalarEncoder
from tbwrite._format.wire import encode_varint, file_version_event, wrap_summary_event
from tbwrite._proto import event_pb2, summary_pb2

INT64 = st.integers(-(1 << 63), (1 << 63) - 1)
STEPS = st.one_of(
    st.sampled_from([0, 1, 127, 128, 129, 16383, 16384, (1 << 63) - 1, -1, -(1 << 63)]), INT64
)
VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
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
        ]
    ),
)
WALL_TIMES = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, 1.7e9, 1e-300]),
    st.floats(allow_nan=False, allow_infinity=False),
)
TAGS = st.one_of(
    st.text(min_size=1, max_size=300).filter(lambda t: _encodable(t)),
    st.sampled_from(["loss", "a/b/c", "ü/λ/😀", "x" * 200, "t" * 20000]),
)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _reference(tag: str, value: float, step: int, wall_time: float) -> bytes:
    event = event_pb2.Event(wall_time=wall_time, step=step)
    event.summary.value.add(tag=tag, simple_value=value)
    return event.SerializeToString()


@given(TAGS, VALUES, STEPS, WALL_TIMES)
@example("loss", 0.5, 128, 1.7e9)
@example("loss", -0.0, 0, -0.0)
def test_scalar_event_bytes_equal_protobuf(
    tag: str, value: float, step: int, wall_time: float
) -> None:
    enc = ScalarEncoder()
    got = enc.encode(tag, value, step, wall_time)
    assert got == _reference(tag, value, step, wall_time)
    assert enc.encode(tag, value, step, wall_time) == got  # the cached head changes nothing


@given(st.one_of(INT64, st.integers(0, 1 << 20)))
def test_varint_matches_protobuf(n: int) -> None:
    assert encode_varint(n) == event_pb2.Event(step=n).SerializeToString()[1:] or n == 0


def test_file_version_event_bytes() -> None:
    ref = event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2")
    ref.source_metadata.writer = "tbwrite"
    assert file_version_event(1.7e9) == ref.SerializeToString()


@given(WALL_TIMES, STEPS, st.binary(max_size=200))
def test_wrap_summary_event(wall_time: float, step: int, tag_bytes: bytes) -> None:
    summary = summary_pb2.Summary()
    summary.value.add(tag=tag_bytes.hex() or "t", simple_value=1.0)
    ref = event_pb2.Event(wall_time=wall_time, step=step, summary=summary)
    assert (
        wrap_summary_event(wall_time, step, summary.SerializeToString()) == ref.SerializeToString()
    )


def test_float32_rounding_matches_numpy() -> None:
    enc = ScalarEncoder()
    for v in [0.1, 1 / 3, 1e-40, 3.4028235e38, 1e39, -1e39]:
        raw = enc.encode("t", v, 0, 0.0)[-4:]
        with np.errstate(over="ignore"):
            assert raw == struct.pack("<f", np.float32(v))


@given(TAGS, VALUES, STEPS, WALL_TIMES)
@example("loss", 0.5, 127, 1.7e9)
@example("loss", 0.5, 128, 1.7e9)
@example("loss", 0.5, 16383, 1.7e9)
@example("loss", 0.5, 16384, 1.7e9)
@example("loss", 0.5, (1 << 21) - 1, 1.7e9)
@example("loss", 0.5, 1 << 21, 1.7e9)
@example("loss", 3.4028236e38, 5, 1.7e9)
@example("loss", 1.0, 0, -0.0)
def test_scalar_record_is_the_framed_protobuf_event(
    tag: str, value: float, step: int, wall_time: float
) -> None:
    from tbwrite._format.tfrecord import frame

    enc = ScalarEncoder()
    want = frame(_reference(tag, value, step, wall_time))
    assert enc.record(tag, value, step, wall_time) == want
    assert enc.record(tag, value, step, wall_time) == want  # cached layouts change nothing


def _histogram_reference(tag: str, stats: list[float], limits: list[float], counts: list[float]):
    histo = summary_pb2.HistogramProto(
        min=stats[0],
        max=stats[1],
        num=stats[2],
        sum=stats[3],
        sum_squares=stats[4],
        bucket_limit=limits,
        bucket=counts,
    )
    return summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, histo=histo)]
    ).SerializeToString()


@given(
    TAGS,
    st.lists(VALUES, min_size=5, max_size=5),
    st.lists(VALUES, max_size=40),
    st.lists(VALUES, max_size=40),
)
@example("h", [0.0, -0.0, 0.0, -0.0, 0.0], [], [])
@example("h", [-1.5, 2.0, 3.0, 0.5, 6.25], [0.0, 1e-12, 2.0], [0.0, 2.0, 1.0])
def test_legacy_histogram_bytes_equal_protobuf(
    tag: str, stats: list[float], limits: list[float], counts: list[float]
) -> None:
    from tbwrite._summaries.legacy import histogram_summary

    want = _histogram_reference(tag, stats, limits, counts)
    assert histogram_summary(tag, *stats, limits, counts, with_metadata=True) == want
    # as add_histogram hands them over: float64 arrays
    got = histogram_summary(
        tag, *stats, np.array(limits, np.float64), np.array(counts), with_metadata=False
    )
    assert got == want
