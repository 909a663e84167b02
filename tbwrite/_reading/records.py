"""Reading records: the runs of a logdir, the fast record walk, verifying a file.

Strategy: two record paths over the same format.

- ``iter_events`` (:mod:`.events`) streams through :class:`~tbwrite.RecordDecoder` (no I/O
  inside it) fed from files in chunks, so a truncated last record is simply "need more
  data" and a follow mode only has to feed it what the writer appends later.
- The loaders (:mod:`tbwrite._reading.loaders`) need every record of large files fast, so
  :func:`scan_records` hands a whole chunk to :func:`tbwrite._reading.fastscan.walk`, which
  finds its records by predicting the (periodic) record sizes and verifying every predicted
  header at once, and checks every record's data checksum, vectorised with numpy. On
  damage it resynchronises within the chunk it holds, with the one routine the streaming
  path uses too (:func:`tbwrite._format.tfrecord.find_record`), so both skip the same bytes.

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
    find_record,
    record_need,
)
from .._sinks import is_remote, list_runs, open_read

if TYPE_CHECKING:
    import numpy as np

    from . import fastscan

__all__ = [
    "EventRecord",
    "SkippedBytes",
    "find_runs",
    "open_in_turn",
    "scan_records",
    "verify_file",
]

ON_CORRUPT: Final = ("raise", "skip")
# Bytes read and walked at once. Small enough that a chunk and the numpy passes over it
# stay in the CPU's cache (the walk, the checksums and the parse each go over every
# record several times), large enough that a chunk's fixed costs do not count.
CHUNK_SIZE: Final = 1 << 20
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
    # The checksum pass's payload words per length, when the chunk's records are exactly
    # one walk's (no damage passed over): the decoder reads them instead of the bytes.
    words: dict[int, fastscan.Words] | None = None


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
    record's byte offset (after the chunk of the records before it), or with
    ``on_corrupt="skip"`` is passed over up to the next valid record and appended to
    ``skipped``, in file order, before the chunk that holds the records after it is yielded
    (a chunk holds the good records of what was read at once, around any damage). An
    unfinished last record ends the scan.
    ``opened``: the file already open, and its size (see :func:`open_in_turn`).
    """
    import numpy as np

    from . import fastscan

    check_on_corrupt(on_corrupt)
    hcache: dict[bytes, int] = {}
    f, size = opened or open_read(path)
    with f:
        off = start  # file offset of buf[0]
        want = chunk_size
        # While skipping: the file offset and reason of the damage that started it.
        damage: tuple[int, str] | None = None
        while off + HEADER_SIZE <= size:
            f.seek(off)
            # Never more than the file holds: read(n) allocates n bytes before it shrinks
            # them, a chunk's worth of transient memory for every small file of a sweep.
            buf = f.read(min(want, size - off))
            at_end = len(buf) < want or off + len(buf) >= size
            want = chunk_size
            pos = 0  # where in buf to go on from
            # The good records of buf between damages: handed over as one chunk, since a
            # chunk costs its consumer a fixed price (every-other-record damage is 1:1).
            good_s: list[np.ndarray] = []
            good_n: list[np.ndarray] = []
            stop = False
            chunk_words: dict[int, fastscan.Words] | None = None
            while True:
                if damage is not None:
                    pos = find_record(buf, pos)
                    need = record_need(buf, pos)
                    if need and (at_end or off + pos + need > size):
                        # The rest is damaged or an unfinished record: skip to its start.
                        _skip(skipped, path, damage, off + pos)
                        damage, stop = None, True
                        break
                    if need:
                        want = max(chunk_size, need)
                        break  # read on from pos, the resync still under way
                    _skip(skipped, path, damage, off + pos)
                    damage = None
                fresh = not good_s
                words: dict[int, fastscan.Words] = {}
                end, st, ln, need, bad = fastscan.walk_all(buf, hcache, exact, pos, words)
                # The words index this walk's records: only a chunk of those alone has them.
                chunk_words = words if fresh and not len(bad) else None
                heads = st - HEADER_SIZE  # record starts
                done = 0  # records of this walk handed over or skipped
                for b in bad.tolist():
                    if b < done:
                        continue  # passed over by the resync of an earlier one
                    good_s.append(st[done:b])
                    good_n.append(ln[done:b])
                    at = int(heads[b])
                    if on_corrupt == "raise":
                        yield from _chunk(buf, off, good_s, good_n, None)
                        raise CorruptRecordError("data checksum mismatch", off + at, path)
                    nxt = find_record(buf, at + 1)
                    j = int(np.searchsorted(heads, nxt))
                    if j < len(heads) and int(heads[j]) == nxt:
                        # The usual case: the resync lands on a record of this walk.
                        _skip(skipped, path, (off + at, "data checksum mismatch"), off + nxt)
                        done = j
                        continue
                    # A record this walk did not reach: resync from there.
                    damage, pos, done = (off + at, "data checksum mismatch"), nxt, -1
                    break
                if done < 0:
                    continue
                good_s.append(st[done:])
                good_n.append(ln[done:])
                pos = end
                if need == -1:
                    if on_corrupt == "raise":
                        yield from _chunk(buf, off, good_s, good_n, chunk_words)
                        raise CorruptRecordError("length checksum mismatch", off + end, path)
                    damage, pos = (off + end, "length checksum mismatch"), end + 1
                    continue
                if need > 0:
                    # A record longer than what was read: read it whole, unless it claims
                    # more than the file holds (an unfinished record: not written yet).
                    stop = off + end + need > size
                    want = max(chunk_size, need)
                else:
                    stop = end == 0  # no progress: fewer than a header's bytes left
                break
            yield from _chunk(buf, off, good_s, good_n, chunk_words)
            if stop:
                return
            off += pos
        if damage is not None:
            _skip(skipped, path, damage, off)


def _chunk(
    buf: bytes,
    off: int,
    good_s: list[np.ndarray],
    good_n: list[np.ndarray],
    words: dict[int, fastscan.Words] | None,
) -> Iterator[Chunk]:
    """The one chunk of the pieces of records found in ``buf``, if any; empties the lists.
    ``words`` go with it only when it is one walk's records."""
    import numpy as np

    if sum(len(s) for s in good_s):
        starts = np.concatenate(good_s) if len(good_s) > 1 else good_s[0]
        lengths = np.concatenate(good_n) if len(good_n) > 1 else good_n[0]
        yield Chunk(buf, off, starts, lengths, words if len(good_s) == 1 else None)
    good_s.clear()
    good_n.clear()


def _skip(
    skipped: list[SkippedBytes] | None, path: str, damage: tuple[int, str], stop: int
) -> None:
    if skipped is not None:
        skipped.append(SkippedBytes(path, damage[0], stop - damage[0], damage[1]))


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
