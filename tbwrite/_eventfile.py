"""The event file: one new file per writer, buffered records, a flush policy.

Strategy: records (already framed bytes) are appended to an in-memory list under a lock and
written with one ``os.write`` loop when ``max_queue`` records are pending, when ``flush_secs``
have passed (a single process-wide daemon thread keeps the deadlines), at ``flush()``,
``close()`` and interpreter exit. The file is a raw unbuffered ``FileIO`` opened with ``"xb"``,
so no bytes hide in a Python-level buffer: what ``flush()`` returned for is in the file, and a
forked child inherits nothing it could write twice.

The bytes go through a sink: :class:`LocalSink` (that file) for a path, or, for an fsspec URL,
:class:`tbwrite._remote.RemoteSink`, which keeps drained records in memory and turns each
``sync`` (every flush) into one new immutable object. A sink's ``write`` is cheap and runs
under the writer's lock; its ``sync`` (a no-op for a local file) runs outside it, so logging
never waits for a store.
"""

from __future__ import annotations

import atexit
import itertools
import os
import socket
import threading
import time
import warnings
import weakref
from typing import Any, Final

from ._encode import file_version_event
from ._errors import WriterClosedError, WriterFailedError
from ._framing import frame

__all__ = ["EventFileWriter", "LocalSink", "event_file_name", "open_sink"]

FILE_PREFIX: Final = "events.out.tfevents"
# A file's link count drops to 0 when it is deleted while open (POSIX).
_DETECT_UNLINK: Final = os.name == "posix"

# Process-wide: two writers in one directory in the same second never share a name.
_file_counter = itertools.count()
_counter_lock = threading.Lock()


def event_file_name(suffix: str = "", wall_time: float | None = None) -> str:
    """TensorBoard's event file name: ``events.out.tfevents.{time}.{host}.{pid}.{n}{suffix}``."""
    with _counter_lock:
        n = next(_file_counter)
    t = int(time.time() if wall_time is None else wall_time)
    return f"{FILE_PREFIX}.{t:010d}.{socket.gethostname()}.{os.getpid()}.{n}{suffix}"


class LocalSink:
    """A new local event file, written with ``os.write``; whole records only.

    ``write`` writes everything or raises :class:`~tbwrite.WriterFailedError` having written
    nothing of ``data`` that a reader could see: a partly written record is cut off (or, if
    that fails, the next write goes to a new file, which starts with its own header).
    """

    needs_local_dir = True
    needs_sync = False
    slow = False  # a sync never waits on a network
    pending_bytes = 0
    last_error: BaseException | None = None
    files_opened = 0  # counts the files this sink started (a new one drops tag metadata)

    def __init__(self, logdir: str, suffix: str = "") -> None:
        self._logdir = logdir
        self._suffix = suffix
        self._fd = -1
        self.path = ""
        self._size = 0  # bytes in the file that are whole records
        self._open()

    def _open(self) -> None:
        now = time.time()
        while True:
            path = os.path.join(self._logdir, event_file_name(self._suffix, now))
            try:
                fd = os.open(
                    path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644
                )
            except FileExistsError:
                continue  # another host or process with our pid: take the next counter
            except OSError as err:  # too many open files, a read-only or missing directory
                raise WriterFailedError(
                    f"cannot create an event file in {self._logdir!r}: {err.strerror or err}",
                    path,
                ) from err
            break
        # The first record, written here rather than by write(): if it fails (disk full),
        # the new file is removed and its descriptor closed, so a failed open leaves nothing.
        header = frame(file_version_event(now))
        written = 0
        try:
            while written < len(header):
                written += os.write(fd, header[written:])
        except OSError as err:
            os.close(fd)
            try:
                os.unlink(path)
            except OSError:
                pass
            raise WriterFailedError(
                f"cannot start an event file in {self._logdir!r}: {err.strerror or err}", path
            ) from err
        self._fd, self.path, self._size = fd, path, written
        self.files_opened += 1

    def write(self, data: bytes) -> None:
        if self._fd >= 0 and _DETECT_UNLINK and os.fstat(self._fd).st_nlink == 0:
            self._reopen_deleted()
        if self._fd < 0:
            try:
                self._open()  # the last file could not be repaired: start a new one
            except OSError as err:
                self._fd = -1
                raise WriterFailedError(
                    f"opening a new event file in {self._logdir!r} failed: {err}", self.path
                ) from err
        view = memoryview(data)
        written = 0
        try:
            while written < len(data):
                written += os.write(self._fd, view[written:])
        except OSError as err:
            self._recover_partial(written)
            raise WriterFailedError(f"writing {self.path!r} failed: {err}", self.path) from err
        self._size += written

    def _reopen_deleted(self) -> None:
        # The file was unlinked (the log dir removed by `rm -rf` or a cleanup job): what is
        # written to it now is lost to every reader. Make the directory again and go on in
        # a new file, saying so.
        old = self.path
        os.close(self._fd)
        self._fd = -1
        try:
            os.makedirs(self._logdir, exist_ok=True)
        except OSError as err:
            raise WriterFailedError(
                f"the event file {old!r} was deleted and {self._logdir!r} cannot be made "
                f"again: {err}",
                old,
            ) from err
        self._open()
        warnings.warn(
            f"tbwrite: the event file {old!r} was deleted while open (its log dir removed?); "
            f"logging goes on in {self.path!r}",
            RuntimeWarning,
            stacklevel=2,
        )

    def _recover_partial(self, written: int) -> None:
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
            self._fd = -1
            try:
                self._open()
            except OSError:
                self._fd = -1

    def sync(self) -> None:
        """Nothing to do: ``write`` already handed the bytes to the OS."""

    def close(self, flush: bool = True) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = -1


def open_sink(logdir: str, suffix: str = "") -> LocalSink | Any:
    """The sink for ``logdir``: a local file, or store objects for an fsspec URL."""
    from . import _remote

    if _remote.is_remote(logdir):
        return _remote.RemoteSink(logdir, suffix)
    return LocalSink(_remote.local_path(logdir), suffix)


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
        self._sink: Any = None
        self._pid = os.getpid()
        # Set in a forked child by the at-fork hook, so write_record needs no getpid()
        # (a syscall costing more than the rest of the call); _drain_locked still checks
        # the pid before every write, for forks made behind Python's back.
        self._forked = False
        # Whether the flusher thread holds a deadline for this writer. Cleared by the
        # flusher when the deadline passes, so the next buffered record sets a new one,
        # also after a failed background flush left records in the buffer.
        self._scheduled = False
        # Whether a timed flush of a slow (remote) sink is running on its own thread.
        self._syncing = False
        # Tags whose SummaryMetadata this file already holds: readers keep only the first
        # metadata of a tag, so later values of the tag are written without it.
        self.metadata_written: set[str] = set()
        # Set while a remote sink holds more than MAX_PENDING_BYTES it could not upload:
        # records are refused (checked on the hot path, with the other rare states).
        self._full = False
        from ._remote import is_remote, local_path

        if not is_remote(logdir):
            os.makedirs(local_path(logdir), exist_ok=True)
        with self._lock:
            self._open_locked()
        _live_writers.add(self)

    # -- properties ---------------------------------------------------------------------

    @property
    def path(self) -> str:
        """Path of the event file currently written (for a store: the next object's URL)."""
        return str(self._sink.path)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def slow(self) -> bool:
        """Whether closing may wait on a network (a store's upload)."""
        return bool(getattr(self._sink, "slow", False))

    # -- writing ------------------------------------------------------------------------

    def write_record(self, record: bytes) -> None:
        """Buffer one framed record (the output of :func:`~tbwrite._framing.frame`)."""
        # The hot path (one call per add_scalar): no syscall, and acquire/release rather
        # than `with`, which costs half as much again in CPython 3.11.
        lock = self._lock
        lock.acquire()
        try:
            if self._closed or self._error is not None or self._forked or self._full:
                self._check_locked()
            buf = self._buffer
            buf.append(record)
            if not self._scheduled:
                self._schedule_locked()
            if len(buf) >= self._max_queue:
                self._drain_or_unbuffer_locked(1)
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
                self._drain_or_unbuffer_locked(len(records))

    def write_bytes(self, data: bytes | memoryview) -> None:
        """Write already framed bytes (many records) straight to the file, after the buffer."""
        with self._lock:
            self._check_locked()
            self._buffer.append(data)  # type: ignore[arg-type]  # join() takes views too
            self._drain_or_unbuffer_locked(1)

    def flush(self) -> None:
        """Write every buffered record to the file (or upload it to the store)."""
        with self._lock:
            self._raise_pending_locked()
            if self._closed:
                return
            self._drain_locked()
            sink = self._sink
        sink.sync()  # a store's upload: outside the lock, so logging goes on meanwhile

    def close(self) -> None:
        """Flush and close the file. Harmless when already closed."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            _flusher.cancel(self)
            _live_writers.discard(self)
            same_process = self._pid == os.getpid() and not self._forked
            try:
                if self._error is None:
                    if same_process:
                        self._drain_locked()
                elif same_process:
                    # Write what can still be written, then report the background failure.
                    try:
                        self._drain_locked()
                    except WriterFailedError:
                        pass
                    self._raise_pending_locked()
            finally:
                self._sink.close(flush=same_process)

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
        if self._full:
            self._check_full_locked()

    def _check_full_locked(self) -> None:
        from ._remote import MAX_PENDING_BYTES

        sink = self._sink
        if sink.pending_bytes > MAX_PENDING_BYTES and sink.last_error is None:
            # The store is fine, only slower than the logging: wait for it (backpressure).
            sink.sync()
        if sink.pending_bytes <= MAX_PENDING_BYTES:
            self._full = False
            return
        if not self._scheduled:
            self._schedule_locked()  # keep retrying the upload in the background
        err = sink.last_error
        raise WriterFailedError(
            f"the store of {self._logdir!r} keeps failing ({err}): {sink.pending_bytes} bytes "
            f"wait to be uploaded, more than {MAX_PENDING_BYTES}; this record was not kept",
            str(sink.path),
        ) from err

    def _raise_pending_locked(self) -> None:
        err = self._error
        if err is not None:
            self._error = None
            path = str(self._sink.path) if self._sink is not None else None
            raise WriterFailedError(
                f"writing {path!r} failed in the background: {err}", path
            ) from err

    def _open_locked(self) -> None:
        self._sink = open_sink(self._logdir, self._suffix)

    def _reopen_in_child_locked(self) -> None:
        # We are a forked child: the fd and buffer belong to the parent's file. Closing our
        # copy of the fd leaves the parent's untouched.
        self._pid = os.getpid()
        self._forked = False
        self._buffer = []
        if self._sink is not None:
            self._sink.close(flush=False)  # a local fd copy is closed; nothing uploaded
        self._sink = None
        self._full = False
        self.metadata_written = set()
        self._open_locked()

    def _drain_locked(self) -> None:
        buf = self._buffer
        if not buf or self._sink is None:
            return
        if self._pid != os.getpid():
            # Forked without the at-fork hook: the buffer may be the parent's and the fd is
            # the parent's file. Write nothing; the next write opens the child's own file.
            buf.clear()
            self._forked = True
            return
        data = buf[0] if len(buf) == 1 else b"".join(buf)
        sink = self._sink
        opened = sink.files_opened
        sink.write(data)  # raises WriterFailedError, having kept nothing a reader could see
        buf.clear()
        if sink.files_opened != opened:
            # A new file (the old one was deleted or could not be repaired): readers keep
            # a tag's metadata per run, so the next value of each tag carries it again.
            self.metadata_written = set()
        if sink.needs_sync:
            # A store sink holds enough for an object: upload it now, in the background.
            from ._remote import MAX_PENDING_BYTES

            if sink.pending_bytes > MAX_PENDING_BYTES:
                self._full = True
            _flusher.hurry(self)

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

    def _timed_flush(self) -> None:
        """Called by the flusher thread; keeps an error for the next call."""
        with self._lock:
            if self._closed or self._pid != os.getpid():
                return
            try:
                self._drain_locked()
            except WriterFailedError as err:
                self._error = err.__cause__ or err
                return
            sink = self._sink
        try:
            sink.sync()
        except WriterFailedError as err:
            with self._lock:
                if sink is self._sink and not self._closed:
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
                self._thread = threading.Thread(
                    target=self._run, name="tbwrite-flusher", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def hurry(self, writer: EventFileWriter) -> None:
        """Flush ``writer`` as soon as possible (the thread does it, not the caller)."""
        with self._cond:
            self._deadlines[writer] = time.monotonic()
            writer._scheduled = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tbwrite-flusher", daemon=True
                )
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
                    # Never longer than an hour: a larger timeout can overflow the
                    # platform's timer (OverflowError), which would end this thread and
                    # every writer's timed flushes with it.
                    self._cond.wait(min(timeout, 3600.0))
            for w in due:
                if getattr(w._sink, "slow", False):
                    self._sync_in_background(w)
                else:
                    w._timed_flush()

    def _sync_in_background(self, w: EventFileWriter) -> None:
        # A store can take minutes to fail (deadlines, retries): its timed flush runs on a
        # thread of its own, so local writers' timed flushes never wait behind it.
        if w._syncing:
            with self._cond:  # one in flight per writer; look again at the next deadline
                if w not in self._deadlines:
                    self._deadlines[w] = time.monotonic() + w._flush_secs
                    w._scheduled = True
            return
        w._syncing = True

        def run() -> None:
            try:
                w._timed_flush()
            finally:
                w._syncing = False

        threading.Thread(target=run, name="tbwrite-store-sync", daemon=True).start()

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
    global _counter_lock
    _counter_lock = threading.Lock()  # another thread may have held it at the fork
    _flusher._after_fork_in_child()
    for w in list(_live_writers):
        w._after_fork_in_child()


atexit.register(_flush_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
