"""``iter_events``: the events of a logdir in order, optionally following files as they grow.

Each file is read by a follower that keeps its decoder between polls, so a record cut by
a writer mid-flush is simply "not written yet" and is read whole at the next poll. Store
segments are complete once their writer has started the next: such a segment is read once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Callable

from .._errors import CorruptRecordError
from .._format.tfrecord import (
    NEED_DATA,
    RecordDecoder,
)
from .._sinks import finished_files, open_read

if TYPE_CHECKING:
    pass
from . import records
from .filters import name_filter
from .records import (
    EventRecord,
    SkippedBytes,
    check_on_corrupt,
    find_runs,
    reason,
    warn_skipped,
)


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
        f, _size = open_read(self.path)
        with f:
            f.seek(self.read_to)
            while True:
                data = f.read(records.CHUNK_SIZE)  # read at each call: tests shrink it
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
                    raise CorruptRecordError(reason(err), err.offset, self.path) from None
                if self.bad_since is None:
                    self.bad_since, self.bad_reason = offset, reason(err)
                dec.resync()
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
    check_on_corrupt(on_corrupt)
    want_run = name_filter(runs, "runs")
    root = os.fspath(path)
    parse: Callable[[bytes], Any]
    if raw:
        parse = bytes
    else:
        from .._proto.event_pb2 import Event

        parse = Event.FromString

    # A store segment is never written again once its writer has started the next: read
    # after that, it is done, and is not fetched again at every poll.
    followers: dict[str, _Follower] = {}
    done: set[str] = set()
    idle_since = time.monotonic()
    while True:
        got = False
        for run, files in find_runs(root).items():
            if want_run is not None and not want_run(run):
                continue
            finished = finished_files(files)
            for file in files:
                if file in done:
                    continue
                fol = followers.get(file)
                if fol is None:
                    fol = followers[file] = _Follower(file, run)
                for rec in fol.poll(on_corrupt, raw, parse, final=not follow):
                    got = True
                    yield rec
                if file in finished:
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
