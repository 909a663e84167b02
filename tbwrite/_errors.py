"""tbwrite's exceptions: one base class and a few precise subclasses.

Bad arguments raise the built-in ``TypeError`` / ``ValueError`` with a message that names
the argument and the value; everything tbwrite itself detects while writing or reading
derives from :class:`TbwriteError`.
"""

from __future__ import annotations

__all__ = [
    "CorruptRecordError",
    "DeviceValueError",
    "HParamsError",
    "TbwriteError",
    "WriterClosedError",
    "WriterFailedError",
]


class TbwriteError(Exception):
    """Base class of every error tbwrite raises for its own reasons."""


class WriterClosedError(TbwriteError, ValueError):
    """A write was attempted on a writer that is closed."""


class WriterFailedError(TbwriteError, OSError):
    """Writing to the event file failed (disk full, I/O error, a background flush).

    The original ``OSError`` is chained as ``__cause__``. ``path`` is the event file.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class DeviceValueError(TbwriteError, ValueError):
    """A value logged as a device array (a JAX array) could not be read when its record was
    written: the computation that made it failed, or the array was deleted or donated.

    The record is dropped; the records logged before and after it are written. ``tag`` and
    ``step`` name the value; the error of the conversion is chained as ``__cause__``.
    """

    def __init__(self, message: str, tag: str, step: int) -> None:
        super().__init__(message)
        self.tag = tag
        self.step = step


class CorruptRecordError(TbwriteError, ValueError):
    """A record failed its length or data checksum, or its payload did not parse.

    ``offset`` is the byte offset of the record's start within the stream; ``path`` is the
    file when known.
    """

    def __init__(self, message: str, offset: int, path: str | None = None) -> None:
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{message} at byte offset {offset}")
        self.offset = offset
        self.path = path


class HParamsError(TbwriteError, ValueError):
    """HParams used in a way TensorBoard would silently ignore (e.g. a second session)."""
