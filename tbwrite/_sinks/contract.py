"""The contract between a sink and its caller: :class:`Sink` and the :class:`Outcome` its
``write`` and ``sync`` return.

A sink keeps its own promises (a store sink caps the memory it holds and refuses a write
past the cap itself); it tells its caller only what the caller must act on: that a new
file was begun, that a sync is due early, that a sync may be slow.
"""

from __future__ import annotations

import enum
from typing import Protocol

__all__ = ["Outcome", "Sink"]


class Outcome(enum.IntFlag):
    """What a sink's ``write`` or ``sync`` tells its caller beyond "done"; falsy when
    nothing, so the caller's common path is one truth test."""

    NOTHING = 0
    #: The sink began a new file since it last said so (the last one was deleted or could
    #: not be repaired): readers keep each tag's metadata per file, so the caller writes it
    #: again with the next value of each tag.
    NEW_FILE = 1
    #: The sink holds enough to ``sync`` now, without waiting for a deadline (a store sink
    #: with an object's worth pending): the caller has it synced soon, off its own thread.
    SYNC_SOON = 2


class Sink(Protocol):
    """The bytes of one event file (or one writer's store objects).

    - ``write(data)`` takes whole records; it writes all of them or raises
      :class:`~tbwrite.WriterFailedError` having left nothing partial a reader could see.
      It is cheap (the caller holds its lock), except that a sink holding bytes in memory
      until ``sync`` caps them itself: past its cap it waits for a sync, or, while syncs
      fail, refuses the write with a message naming the cap.
    - ``sync()`` makes everything written durable in this sink's sense and raises
      :class:`~tbwrite.WriterFailedError` when it cannot; what failed is kept for the next.
    - Both return an :class:`Outcome`, the news the caller must act on.
    - ``close(flush)`` syncs when ``flush`` and releases the sink.

    Nothing else of a sink's state is the caller's business: what is pending, its cap,
    its last error stay inside it. The members below are the few a caller cannot do
    without, each saying why.
    """

    @property
    def path(self) -> str:
        """The file (or the next object) written: the writer names it in its errors and
        hands it to its own callers (``EventFileWriter.path``)."""

    @property
    def slow(self) -> bool:
        """Whether ``sync`` may wait on a network: the flusher then runs it on a thread of
        its own and the writer outside its lock, and exit hooks must run before the
        interpreter stops its thread pools. Known before any write, so not an Outcome."""

    def write(self, data: bytes) -> Outcome: ...

    def sync(self) -> Outcome: ...

    def close(self, flush: bool = True) -> None: ...

    def keep_at_start(self, records: bytes) -> None:
        """Begin every new file this sink starts from now on (a local file made again after
        its log dir was deleted) with ``records``, e.g. an HParams session start, so readers
        show the run as before. Here rather than with the caller, because only the sink
        writes a new file's first bytes, before anything else goes into it. A sink that
        never starts a new file ignores it."""
