"""Reading records: the runs of a logdir, the fast record walk, verifying a file.

Strategy: two record paths over the same format.

- ``iter_events`` (:mod:`.events`) streams through :class:`~tbwrite.RecordDecoder` (no I/O
  inside it) fed from files in chunks, so a truncated last record is simply "need more
  data" and a follow mode only has to feed it what the writer appends later.
- The loaders (:mod:`tbwrite._reading.loaders`) need every record of large files fast, so
  :func:`scan_records` hands a whole chunk to :func:`tbwrite._reading.fastscan.walk`, which
  finds its records by predicting the (periodic) record sizes and verifying every predicted
  header at once, and checks every record's data checksum, vectorised with numpy. On any
  damage it hands the bytes to a ``RecordDecoder``, which raises or resynchronises byte by
  byte exactly as the streaming path does.

A path may also be an fsspec URL (``s3://bucket/runs``, ``memory://...``): runs are then
listed and objects read through fsspec (:mod:`tbwrite._sinks`), imported only for URLs.

Both verify both checksums. A length field is trusted only once its checksum matches, and a
record that claims more bytes than the file holds is an unfinished tail: nothing larger than
the file is ever allocated.
"""

from __future__ import annotations

import io
import os
import warnings
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, Final, NamedTuple

from .._errors import CorruptRecordError
from .._format.tfrecord import (
    FOOTER_SIZE,
    HEADER_SIZE,
    RecordDecoder,
)
from .._sinks import is_remote, list_runs, open_read

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "EventRecord",
    "SkippedBytes",
    "find_runs",
    "open_in_turn",
    "scan_records",
    "verify_file",
]

ON_CORRUPT: Final = ("raise", "skip")
CHUNK_SIZE: Final = 32 << 20
# Objects of one run fetched at once from a store, ahead of the one being read.
FETCH_AHEAD: Final = 8


class SkippedBytes(NamedTuple):
    """Bytes of a file passed over by ``on_corrupt="skip"``: ``nbytes`` from ``offset``."""

    path: str
    offset: int
    nbytes: int
    reason: str


class EventRecord(NamedTuple):
    """One record from :func:`iter_events`.

    ``event`` is a parsed ``Event`` message (``tbwrite._proto.event_pb2.Event``, field
    numbers as TensorBoard's), or the record's bytes with ``raw=True``. ``offset`` is the
    record's byte offset in ``path``.
    """

    run: str
    path: str
    offset: int
    event: Any


def find_runs(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Map run name -> its event files in file-name order, for a logdir, run dir or file.

    Runs are found recursively, as ``EventMultiplexer.AddRunsFromDirectory`` does: every
    directory holding an event file is a run, named by its path relative to ``path`` with
    ``/`` separators (``"."`` for ``path`` itself). A single event file is the run ``"."``.
    Raises ``FileNotFoundError`` when ``path`` does not exist. ``path`` may be an fsspec URL
    (``s3://bucket/logs``); the files are then object URLs.
    """
    return list_runs(os.fspath(path))


def check_on_corrupt(on_corrupt: str) -> None:
    if on_corrupt not in ON_CORRUPT:
        raise ValueError(f"on_corrupt must be 'raise' or 'skip', got {on_corrupt!r}")


def reason(err: CorruptRecordError) -> str:
    return str(err).rsplit(" at byte offset", 1)[0]


def warn_skipped(skipped: list[SkippedBytes], stacklevel: int = 3) -> None:
    if skipped:
        total = sum(s.nbytes for s in skipped)
        first = skipped[0]
        warnings.warn(
            f"skipped {total} damaged bytes in {len(skipped)} place(s); first: "
            f"{first.path} at byte offset {first.offset} ({first.reason})",
            RuntimeWarning,
            stacklevel=stacklevel,
        )


# -- the fast record walk (loaders) ---------------------------------------------------------


class Chunk(NamedTuple):
    """Complete, checksum-verified records of one piece of a file.

    ``buf[starts[i] : starts[i] + lengths[i]]`` is record i's payload; ``base`` is the file
    offset of ``buf[0]``.
    """

    buf: bytes
    base: int
    starts: np.ndarray
    lengths: np.ndarray


def _resync(
    f: BinaryIO, path: str, start: int, size: int, reason: str
) -> tuple[int | None, SkippedBytes]:
    """Scan from ``start + 1`` for the next valid record with a RecordDecoder.

    Returns (offset of that record or None at end of file, what was skipped).
    """
    f.seek(start + 1)
    dec = RecordDecoder()
    # The decoder's offsets are relative to where it was first fed.
    while True:
        try:
            rec = dec.next_record()
        except CorruptRecordError:
            dec.skip_byte()
            continue
        if isinstance(rec, bytes):
            found = start + 1 + dec.offset - len(rec) - HEADER_SIZE - FOOTER_SIZE
            return found, SkippedBytes(path, start, found - start, reason)
        data = f.read(1 << 20)
        if not data:
            # The rest is damaged or an unfinished record: skip to its start.
            stop = start + 1 + dec.offset
            return None, SkippedBytes(path, start, stop - start, reason)
        dec.receive_data(data)


def open_in_turn(paths: list[str]) -> Iterator[tuple[str, tuple[BinaryIO, int]]]:
    """``(path, (file, size))`` for each path in order. Store objects are fetched whole,
    up to :data:`FETCH_AHEAD` at once ahead of the one being read (reading a run of many
    objects is mostly waiting on the network); local files are opened as they come."""
    if len(paths) < 2 or not is_remote(paths[0]):
        for path in paths:
            yield path, open_read(path)
        return
    from concurrent.futures import ThreadPoolExecutor

    def fetch(path: str) -> tuple[BinaryIO, int]:
        f, _ = open_read(path)
        with f:
            data = f.read()
        return io.BytesIO(data), len(data)

    with ThreadPoolExecutor(min(FETCH_AHEAD, len(paths))) as pool:
        queue = deque(pool.submit(fetch, p) for p in paths[:FETCH_AHEAD])
        for i, path in enumerate(paths):
            opened = queue.popleft().result()
            if i + FETCH_AHEAD < len(paths):
                queue.append(pool.submit(fetch, paths[i + FETCH_AHEAD]))
            yield path, opened


def scan_records(
    path: str,
    on_corrupt: str = "raise",
    skipped: list[SkippedBytes] | None = None,
    chunk_size: int = CHUNK_SIZE,
    start: int = 0,
    exact: bool = False,
    opened: tuple[BinaryIO, int] | None = None,
) -> Iterator[Chunk]:
    """Every verified record of the file ``path``, a chunk at a time, from byte ``start``
    (a record boundary). ``exact`` computes each data checksum with a call of its own (the
    reference path) rather than vectorised; both check every record.

    A bad checksum raises :class:`~tbwrite.CorruptRecordError` naming the file and the
    record's byte offset, or with ``on_corrupt="skip"`` is passed over up to the next valid
    record and appended to ``skipped``. An unfinished last record ends the scan.
    ``opened``: the file already open, and its size (see :func:`open_in_turn`).
    """
    from . import fastscan

    check_on_corrupt(on_corrupt)
    hcache: dict[bytes, int] = {}
    f, size = opened or open_read(path)
    with f:
        off = start
        want = chunk_size
        while off + HEADER_SIZE <= size:
            f.seek(off)
            buf = f.read(want)
            want = chunk_size
            pos, st, ln, need, bad_at = fastscan.walk(buf, hcache, exact)
            reason = "data checksum mismatch" if bad_at is not None else ""
            if len(st):
                yield Chunk(buf, off, st, ln)
            if bad_at is None and need == -1:
                bad_at = pos
                reason = "length checksum mismatch"
            if bad_at is not None:
                err = CorruptRecordError(reason, off + bad_at, path)
                if on_corrupt == "raise":
                    raise err
                nxt, skip = _resync(f, path, off + bad_at, size, reason)
                if skipped is not None:
                    skipped.append(skip)
                if nxt is None:
                    return
                off = nxt
                continue
            off += pos
            if need > 0:
                # A record longer than what was read: read it whole, unless it claims
                # more than the file holds (an unfinished record: not written yet).
                if off + need > size:
                    return
                want = max(chunk_size, need)
            elif pos == 0:
                return


class FileCheck(NamedTuple):
    """What :func:`verify_file` found: ``records`` valid ones, ``corrupt`` (offset, reason)
    of the first damaged record or None, ``incomplete`` bytes of an unfinished tail."""

    path: str
    records: int
    size: int
    corrupt: tuple[int, str] | None
    incomplete: int


def verify_file(path: str) -> FileCheck:
    """Check both checksums of every record of ``path``."""
    records = 0
    end = 0
    f, size = open_read(path)
    f.close()
    try:
        for chunk in scan_records(path, exact=True):
            records += len(chunk.starts)
            end = chunk.base + int(chunk.starts[-1] + chunk.lengths[-1]) + FOOTER_SIZE
    except CorruptRecordError as err:
        return FileCheck(path, records, size, (err.offset, reason(err)), 0)
    return FileCheck(path, records, size, None, size - end)
