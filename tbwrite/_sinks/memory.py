"""An in-memory sink: the bytes of one event file in a ``bytearray``.

For tests of the event file writer's buffering and flush policy without a disk, and for
code that wants event bytes without a file. It can be told to fail, to exercise the
writer's error paths.
"""

from __future__ import annotations

import time

from .._errors import WriterFailedError
from .._format.wire import file_version_record
from .contract import Outcome

__all__ = ["MemorySink"]


class MemorySink:
    """An event file in memory: ``data`` holds every record written, header first.

    ``slow`` and ``max_pending_bytes`` may be set to play a store: as the store sink, a
    write that would hold more than ``max_pending_bytes`` not synced is refused while syncs
    fail (and waits for a sync while they do not). ``fail_writes`` / ``fail_syncs`` (an
    ``OSError`` or None) make the next writes / syncs fail until reset. ``synced`` counts
    the bytes covered by the last good ``sync``.
    """

    slow = False
    max_pending_bytes: float = float("inf")

    def __init__(self, path: str = "memory", *, header: bool = True) -> None:
        self.path = path
        self.data = bytearray(file_version_record(time.time()) if header else b"")
        self.synced = len(self.data)
        self.syncs = 0
        self.closed = False
        self.fail_writes: OSError | None = None
        self.fail_syncs: OSError | None = None
        self.last_error: BaseException | None = None

    @property
    def pending_bytes(self) -> int:
        return len(self.data) - self.synced

    def write(self, data: bytes) -> Outcome:
        if self.closed:
            raise ValueError(f"the memory sink {self.path!r} is closed")
        err = self.fail_writes
        if err is not None:
            raise WriterFailedError(f"writing {self.path!r} failed: {err}", self.path) from err
        pending = self.pending_bytes
        if pending and pending + len(data) > self.max_pending_bytes:
            self._make_room(len(data))
        self.data += data
        return Outcome.NOTHING  # one buffer for its whole life, synced at the deadline

    def _make_room(self, size: int) -> None:
        if self.last_error is None:
            try:
                self.sync()
            except WriterFailedError:
                pass  # last_error tells, below
        pending = self.pending_bytes
        if not pending or pending + size <= self.max_pending_bytes:
            return
        err = self.last_error
        raise WriterFailedError(
            f"the memory sink {self.path!r} keeps failing ({err}): {pending} bytes wait to "
            f"be synced, and {size} more would pass its cap of {self.max_pending_bytes} "
            "bytes (max_pending_bytes), so this write was not kept",
            self.path,
        ) from err

    def keep_at_start(self, records: bytes) -> None:
        """Nothing to do: this sink never starts a new file (see :class:`Sink`)."""

    def sync(self) -> Outcome:
        err = self.fail_syncs
        if err is not None:
            self.last_error = err
            raise WriterFailedError(f"syncing {self.path!r} failed: {err}", self.path) from err
        self.synced = len(self.data)
        self.syncs += 1
        self.last_error = None
        return Outcome.NOTHING

    def close(self, flush: bool = True) -> None:
        if flush and not self.closed:
            self.sync()
        self.closed = True
