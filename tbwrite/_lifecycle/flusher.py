"""The background flusher: one thread that keeps every writer's flush deadline.

Strategy: one daemon thread for the whole process keeps every writer's flush deadline and
calls the writer's :meth:`~Flushable.timed_flush` when it passes; a writer on a slow sink
(a store) is flushed on a thread of its own, so local writers never wait behind an upload.
The thread starts with the first deadline, never at import; in a forked child it is
started anew (:mod:`.hooks` resets it before the writers).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from .._threads import start_daemon

__all__ = ["Flushable", "cancel", "hurry", "reset_in_child", "schedule"]


class Flushable(Protocol):
    """What the flusher needs of a writer."""

    flush_secs: float
    scheduled: bool  # the flusher holds a deadline for it (cleared when it passes)
    syncing: bool  # a timed flush of its slow sink runs on a thread of its own

    @property
    def slow(self) -> bool: ...

    def timed_flush(self) -> None: ...

    def flush(self) -> None: ...

    def after_fork_in_child(self) -> None: ...


class _Flusher:
    """One daemon thread for the whole process that flushes writers at their deadlines."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._deadlines: dict[Flushable, float] = {}
        self._thread: threading.Thread | None = None

    def _start_locked(self) -> None:
        if self._thread is None:
            self._thread = start_daemon(self._run, "tbwrite-flusher")

    def schedule(self, writer: Flushable, delay: float) -> None:
        with self._cond:
            if writer in self._deadlines:
                return
            self._deadlines[writer] = time.monotonic() + delay
            self._start_locked()
            self._cond.notify()

    def hurry(self, writer: Flushable) -> None:
        """Flush ``writer`` as soon as possible (the thread does it, not the caller)."""
        with self._cond:
            self._deadlines[writer] = time.monotonic()
            writer.scheduled = True
            self._start_locked()
            self._cond.notify()

    def cancel(self, writer: Flushable) -> None:
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
                            w.scheduled = False
                        break
                    timeout = min(self._deadlines.values(), default=now + 3600.0) - now
                    # Never longer than an hour: a larger timeout can overflow the
                    # platform's timer (OverflowError), which would end this thread and
                    # every writer's timed flushes with it.
                    self._cond.wait(min(timeout, 3600.0))
            for w in due:
                if w.slow:
                    self._sync_in_background(w)
                else:
                    w.timed_flush()

    def _sync_in_background(self, w: Flushable) -> None:
        # A store can take minutes to fail (deadlines, retries): its timed flush runs on a
        # thread of its own, so local writers' timed flushes never wait behind it.
        if w.syncing:
            with self._cond:  # one in flight per writer; look again at the next deadline
                if w not in self._deadlines:
                    self._deadlines[w] = time.monotonic() + w.flush_secs
                    w.scheduled = True
            return
        w.syncing = True

        def run() -> None:
            try:
                w.timed_flush()
            finally:
                w.syncing = False

        start_daemon(run, "tbwrite-store-sync")

    def reset_in_child(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._deadlines = {}
        self._thread = None


_flusher = _Flusher()
schedule = _flusher.schedule
hurry = _flusher.hurry
cancel = _flusher.cancel
reset_in_child = _flusher.reset_in_child
