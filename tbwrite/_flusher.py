"""The background flusher and the process hooks (exit, fork), set up by the first writer.

Strategy: one daemon thread for the whole process keeps every writer's flush deadline and
calls the writer's :meth:`~Flushable.timed_flush` when it passes; a writer on a slow sink
(a store) is flushed on a thread of its own, so local writers never wait behind an upload.
The thread, the ``atexit`` hook and the at-fork hook are registered when the first writer
opens (:func:`track`), never at import; in a process that ``multiprocessing`` forked (whose
exit is ``os._exit``, without ``atexit``), the exit hook is one of its finalizers. In a
forked child every lock a writer takes is made anew (another thread may have held it at
the fork); the layers above add theirs with :func:`on_fork_in_child`. Writers are seen
through :class:`Flushable`; the run layer above adds its own exit work with
:func:`on_exit`, which runs before the last flush of every writer.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import weakref
from typing import Callable, Protocol

from ._format import names
from ._threads import start_daemon

__all__ = [
    "Flushable",
    "cancel",
    "flush_before_device_exit",
    "hurry",
    "on_exit",
    "on_fork_in_child",
    "schedule",
    "track",
    "untrack",
]


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

_live_writers: weakref.WeakSet[Flushable] = weakref.WeakSet()
_exit_callbacks: list[Callable[[], None]] = []
_fork_callbacks: list[Callable[[], None]] = []
_hooks_lock = threading.Lock()
_hooks_registered = False
_early_hook_registered = False
_device_hook_registered = False
_worker_hook_pid = 0  # the process whose multiprocessing exit runs _at_exit


def _at_exit() -> None:
    # The layers above first (the run writers close, ending their sessions), then every
    # event writer still open is flushed.
    for callback in list(_exit_callbacks):
        try:
            callback()
        except Exception:  # noqa: BLE001 - nothing can be raised to anyone at exit
            pass
    for w in list(_live_writers):
        try:
            w.flush()
        except Exception:  # noqa: BLE001 - nothing can be raised to anyone at exit
            pass


def _after_fork_in_child() -> None:
    # A lock held by another thread at the fork stays held forever in the child, where that
    # thread does not exist: every lock the writers take is made anew here.
    global _hooks_lock
    _hooks_lock = threading.Lock()
    names.after_fork_in_child()
    _flusher.reset_in_child()
    for w in list(_live_writers):
        w.after_fork_in_child()
    for callback in list(_fork_callbacks):
        callback()


def _register_hooks() -> None:
    global _hooks_registered
    with _hooks_lock:
        if _hooks_registered:
            return
        _hooks_registered = True
    atexit.register(_at_exit)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)


def _register_early_exit_hook() -> None:
    """Flush at exit BEFORE concurrent.futures shuts its executors down.

    ``atexit`` handlers run after ``threading._shutdown`` has stopped the executors that
    asyncio-based stores (s3fs, gcsfs) need (for DNS lookups), so an upload from the plain
    ``atexit`` flush fails with "cannot schedule new futures after shutdown". Hooks
    registered with ``threading._register_atexit`` run before that, newest first; this one
    is registered once a slow sink is open, so after the store's package was imported, and
    runs before its executor's shutdown.
    """
    global _early_hook_registered
    with _hooks_lock:
        if _early_hook_registered:
            return
        _early_hook_registered = True
    register = getattr(threading, "_register_atexit", None)
    if register is None:  # pragma: no cover - CPython has had it since 3.9
        return
    try:
        register(_at_exit)  # the plain atexit hook then finds nothing left to do
    except RuntimeError:  # already shutting down
        pass


def _register_worker_exit_hook() -> None:
    """In a process that ``multiprocessing`` started by fork (a ``Pool`` worker, a
    ``Process``), flush at its exit, which is ``os._exit`` and runs no ``atexit`` hook:
    ``multiprocessing`` runs its own finalizers there instead. Once per process; children
    start with none (``multiprocessing`` clears them)."""
    global _worker_hook_pid
    if _worker_hook_pid == os.getpid() or "multiprocessing" not in sys.modules:
        return
    import multiprocessing
    import multiprocessing.util

    _worker_hook_pid = os.getpid()
    if multiprocessing.parent_process() is None:
        return  # the main process: atexit runs
    multiprocessing.util.Finalize(None, _at_exit, exitpriority=100)


def flush_before_device_exit() -> None:
    """Device values (JAX arrays) are being logged: flush at exit before the device
    runtime shuts down, while they can still be read.

    ``atexit`` runs its hooks newest first, and JAX registers its shutdown when it is
    imported, so before any value of it is logged: a hook registered now runs before it.
    """
    global _device_hook_registered
    if _device_hook_registered:
        return
    with _hooks_lock:
        if _device_hook_registered:
            return
        _device_hook_registered = True
    atexit.register(_at_exit)  # the later hook then finds nothing left to do


def track(writer: Flushable) -> None:
    """Flush ``writer`` at exit and reset it in a forked child; the first call registers
    the process hooks."""
    if not _hooks_registered:
        _register_hooks()
    if writer.slow and not _early_hook_registered:
        _register_early_exit_hook()
    if _worker_hook_pid != os.getpid():
        _register_worker_exit_hook()
    _live_writers.add(writer)


def untrack(writer: Flushable) -> None:
    """``writer`` is closed: nothing to do for it at exit any more."""
    _flusher.cancel(writer)
    _live_writers.discard(writer)


def on_fork_in_child(callback: Callable[[], None]) -> None:
    """Run ``callback`` in a forked child, after the writers were reset (once per
    callback): the layers above make their own locks anew there."""
    with _hooks_lock:
        if callback not in _fork_callbacks:
            _fork_callbacks.append(callback)
    if not _hooks_registered:
        _register_hooks()


def on_exit(callback: Callable[[], None]) -> None:
    """Run ``callback`` at exit before the writers' last flush (once per callback)."""
    with _hooks_lock:
        if callback not in _exit_callbacks:
            _exit_callbacks.append(callback)
    if not _hooks_registered:
        _register_hooks()
