"""TFRecord framing: pure functions to frame payloads and a decoder that does no I/O.

Strategy: the writer path is ``frame(payload) -> bytes`` (one ``struct.pack`` and two CRCs,
both computed in C by the ``crc32c`` package). The reader path is :class:`RecordDecoder`, fed
bytes with :meth:`~RecordDecoder.receive_data` and asked for records with
:meth:`~RecordDecoder.next_record`, which answers :data:`NEED_DATA` on a partial record, as
h11 and wsproto do. A truncated tail is therefore "not written yet", never an error.
"""

from __future__ import annotations

import re
import struct
from typing import Callable, Final, TypeVar, Union

from .._errors import CorruptRecordError

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
    "frame",
    "load_crc32c",
    "mask_crc",
    "masked_crc32c",
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
    at that record (call :meth:`skip_byte` to resynchronise byte by byte).

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
