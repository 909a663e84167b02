"""Resynchronising after damage, proven against the obvious byte-by-byte reader.

Every reader path (the loaders' scan, ``read_scalars``, ``iter_events``, ``RecordDecoder``)
resynchronises with one vectorised routine (``tbwrite._format.tfrecord.find_record``). Here
files of known records are damaged (zero fill, random bytes, bit flips, forged headers,
inserted regions, truncation) and what each path recovers and reports is compared with a
reference written the plain way: try every offset in turn.
"""

from __future__ import annotations

import os
import re
import struct
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tbwrite
from tbwrite import NEED_DATA, CorruptRecordError, RecordDecoder, frame, masked_crc32c
from tbwrite._format.tfrecord import ZERO_LENGTH_CRC, find_record
from tbwrite._proto import event_pb2
from tbwrite._reading import records as records_mod
from tbwrite._reading.records import scan_records

pytestmark = pytest.mark.timeout(300)

LENGTH_BAD = "length checksum mismatch"
DATA_BAD = "data checksum mismatch"


def reference(data: bytes) -> tuple[list[tuple[int, bytes]], list[tuple[int, int, str]]]:
    """(offset, payload) of every record recovered and (offset, nbytes, reason) of every
    skipped range, trying every offset in turn, for a complete file."""
    found: list[tuple[int, bytes]] = []
    skips: list[tuple[int, int, str]] = []
    bad: tuple[int, str] | None = None
    pos, n = 0, len(data)
    while pos + 12 <= n:
        length, hcrc = struct.unpack_from("<QI", data, pos)
        end = pos + 12 + length
        if masked_crc32c(data[pos : pos + 8]) != hcrc:
            why = LENGTH_BAD
        elif end + 4 > n:
            break  # an unfinished record: not written yet
        elif masked_crc32c(data[pos + 12 : end]) != struct.unpack_from("<I", data, end)[0]:
            why = DATA_BAD
        else:
            if bad is not None:
                skips.append((bad[0], pos - bad[0], bad[1]))
                bad = None
            found.append((pos, data[pos + 12 : end]))
            pos = end + 4
            continue
        if bad is None:
            bad = (pos, why)
        pos += 1
    if bad is not None:
        skips.append((bad[0], pos - bad[0], bad[1]))
    return found, skips


def _payloads(count: int, seed: int) -> list[bytes]:
    out = []
    for i in range(count):
        ev = event_pb2.Event(wall_time=1.7e9 + i, step=i + seed)
        ev.summary.value.add(tag="t" * (1 + (i * 7 + seed) % 40), simple_value=i * 0.5)
        out.append(ev.SerializeToString())
    return out


def _forged_header(length: int) -> bytes:
    field = struct.pack("<Q", length)
    return field + struct.pack("<I", masked_crc32c(field))


@st.composite
def damaged_files(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """A file of known scalar records, damaged in 1 to 3 places."""
    payloads = _payloads(draw(st.integers(1, 40)), draw(st.integers(0, 1000)))
    data = bytearray(b"".join(frame(p) for p in payloads))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["zero", "random", "flips", "insert", "forged", "cut"]))
        at = draw(st.integers(0, len(data)))
        if kind == "flips":
            for _ in range(draw(st.integers(1, 4))):
                i = draw(st.integers(0, len(data) - 1))
                data[i] ^= 1 << draw(st.integers(0, 7))
            continue
        if kind == "cut":
            del data[draw(st.integers(len(data) // 2, len(data))) :]
            if not data:
                data = bytearray(b"\x00")
            continue
        span = draw(st.integers(1, 5000))
        if kind == "forged":
            # A header whose checksum matches, claiming a record that never ends (or ends
            # within the file but with a wrong data checksum).
            fill = _forged_header(draw(st.sampled_from([1 << 40, 30, span])))
        elif kind == "zero" or (kind == "insert" and draw(st.booleans())):
            fill = bytes(span)
        else:
            fill = draw(st.binary(min_size=span, max_size=span))
        if kind in ("insert", "forged"):
            data[at:at] = fill
        else:
            data[at : at + len(fill)] = fill
    return bytes(data), payloads


def _write(tmp_path: os.PathLike[str], data: bytes) -> str:
    path = os.path.join(os.fspath(tmp_path), "events.out.tfevents.0.resync")
    with open(path, "wb") as f:
        f.write(data)
    return path


def _scan(path: str, chunk_size: int) -> tuple[list[tuple[int, bytes]], list[tuple[int, int, str]]]:
    skipped: list[records_mod.SkippedBytes] = []
    got = []
    for chunk in scan_records(path, "skip", skipped, chunk_size=chunk_size):
        for s, n in zip(chunk.starts.tolist(), chunk.lengths.tolist()):
            got.append((chunk.base + s - 12, chunk.buf[s : s + n]))
    return got, [(s.offset, s.nbytes, s.reason) for s in skipped]


_SKIP_WARNING = re.compile(
    r"skipped (\d+) damaged bytes in 1 place\(s\); first: .* at byte offset (\d+) \((.*)\)"
)


def _stream(path: str) -> tuple[list[tuple[int, bytes]], list[tuple[int, int, str]]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = [(r.offset, r.event) for r in tbwrite.iter_events(path, on_corrupt="skip", raw=True)]
    skips = []
    for w in caught:
        m = _SKIP_WARNING.match(str(w.message))
        assert m is not None, str(w.message)
        skips.append((int(m.group(2)), int(m.group(1)), m.group(3)))
    return got, skips


def _decoder(data: bytes, piece: int) -> tuple[list[tuple[int, bytes]], list[tuple[int, int, str]]]:
    """RecordDecoder.resync() fed ``piece`` bytes at a time, as a follower is."""
    dec = RecordDecoder()
    got: list[tuple[int, bytes]] = []
    skips: list[tuple[int, int, str]] = []
    bad: tuple[int, str] | None = None
    for i in range(0, len(data), piece):
        dec.receive_data(data[i : i + piece])
        while True:
            offset = dec.offset
            try:
                rec = dec.next_record()
            except CorruptRecordError as err:
                assert err.offset == offset
                if bad is None:
                    bad = (offset, str(err).rsplit(" at byte offset", 1)[0])
                dec.resync()
                continue
            if rec is NEED_DATA:
                break
            assert isinstance(rec, bytes)
            if bad is not None:
                skips.append((bad[0], offset - bad[0], bad[1]))
                bad = None
            got.append((offset, rec))
    if bad is not None:
        skips.append((bad[0], dec.offset - bad[0], bad[1]))
    return got, skips


def test_the_zero_trap() -> None:
    # 12 zero bytes are never a header: the masked CRC of a zero length is not 0.
    assert masked_crc32c(bytes(8)) == ZERO_LENGTH_CRC != 0
    data = bytes(100) + frame(b"ok")
    assert find_record(data, 0) == 100
    assert reference(data) == ([(100, b"ok")], [(0, 100, LENGTH_BAD)])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(damaged_files(), st.sampled_from([16, 100, 4096, records_mod.CHUNK_SIZE]))
def test_every_path_recovers_what_the_byte_by_byte_reader_does(
    tmp_path, damaged, chunk_size
) -> None:
    data, _ = damaged
    want = reference(data)
    path = _write(tmp_path, data)
    assert _scan(path, chunk_size) == want
    assert _decoder(data, min(chunk_size, 1 << 16)) == want
    assert _stream(path) == want


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(damaged_files())
def test_read_scalars_reports_the_same_damage(tmp_path, damaged) -> None:
    data, payloads = damaged
    found, skips = reference(data)
    path = _write(tmp_path, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        runs = tbwrite.read_scalars(path, on_corrupt="skip")
    listed = [(s.offset, s.nbytes, s.reason) for s in runs.skipped]
    assert [s for s in listed if "checksum" in s[2]] == skips
    known = set(payloads)
    if all(p in known for _, p in found):
        assert sum(len(s) for r in runs.values() for s in r.values()) == len(found)


@pytest.mark.parametrize("region", ["zero", "random", "both"])
def test_a_large_region_between_records(tmp_path, monkeypatch, region) -> None:
    good = [frame(p) for p in _payloads(300, 3)]
    rng = __import__("random").Random(region)
    noise = bytes(rng.getrandbits(8) for _ in range(200_000))
    middle = {"zero": bytes(300_000), "random": noise, "both": bytes(150_000) + noise}[region]
    # Damage reaching into the region from a record, and a record cut by it.
    data = b"".join(good[:150]) + good[150][:20] + middle + good[151][5:] + b"".join(good[152:])
    want = reference(data)
    assert len(want[0]) == 298 and len(want[1]) == 1
    path = _write(tmp_path, data)
    for chunk_size in (1 << 16, records_mod.CHUNK_SIZE):
        assert _scan(path, chunk_size) == want
    assert _decoder(data, 1 << 20) == want
    monkeypatch.setattr(records_mod, "CHUNK_SIZE", 1 << 16)
    assert _stream(path) == want


def test_every_other_record_damaged(tmp_path) -> None:
    payloads = _payloads(400, 9)
    framed = [bytearray(frame(p)) for p in payloads]
    for i in range(1, 400, 2):
        framed[i][2 if i % 4 == 1 else 14] ^= 0x40  # the length field or the payload
    data = b"".join(bytes(r) for r in framed)
    want = reference(data)
    assert [p for _, p in want[0]] == payloads[::2]
    assert [r for _, _, r in want[1]] == [LENGTH_BAD, DATA_BAD] * 100
    path = _write(tmp_path, data)
    assert _scan(path, records_mod.CHUNK_SIZE) == want
    assert _scan(path, 1000) == want
    assert _decoder(data, 4096) == want
    assert _stream(path) == want


def test_a_forged_header_in_a_region_ends_the_file_as_an_unfinished_record(tmp_path) -> None:
    # A header whose checksum matches but whose record would run past the end is "not
    # written yet": the byte-by-byte reader stops there, and so does every path.
    good = [frame(p) for p in _payloads(5, 1)]
    data = good[0] + b"\x01" * 3000 + _forged_header(1 << 40) + bytes(5000) + b"".join(good[1:])
    want = reference(data)
    assert want == ([(0, _payloads(5, 1)[0])], [(len(good[0]), 3000, LENGTH_BAD)])
    path = _write(tmp_path, data)
    assert _scan(path, 100) == want
    assert _decoder(data, 512) == want
    assert _stream(path) == want


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000), st.integers(0, 3000), st.booleans())
def test_find_record_stops_where_skip_byte_does(data, start, verify) -> None:
    start = min(start, len(data))
    dec = RecordDecoder(verify_data_crc=verify)
    dec.receive_data(data[start:])
    while True:
        offset = dec.offset
        try:
            dec.next_record()
            break
        except CorruptRecordError:
            dec.skip_byte()
    assert find_record(data, start, verify) == start + offset
