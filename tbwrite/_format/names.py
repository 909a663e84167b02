"""Event file names: what TensorBoard lists as event files, and how tbwrite names new ones.

TensorBoard's loaders take every file of a run directory whose name contains ``tfevents``
and read a run's files in name order. tbwrite names a new file as TensorBoard's own writer
does::

    events.out.tfevents.{time:010d}.{host}.{pid}.{counter:08d}{suffix}

``counter`` is process-wide (one counter for local files and store objects), so two
writers in one directory in the same second never share a name. It is zero-padded because
TensorBoard and tbwrite's readers sort names as strings: unpadded, the writers a process
makes within one second would be read in the order 0, 1, 10, 11, 2, ... (100 million
writers per process sort in creation order). No I/O here.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from typing import Final

__all__ = [
    "COUNTER_DIGITS",
    "FILE_PREFIX",
    "after_fork_in_child",
    "event_file_name",
    "event_file_stem",
    "is_event_file",
]

FILE_PREFIX: Final = "events.out.tfevents"
COUNTER_DIGITS: Final = 8
# The substring TensorBoard's loaders look for in a file name.
EVENT_FILE_MARK: Final = "tfevents"
PROFILE_EMPTY: Final = ".profile-empty"  # a profiler placeholder, not read

_counter = itertools.count()
_counter_lock = threading.Lock()


def after_fork_in_child() -> None:
    """A new counter lock in a forked child: another thread may have held it at the fork."""
    global _counter_lock
    _counter_lock = threading.Lock()


def is_event_file(name: str) -> bool:
    """Whether TensorBoard reads the file ``name`` (a path or a base name) as an event file:
    its base name contains ``tfevents`` and it does not end ``.profile-empty`` (the
    profiler's placeholder, which TensorBoard's loaders pass over)."""
    return EVENT_FILE_MARK in os.path.basename(name) and not name.endswith(PROFILE_EMPTY)


def event_file_stem(wall_time: float | None = None) -> str:
    """``events.out.tfevents.{time}.{host}.{pid}.{n}`` with the next process-wide ``n``,
    zero-padded to :data:`COUNTER_DIGITS` so that names sort in creation order."""
    with _counter_lock:
        n = next(_counter)
    import socket  # here, not at import: it costs more than the rest of this module

    t = int(time.time() if wall_time is None else wall_time)
    return f"{FILE_PREFIX}.{t:010d}.{socket.gethostname()}.{os.getpid()}.{n:0{COUNTER_DIGITS}d}"


def event_file_name(suffix: str = "", wall_time: float | None = None) -> str:
    """TensorBoard's event file name: ``events.out.tfevents.{time}.{host}.{pid}.{n}{suffix}``."""
    return event_file_stem(wall_time) + suffix
