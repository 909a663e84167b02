"""Reading event files: runs, records, events; streaming and follow mode.

Strategy: two record paths over the same format.

- :func:`iter_events` streams through :class:`~tbwrite.RecordDecoder` (no I/O inside it)
  fed from files in chunks, so a truncated last record is simply "need more data" and a
  follow mode only has to feed it what the writer appends later.
- The loaders (:mod:`tbwrite._loaders`) need every record of large files fast, so
  :func:`scan_records` hands a whole chunk to :func:`tbwrite._fastscan.walk`, which finds
  its records by predicting the (periodic) record sizes and verifying every predicted
  header at once, and checks the data checksums of equal-length records in aggregate with
  numpy. On any damage it hands the bytes to a ``RecordDecoder``, which raises or
  resynchronises byte by byte exactly as the streaming path does.

A path may also be an fsspec URL (``s3://bucket/runs``, ``memory://...``): runs are then
listed and objects read through fsspec (:mod:`tbwrite._remote`), imported only for URLs.

Both verify both checksums. A length field is trusted only once its checksum matches, and a
record that claims more bytes than the file holds is an unfinished tail: nothing larger than
the file is ever allocated.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Final, NamedTuple

from ._errors import CorruptRecordError
from ._framing import (
    FOOTER_SIZE,
    HEADER_SIZE,
    NEED_DATA,
    RecordDecoder,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "EventRecord",
    "SkippedBytes",
    "find_runs",
    "iter_events",
    "scan_records",
    "verify_file",
]

ON_CORRUPT: Final = ("raise", "skip")
CHUNK_SIZE: Final = 32 << 20


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


def is_event_file(name: str) -> bool:
    """TensorBoard's rule: an event file's basename contains ``tfevents``."""
    return "tfevents" in os.path.basename(name)


def find_runs(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Map run name -> its event files in file-name order, for a logdir, run dir or file.

    Runs are found recursively, as ``EventMultiplexer.AddRunsFromDirectory`` does: every
    directory holding an event file is a run, named by its path relative to ``path`` with
    ``/`` separators (``"."`` for ``path`` itself). A single event file is the run ``"."``.
    Raises ``FileNotFoundError`` when ``path`` does not exist. ``path`` may be an fsspec URL
    (``s3://bucket/logs``); the files are then object URLs.
    """
    root = os.fspath(path)
    from . import _remote

    if _remote.is_remote(root):
        runs_ = _remote.list_runs(root)
        return {".": [root]} if runs_ is None else runs_
    root = _remote.local_path(root)
    if os.path.isfile(root):
        return {".": [root]}
    if not os.path.isdir(root):
        raise FileNotFoundError(f"no such file or directory: {root!r}")
    runs: dict[str, list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        files = sorted(f for f in filenames if is_event_file(f))
        files = [os.path.join(dirpath, f) for f in files]
        files = [f for f in files if os.path.isfile(f)]
        if files:
            rel = os.path.relpath(dirpath, root)
            runs[rel.replace(os.sep, "/")] = files
    return dict(sorted(runs.items()))


def _open_read(path: str) -> tuple[BinaryIO, int]:
    """(binary file, its size) for a local path or a store object URL."""
    from . import _remote

    if _remote.is_remote(path):
        f = _remote.open_remote(path)
        return f, int(f.size)
    f2 = open(_remote.local_path(path), "rb")
    return f2, os.fstat(f2.fileno()).st_size


def check_on_corrupt(on_corrupt: str) -> None:
    if on_corrupt not in ON_CORRUPT:
        raise ValueError(f"on_corrupt must be 'raise' or 'skip', got {on_corrupt!r}")


def _reason(err: CorruptRecordError) -> str:
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


def scan_records(
    path: str,
    on_corrupt: str = "raise",
    skipped: list[SkippedBytes] | None = None,
    chunk_size: int = CHUNK_SIZE,
    start: int = 0,
    exact: bool = False,
) -> Iterator[Chunk]:
    """Every verified record of the file ``path``, a chunk at a time, from byte ``start``
    (a record boundary). ``exact`` checks each data checksum on its own rather than those
    of equal-length records in aggregate.

    A bad checksum raises :class:`~tbwrite.CorruptRecordError` naming the file and the
    record's byte offset, or with ``on_corrupt="skip"`` is passed over up to the next valid
    record and appended to ``skipped``. An unfinished last record ends the scan.
    """
    from . import _fastscan

    check_on_corrupt(on_corrupt)
    hcache: dict[bytes, int] = {}
    f, size = _open_read(path)
    with f:
        off = start
        want = chunk_size
        while off + HEADER_SIZE <= size:
            f.seek(off)
            buf = f.read(want)
            want = chunk_size
            pos, st, ln, need, bad_at = _fastscan.walk(buf, hcache, exact)
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
    f, size = _open_read(path)
    f.close()
    try:
        for chunk in scan_records(path, exact=True):
            records += len(chunk.starts)
            end = chunk.base + int(chunk.starts[-1] + chunk.lengths[-1]) + FOOTER_SIZE
    except CorruptRecordError as err:
        return FileCheck(path, records, size, (err.offset, _reason(err)), 0)
    return FileCheck(path, records, size, None, size - end)


# -- streaming (iter_events) ----------------------------------------------------------------


class _Follower:
    """Incremental reader of one file: a RecordDecoder fed whatever was appended."""

    def __init__(self, path: str, run: str) -> None:
        self.path = path
        self.run = run
        self.read_to = 0
        self.dec = RecordDecoder()
        self.bad_since: int | None = None  # offset where skipping started
        self.bad_reason = ""

    def poll(
        self, on_corrupt: str, raw: bool, parse: Callable[[bytes], Any], final: bool
    ) -> Iterator[EventRecord]:
        f, _size = _open_read(self.path)
        with f:
            f.seek(self.read_to)
            while True:
                data = f.read(CHUNK_SIZE)
                if not data:
                    break
                self.read_to += len(data)
                self.dec.receive_data(data)
                yield from self._drain(on_corrupt, raw, parse)
        if final and self.bad_since is not None:
            skip = SkippedBytes(
                self.path, self.bad_since, self.dec.offset - self.bad_since, self.bad_reason
            )
            self.bad_since = None
            warn_skipped([skip], stacklevel=4)

    def _drain(
        self, on_corrupt: str, raw: bool, parse: Callable[[bytes], Any]
    ) -> Iterator[EventRecord]:
        dec = self.dec
        while True:
            offset = dec.offset
            try:
                rec = dec.next_record()
            except CorruptRecordError as err:
                if on_corrupt == "raise":
                    raise CorruptRecordError(_reason(err), err.offset, self.path) from None
                if self.bad_since is None:
                    self.bad_since, self.bad_reason = offset, _reason(err)
                dec.skip_byte()
                continue
            if rec is NEED_DATA:
                return
            assert isinstance(rec, bytes)
            if self.bad_since is not None:
                warn_skipped(
                    [
                        SkippedBytes(
                            self.path, self.bad_since, offset - self.bad_since, self.bad_reason
                        )
                    ],
                    stacklevel=5,
                )
                self.bad_since = None
            if raw:
                yield EventRecord(self.run, self.path, offset, rec)
                continue
            try:
                event = parse(rec)
            except Exception:
                err2 = CorruptRecordError("record does not parse as an Event", offset, self.path)
                if on_corrupt == "raise":
                    raise err2 from None
                warn_skipped(
                    [
                        SkippedBytes(
                            self.path,
                            offset,
                            dec.offset - offset,
                            "record does not parse as an Event",
                        )
                    ],
                    stacklevel=5,
                )
                continue
            yield EventRecord(self.run, self.path, offset, event)


def iter_events(
    path: str | os.PathLike[str],
    *,
    follow: bool = False,
    poll_interval: float = 1.0,
    timeout: float | None = None,
    on_corrupt: str = "raise",
    raw: bool = False,
    runs: Any = None,
) -> Iterator[EventRecord]:
    """Yield every event of an event file, a run directory or a logdir tree.

    Runs are found recursively and read in run-name order; a run's files in file-name
    order (see :func:`find_runs`). Both checksums of every record are verified. A truncated
    last record is "not written yet": reading stops before it (and, with ``follow``, resumes
    when the rest arrives).

    Args:
        path: an event file, a run directory or a logdir.
        follow: keep watching for new events, new files and new runs, as a notebook watching
            a live run wants; polls every ``poll_interval`` seconds.
        timeout: with ``follow``, stop after this many seconds without new events (None:
            never; break out of the loop to stop).
        on_corrupt: ``"raise"`` (default) raises :class:`~tbwrite.CorruptRecordError` naming
            the file and byte offset; ``"skip"`` resynchronises on the next valid record and
            reports each skipped range with a ``RuntimeWarning``.
        raw: yield each record's bytes instead of a parsed ``Event``.
        runs: only runs whose names match (a glob pattern, a compiled regular expression or
            a list of those, as for :func:`~tbwrite.read_scalars`); others are not read.

    Yields:
        :class:`EventRecord` (run, path, offset, event).
    """
    from ._select import name_filter

    check_on_corrupt(on_corrupt)
    want_run = name_filter(runs, "runs")
    root = os.fspath(path)
    parse: Callable[[bytes], Any]
    if raw:
        parse = bytes
    else:
        from ._proto.event_pb2 import Event

        parse = Event.FromString
    from ._remote import is_remote

    # Store objects are immutable once a later one exists: a file that was read after a
    # later file appeared is done, and is not fetched again at every poll.
    remote = is_remote(root)
    followers: dict[str, _Follower] = {}
    done: set[str] = set()
    idle_since = time.monotonic()
    while True:
        got = False
        for run, files in find_runs(root).items():
            if want_run is not None and not want_run(run):
                continue
            for i, file in enumerate(files):
                if file in done:
                    continue
                fol = followers.get(file)
                if fol is None:
                    fol = followers[file] = _Follower(file, run)
                for rec in fol.poll(on_corrupt, raw, parse, final=not follow):
                    got = True
                    yield rec
                if remote and i + 1 < len(files):
                    done.add(file)
                    del followers[file]
        if not follow:
            return
        now = time.monotonic()
        if got:
            idle_since = now
        elif timeout is not None and now - idle_since >= timeout:
            return
        time.sleep(poll_interval)
