"""The protobuf wire facts of the Events tbwrite encodes by hand, without protobuf.

Strategy: the few messages written most often (the Event envelope, ``file_version``,
``session_log``, a ``simple_value`` scalar) are encoded here byte by byte; everything else is
built with the generated protobuf classes and wrapped with :func:`wrap_summary_event`. The
bytes are exactly what protobuf's own serializer produces (fields in number order, proto3
defaults omitted); the unit tests prove it against the generated classes.

Nothing here imports protobuf or numpy.
"""

from __future__ import annotations

import math
import struct
from typing import Final

from .tfrecord import frame

__all__ = [
    "EVENT_FILE_VERSION",
    "MAX_TAG_BYTES",
    "encode_varint",
    "event_prefix",
    "file_version_event",
    "file_version_record",
    "histogram_proto_summary",
    "session_start_event",
    "summary_record",
    "tensor_summary",
    "wrap_summary_event",
]

EVENT_FILE_VERSION: Final = "brain.Event:2"
# Longer tags are refused: a tag is a name that TensorBoard puts in URLs and menus, so one
# this long is almost surely data passed by mistake.
MAX_TAG_BYTES: Final = 65536
WRITER_NAME: Final = "tbwrite"

# Wire types.
VARINT: Final = 0
I64: Final = 1
LEN: Final = 2
I32: Final = 5
I64_SIZE: Final = 8  # bytes of an I64 field's value (a double wall time)
I32_SIZE: Final = 4  # bytes of an I32 field's value (a float32 simple_value or float_val)
_VARINT, _I64, _LEN, _I32 = VARINT, I64, LEN, I32

# Field numbers the hand-written encoders and the fast reader use.
SUMMARY_VALUE_FIELD: Final = 1  # Summary.value
VALUE_TAG_FIELD: Final = 1  # Summary.Value.tag
VALUE_SIMPLE_VALUE_FIELD: Final = 2
VALUE_HISTO_FIELD: Final = 5
VALUE_TENSOR_FIELD: Final = 8
VALUE_METADATA_FIELD: Final = 9
TENSOR_DTYPE_FIELD: Final = 1  # TensorProto.dtype
TENSOR_SHAPE_FIELD: Final = 2
TENSOR_VERSION_FIELD: Final = 3
TENSOR_CONTENT_FIELD: Final = 4
TENSOR_FLOAT_VAL_FIELD: Final = 5
SHAPE_DIM_FIELD: Final = 2  # TensorShapeProto.dim
DIM_SIZE_FIELD: Final = 1  # TensorShapeProto.Dim.size
# HistogramProto: min 1, max 2, num 3, sum 4, sum_squares 5 (doubles), then the packed
# repeated doubles bucket_limit 6 and bucket 7.
HISTO_STATS_FIELDS: Final = (1, 2, 3, 4, 5)
HISTO_BUCKET_LIMIT_FIELD: Final = 6
HISTO_BUCKET_FIELD: Final = 7
DT_FLOAT: Final = 1  # DataType enum values
DT_DOUBLE: Final = 2
DT_STRING: Final = 7
META_GRAPH_GRAPH_DEF_FIELD: Final = 2  # MetaGraphDef.graph_def


def key(field: int, wire_type: int) -> bytes:
    """A field's key byte(s): ``(number << 3) | wire type`` as a varint (fields < 16: 1 byte)."""
    return bytes([(field << 3) | wire_type])


def split_key(k: int) -> tuple[int, int]:
    """A key's (field number, wire type): :func:`key` read back, for the reader."""
    return k >> 3, k & 7


# Field keys ((number << 3) | wire type) of the fields encoded here.
EVENT_WALL_TIME: Final = bytes([(1 << 3) | _I64])
EVENT_STEP: Final = bytes([(2 << 3) | _VARINT])
EVENT_FILE_VERSION_KEY: Final = bytes([(3 << 3) | _LEN])
EVENT_SUMMARY: Final = bytes([(5 << 3) | _LEN])
EVENT_SESSION_LOG: Final = bytes([(7 << 3) | _LEN])
EVENT_SOURCE_METADATA: Final = bytes([(10 << 3) | _LEN])
SESSION_LOG_STATUS: Final = bytes([(1 << 3) | _VARINT])
SESSION_LOG_START: Final = 1  # SessionLog.SessionStatus.START
SOURCE_METADATA_WRITER: Final = bytes([(1 << 3) | _LEN])
SUMMARY_VALUE: Final = key(SUMMARY_VALUE_FIELD, LEN)
VALUE_TAG: Final = key(VALUE_TAG_FIELD, LEN)
VALUE_SIMPLE_VALUE: Final = key(VALUE_SIMPLE_VALUE_FIELD, I32)
VALUE_HISTO: Final = key(VALUE_HISTO_FIELD, LEN)
VALUE_TENSOR: Final = key(VALUE_TENSOR_FIELD, LEN)
VALUE_METADATA: Final = key(VALUE_METADATA_FIELD, LEN)
TENSOR_DTYPE: Final = key(TENSOR_DTYPE_FIELD, VARINT)
TENSOR_SHAPE: Final = key(TENSOR_SHAPE_FIELD, LEN)
TENSOR_CONTENT: Final = key(TENSOR_CONTENT_FIELD, LEN)
SHAPE_DIM: Final = key(SHAPE_DIM_FIELD, LEN)
DIM_SIZE: Final = key(DIM_SIZE_FIELD, VARINT)
HISTO_STATS: Final = tuple(key(field, I64) for field in HISTO_STATS_FIELDS)
HISTO_BUCKET_LIMIT: Final = key(HISTO_BUCKET_LIMIT_FIELD, LEN)
HISTO_BUCKET: Final = key(HISTO_BUCKET_FIELD, LEN)
_HISTO_STAT_KEYS: Final = tuple(k[0] for k in HISTO_STATS)

pack_double = struct.Struct("<d").pack
# The five HistogramProto stats, each its key byte and its double, in one pack.
_pack_histo_stats = struct.Struct("<BdBdBdBdBd").pack
_pack_float = struct.Struct("<f").pack
_UINT64: Final = 1 << 64
SMALL_VARINTS: Final = tuple(bytes((i,)) for i in range(128))
POS_INF_F32: Final = _pack_float(math.inf)
NEG_INF_F32: Final = _pack_float(-math.inf)


def encode_varint(value: int) -> bytes:
    """Base-128 varint of ``value``; negatives as their 64-bit two's complement (int64)."""
    if 0 <= value < 128:
        return SMALL_VARINTS[value]
    if 0 < value < 16384:  # two bytes: most lengths of a record's parts
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    if value < 0:
        value += _UINT64
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def len_field(key: bytes, payload: bytes) -> bytes:
    return key + encode_varint(len(payload)) + payload


def event_prefix(wall_time: float, step: int) -> bytes:
    """``Event`` fields 1 and 2 (wall_time, step), as protobuf writes them."""
    # proto3 omits a double whose bits are all zero (so -0.0 is written) and a zero int64.
    parts = b""
    if wall_time != 0.0 or math.copysign(1.0, wall_time) < 0:
        parts = EVENT_WALL_TIME + pack_double(wall_time)
    if step:
        parts += EVENT_STEP + encode_varint(step)
    return parts


def file_version_event(wall_time: float, writer: str = WRITER_NAME) -> bytes:
    """``Event{wall_time, file_version="brain.Event:2", source_metadata{writer}}``."""
    return (
        event_prefix(wall_time, 0)
        + len_field(EVENT_FILE_VERSION_KEY, EVENT_FILE_VERSION.encode())
        + len_field(EVENT_SOURCE_METADATA, len_field(SOURCE_METADATA_WRITER, writer.encode()))
    )


def wrap_summary_event(wall_time: float, step: int, summary: bytes) -> bytes:
    """``Event{wall_time, step, summary}`` around an already serialized Summary."""
    return event_prefix(wall_time, step) + len_field(EVENT_SUMMARY, summary)


def histogram_proto_summary(
    tag: str,
    stats: tuple[float, float, float, float, float],
    limits: bytes | memoryview,
    counts: bytes | memoryview,
) -> bytes:
    """``Summary{value{tag, histo{min, max, num, sum, sum_squares, bucket_limit, bucket}}}``
    with ``stats`` the five doubles in that order and ``limits`` and ``counts`` the packed
    little-endian doubles (bytes, or a memoryview of bytes): PyTorch's histogram,
    add_histogram's hot path. Joined once: the buckets are copied once, not per level."""
    # proto3 omits a double whose bits are all zero (-0.0 is written) and an empty packed
    # field. No stat is zero (-0.0 compares equal, so it takes the long way): one pack.
    if 0.0 not in stats:
        k1, k2, k3, k4, k5 = _HISTO_STAT_KEYS
        v1, v2, v3, v4, v5 = stats
        head = _pack_histo_stats(k1, v1, k2, v2, k3, v3, k4, v4, k5, v5)
    else:
        head = b"".join(
            [
                field + pack_double(v)
                for field, v in zip(HISTO_STATS, stats)
                if v != 0.0 or math.copysign(1.0, v) < 0
            ]
        )
    limits_head = HISTO_BUCKET_LIMIT + encode_varint(len(limits)) if limits else b""
    counts_head = HISTO_BUCKET + encode_varint(len(counts)) if counts else b""
    histo_size = len(head) + len(limits_head) + len(limits) + len(counts_head) + len(counts)
    histo_head = VALUE_HISTO + encode_varint(histo_size)
    tag_field = len_field(VALUE_TAG, tag.encode("utf-8"))
    value_size = len(tag_field) + len(histo_head) + histo_size
    return b"".join(
        [
            SUMMARY_VALUE,
            encode_varint(value_size),
            tag_field,
            histo_head,
            head,
            limits_head,
            limits,
            counts_head,
            counts,
        ]
    )


def tensor_summary(
    tag: str, dtype: int, shape: tuple[int, ...], content: bytes, metadata: bytes | None
) -> bytes:
    """``Summary{value{tag, tensor{dtype, tensor_shape, tensor_content}, metadata}}`` with
    ``metadata`` an already serialized SummaryMetadata (or None): the histogram's hot path,
    which protobuf objects would slow down as much as the bucketing itself."""
    # TensorShapeProto.Dim{size}: proto3 omits a zero size.
    dims = (DIM_SIZE + encode_varint(n) if n else b"" for n in shape)
    shape_bytes = b"".join(len_field(SHAPE_DIM, d) for d in dims)
    tensor = TENSOR_DTYPE + encode_varint(dtype) + len_field(TENSOR_SHAPE, shape_bytes)
    if content:
        tensor += len_field(TENSOR_CONTENT, content)
    value = len_field(VALUE_TAG, tag.encode("utf-8")) + len_field(VALUE_TENSOR, tensor)
    if metadata is not None:
        value += len_field(VALUE_METADATA, metadata)
    return len_field(SUMMARY_VALUE, value)


def file_version_record(wall_time: float) -> bytes:
    """The framed first record of every event file (and of every store object)."""
    return frame(file_version_event(wall_time))


def summary_record(wall_time: float, step: int, summary: bytes) -> bytes:
    """The framed record of ``Event{wall_time, step, summary}``."""
    return frame(wrap_summary_event(wall_time, step, summary))


def session_start_event(wall_time: float, step: int) -> bytes:
    """``Event{wall_time, step, session_log{status: START}}``.

    TensorBoard purges the events of earlier files at and after ``step`` when it reads
    this (in files whose ``file_version`` is ``brain.Event:2`` or later).
    """
    session_log = SESSION_LOG_STATUS + encode_varint(SESSION_LOG_START)
    return event_prefix(wall_time, step) + len_field(EVENT_SESSION_LOG, session_log)
