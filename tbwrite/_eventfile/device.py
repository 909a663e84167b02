"""Device values in the event writer's buffer: records encoded when written.

Strategy: a :class:`~tbwrite._deferred.DeferredRecord` (a scalar still being computed on a
device) keeps its place in the buffer. A drain encodes the values at the buffer's start
that are ready (all of them when it may wait) and writes the records before the first one
that is not; :meth:`DeviceValueBuffering._resolve_buffered` waits for them outside the
lock, so other threads go on logging. The guarantees are the writer's
(:class:`~tbwrite._eventfile.EventFileWriter`).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, cast

from .._deferred import DeferredRecord, encode_ready
from .._lifecycle import hooks
from .._sinks import Outcome, Sink

__all__ = ["DeviceValueBuffering"]


class DeviceValueBuffering:
    """The device-value part of :class:`~tbwrite._eventfile.EventFileWriter` (which sets
    up every attribute below in its constructor)."""

    _lock: threading.Lock
    _buffer: list[bytes | DeferredRecord]
    _deferred: int
    _error: BaseException | None
    _forked: bool
    _pid: int
    _max_queue: int
    scheduled: bool

    if TYPE_CHECKING:

        def _check_locked(self) -> None: ...

        def _schedule_locked(self) -> None: ...

        def _drain_locked(self, wait: bool = False) -> None: ...

        def _require_sink(self) -> Sink: ...

        def _heed_locked(self, news: Outcome) -> None: ...

    def write_deferred(self, record: DeferredRecord) -> None:
        """Buffer a record whose value is still on a device; it is encoded when written
        (see the class's guarantees)."""
        with self._lock:
            self._check_locked()
            if not self._deferred:
                hooks.flush_before_device_exit()
            record.start()
            self._buffer.append(record)
            self._deferred += 1
            if not self.scheduled:
                self._schedule_locked()
            if len(self._buffer) >= self._max_queue:
                self._drain_locked()

    def _drain_prefix_locked(self, count: int) -> None:
        """Write the first ``count`` records (encoded), keeping the rest buffered."""
        buf = self._buffer
        if not count:
            return
        news = self._require_sink().write(b"".join(cast("list[bytes]", buf[:count])))
        del buf[:count]
        if news:
            self._heed_locked(news)

    def _encode_deferred_locked(self, wait: bool) -> int:
        """Encode the device values at the buffer's start (see :func:`encode_ready`); a
        value that cannot be read becomes the writer's error."""
        count, encoded, failure = encode_ready(self._buffer, wait)
        self._deferred -= encoded
        if failure is not None and self._error is None:
            self._error = failure
        return count

    def _resolve_buffered(self) -> None:
        """Wait for the device values buffered now, without holding the lock (so other
        threads go on logging); the next drain writes them."""
        if not self._deferred or self._forked or self._pid != os.getpid():
            return  # (a forked child drops its parent's buffer unread)
        with self._lock:
            pending = [r for r in self._buffer if type(r) is DeferredRecord]
        for record in pending:
            record.resolve()
