"""Hand-written protobuf wire encoding for the records written most often.

Strategy: an ``add_scalar`` event is ``Event{wall_time, step, summary{value{tag,
simple_value}}}``. Everything but the wall time, the step and the four bytes of the value is
fixed per tag, so it is encoded once per tag and cached; a call then costs two ``struct``
packs, a varint and a join. The bytes are exactly what protobuf's own serializer produces
(fields in number order, proto3 defaults omitted); ``tests/test_encode.py`` proves it with
property-based tests against the generated protobuf classes.

:meth:`ScalarEncoder.record` goes one step further and returns the framed TFRecord: for a
tag and a step-varint length the record has a fixed size, so its header (length and length
CRC) is a cached constant and one ``Struct.pack`` writes header, event and value at once.
The data CRC is taken over header + event in one call and corrected by a per-layout
constant (CRC-32C is affine: ``crc(h + e) ^ crc(h + 0*n) ^ crc(0*n) == crc(e)``), so no
slice is copied.

Nothing here imports protobuf or numpy.
"""

from __future__ import annotations

import math
import struct
from typing import Callable, Final

from crc32c import crc32c as _crc32c

from ._framing import MASK_DELTA as _MASK_DELTA
from ._framing import frame as _frame
from ._framing import mask_crc as _mask

__all__ = [
    "EVENT_FILE_VERSION",
    "ScalarEncoder",
    "encode_varint",
    "file_version_event",
    "wrap_summary_event",
]

# (pack, header + wall_time key, data CRC correction, summary head) of one record layout.
_Layout = tuple[Callable[..., bytes], bytes, int, bytes]

EVENT_FILE_VERSION: Final = "brain.Event:2"
# Longer tags are refused: a tag is a name that TensorBoard puts in URLs and menus, so one
# this long is almost surely data passed by mistake.
MAX_TAG_BYTES: Final = 65536
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
_pack_u32 = struct.Struct("<I").pack
_pack_u64 = struct.Struct("<Q").pack
_FAST_STEP_LIMIT: Final = 1 << 21  # steps below this take record()'s 0-3 byte varint paths
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

    __slots__ = ("_heads", "_layouts")

    _MAX_CACHED_TAGS: Final = 100_000

    def __init__(self) -> None:
        self._heads: dict[str, bytes] = {}
        # tag -> [layout for a step varint of 0, 1, 2, 3 bytes], each (pack, header, crc
        # correction, head) or None until first used; wall time present (non-zero).
        self._layouts: dict[str, list[_Layout | None]] = {}

    def head(self, tag: str) -> bytes:
        """Summary bytes up to and including the simple_value key, for ``tag``."""
        head = self._heads.get(tag)
        if head is None:
            encoded = tag.encode("utf-8")
            if len(encoded) > MAX_TAG_BYTES:
                raise ValueError(
                    f"tag must be at most {MAX_TAG_BYTES} bytes of UTF-8, got {len(encoded)}: "
                    f"{tag[:40]!r}..."
                )
            tag_field = _len_field(VALUE_TAG, encoded)
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
                        (
                            EVENT_WALL_TIME,
                            _pack_double(wall_time),
                            EVENT_STEP,
                            _SMALL_VARINTS[step],
                            head,
                            fval,
                        )
                    )
                return b"".join((EVENT_WALL_TIME, _pack_double(wall_time), head, fval))
            return b"".join(
                (
                    EVENT_WALL_TIME,
                    _pack_double(wall_time),
                    EVENT_STEP,
                    encode_varint(step),
                    head,
                    fval,
                )
            )
        return _event_prefix(wall_time, step) + head + fval

    def record(self, tag: str, value: float, step: int, wall_time: float) -> bytes:
        """The framed TFRecord of one scalar event: ``frame(encode(...))``, faster."""
        layouts = self._layouts.get(tag)
        if layouts is None:
            if len(self._layouts) >= self._MAX_CACHED_TAGS:
                self._layouts.clear()
            self.head(tag)  # raises UnicodeEncodeError before anything is cached
            layouts = self._layouts[tag] = [None, None, None, None]
        if not wall_time or not 0 <= step < _FAST_STEP_LIMIT:
            return _frame(self.encode(tag, value, step, wall_time))
        try:
            if step >= 128:
                if step >= 16384:
                    pack, header, fix, head = layouts[3] or self._layout(tag, 3, layouts)
                    rec = pack(
                        header,
                        wall_time,
                        16,
                        (step & 127) | 128,
                        ((step >> 7) & 127) | 128,
                        step >> 14,
                        head,
                        value,
                    )
                else:
                    pack, header, fix, head = layouts[2] or self._layout(tag, 2, layouts)
                    rec = pack(header, wall_time, 16, (step & 127) | 128, step >> 7, head, value)
            elif step:
                pack, header, fix, head = layouts[1] or self._layout(tag, 1, layouts)
                rec = pack(header, wall_time, 16, step, head, value)
            else:
                pack, header, fix, head = layouts[0] or self._layout(tag, 0, layouts)
                rec = pack(header, wall_time, head, value)
        except OverflowError:  # beyond float32: protobuf writes +-inf
            return _frame(self.encode(tag, value, step, wall_time))
        crc = _crc32c(rec) ^ fix
        return rec + _pack_u32((((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF)

    def _layout(self, tag: str, step_len: int, layouts: list[_Layout | None]) -> _Layout:
        head = self.head(tag)
        # Event: wall_time key + double, [step key + varint], summary head, float32.
        size = 9 + (1 + step_len if step_len else 0) + len(head) + 4
        length = _pack_u64(size)
        header = length + _pack_u32(_mask(_crc32c(length)))
        # header starts with the wall_time key byte, so pack needs no constant for it.
        step_fmt = "B" * (1 + step_len) if step_len else ""
        pack = struct.Struct(f"<{len(header) + 1}sd{step_fmt}{len(head)}sf").pack
        zeros = bytes(size)
        fix = _crc32c(header + zeros) ^ _crc32c(zeros)
        layout = (pack, header + EVENT_WALL_TIME, fix, head)
        # Into the list the caller holds, not self._layouts[tag]: another thread may have
        # evicted the tag since (the cache is cleared when full), and the list still serves.
        layouts[step_len] = layout
        return layout
