"""Vectorized encoding of a whole scalar series into framed records, with numpy.

Strategy: for one tag, every ``simple_value`` Event has the same layout except the length of
its step varint (and whether its wall time is zero, which proto3 omits). Records are
therefore grouped by that layout; a group is a ``uint8`` array of shape (n, record_size)
filled from a template row, into whose columns the wall times, the step varint bytes and
the float32 values are written.

The checksums are vectorized too. CRC-32C is affine over GF(2): for two messages of the
same length, ``crc(a) ^ crc(b) == raw(a ^ b)``, where ``raw`` is the CRC with zero initial
value and no final xor, linear in its input. So the data CRC of a record is the CRC of its
template (variable bytes zeroed) xor, for each variable byte, a table lookup
``T[d][byte]`` where ``d`` is the byte's distance from the end of the data. The length CRC
is a constant of the group. A record thus costs one gather per variable byte (4 for the
value, 1-10 for the step, 8 for per-record wall times) instead of a Python-level call.

Series are processed in chunks of :data:`CHUNK_RECORDS`, so memory stays flat whatever
the length. This module imports numpy; :mod:`tbwrite._writer` imports it on first use.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from typing import Any, Final

import numpy as np
from crc32c import crc32c

from ._encode import EVENT_STEP, EVENT_WALL_TIME, ScalarEncoder
from ._framing import FOOTER_SIZE, HEADER_SIZE, MASK_DELTA, masked_crc32c
from ._tensorlike import to_numpy
from ._values import INT64_MAX, as_walltime

__all__ = ["CHUNK_RECORDS", "SeriesInput", "check_series", "encode_series"]

# Records per chunk: ~2-4 MB of output for short tags, a few MB of temporaries.
CHUNK_RECORDS: Final = 1 << 16
_MAX_VARINT: Final = 10  # bytes of a negative int64 step
_MAX_RUNS: Final = 16  # layout changes in a chunk encoded run by run
_SCATTER_BLOCK: Final = 4096  # rows scattered at once (index array: rows * size * 8 bytes)
_HEADER = struct.Struct("<QI")
_LENGTH = struct.Struct("<Q")

# distance from the end of the data -> uint32[256] of raw CRC contributions of one byte.
_byte_tables: dict[int, np.ndarray] = {}
_MAX_TABLES: Final = 4096


def _byte_table(distance: int) -> np.ndarray:
    """``T[b] = raw_crc(bytes([b]) + bytes(distance))``, as crc32c differences."""
    table = _byte_tables.get(distance)
    if table is None:
        zeros = bytes(distance)
        base = crc32c(b"\x00" + zeros)
        # Linear in b: build the 256 entries from the 8 single-bit ones.
        table = np.zeros(256, dtype=np.uint32)
        index = np.arange(256)
        for bit in range(8):
            contribution = crc32c(bytes((1 << bit,)) + zeros) ^ base
            table[(index >> bit) & 1 == 1] ^= np.uint32(contribution)
        if len(_byte_tables) >= _MAX_TABLES:
            _byte_tables.clear()
        _byte_tables[distance] = table
    return table


class SeriesInput:
    """A validated series: ``values`` real numbers, ``steps`` int64 or None (0..n-1),
    ``walltimes`` float64 array or a float."""

    __slots__ = ("tag", "values", "steps", "walltimes")

    def __init__(
        self, tag: str, values: np.ndarray, steps: np.ndarray | None, walltimes: np.ndarray | float
    ) -> None:
        self.tag = tag
        self.values = values
        self.steps = steps
        self.walltimes = walltimes

    def __len__(self) -> int:
        return len(self.values)


def _as_1d(obj: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(to_numpy(obj))
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be a 1-D array of numbers; numpy could not convert it: {err}"
        ) from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}")
    return arr


def check_series(tag: str, values: Any, steps: Any, walltimes: Any) -> SeriesInput:
    """Check every argument of ``add_scalar_series``; raise before anything is written."""
    vals = _as_1d(values, "values")
    if vals.dtype.kind not in "biuf":
        raise TypeError(f"values must hold real numbers, got an array of dtype {vals.dtype}")
    n = len(vals)  # converted chunk by chunk in encode_series: no n-sized copy

    steps_arr: np.ndarray | None = None
    if steps is not None:
        steps_arr = _as_1d(steps, "steps")
        if steps_arr.dtype.kind not in "iu":
            raise TypeError(f"steps must hold integers, got an array of dtype {steps_arr.dtype}")
        if len(steps_arr) != n:
            raise ValueError(f"steps must have the length of values ({n}), got {len(steps_arr)}")
        if steps_arr.dtype.kind == "u" and steps_arr.dtype.itemsize == 8 and n:
            if int(steps_arr.max()) > INT64_MAX:
                raise ValueError(f"steps must fit in int64, got {int(steps_arr.max())}")
        steps_arr = steps_arr.astype(np.int64, copy=False)

    walls: np.ndarray | float
    if walltimes is None or (np.ndim(walltimes) == 0 and not isinstance(walltimes, (list, tuple))):
        walls = as_walltime(walltimes, "walltimes")
    else:
        walls = _as_1d(walltimes, "walltimes")
        if walls.dtype.kind not in "biuf":
            raise TypeError(
                f"walltimes must hold real numbers, got an array of dtype {walls.dtype}"
            )
        if len(walls) != n:
            raise ValueError(
                f"walltimes must be a number or have the length of values ({n}), got {len(walls)}"
            )
        walls = walls.astype(np.float64, copy=False)
        for start in range(0, n, CHUNK_RECORDS):  # chunked: no n-sized temporary
            part = walls[start : start + CHUNK_RECORDS]
            if not np.isfinite(part).all():
                bad = part[~np.isfinite(part)][0]
                raise ValueError(
                    f"walltimes must be finite numbers of seconds, found {float(bad)!r}"
                )
    return SeriesInput(tag, vals, steps_arr, walls)


class _Layout:
    """Template and checksum constants of one record layout (tag, wall present, varint length)."""

    __slots__ = (
        "size",
        "template",
        "wall_col",
        "step_col",
        "step_len",
        "value_col",
        "crc_base",
        "tables",
    )

    def __init__(self, head: bytes, wall: float | None, has_wall: bool, step_len: int) -> None:
        data = bytearray()
        self.wall_col = -1
        self.step_col = -1
        self.step_len = step_len
        if has_wall:
            data += EVENT_WALL_TIME
            self.wall_col = HEADER_SIZE + len(data)
            data += struct.pack("<d", wall) if wall is not None else bytes(8)
        if step_len:
            data += EVENT_STEP
            self.step_col = HEADER_SIZE + len(data)
            data += bytes(step_len)
        data += head
        self.value_col = HEADER_SIZE + len(data)
        data += bytes(4)
        n = len(data)
        header = _HEADER.pack(n, masked_crc32c(_LENGTH.pack(n)))
        self.size = HEADER_SIZE + n + FOOTER_SIZE
        self.template = np.frombuffer(header + bytes(data) + bytes(FOOTER_SIZE), dtype=np.uint8)
        self.crc_base = np.uint32(crc32c(bytes(data)))
        # (record column, table) for every byte that varies from record to record.
        variable: list[int] = list(range(self.value_col, self.value_col + 4))
        if step_len:
            variable += range(self.step_col, self.step_col + step_len)
        if has_wall and wall is None:
            variable += range(self.wall_col, self.wall_col + 8)
        self.tables = [(col, _byte_table(HEADER_SIZE + n - 1 - col)) for col in variable]

    def fill(
        self, f32: np.ndarray, steps: np.ndarray | None, walls: np.ndarray | None
    ) -> np.ndarray:
        """Rows of framed records for these (already grouped) points."""
        count = len(f32)
        rows = np.empty((count, self.size), dtype=np.uint8)
        rows[:] = self.template
        if walls is not None and self.wall_col >= 0:
            rows[:, self.wall_col : self.wall_col + 8] = walls.view(np.uint8).reshape(count, 8)
        if self.step_col >= 0 and steps is not None:
            u = steps.view(np.uint64)
            last = self.step_col + self.step_len - 1
            for col in range(self.step_col, last + 1):
                shift = np.uint64(7 * (col - self.step_col))
                byte = ((u >> shift) & np.uint64(0x7F)).astype(np.uint8)
                if col != last:
                    byte |= np.uint8(0x80)
                rows[:, col] = byte
        rows[:, self.value_col : self.value_col + 4] = f32.view(np.uint8).reshape(count, 4)
        crc = np.full(count, self.crc_base, dtype=np.uint32)
        for col, table in self.tables:
            crc ^= table[rows[:, col]]
        masked = ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(MASK_DELTA)
        rows[:, self.size - FOOTER_SIZE :] = masked.astype("<u4").view(np.uint8).reshape(count, 4)
        return rows


def _varint_lengths(u: np.ndarray) -> np.ndarray:
    """Bytes of each uint64 varint; 0 for 0 (a zero step is omitted)."""
    lengths: np.ndarray = (u != 0).astype(np.int8)
    if len(u):
        top = int(u.max())
        k = 1
        while k < _MAX_VARINT and top >> (7 * k):
            lengths += u >= np.uint64(1 << (7 * k))
            k += 1
    return lengths


def encode_series(series: SeriesInput, encoder: ScalarEncoder) -> Iterator[memoryview]:
    """Framed records of ``series`` in order, as byte buffers of about one chunk each."""
    head = encoder.head(series.tag)
    n = len(series)
    const_wall: float | None = None
    if not isinstance(series.walltimes, np.ndarray):
        const_wall = float(series.walltimes)
    layouts: dict[tuple[bool, int], _Layout] = {}

    def layout(has_wall: bool, step_len: int) -> _Layout:
        key = (has_wall, step_len)
        lay = layouts.get(key)
        if lay is None:
            lay = _Layout(head, const_wall, has_wall, step_len)
            layouts[key] = lay
        return lay

    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, n, CHUNK_RECORDS):
            stop = min(start + CHUNK_RECORDS, n)
            # Through float64, as add_scalar's float(value): an int rounds once, to float64,
            # then to float32, never straight to float32.
            f32 = series.values[start:stop].astype(np.float64).astype("<f4")
            if series.steps is None:
                steps = np.arange(start, stop, dtype=np.int64)
            else:
                steps = np.ascontiguousarray(series.steps[start:stop])
            u = steps.view(np.uint64)
            step_len = _varint_lengths(u)
            walls: np.ndarray | None = None
            if const_wall is None:
                walls = np.ascontiguousarray(series.walltimes[start:stop], dtype="<f8")  # type: ignore[index]
                has_wall = walls.view(np.uint64) != 0
                key = step_len + has_wall.astype(np.int8) * 16
            else:
                has_wall_const = const_wall != 0.0 or math.copysign(1.0, const_wall) < 0
                key = step_len + np.int8(16 if has_wall_const else 0)
            kmin, kmax = int(key.min()), int(key.max())
            if kmin == kmax:
                rows = layout(kmin >= 16, kmin % 16).fill(f32, steps, walls)
                yield rows.reshape(-1).data
                continue
            # Mixed layouts in one chunk. A few runs (steps crossing a varint boundary):
            # encode run by run. Many (steps jumping about): encode each layout's group,
            # then scatter its rows into place, in blocks that bound the index arrays.
            cuts = np.flatnonzero(key[1:] != key[:-1]) + 1
            if len(cuts) <= _MAX_RUNS:
                bounds = [0, *cuts.tolist(), len(key)]
                for a, b in zip(bounds[:-1], bounds[1:]):
                    k = int(key[a])
                    rows = layout(k >= 16, k % 16).fill(
                        f32[a:b], steps[a:b], None if walls is None else walls[a:b]
                    )
                    yield rows.reshape(-1).data
                continue
            sizes = np.zeros(32, dtype=np.int64)
            keys = np.unique(key)
            for k in keys:
                sizes[k] = layout(int(k) >= 16, int(k) % 16).size
            rec_sizes = sizes[key]
            offsets = np.zeros(len(key), dtype=np.int64)
            np.cumsum(rec_sizes[:-1], out=offsets[1:])
            out = np.empty(int(rec_sizes.sum()), dtype=np.uint8)
            for k in keys:
                lay = layout(int(k) >= 16, int(k) % 16)
                group = np.flatnonzero(key == k)
                for a in range(0, len(group), _SCATTER_BLOCK):
                    idx = group[a : a + _SCATTER_BLOCK]
                    rows = lay.fill(f32[idx], steps[idx], None if walls is None else walls[idx])
                    out[offsets[idx][:, None] + np.arange(lay.size)] = rows
            yield out.data
