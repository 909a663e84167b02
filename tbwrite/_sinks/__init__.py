"""Sinks: where the bytes of an event file go (a local file, store objects, memory).

Strategy: :class:`~tbwrite._eventfile.EventFileWriter` buffers framed records and decides
when to write them; a sink only writes. ``write`` is cheap and whole-record (it runs under
the writer's lock); ``sync`` makes what was written durable in the sink's sense (nothing to
do for a local file, one upload for a store) and runs outside the lock. The contract,
:class:`Sink`, is in :mod:`.contract`.

This package is the one place that asks whether a path is a store URL: :func:`open_sink`
for writing, and the few helpers below for listing and reading.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, BinaryIO

from .contract import Outcome, Sink

if TYPE_CHECKING:
    from .local import LocalSink
    from .memory import MemorySink
    from .remote import RemoteSink

__all__ = [
    "Outcome",
    "Sink",
    "exists",
    "finished_files",
    "is_remote",
    "join",
    "list_runs",
    "local_dir",
    "open_read",
    "open_sink",
    "run_files",
]


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


def is_remote(path: str) -> bool:
    """Whether ``path`` is a URL for fsspec: ``scheme://...`` with a scheme other than
    ``file`` (chained URLs such as ``simplecache::s3://`` are not supported)."""
    scheme, sep, _ = path.partition("://")
    return bool(sep) and scheme.lower() != "file" and _SCHEME.fullmatch(scheme) is not None


def _local_path(path: str) -> str:
    """``file:///x`` -> ``/x``; anything else unchanged."""
    return path[len("file://") :] if path.lower().startswith("file://") else path


def local_dir(path: str) -> str | None:
    """The local path of ``path`` (``file://`` stripped), or None for a store URL."""
    return None if is_remote(path) else _local_path(path)


def open_sink(logdir: str, suffix: str = "") -> LocalSink | RemoteSink:
    """A new event file in ``logdir``: a local file, or store objects for an fsspec URL.

    A local ``logdir`` is created if missing.
    """
    if is_remote(logdir):
        from .remote import RemoteSink

        return RemoteSink(logdir, suffix)
    from .local import LocalSink

    directory = _local_path(logdir)
    os.makedirs(directory, exist_ok=True)
    return LocalSink(directory, suffix)


def join(base: str, name: str) -> str:
    """``base/name`` for a directory or a store URL."""
    if is_remote(base):
        from .remote import join as join_url

        return join_url(base, name)
    return os.path.join(base, name)


def exists(path: str) -> bool:
    """Whether a local path exists; a store URL is taken as existing (listing tells)."""
    return is_remote(path) or os.path.exists(_local_path(path))


def list_runs(path: str) -> dict[str, list[str]]:
    """Map run name -> its event files in name order, for a logdir, run dir or file (see
    :func:`tbwrite.find_runs`)."""
    if is_remote(path):
        from .remote import list_runs as list_remote_runs

        runs = list_remote_runs(path)
        return {".": [path]} if runs is None else runs
    from .local import list_runs as list_local_runs

    return list_local_runs(_local_path(path))


def run_files(path: str) -> list[str]:
    """The event files of the one run in the directory ``path`` (not below it), in name
    order: the listing :func:`list_runs` makes of each directory. ``FileNotFoundError``
    when ``path`` does not exist; none when it is not a directory."""
    if is_remote(path):
        return list_runs(path).get(".", [])
    from .local import run_files as local_run_files

    try:
        return local_run_files(_local_path(path))
    except NotADirectoryError:
        return []


def open_read(path: str) -> tuple[BinaryIO, int]:
    """(binary file, its size) for a local path or a store object URL."""
    if is_remote(path):
        from .remote import open_remote

        f = open_remote(path)
        return f, int(f.size)
    f2 = open(_local_path(path), "rb")
    return f2, os.fstat(f2.fileno()).st_size


def finished_files(files: list[str]) -> set[str]:
    """The files of one run's listing (in name order) that will never grow again: store
    segments whose writer has a later segment (a segment is not written once the next
    exists). None of a local directory's: a local file may grow at any time."""
    if not files or not is_remote(files[0]):
        return set()
    from .remote import finished_segments

    return finished_segments(files)


if TYPE_CHECKING:

    def _every_sink_is_a_sink(a: LocalSink, b: RemoteSink, c: MemorySink) -> list[Sink]:
        return [a, b, c]  # mypy checks each class against the protocol here
