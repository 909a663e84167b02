"""The local sink: a new event file written with ``os.write``, and listing local runs.

Strategy: the file is opened with ``O_CREAT | O_EXCL`` (never an existing file) and written
with raw ``os.write`` calls, so no bytes hide in a Python-level buffer: what a write returned
for is in the file, and a forked child inherits nothing it could write twice.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Final

from .._errors import WriterFailedError
from .._format.names import event_file_name, is_event_file
from .._format.wire import file_version_record

__all__ = ["LocalSink", "list_runs"]

# A file's link count drops to 0 when it is deleted while open (POSIX).
_DETECT_UNLINK: Final = os.name == "posix"


class LocalSink:
    """A new local event file, written with ``os.write``; whole records only.

    ``write`` writes everything or raises :class:`~tbwrite.WriterFailedError` having written
    nothing of ``data`` that a reader could see: a partly written record is cut off (or, if
    that fails, the next write goes to a new file, which starts with its own header).
    """

    needs_sync = False
    slow = False  # a sync never waits on a network
    pending_bytes = 0
    max_pending_bytes = float("inf")  # nothing is ever pending
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
        header = file_version_record(now)
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


def list_runs(root: str) -> dict[str, list[str]]:
    """{run: [event file, ...] in name order} under the local path ``root``."""
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
