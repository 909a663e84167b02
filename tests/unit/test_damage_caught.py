"""Every damaged record is caught by every reader, also damage that cancels between records
of one length (the XOR of their CRCs is unchanged), as TensorBoard's loader catches it."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tbwrite
from tbwrite._format.tfrecord import FOOTER_SIZE, HEADER_SIZE

N = 8192  # records of one length: the vectorised check's path, not the one-by-one one


_written: dict[str, bytes] = {}


def _write(tmp_path) -> tuple[str, list[int]]:
    if not _written:
        with tbwrite.SummaryWriter(tmp_path / "first", max_queue=100_000) as writer:
            for i in range(N):
                writer.add_scalar("loss", float(i), 20_000 + i)
        (name,) = os.listdir(tmp_path / "first")
        _written[name] = (tmp_path / "first" / name).read_bytes()
        (tmp_path / "first" / name).unlink()
        (tmp_path / "first").rmdir()
    ((name, data),) = _written.items()
    path = os.path.join(tmp_path, name)
    open(path, "wb").write(data)
    starts, pos = [], 0
    while pos < len(data):
        starts.append(pos)
        pos += HEADER_SIZE + int.from_bytes(data[pos : pos + 8], "little") + FOOTER_SIZE
    return path, starts[1:]  # the scalar records (after the file_version record)


def _flip(path: str, at: list[tuple[int, int]]) -> None:
    data = bytearray(open(path, "rb").read())
    for offset, mask in at:
        data[offset] ^= mask
    open(path, "wb").write(bytes(data))


def _payload_end(data_len: int, start: int) -> int:
    return start + HEADER_SIZE + data_len


def _all_readers_reject(path: str, logdir: str) -> None:
    with pytest.raises(tbwrite.CorruptRecordError):
        tbwrite.read_scalars(logdir)
    with pytest.raises(tbwrite.CorruptRecordError):
        list(tbwrite.iter_events(logdir))
    # The drop-in does as TensorBoard's EventAccumulator: it stops at the damage, keeping what
    # came before it; never a wrong value.
    acc = tbwrite.EventAccumulator(logdir)
    acc.Reload()
    got = {e.step: e.value for e in acc.Scalars("loss")} if acc.Tags()["scalars"] else {}
    assert len(got) < N
    assert all(value == step - 20_000 for step, value in got.items())


def test_a_cancelling_pair_of_flips_is_caught(tmp_path) -> None:
    path, starts = _write(tmp_path)
    length = int.from_bytes(open(path, "rb").read()[starts[0] : starts[0] + 8], "little")
    # The same bit, two bytes before the payload's end, in records 10 and 74 (64 apart).
    _flip(path, [(_payload_end(length, starts[k]) - 2, 0x40) for k in (10, 74)])
    _all_readers_reject(path, str(tmp_path))


def test_payload_damage_with_matching_crc_damage_elsewhere_is_caught(tmp_path) -> None:
    path, starts = _write(tmp_path)
    data = open(path, "rb").read()
    length = int.from_bytes(data[starts[0] : starts[0] + 8], "little")
    from tbwrite._format.tfrecord import masked_crc32c

    # Damage record 5's payload, and record 300's stored CRC by exactly the change that
    # damage makes to record 5's CRC: the XOR over the group stays the same.
    a = starts[5] + HEADER_SIZE
    payload = bytearray(data[a : a + length])
    before = masked_crc32c(bytes(payload))
    payload[3] ^= 0x10
    delta = before ^ masked_crc32c(bytes(payload))
    c = starts[300] + HEADER_SIZE + length
    flips = [(a + 3, 0x10)] + [(c + i, (delta >> (8 * i)) & 0xFF) for i in range(4)]
    _flip(path, [f for f in flips if f[1]])
    _all_readers_reject(path, str(tmp_path))


@settings(max_examples=15, deadline=None)
@given(
    records=st.lists(st.integers(0, N - 1), min_size=1, max_size=4, unique=True),
    where=st.integers(0, 10_000),
    mask=st.integers(1, 255),
)
def test_any_flipped_payload_or_crc_byte_is_caught(tmp_path_factory, records, where, mask):
    tmp_path = tmp_path_factory.mktemp("damage")
    path, starts = _write(tmp_path)
    length = int.from_bytes(open(path, "rb").read()[starts[0] : starts[0] + 8], "little")
    span = length + FOOTER_SIZE  # payload and its stored CRC
    _flip(path, [(starts[k] + HEADER_SIZE + where % span, mask) for k in records])
    _all_readers_reject(path, str(tmp_path))
