"""The scalar fast path: ``add_scalar``'s framed record from a per-tag cache.

Strategy: an ``add_scalar`` event is ``Event{wall_time, step, summary{value{tag,
simple_value}}}``. Everything but the wall time, the step and the four bytes of the value is
fixed per tag, so it is encoded once per tag and cached; a call then costs two ``struct``
packs, a varint and a join. The bytes are exactly those of :mod:`.wire` (and of protobuf).

:meth:`ScalarEncoder.record` goes one step further and returns the framed TFRecord: for a
tag and a step-varint length the record has a fixed size, so its header (length and length
CRC) is a cached constant and one ``Struct.pack`` writes header, event and value at once.
The data CRC is taken over header + event in one call and corrected by a per-layout
constant (CRC-32C is affine: ``crc(h + e) ^ crc(h + 0*n) ^ crc(0*n) == crc(e)``), so no
slice is copied.

Nothing here imports protobuf or numpy.
"""

from __future__ import annotations

import struct
from typing import Callable, Final

from .tfrecord import CRC, LENGTH, crc32c, frame, load_crc32c, mask_crc
from .wire import (
    EVENT_STEP,
    EVENT_SUMMARY,
    EVENT_WALL_TIME,
    MAX_TAG_BYTES,
    NEG_INF_F32,
    POS_INF_F32,
    SMALL_VARINTS,
    SUMMARY_VALUE,
    VALUE_SIMPLE_VALUE,
    VALUE_TAG,
    encode_varint,
    event_prefix,
    len_field,
    pack_double,
)

__all__ = ["ScalarEncoder"]

# (pack, header + wall_time key, data CRC correction, summary head) of one record layout.
_Layout = tuple[Callable[..., bytes], bytes, int, bytes]

_pack_float = struct.Struct("<f").pack
_pack_u32 = CRC.pack
_pack_u64 = LENGTH.pack
_FAST_STEP_LIMIT: Final = 1 << 21  # steps below this take record()'s 0-3 byte varint paths


class ScalarEncoder:
    """Encodes simple_value scalar events, caching the per-tag bytes.

    ``encode(tag, value, step, wall_time)`` expects a validated ``str`` tag, a Python float,
    an int step within int64 and a finite float wall time.
    """

    __slots__ = ("_crc32c", "_heads", "_layouts")

    _MAX_CACHED_TAGS: Final = 100_000

    def __init__(self) -> None:
        self._crc32c = load_crc32c()
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
            tag_field = len_field(VALUE_TAG, encoded)
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
            fval = POS_INF_F32 if value > 0 else NEG_INF_F32
        if wall_time:
            if 0 <= step < 128:
                if step:
                    return b"".join(
                        (
                            EVENT_WALL_TIME,
                            pack_double(wall_time),
                            EVENT_STEP,
                            SMALL_VARINTS[step],
                            head,
                            fval,
                        )
                    )
                return b"".join((EVENT_WALL_TIME, pack_double(wall_time), head, fval))
            return b"".join(
                (
                    EVENT_WALL_TIME,
                    pack_double(wall_time),
                    EVENT_STEP,
                    encode_varint(step),
                    head,
                    fval,
                )
            )
        return event_prefix(wall_time, step) + head + fval

    def record(self, tag: str, value: float, step: int, wall_time: float) -> bytes:
        """The framed TFRecord of one scalar event: ``frame(encode(...))``, faster."""
        layouts = self._layouts.get(tag)
        if layouts is None:
            if len(self._layouts) >= self._MAX_CACHED_TAGS:
                self._layouts.clear()
            self.head(tag)  # raises UnicodeEncodeError before anything is cached
            layouts = self._layouts[tag] = [None, None, None, None]
        if not wall_time or not 0 <= step < _FAST_STEP_LIMIT:
            return frame(self.encode(tag, value, step, wall_time))
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
            return frame(self.encode(tag, value, step, wall_time))
        return rec + _pack_u32(mask_crc(self._crc32c(rec) ^ fix))

    def _layout(self, tag: str, step_len: int, layouts: list[_Layout | None]) -> _Layout:
        head = self.head(tag)
        # Event: wall_time key + double, [step key + varint], summary head, float32.
        size = 9 + (1 + step_len if step_len else 0) + len(head) + 4
        length = _pack_u64(size)
        header = length + _pack_u32(mask_crc(crc32c(length)))
        # header starts with the wall_time key byte, so pack needs no constant for it.
        step_fmt = "B" * (1 + step_len) if step_len else ""
        pack = struct.Struct(f"<{len(header) + 1}sd{step_fmt}{len(head)}sf").pack
        zeros = bytes(size)
        fix = crc32c(header + zeros) ^ crc32c(zeros)
        layout = (pack, header + EVENT_WALL_TIME, fix, head)
        # Into the list the caller holds, not self._layouts[tag]: another thread may have
        # evicted the tag since (the cache is cleared when full), and the list still serves.
        layouts[step_len] = layout
        return layout
