"""Hand-written protobuf wire encoding for the records written most often.

Strategy: an ``add_scalar`` event is ``Event{wall_time, step, summary{value{tag,
simple_value}}}``. Everything but the wall time, the step and the four bytes of the value is
fixed per tag, so it is encoded once per tag and cached; a call then costs two ``struct``
packs, a varint and a join. The bytes are exactly what protobuf's own serializer produces
(fields in number order, proto3 defaults omitted); ``tests/test_encode.py`` proves it with
property-based tests against the generated protobuf classes.

Nothing here imports protobuf or numpy.
"""

from __future__ import annotations

import math
import struct
from typing import Final

__all__ = [
    "EVENT_FILE_VERSION",
    "ScalarEncoder",
    "encode_varint",
    "file_version_event",
    "wrap_summary_event",
]

EVENT_FILE_VERSION: Final = "brain.Event:2"
WRITER_NAME: Final = "tbwrite"

# Wire types.
_VARINT: Final = 0
_I64: Final = 1
_LEN: Final = 2
_I32: Final = 5

# Field keys ((number << 3) | wire type) of the fields encoded here.
EVENT_WALL_TIME: Final = bytes([(1 << 3) | _I64])
EVENT_STEP: Final = bytes([(2 << 3) | _VARINT])
EVENT_FILE_VERSION_KEY: Final = bytes([(3 << 3) | _LEN])
EVENT_SUMMARY: Final = bytes([(5 << 3) | _LEN])
EVENT_SOURCE_METADATA: Final = bytes([(10 << 3) | _LEN])
SOURCE_METADATA_WRITER: Final = bytes([(1 << 3) | _LEN])
SUMMARY_VALUE: Final = bytes([(1 << 3) | _LEN])
VALUE_TAG: Final = bytes([(1 << 3) | _LEN])
VALUE_SIMPLE_VALUE: Final = bytes([(2 << 3) | _I32])

_pack_double = struct.Struct("<d").pack
_pack_float = struct.Struct("<f").pack
_UINT64: Final = 1 << 64
_SMALL_VARINTS: Final = tuple(bytes((i,)) for i in range(128))
_POS_INF_F32: Final = _pack_float(math.inf)
_NEG_INF_F32: Final = _pack_float(-math.inf)


def encode_varint(value: int) -> bytes:
    """Base-128 varint of ``value``; negatives as their 64-bit two's complement (int64)."""
    if 0 <= value < 128:
        return _SMALL_VARINTS[value]
    if value < 0:
        value += _UINT64
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _len_field(key: bytes, payload: bytes) -> bytes:
    return key + encode_varint(len(payload)) + payload


def pack_float32(value: float) -> bytes:
    """``value`` rounded to float32 as C (and protobuf) rounds: beyond the range is +-inf."""
    try:
        return _pack_float(value)
    except OverflowError:
        return _POS_INF_F32 if value > 0 else _NEG_INF_F32


def _event_prefix(wall_time: float, step: int) -> bytes:
    # proto3 omits a double whose bits are all zero (so -0.0 is written) and a zero int64.
    parts = b""
    if wall_time != 0.0 or math.copysign(1.0, wall_time) < 0:
        parts = EVENT_WALL_TIME + _pack_double(wall_time)
    if step:
        parts += EVENT_STEP + encode_varint(step)
    return parts


def file_version_event(wall_time: float, writer: str = WRITER_NAME) -> bytes:
    """``Event{wall_time, file_version="brain.Event:2", source_metadata{writer}}``."""
    return (
        _event_prefix(wall_time, 0)
        + _len_field(EVENT_FILE_VERSION_KEY, EVENT_FILE_VERSION.encode())
        + _len_field(EVENT_SOURCE_METADATA, _len_field(SOURCE_METADATA_WRITER, writer.encode()))
    )


def wrap_summary_event(wall_time: float, step: int, summary: bytes) -> bytes:
    """``Event{wall_time, step, summary}`` around an already serialized Summary."""
    return _event_prefix(wall_time, step) + _len_field(EVENT_SUMMARY, summary)


class ScalarEncoder:
    """Encodes simple_value scalar events, caching the per-tag bytes.

    ``encode(tag, value, step, wall_time)`` expects a validated ``str`` tag, a Python float,
    an int step within int64 and a finite float wall time.
    """

    __slots__ = ("_heads",)

    _MAX_CACHED_TAGS: Final = 100_000

    def __init__(self) -> None:
        self._heads: dict[str, bytes] = {}

    def head(self, tag: str) -> bytes:
        """Summary bytes up to and including the simple_value key, for ``tag``."""
        head = self._heads.get(tag)
        if head is None:
            tag_field = _len_field(VALUE_TAG, tag.encode("utf-8"))
            value_len = len(tag_field) + 5  # key byte + 4 bytes of float
            value_head = SUMMARY_VALUE + encode_varint(value_len) + tag_field + VALUE_SIMPLE_VALUE
            summary_len = len(value_head) + 4
            head = EVENT_SUMMARY + encode_varint(summary_len) + value_head
            if len(self._heads) >= self._MAX_CACHED_TAGS:
                self._heads.clear()
            self._heads[tag] = head
        return head

    def encode(self, tag: str, value: float, step: int, wall_time: float) -> bytes:
        """The serialized Event for one scalar."""
        head = self._heads.get(tag) or self.head(tag)
        try:
            fval = _pack_float(value)
        except OverflowError:
            fval = _POS_INF_F32 if value > 0 else _NEG_INF_F32
        if wall_time:
            if 0 <= step < 128:
                if step:
                    return b"".join(
                        (EVENT_WALL_TIME, _pack_double(wall_time), EVENT_STEP,
                         _SMALL_VARINTS[step], head, fval)
                    )
                return b"".join((EVENT_WALL_TIME, _pack_double(wall_time), head, fval))
            return b"".join(
                (EVENT_WALL_TIME, _pack_double(wall_time), EVENT_STEP,
                 encode_varint(step), head, fval)
            )
        return _event_prefix(wall_time, step) + head + fval
