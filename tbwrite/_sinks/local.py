"""The local sink: a new event file written with ``os.write``, and listing local runs.

Strategy: the file is opened with ``O_CREAT | O_EXCL`` (never an existing file) and written
with raw ``os.write`` calls, so no bytes hide in a Python-level buffer: what a write returned
for is in the file, and a forked child inherits nothing it could write twice.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from time import monotonic as _monotonic
from typing import Final

from .._errors import WriterFailedError
from .._format.names import event_file_name, is_event_file
from .._format.wire import file_version_record
from .contract import Outcome

__all__ = ["LocalSink", "list_runs"]

# A file's link count drops to 0 when it is deleted while open (POSIX). Checking it costs a
# syscall, so it is checked at most every CHECK_SECS or CHECK_BYTES of writes, and at every
# sync and close; what was written since the last check is kept (references to the bytes
# already written, no copy) and written again into the new file, so nothing is lost.
_DETECT_UNLINK: Final = os.name == "posix"
CHECK_SECS: Final = 0.1
CHECK_BYTES: Final = 4 << 20
_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY: Final = getattr(os, "O_DIRECTORY", 0)
_NOTHING: Final = Outcome.NOTHING  # a module global: looked up on every write


class LocalSink:
    """A new local event file, written with ``os.write``; whole records only.

    ``write`` writes everything or raises :class:`~tbwrite.WriterFailedError` having written
    nothing of ``data`` that a reader could see: a partly written record is cut off (or, if
    that fails, the next write goes to a new file, which starts with its own header).
    """

    slow = False  # a sync never waits on a network

    def __init__(self, logdir: str, suffix: str = "") -> None:
        self._logdir = logdir
        self._suffix = suffix
        self._fd = -1
        self.path = ""
        self._files_opened = 0
        # NEW_FILE once a file after the first was begun, until a write or sync returns it
        # (also when the call that began it raised).
        self._news = _NOTHING
        self._size = 0  # bytes in the file that are whole records
        # Written since the file was last seen linked: written again if it was deleted.
        self._unchecked: list[bytes] = []
        self._unchecked_bytes = 0
        self._check_due = 0.0
        # Written into a file that was then deleted, not yet written again into a new one
        # (the directory could not be made again yet): written first by the next write.
        self._lost: list[bytes] = []
        # The log dir was deleted once: from then on it is entered without following a link
        # planted at its path.
        self._remade = False
        # Records a new file (after a deletion) starts with, e.g. an HParams session start.
        self._preamble = b""
        self._open()

    def _open(self) -> None:
        now = time.time()
        dir_fd = self._open_remade_dir() if self._remade else None
        try:
            while True:
                name = event_file_name(self._suffix, now)
                path = os.path.join(self._logdir, name)
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                try:
                    if dir_fd is None:
                        fd = os.open(path, flags, 0o644)
                    else:
                        fd = os.open(name, flags | _NOFOLLOW, 0o644, dir_fd=dir_fd)
                except FileExistsError:
                    continue  # another host or process with our pid: take the next counter
                except OSError as err:  # too many open files, a read-only or missing directory
                    raise WriterFailedError(
                        f"cannot create an event file in {self._logdir!r}: {err.strerror or err}",
                        path,
                    ) from err
                break
        finally:
            if dir_fd is not None:
                os.close(dir_fd)
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
        self._unchecked, self._unchecked_bytes = [], 0
        self._files_opened += 1
        if self._files_opened > 1:
            self._news = Outcome.NEW_FILE
        if self._files_opened > 1 and self._preamble:
            self._write(self._preamble)  # what TensorBoard needs to show the run as before
            self._unchecked.append(self._preamble)
            self._unchecked_bytes += len(self._preamble)

    def keep_at_start(self, records: bytes) -> None:
        """See :class:`~tbwrite._sinks.Sink`."""
        self._preamble = records

    def _open_remade_dir(self) -> int:
        """Make the log dir again if it is missing, and open it without following a link
        at its path (one planted after the deletion would lead writes elsewhere)."""
        try:
            os.makedirs(self._logdir, exist_ok=True)
            return os.open(self._logdir, os.O_RDONLY | _DIRECTORY | _NOFOLLOW)
        except OSError as err:
            raise WriterFailedError(
                f"the log dir {self._logdir!r} was deleted and cannot be made again "
                f"(it is not a directory, or is a link, which is not followed): "
                f"{err.strerror or err}",
                self.path,
            ) from err

    def write(self, data: bytes) -> Outcome:
        if _DETECT_UNLINK:
            if self._fd >= 0 and (
                self._unchecked_bytes >= CHECK_BYTES or _monotonic() >= self._check_due
            ):
                self._check_linked()
            self._write(data)
            self._unchecked.append(data)
            self._unchecked_bytes += len(data)
        else:
            self._write(data)
        news, self._news = self._news, _NOTHING
        return news

    def _check_linked(self) -> None:
        """Whether the file is still linked; if it was deleted, go on in a new file holding
        again what was written since the last check."""
        if os.fstat(self._fd).st_nlink == 0:
            self._lost.extend(self._unchecked)
            self._unchecked, self._unchecked_bytes = [], 0
            self._reopen_deleted()  # raises while the directory cannot be made again
            self._write_lost()
        self._unchecked, self._unchecked_bytes = [], 0
        self._check_due = _monotonic() + CHECK_SECS

    def _write_lost(self) -> None:
        # Into the new file, once: what went into the deleted one since it was last seen.
        if self._lost:
            tail = b"".join(self._lost)
            self._write(tail)
            self._lost = []
            self._unchecked.append(tail)
            self._unchecked_bytes += len(tail)

    def _write(self, data: bytes) -> None:
        if self._fd < 0:
            try:
                self._open()  # the last file was lost or could not be repaired: a new one
            except OSError as err:
                self._fd = -1
                raise WriterFailedError(
                    f"opening a new event file in {self._logdir!r} failed: {err}", self.path
                ) from err
            self._write_lost()
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
        self._remade = True
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

    def sync(self) -> Outcome:
        """``write`` already handed the bytes to the OS; make sure the file is still there,
        and write again what a deleted file lost (raises while that is impossible)."""
        if self._fd < 0 and self._lost:
            self._open()
            self._write_lost()
        if _DETECT_UNLINK and self._fd >= 0 and self._unchecked:
            self._check_linked()
        news, self._news = self._news, _NOTHING
        return news

    def close(self, flush: bool = True) -> None:
        """Close the file; with ``flush``, write again first what a deleted file lost,
        raising :class:`~tbwrite.WriterFailedError` (after closing) if that is impossible."""
        failure: WriterFailedError | None = None
        if flush and (self._fd >= 0 or self._lost):
            try:
                self.sync()
            except WriterFailedError as err:
                failure = err  # the directory cannot be made again: closing goes on
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = -1
        self._unchecked, self._unchecked_bytes = [], 0
        if failure is not None and self._lost:
            lost = sum(len(b) for b in self._lost)
            self._lost = []
            raise WriterFailedError(
                f"{lost} bytes of records written before {self._logdir!r} was deleted could "
                f"not be written again: {failure}",
                self.path,
            ) from failure


def walk_dirs(root: str) -> Iterator[tuple[str, list[str]]]:
    """(directory, its file names) for ``root`` and every directory under it, in sorted
    order, following links to directories as TensorBoard's readers do.

    Each real directory is visited once, under the first path that reaches it (a directory
    reached again through another link is not listed twice). A link back to a directory
    being walked (a cycle, on which TensorBoard's own walk never ends) is skipped with a
    warning naming it."""
    seen: set[str] = set()
    ancestors: list[str] = []

    def visit(path: str) -> Iterator[tuple[str, list[str]]]:
        real = os.path.realpath(path)
        if real in ancestors:
            warnings.warn(
                f"skipped the directory link {path!r}: it leads back to {real!r}, "
                "a directory above it (a cycle)",
                RuntimeWarning,
                stacklevel=4,
            )
            return
        if real in seen:
            return
        seen.add(real)
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError:
            return  # unreadable or gone: as os.walk, nothing listed
        files = [e.name for e in entries if not _is_dir(e)]
        yield path, files
        ancestors.append(real)
        try:
            for e in entries:
                if _is_dir(e):
                    yield from visit(e.path)
        finally:
            ancestors.pop()

    return visit(root)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows links
    except OSError:
        return False


def run_files(dirpath: str, names: list[str] | None = None) -> list[str]:
    """The event files directly in the directory ``dirpath`` (whose entries are ``names``
    when the caller has listed them already), in name order: what one run reads.
    ``FileNotFoundError`` / ``NotADirectoryError`` when ``dirpath`` is not a directory."""
    if names is None:
        names = os.listdir(dirpath)
    files = [os.path.join(dirpath, f) for f in sorted(names) if is_event_file(f)]
    return [f for f in files if os.path.isfile(f)]


def list_runs(root: str) -> dict[str, list[str]]:
    """{run: [event file, ...] in name order} under the local path ``root``."""
    if os.path.isfile(root):
        return {".": [root]}
    if not os.path.isdir(root):
        raise FileNotFoundError(f"no such file or directory: {root!r}")
    runs: dict[str, list[str]] = {}
    for dirpath, filenames in walk_dirs(root):
        files = run_files(dirpath, filenames)
        if files:
            rel = os.path.relpath(dirpath, root)
            runs[rel.replace(os.sep, "/")] = files
    return dict(sorted(runs.items()))
