"""Framing and decoding: CRC-32C check values, exact record bytes, round trips, partial feeds."""

from __future__ import annotations

import struct

import pytest
from crc32c import crc32c
from hypothesis import given
from hypothesis import strategies as st

from tbwrite import NEED_DATA, CorruptRecordError, RecordDecoder, frame, masked_crc32c
from tbwrite._format.tfrecord import FOOTER_SIZE, HEADER_SIZE, mask_crc

CRC_RECORD = bytes.fromhex("13000000000000000c91321b1a1143524320746573742c206f6e652074776f8ad09457")


def test_crc32c_vectors() -> None:
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA


def test_masked_crc_vector() -> None:
    assert masked_crc32c(b"\x1a\x11CRC test, one two") == 0x5794D08A
    assert mask_crc(crc32c(b"\x1a\x11CRC test, one two")) == 0x5794D08A


def test_frame_exact_bytes() -> None:
    assert frame(b"\x1a\x11CRC test, one two") == CRC_RECORD


def test_frame_is_little_endian_and_sized() -> None:
    payload = b"x" * 300
    rec = frame(payload)
    assert len(rec) == HEADER_SIZE + 300 + FOOTER_SIZE
    assert struct.unpack("<Q", rec[:8]) == (300,)
    assert struct.unpack("<I", rec[8:12]) == (masked_crc32c(rec[:8]),)
    assert struct.unpack("<I", rec[-4:]) == (masked_crc32c(payload),)


def _decode_all(data: bytes, chunk: int | None = None) -> list[bytes]:
    dec = RecordDecoder()
    out: list[bytes] = []
    pieces = [data] if chunk is None else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    for piece in pieces:
        dec.receive_data(piece)
        while (rec := dec.next_record()) is not NEED_DATA:
            assert isinstance(rec, bytes)
            out.append(rec)
    return out


def test_decoder_need_data_on_every_prefix() -> None:
    data = frame(b"abc") + frame(b"defgh")
    for cut in range(len(data) + 1):
        dec = RecordDecoder()
        dec.receive_data(data[:cut])
        got = []
        while (rec := dec.next_record()) is not NEED_DATA:
            got.append(rec)
        complete = [p for p, end in ((b"abc", 19), (b"defgh", 40)) if cut >= end]
        assert got == complete, cut
        assert dec.pending == cut - sum(len(frame(p)) for p in complete)


@given(st.lists(st.binary(max_size=600), max_size=20), st.integers(1, 64))
def test_decoder_round_trip_any_split(payloads: list[bytes], chunk: int) -> None:
    data = b"".join(frame(p) for p in payloads)
    assert _decode_all(data) == payloads
    assert _decode_all(data, chunk) == payloads


def test_decoder_byte_by_byte() -> None:
    payloads = [bytes(range(i % 256)) * (i % 3) for i in range(40)]
    data = b"".join(frame(p) for p in payloads)
    assert _decode_all(data, 1) == payloads


def test_bad_length_crc_names_offset() -> None:
    good = frame(b"first")
    bad = bytearray(frame(b"second"))
    bad[8] ^= 0xFF
    dec = RecordDecoder()
    dec.receive_data(good + bytes(bad))
    assert dec.next_record() == b"first"
    with pytest.raises(CorruptRecordError, match="length checksum") as info:
        dec.next_record()
    assert info.value.offset == len(good)


def test_bad_data_crc() -> None:
    bad = bytearray(frame(b"payload"))
    bad[HEADER_SIZE] ^= 0x01
    dec = RecordDecoder()
    dec.receive_data(bytes(bad))
    with pytest.raises(CorruptRecordError, match="data checksum") as info:
        dec.next_record()
    assert info.value.offset == 0
    lenient = RecordDecoder(verify_data_crc=False)
    lenient.receive_data(bytes(bad))
    assert lenient.next_record() == b"qayload"


def test_forged_length_allocates_nothing() -> None:
    header = struct.pack("<Q", 1 << 62)
    forged = header + struct.pack("<I", masked_crc32c(header)) + b"tiny"
    dec = RecordDecoder()
    dec.receive_data(forged)
    assert dec.next_record() is NEED_DATA
    assert dec.pending == len(forged)


def test_skip_byte_resynchronises() -> None:
    data = b"\x00garbage" + frame(b"ok")
    dec = RecordDecoder()
    dec.receive_data(data)
    skipped = 0
    while True:
        try:
            rec = dec.next_record()
            break
        except CorruptRecordError:
            dec.skip_byte()
            skipped += 1
    assert rec == b"ok"
    assert skipped == 8
