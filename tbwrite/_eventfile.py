"""The event file: one new file per writer, buffered records, a flush policy.

Strategy: records (already framed bytes) are appended to an in-memory list under a lock and
written with one ``os.write`` loop when ``max_queue`` records are pending, when ``flush_secs``
have passed (a single process-wide daemon thread keeps the deadlines), at ``flush()``,
``close()`` and interpreter exit. The file is a raw unbuffered ``FileIO`` opened with ``"xb"``,
so no bytes hide in a Python-level buffer: what ``flush()`` returned for is in the file, and a
forked child inherits nothing it could write twice.
"""

from __future__ import annotations

import atexit
import itertools
import os
import socket
import threading
import time
import weakref
from typing import Final

from ._encode import file_version_event
from ._errors import WriterClosedError, WriterFailedError
from ._framing import frame

__all__ = ["EventFileWriter", "event_file_name"]

FILE_PREFIX: Final = "events.out.tfevents"

# Process-wide: two writers in one directory in the same second never share a name.
_file_counter = itertools.count()
_counter_lock = threading.Lock()


def event_file_name(suffix: str = "", wall_time: float | None = None) -> str:
    """TensorBoard's event file name: ``events.out.tfevents.{time}.{host}.{pid}.{n}{suffix}``."""
    with _counter_lock:
        n = next(_file_counter)
    t = int(time.time() if wall_time is None else wall_time)
    return f"{FILE_PREFIX}.{t:010d}.{socket.gethostname()}.{os.getpid()}.{n}{suffix}"


class EventFileWriter:
    """Writes framed records to a new event file in ``logdir``.

    Guarantees:

    - The file is created with ``"xb"`` (never an existing file) and starts with the
      ``file_version`` event, already on disk when the constructor returns.
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
      The records not written stay buffered and are retried at the next flush; a partial
      record left by the failure is cut off first, so the file stays readable.
    - After ``os.fork()``, the child drops the buffer it inherited (the parent writes those
      records, once) and never touches the parent's file: its own first write opens a new
      file in the same directory.
    """

    def __init__(
        self,
        logdir: str,
        *,
        max_queue: int = 10,
        flush_secs: float = 120.0,
        filename_suffix: str = "",
    ) -> None:
        self._logdir = logdir
        self._max_queue = max(1, int(max_queue))
        self._flush_secs = float(flush_secs)
        self._suffix = filename_suffix
        self._lock = threading.Lock()
        self._buffer: list[bytes] = []
        self._closed = False
        self._error: BaseException | None = None
        self._fd = -1
        self._path = ""
        self._size = 0  # bytes in the file that are whole records
        self._pid = os.getpid()
        # Set in a forked child by the at-fork hook, so write_record needs no getpid()
        # (a syscall costing more than the rest of the call); _drain_locked still checks
        # the pid before every write, for forks made behind Python's back.
        self._forked = False
        # Whether the flusher thread holds a deadline for this writer. Cleared by the
        # flusher when the deadline passes, so the next buffered record sets a new one,
        # also after a failed background flush left records in the buffer.
        self._scheduled = False
        # Tags whose SummaryMetadata this file already holds: readers keep only the first
        # metadata of a tag, so later values of the tag are written without it.
        self.metadata_written: set[str] = set()
        os.makedirs(logdir, exist_ok=True)
        with self._lock:
            self._open_locked()
        _live_writers.add(self)

    # -- properties ---------------------------------------------------------------------

    @property
    def path(self) -> str:
        """Path of the event file currently written."""
        return self._path

    @property
    def closed(self) -> bool:
        return self._closed

    # -- writing ------------------------------------------------------------------------

    def write_record(self, record: bytes) -> None:
        """Buffer one framed record (the output of :func:`~tbwrite._framing.frame`)."""
        # The hot path (one call per add_scalar): no syscall, and acquire/release rather
        # than `with`, which costs half as much again in CPython 3.11.
        lock = self._lock
        lock.acquire()
        try:
            if self._closed or self._error is not None or self._forked:
                self._check_locked()
            buf = self._buffer
            buf.append(record)
            if not self._scheduled:
                self._schedule_locked()
            if len(buf) >= self._max_queue:
                self._drain_locked()
        finally:
            lock.release()

    def write_records(self, records: list[bytes]) -> None:
        """Buffer several framed records at once: all or, on a closed writer, none."""
        with self._lock:
            self._check_locked()
            if not records:
                return
            if not self._scheduled:
                self._schedule_locked()
            self._buffer.extend(records)
            if len(self._buffer) >= self._max_queue:
                self._drain_locked()

    def write_bytes(self, data: bytes) -> None:
        """Write already framed bytes (many records) straight to the file, after the buffer."""
        with self._lock:
            self._check_locked()
            self._buffer.append(data)
            self._drain_locked()

    def flush(self) -> None:
        """Write every buffered record to the file."""
        with self._lock:
            self._raise_pending_locked()
            if self._closed:
                return
            self._drain_locked()

    def close(self) -> None:
        """Flush and close the file. Harmless when already closed."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            _flusher.cancel(self)
            _live_writers.discard(self)
            try:
                self._raise_pending_locked()
                if self._pid == os.getpid():
                    self._drain_locked()
            finally:
                if self._fd >= 0:
                    os.close(self._fd)
                self._fd = -1

    # -- internals (call with self._lock held) ------------------------------------------

    def _schedule_locked(self) -> None:
        self._scheduled = True
        _flusher.schedule(self, self._flush_secs)

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
            raise WriterFailedError(
                f"writing {self._path!r} failed in the background: {err}", self._path
            ) from err

    def _open_locked(self) -> None:
        now = time.time()
        while True:
            path = os.path.join(self._logdir, event_file_name(self._suffix, now))
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
            except FileExistsError:
                continue  # another host or process with our pid: take the next counter
            break
        self._fd, self._path, self._size = fd, path, 0
        self._buffer.insert(0, frame(file_version_event(now)))
        self._drain_locked()

    def _reopen_in_child_locked(self) -> None:
        # We are a forked child: the fd and buffer belong to the parent's file. Closing our
        # copy of the fd leaves the parent's untouched.
        self._pid = os.getpid()
        self._forked = False
        self._buffer = []
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = -1
        self.metadata_written = set()
        self._open_locked()

    def _drain_locked(self) -> None:
        buf = self._buffer
        if not buf or self._fd < 0:
            return
        if self._pid != os.getpid():
            # Forked without the at-fork hook: the buffer may be the parent's and the fd is
            # the parent's file. Write nothing; the next write opens the child's own file.
            buf.clear()
            self._forked = True
            return
        data = buf[0] if len(buf) == 1 else b"".join(buf)
        view = memoryview(data)
        written = 0
        try:
            while written < len(data):
                written += os.write(self._fd, view[written:])
        except OSError as err:
            self._recover_partial_locked(written)
            raise WriterFailedError(f"writing {self._path!r} failed: {err}", self._path) from err
        self._size += written
        buf.clear()

    def _recover_partial_locked(self, written: int) -> None:
        # Cut a partly written record off, so readers see whole records only and the
        # buffered records can be retried. If even that fails, write to a new file.
        if written == 0:
            return
        try:
            os.ftruncate(self._fd, self._size)
            os.lseek(self._fd, self._size, os.SEEK_SET)
        except OSError:
            try:
                os.close(self._fd)
            except OSError:
                pass
            pending = self._buffer
            self._buffer = []
            try:
                self._open_locked()
            except OSError:
                self._fd = -1
            self._buffer.extend(pending)

    def _timed_flush(self) -> None:
        """Called by the flusher thread; keeps an error for the next call."""
        with self._lock:
            if self._closed or self._pid != os.getpid():
                return
            try:
                self._drain_locked()
            except WriterFailedError as err:
                self._error = err.__cause__ or err

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._buffer = []
        self._scheduled = False
        self._forked = True


class _Flusher:
    """One daemon thread for the whole process that flushes writers at their deadlines."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._deadlines: dict[EventFileWriter, float] = {}
        self._thread: threading.Thread | None = None

    def schedule(self, writer: EventFileWriter, delay: float) -> None:
        with self._cond:
            if writer in self._deadlines:
                return
            self._deadlines[writer] = time.monotonic() + delay
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tbwrite-flusher", daemon=True)
                self._thread.start()
            self._cond.notify()

    def cancel(self, writer: EventFileWriter) -> None:
        with self._cond:
            self._deadlines.pop(writer, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    due = [w for w, t in self._deadlines.items() if t <= now]
                    if due:
                        for w in due:
                            del self._deadlines[w]
                            w._scheduled = False
                        break
                    timeout = min(self._deadlines.values(), default=now + 3600.0) - now
                    self._cond.wait(timeout)
            for w in due:
                w._timed_flush()

    def _after_fork_in_child(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._deadlines = {}
        self._thread = None


_flusher = _Flusher()
_live_writers: weakref.WeakSet[EventFileWriter] = weakref.WeakSet()


def _flush_all_at_exit() -> None:
    for w in list(_live_writers):
        try:
            w.flush()
        except Exception:  # noqa: BLE001 - nothing can be raised to anyone at exit
            pass


def _after_fork_in_child() -> None:
    _flusher._after_fork_in_child()
    for w in list(_live_writers):
        w._after_fork_in_child()


atexit.register(_flush_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
