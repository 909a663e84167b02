"""The event file writer: buffered records and the flush policy, over any sink.

Strategy: records (already framed bytes) are appended to an in-memory list under a lock and
handed to the sink in one ``write`` when ``max_queue`` records are pending, when
``flush_secs`` have passed (the process-wide flusher thread,
:mod:`tbwrite._lifecycle.flusher`, keeps the deadlines), at ``flush()``, ``close()`` and
interpreter exit. The sink (see :mod:`tbwrite._sinks`) decides where the bytes go: a local
file, store objects, memory. A sink's ``write`` is cheap and runs under the writer's lock;
its ``sync`` runs outside it, so logging never waits for a store.

A record may also be a :class:`~tbwrite._deferred.DeferredRecord` (a scalar still being
computed on a device), encoded when the buffer is written: a write on the caller's thread
stops at the first value not computed yet; the others wait for it, outside the lock
(:mod:`tbwrite._eventfile.device`).
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Callable

from .._deferred import DeferredRecord
from .._errors import DeviceValueError, WriterClosedError, WriterFailedError
from .._lifecycle import flusher, hooks
from .._sinks import Outcome, Sink, open_sink
from .._threads import start_daemon
from .device import DeviceValueBuffering

__all__ = ["EventFileWriter", "open_event_file"]


def open_event_file(
    logdir: str, *, max_queue: int = 10, flush_secs: float = 120.0, filename_suffix: str = ""
) -> EventFileWriter:
    """An :class:`EventFileWriter` on a new event file in ``logdir`` (a directory, created
    if missing, or an fsspec URL)."""
    return EventFileWriter(
        functools.partial(open_sink, logdir, filename_suffix),
        name=logdir,
        max_queue=max_queue,
        flush_secs=flush_secs,
    )


class EventFileWriter(DeviceValueBuffering):
    """Writes framed records to the sink ``open_sink()`` returns (a new event file).

    ``open_sink`` is called once now and again in a forked child, which must not write to
    its parent's file. ``name`` (the log dir) names the writer in error messages.

    Guarantees:

    - The sink starts with the ``file_version`` event, already written when the
      constructor returns (a local file is created with ``O_EXCL``: never an existing one).
    - :meth:`write_records` only buffers. Buffered records reach the file when ``max_queue``
      records are pending, when ``flush_secs`` seconds have passed since the first of them
      was buffered, at :meth:`flush`, at :meth:`close`, and at interpreter exit.
    - :meth:`flush` returns once every record written before it is in the file (in the OS,
      so visible to readers and safe from a crash of this process; not ``fsync``-ed).
    - :meth:`close` flushes and closes; a second ``close()`` does nothing; writing after
      ``close()`` raises :class:`~tbwrite.WriterClosedError`.
    - Every method is thread-safe.
    - An I/O failure (disk full, EIO) raises :class:`~tbwrite.WriterFailedError`, chained
      with ``from``, at the call that hit it or, for a background flush, at the next call.
      One rule: a call that raised kept nothing (its own records are taken back, so the
      caller may log them again); the records of calls that returned stay buffered and are
      written, once, by a later flush. A partial record left by the failure is cut off
      first, so the file stays readable.
    - A local event file deleted while open (its log dir removed) is noticed within 0.1 s
      of writing or at the next flush/close: the directory is made again and writing goes
      on in a new file, which first gets again what was written since the last check, with
      a ``RuntimeWarning``; each tag's metadata is written again there.
    - After ``os.fork()``, the child drops the buffer it inherited (the parent writes those
      records, once) and never touches the parent's file: its own first write opens a new
      file in the same directory.
    - Device values (:meth:`write_deferred`) keep their place. A write on the caller's
      thread (``max_queue``) never waits for the device: it writes the records up to the
      first value not computed yet. :meth:`flush`, :meth:`close`, the timed flush and the
      exit hook wait for every value.
    - A device value that cannot be read (its step failed, the array was deleted or
      donated) drops that record only; :class:`~tbwrite.DeviceValueError` is raised by
      the :meth:`flush` or :meth:`close` that found it, after writing the others, or else
      by the next call, which then keeps nothing.
    """

    def __init__(
        self,
        open_sink: Callable[[], Sink],
        *,
        name: str = "",
        max_queue: int = 10,
        flush_secs: float = 120.0,
    ) -> None:
        self._open_sink = open_sink
        self._logdir = name
        self._max_queue = max(1, int(max_queue))
        self.flush_secs = float(flush_secs)
        self._lock = threading.Lock()
        self._buffer: list[bytes | DeferredRecord] = []
        self._deferred = 0  # DeferredRecords in the buffer
        self._waiting_for_device = False  # a timed flush waits for them on its own thread
        self._closed = False
        self._error: BaseException | None = None
        self._sink: Sink | None = None
        self._pid = os.getpid()
        # Set in a forked child by the at-fork hook, so write_record needs no getpid()
        # (a syscall costing more than the rest of the call); _drain_locked still checks
        # the pid before every write, for forks made behind Python's back.
        self._forked = False
        # Whether the flusher thread holds a deadline for this writer. Cleared by the
        # flusher when the deadline passes, so the next buffered record sets a new one,
        # also after a failed background flush left records in the buffer.
        self.scheduled = False
        # Whether a timed flush of a slow (remote) sink is running on its own thread.
        self.syncing = False
        # Tags whose SummaryMetadata this file already holds: readers keep only the first
        # metadata of a tag, so later values of the tag are written without it.
        self.metadata_written: set[str] = set()
        with self._lock:
            self._open_locked()
        hooks.track(self)

    # -- properties ---------------------------------------------------------------------

    @property
    def path(self) -> str:
        """Path of the event file currently written (for a store: the next object's URL)."""
        return str(self._require_sink().path)

    @property
    def slow(self) -> bool:
        """Whether a sync may wait on a network (a store)."""
        sink = self._sink
        return sink is not None and sink.slow

    def _require_sink(self) -> Sink:
        sink = self._sink
        if sink is None:  # only while a forked child reopens
            raise WriterClosedError(f"the event writer for {self._logdir!r} has no file open")
        return sink

    @property
    def closed(self) -> bool:
        return self._closed

    # -- writing ------------------------------------------------------------------------

    def write_record(self, record: bytes) -> None:
        """Buffer one framed record (the output of :func:`~tbwrite.frame`)."""
        # The hot path (one call per add_scalar): no syscall, and acquire/release rather
        # than `with`, which costs half as much again in CPython 3.11.
        lock = self._lock
        lock.acquire()
        try:
            if self._closed or self._error is not None or self._forked:
                self._check_locked()
            buf = self._buffer
            buf.append(record)
            if not self.scheduled:
                self._schedule_locked()
            if len(buf) >= self._max_queue:
                self._drain_or_unbuffer_locked(1)
        finally:
            lock.release()

    def keep_at_start(self, records: list[bytes]) -> None:
        """Begin any new file this writer must start (its log dir deleted under it) with
        ``records`` (an HParams session start), so readers show the run as before."""
        with self._lock:
            if self._sink is not None:
                self._sink.keep_at_start(b"".join(records))

    def write_records(self, records: list[bytes]) -> None:
        """Buffer several framed records at once: all or, on a closed writer, none."""
        with self._lock:
            self._check_locked()
            if not records:
                return
            if not self.scheduled:
                self._schedule_locked()
            self._buffer.extend(records)
            if len(self._buffer) >= self._max_queue:
                self._drain_or_unbuffer_locked(len(records))

    def write_bytes(self, data: bytes | memoryview) -> None:
        """Write already framed bytes (many records) straight to the file, after the buffer."""
        with self._lock:
            self._check_locked()
            self._buffer.append(data)  # type: ignore[arg-type]  # join() takes views too
            try:
                self._drain_or_unbuffer_locked(1)
            finally:
                # Device values not computed yet keep records buffered after them: own a
                # copy of those, not a view of memory the caller will reuse.
                if self._buffer:
                    self._buffer = [
                        b if isinstance(b, DeferredRecord) else bytes(b) for b in self._buffer
                    ]

    def flush(self) -> None:
        """Write every buffered record to the file (or upload it to the store)."""
        self._resolve_buffered()
        with self._lock:
            self._raise_pending_locked()
            if self._closed:
                return
            self._drain_locked()
            if self._forked or self._pid != os.getpid():
                # A forked child that has written nothing yet: the sink is its parent's (an
                # fd copy, the parent's pending upload); syncing it would write or upload the
                # parent's records again. The child's first write opens its own.
                return
            sink = self._require_sink()
            if not sink.slow:
                self._sync_local_locked(sink)
            failed, self._error = self._error, None  # a device value this drain dropped
        try:
            if sink.slow:
                self._sync_slow(sink)
        except BaseException:
            if failed is not None:
                with self._lock:
                    self._error = self._error or failed
            raise
        if failed is not None:
            raise failed

    def close(self) -> None:
        """Flush and close the file. Harmless when already closed."""
        self._resolve_buffered()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            hooks.untrack(self)
            same_process = self._pid == os.getpid() and not self._forked
            try:
                if same_process:
                    try:
                        self._drain_locked(wait=True)
                    except WriterFailedError:
                        # An earlier background failure is reported instead (the cause);
                        # a device value dropped by this drain matters less than the I/O.
                        if self._error is None or isinstance(self._error, DeviceValueError):
                            raise
                    # A background failure, or a device value this drain dropped.
                    self._raise_pending_locked()
            finally:
                if self._sink is not None:
                    self._sink.close(flush=same_process)

    # -- internals (call with self._lock held) ------------------------------------------

    def _sync_local_locked(self, sink: Sink) -> None:
        # A local file's sync checks it is still there (cheap), under the lock that orders
        # the writes; it may begin a new file (the old one was deleted).
        news = sink.sync()
        if news:
            self._heed_locked(news)

    def _sync_slow(self, sink: Sink) -> None:
        # A store's upload: outside the lock, so logging goes on meanwhile.
        news = sink.sync()
        if news:
            with self._lock:
                if sink is self._sink:
                    self._heed_locked(news)

    def _heed_locked(self, news: Outcome) -> None:
        """Act on what the sink's ``write`` or ``sync`` said."""
        if news & Outcome.NEW_FILE:
            # Readers keep a tag's metadata per file: the next value of each tag carries
            # it again.
            self.metadata_written = set()
        if news & Outcome.SYNC_SOON:
            # A store sink holds enough for an object: upload it now, in the background.
            flusher.hurry(self)

    def _schedule_locked(self) -> None:
        self.scheduled = True
        flusher.schedule(self, self.flush_secs)

    def _check_locked(self) -> None:
        if self._closed:
            raise WriterClosedError(f"the event writer for {self._logdir!r} is closed")
        self._raise_pending_locked()
        if self._forked or self._pid != os.getpid():
            self._reopen_in_child_locked()

    def _raise_pending_locked(self) -> None:
        err = self._error
        if err is not None:
            self._error = None
            if isinstance(err, DeviceValueError):
                raise err
            path = str(self._sink.path) if self._sink is not None else None
            raise WriterFailedError(
                f"writing {path!r} failed in the background: {err}", path
            ) from err

    def _open_locked(self) -> None:
        self._sink = self._open_sink()

    def _reopen_in_child_locked(self) -> None:
        # We are a forked child: the fd and buffer belong to the parent's file. Closing our
        # copy of the fd leaves the parent's untouched.
        self._pid = os.getpid()
        self._forked = False
        self._buffer = []
        self._deferred = 0
        if self._sink is not None:
            self._sink.close(flush=False)  # a local fd copy is closed; nothing uploaded
        self._sink = None
        self.metadata_written = set()
        self._open_locked()

    def _drain_locked(self, wait: bool = False) -> None:
        """Write the buffer; with device values in it, only up to the first one not
        computed yet, unless ``wait``."""
        buf = self._buffer
        if not buf or self._sink is None:
            return
        if self._pid != os.getpid():
            # Forked without the at-fork hook: the buffer may be the parent's and the fd is
            # the parent's file. Write nothing; the next write opens the child's own file.
            buf.clear()
            self._deferred = 0
            self._forked = True
            return
        if self._deferred:
            count = self._encode_deferred_locked(wait)
            if count < len(buf):
                self._drain_prefix_locked(count)
                return
        # Every record is bytes now (always so on the hot path: no device values).
        data = buf[0] if len(buf) == 1 else b"".join(buf)  # type: ignore[arg-type]
        # Raises WriterFailedError, having kept nothing a reader could see.
        news = self._sink.write(data)  # type: ignore[arg-type]
        buf.clear()
        if news:
            self._heed_locked(news)

    def _drain_or_unbuffer_locked(self, own: int) -> None:
        """Drain, for a call that has just buffered its ``own`` last records. If the write
        fails, those records are taken back before the error is raised: a call that raises
        ``WriterFailedError`` kept nothing (the caller may log it again), while the records
        of calls that returned stay buffered and are written, once, by a later flush."""
        try:
            self._drain_locked()
        except WriterFailedError:
            del self._buffer[len(self._buffer) - own :]
            raise

    # -- called by the flusher ----------------------------------------------------------

    def timed_flush(self) -> None:
        """Called by the flusher thread; keeps an error for the next call. With device
        values buffered, the wait for them runs on a thread of its own: a value not
        computed yet delays this writer's records only, never other writers' timed
        flushes."""
        if self._deferred and not self._forked and self._pid == os.getpid():
            with self._lock:
                if self._waiting_for_device:
                    return  # that thread flushes once the values are computed
                self._waiting_for_device = True
            try:
                start_daemon(self._timed_flush_after_device, "tbwrite-device-flush")
            except RuntimeError:  # no new threads at interpreter shutdown: wait here
                self._timed_flush_after_device()
            return
        self._timed_flush_now()

    def _timed_flush_after_device(self) -> None:
        try:
            self._timed_flush_now()
        finally:
            with self._lock:
                self._waiting_for_device = False

    def _timed_flush_now(self) -> None:
        self._resolve_buffered()
        with self._lock:
            if self._closed or self._pid != os.getpid():
                return
            sink = self._require_sink()
            try:
                self._drain_locked()
            except WriterFailedError as err:
                self._error = err.__cause__ or err
                if not sink.slow:
                    return
                # A store sink refused the records (its memory cap): uploading what it
                # holds is what makes room for them, so the upload goes on.
            if self._buffer and not self.scheduled:
                # Device values logged while this flush waited, or records the store sink
                # refused: at the next deadline.
                self._schedule_locked()
            if not sink.slow:
                try:
                    self._sync_local_locked(sink)
                except WriterFailedError as err:
                    self._error = err.__cause__ or err
                return
        try:
            self._sync_slow(sink)
        except WriterFailedError as err:
            with self._lock:
                if sink is self._sink and not self._closed:
                    self._error = err.__cause__ or err

    def after_fork_in_child(self) -> None:
        """In a forked child: a new lock, no buffer; the next write opens a new file."""
        self._lock = threading.Lock()
        self._buffer = []
        self._deferred = 0
        self._waiting_for_device = False
        self.scheduled = False
        self._forked = True
