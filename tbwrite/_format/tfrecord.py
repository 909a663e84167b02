"""TFRecord framing: pure functions to frame payloads and a decoder that does no I/O.

Strategy: the writer path is ``frame(payload) -> bytes`` (one ``struct.pack`` and two CRCs,
both computed in C by the ``crc32c`` package). The reader path is :class:`RecordDecoder`, fed
bytes with :meth:`~RecordDecoder.receive_data` and asked for records with
:meth:`~RecordDecoder.next_record`, which answers :data:`NEED_DATA` on a partial record, as
h11 and wsproto do. A truncated tail is therefore "not written yet", never an error.
After damage, :func:`find_record` (used by :meth:`RecordDecoder.resync` and the loaders'
scan alike) finds where the next record may start, testing every offset of a block at once.
"""

from __future__ import annotations

import re
import struct
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Final, TypeVar, Union

from .._errors import CorruptRecordError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "CRC",
    "FOOTER_SIZE",
    "HEADER",
    "HEADER_SIZE",
    "LENGTH",
    "MASK_DELTA",
    "NEED_DATA",
    "RecordDecoder",
    "crc32c",
    "find_record",
    "frame",
    "load_crc32c",
    "mask_crc",
    "masked_crc32c",
    "record_need",
]

# A record on disk:
#
#   +---------------------+----------------------------+--------------+--------------------------+
#   | length: uint64 (LE) | masked_crc32c(length): u32 | data[length] | masked_crc32c(data): u32 |
#   +---------------------+----------------------------+--------------+--------------------------+
#   |<-------------- HEADER_SIZE = 12 ---------------->|              |<--- FOOTER_SIZE = 4 ---->|
#
# Byte order is little-endian always (never native). data is one serialized Event.
LENGTH_FORMAT: Final = "<Q"
CRC_FORMAT: Final = "<I"
LENGTH_SIZE: Final = 8
CRC_SIZE: Final = 4
HEADER_SIZE: Final = LENGTH_SIZE + CRC_SIZE
FOOTER_SIZE: Final = CRC_SIZE
MASK_DELTA: Final = 0xA282EAD8
_MASK32: Final = 0xFFFFFFFF

# The masked CRC of an all-zero length field: not zero, so 12 zero bytes are never a header.
ZERO_LENGTH_CRC: Final = 0x07980329
_NONZERO: Final = re.compile(rb"[^\x00]")

HEADER: Final = struct.Struct(LENGTH_FORMAT + CRC_FORMAT[1:])  # (length, length CRC)
LENGTH: Final = struct.Struct(LENGTH_FORMAT)
CRC: Final = struct.Struct(CRC_FORMAT)

_Bytes = Union[bytes, bytearray, memoryview]
_N = TypeVar("_N")


def load_crc32c() -> Callable[[_Bytes], int]:
    """The C implementation of CRC-32C, imported on first use.

    The ``crc32c`` package's import loads ``importlib.metadata``, which costs more than the
    rest of ``import tbwrite``; so it is imported when the first record is framed or
    checked, not when tbwrite is imported.
    """
    global _crc32c
    try:
        from crc32c import crc32c as impl
    except ModuleNotFoundError as err:  # run from a checkout without installing it
        raise ModuleNotFoundError(
            "tbwrite needs the 'crc32c' package for TFRecord checksums: install tbwrite with "
            "its dependencies ('pip install .' in a checkout, or 'pip install crc32c')",
            name=err.name,
        ) from err
    _crc32c = impl
    return impl


def crc32c(data: _Bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``, unmasked."""
    return _crc32c(data)


def _first_crc32c(data: _Bytes) -> int:
    return load_crc32c()(data)


_crc32c: Callable[[_Bytes], int] = _first_crc32c  # replaced by the C function on first use


def mask_crc(crc: _N) -> _N:
    """Rotate right by 15 bits and add MASK_DELTA: TFRecord's masking of a CRC-32C.

    ``crc`` is an int, or a numpy unsigned integer array (the vectorized series encoder and
    the loaders' checksum check): the same formula, element-wise.
    """
    return (((crc >> 15) | (crc << 17)) + MASK_DELTA) & _MASK32  # type: ignore[operator, return-value]


def masked_crc32c(data: _Bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``, masked as TFRecord stores it."""
    return mask_crc(_crc32c(data))


def frame(payload: bytes) -> bytes:
    """One TFRecord record holding ``payload``: header, payload, footer."""
    header = LENGTH.pack(len(payload))
    return b"".join(
        (
            header,
            CRC.pack(mask_crc(_crc32c(header))),
            payload,
            CRC.pack(mask_crc(_crc32c(payload))),
        )
    )


class _NeedData:
    """Type of :data:`NEED_DATA`."""

    _instance: _NeedData | None = None

    def __new__(cls) -> _NeedData:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()
"""Returned by :meth:`RecordDecoder.next_record` when the buffer holds no complete record."""

Record = Union[bytes, _NeedData]


class RecordDecoder:
    """Incremental TFRecord decoder with no I/O.

    Feed bytes with :meth:`receive_data` in pieces of any size; call :meth:`next_record`
    until it returns :data:`NEED_DATA`. A record whose length or data checksum is wrong
    raises :class:`~tbwrite.CorruptRecordError` with its byte offset; the decoder then stays
    at that record (call :meth:`resync` to skip to the next offset where a record may start,
    or :meth:`skip_byte` to step one byte).

    The declared length of a record is trusted only once its own checksum matches, and the
    buffer only ever holds bytes that were fed: a forged length costs no memory.

    ``verify_data_crc=False`` skips the data checksum (the Rust loader's behaviour); the
    length checksum is always checked.
    """

    def __init__(self, *, verify_data_crc: bool = True) -> None:
        self._buf = bytearray()
        self._pos = 0  # start of the next record within _buf
        self._consumed = 0  # stream offset of _buf[0]
        self._verify = verify_data_crc

    @property
    def offset(self) -> int:
        """Stream offset of the next record not yet returned."""
        return self._consumed + self._pos

    @property
    def pending(self) -> int:
        """Bytes received but not yet returned as records (a partial record, if any)."""
        return len(self._buf) - self._pos

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Append ``data`` to the stream."""
        if self._pos and self._pos >= len(self._buf) // 2:
            # Drop consumed bytes now and then: amortised O(1) per byte.
            del self._buf[: self._pos]
            self._consumed += self._pos
            self._pos = 0
        self._buf += data

    def next_record(self) -> Record:
        """The next complete record's payload, or :data:`NEED_DATA`."""
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail < HEADER_SIZE:
            return NEED_DATA
        length, hcrc = HEADER.unpack_from(buf, pos)
        if masked_crc32c(memoryview(buf)[pos : pos + LENGTH_SIZE]) != hcrc:
            raise CorruptRecordError("length checksum mismatch", self.offset)
        end = pos + HEADER_SIZE + length
        if len(buf) - end < FOOTER_SIZE:
            return NEED_DATA
        payload = bytes(buf[pos + HEADER_SIZE : end])
        if self._verify:
            (dcrc,) = CRC.unpack_from(buf, end)
            if masked_crc32c(payload) != dcrc:
                raise CorruptRecordError("data checksum mismatch", self.offset)
        self._pos = end + FOOTER_SIZE
        return payload

    def skip_byte(self) -> None:
        """Skip one byte of the stream, to resynchronise after a corrupt record.

        Runs of zero bytes (a zeroed or preallocated region) are crossed at once: a header of
        12 zero bytes is never valid (:data:`ZERO_LENGTH_CRC` is not zero), so no record can
        start where its 12 header bytes would all lie in the run."""
        buf = self._buf
        if self._pos < len(buf):
            self._pos += 1
            if self._pos < len(buf) and not buf[self._pos]:
                found = _NONZERO.search(buf, self._pos)
                first = found.start() if found is not None else len(buf)
                self._pos = max(self._pos, first - (HEADER_SIZE - 1))

    def resync(self) -> None:
        """Skip at least one byte, up to the next offset where a record may start: where
        :meth:`skip_byte` then :meth:`next_record`, repeated until it no longer raises, would
        stop, but at disk speed (every offset of a block is tested at once, with numpy).

        That offset holds a record whose checksums match, or one not complete yet (then
        :meth:`next_record` answers :data:`NEED_DATA` until the rest is received, and may
        raise again then), or is where fewer bytes than a header are left."""
        if self._pos < len(self._buf):
            self._pos = find_record(self._buf, self._pos + 1, self._verify)


# -- resynchronising after damage: the next offset where a record may start, at disk speed ----
#
# Skipping a damaged or zeroed region byte by byte asks, at every offset, "does a
# valid header start here?": 8 length bytes followed by their masked CRC-32C. That is one C
# call per byte, ~2 s per MiB. :func:`find_record` answers the same question for every offset
# of a block at once, with numpy:
#
# - CRC-32C is affine: for 8-byte strings, ``crc(x) = crc(0^8) ^ L(x)`` with ``L`` linear,
#   i.e. the XOR of one table entry per byte; TFRecord's mask is a rotation (linear too)
#   plus a constant. The rotation and ``crc(0^8)`` are folded into the tables, so that
#   ``masked(x) == (XOR of 4 look-ups, by the 16-bit words of x) + MASK_DELTA`` mod 2^32;
# - the low 16 bits of a sum depend only on the low 16 bits of its terms, so tables of the
#   low 16 bits compared with the stored checksum's low 16 bits, less MASK_DELTA's, reject all
#   but 1 offset in 65,536, with no false negative;
# - the few survivors get the exact test, one by one, in order: the first that a byte-by-byte
#   walk would stop at is the answer.
#
# A byte-by-byte walk (``RecordDecoder.skip_byte`` then ``next_record`` until it no longer
# raises) stops at the first offset where fewer than a header's bytes are left (need data),
# or the length checksum matches and the record is not complete yet (need data), or matches
# and the record is complete and its data checksum matches (or is not checked). A complete
# record whose data checksum is wrong is stepped over. :func:`find_record` stops exactly
# there: this one routine is what the streaming decoder and the loaders' scan both use.
#
# Runs of zero bytes (a zeroed or preallocated region) are crossed at once, as before: 12
# zero bytes are never a header (``ZERO_LENGTH_CRC`` is not 0).

# Offsets tried one by one before vectorising: after a damaged record in good data the next
# record usually starts within a record's length, sooner than numpy's fixed cost pays off.
_SCALAR_SPAN: Final = 16
_FIRST_BLOCK: Final = 1 << 8  # offsets per vectorised block, growing 4x up to _MAX_BLOCK
_MAX_BLOCK: Final = 1 << 16  # 64 Ki offsets: the intermediates stay in cache
_DELTA_LOW16: Final = MASK_DELTA & 0xFFFF


def stops_at(buf: _Bytes, p: int, verify_data_crc: bool = True) -> bool:
    """Whether a byte-by-byte resync stops at offset ``p`` of ``buf`` (see the notes
    above): a whole header is there and its length checksum matches, and the record is
    either incomplete in ``buf`` or complete with a matching data checksum (or unchecked)."""
    n = len(buf)
    if p + HEADER_SIZE > n:
        return True
    length, hcrc = HEADER.unpack_from(buf, p)
    if masked_crc32c(buf[p : p + LENGTH_SIZE]) != hcrc:
        return False
    end = p + HEADER_SIZE + length
    if n - end < FOOTER_SIZE or not verify_data_crc:
        return True
    (dcrc,) = CRC.unpack_from(buf, end)
    return bool(masked_crc32c(memoryview(buf)[p + HEADER_SIZE : end]) == dcrc)


def record_need(buf: _Bytes, p: int) -> int:
    """At an offset where :func:`find_record` stopped: 0 when a whole record starts there,
    else the bytes needed from ``p`` to hold it (a header's when ``buf`` ends first)."""
    if p + HEADER_SIZE > len(buf):
        return HEADER_SIZE
    (length, _) = HEADER.unpack_from(buf, p)
    size = int(length) + HEADER_SIZE + FOOTER_SIZE
    return 0 if p + size <= len(buf) else size


@lru_cache(maxsize=1)
def _tables() -> np.ndarray:
    """4 tables of 65,536 uint16: row j, indexed by the little-endian 16-bit word at bytes
    2j, 2j+1 of a length field, holds the low 16 bits of that word's share of the rotated
    CRC (``mask_crc(c) - MASK_DELTA``); ``crc(0^8)``'s share is folded into row 0."""
    import numpy as np

    def rot(c: int) -> int:
        return (mask_crc(c) - MASK_DELTA) & 0xFFFFFFFF

    zero = crc32c(bytes(LENGTH_SIZE))
    by_byte = np.zeros((LENGTH_SIZE, 256), dtype=np.uint32)
    for k in range(LENGTH_SIZE):
        for bit in range(8):
            one = bytearray(LENGTH_SIZE)
            one[k] = 1 << bit
            contribution = np.uint32(rot(crc32c(bytes(one)) ^ zero))  # linear: bit by bit
            size = 1 << bit
            by_byte[k, size : 2 * size] = by_byte[k, :size] ^ contribution
    words = np.arange(1 << 16)
    rows = np.empty((LENGTH_SIZE // 2, 1 << 16), dtype=np.uint16)
    for j in range(LENGTH_SIZE // 2):
        rows[j] = (by_byte[2 * j][words & 0xFF] ^ by_byte[2 * j + 1][words >> 8]) & 0xFFFF
    rows[0] ^= np.uint16(rot(zero) & 0xFFFF)
    return rows


def _candidates(buf: _Bytes, lo: int, hi: int) -> list[int]:
    """The offsets p in [lo, hi) whose masked length checksum agrees with the stored one in
    its low 16 bits: a superset of those where it matches. Needs ``hi + 11 <= len(buf)``."""
    import numpy as np

    rows = _tables()
    m = hi - lo
    words = np.ndarray((m + 6,), dtype="<u2", buffer=buf, offset=lo, strides=(1,))
    w = words.astype(np.intp)
    got = rows[0].take(w[:m])
    got ^= rows[1].take(w[2 : m + 2])
    got ^= rows[2].take(w[4 : m + 4])
    got ^= rows[3].take(w[6 : m + 6])
    stored = np.ndarray((m,), dtype="<u2", buffer=buf, offset=lo + LENGTH_SIZE, strides=(1,))
    hits: list[int] = (np.flatnonzero(got == stored - np.uint16(_DELTA_LOW16)) + lo).tolist()
    return hits


def find_record(buf: _Bytes, start: int, verify_data_crc: bool = True) -> int:
    """The first offset ``p >= start`` of ``buf`` where a byte-by-byte resync stops: where a
    record with matching checksums starts, or one not complete in ``buf`` yet, or where fewer
    than :data:`HEADER_SIZE` bytes are left (see the notes above). ``start`` itself when
    it is already past the last whole header."""
    n = len(buf)
    last = n - HEADER_SIZE  # the last offset with a whole header
    scalar_end = min(start + _SCALAR_SPAN, last + 1)
    crc, unpack = _crc32c, HEADER.unpack_from
    for p in range(start, scalar_end):
        c = crc(buf[p : p + LENGTH_SIZE])  # masked_crc32c, inlined: this loop is hot
        if (((c >> 15) | (c << 17)) + MASK_DELTA) & _MASK32 == unpack(buf, p)[1]:
            if stops_at(buf, p, verify_data_crc):
                return p
    p = max(start, scalar_end)
    block = _FIRST_BLOCK
    while p <= last:
        if not buf[p]:
            # In a run of zeros: no header lies wholly inside it (ZERO_LENGTH_CRC != 0).
            found = _NONZERO.search(buf, p)
            first = found.start() if found is not None else n
            p = max(p, first - (HEADER_SIZE - 1))
            if p > last:
                break
        hi = min(p + block, last + 1)
        for q in _candidates(buf, p, hi):
            if stops_at(buf, q, verify_data_crc):
                return q
        p = hi
        block = min(4 * block, _MAX_BLOCK)
    return p
