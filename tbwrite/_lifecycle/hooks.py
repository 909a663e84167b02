"""The process hooks: what happens to writers from outside the call path (interpreter
exit, a ``multiprocessing`` worker's exit, ``os.fork``), set up by the first writer.

Strategy: nothing is registered at import. The first writer opened (:func:`track`)
registers one ``atexit`` hook and one at-fork hook; a writer on a store adds a hook that
runs before ``concurrent.futures`` shuts its executors down (the store's package needs
them), a writer of device values one that runs before the device runtime's own shutdown,
and, in a process that ``multiprocessing`` forked (whose exit is ``os._exit``, without
``atexit``), the exit hook is also one of its finalizers. At exit the layers above go
first (:func:`on_exit`: the runs close, ending their sessions), then every writer still
open is flushed. In a forked child every lock a writer takes is made anew (another thread
may have held it at the fork): the flusher first, then the writers, then the layers above
(:func:`on_fork_in_child`). Writers are seen through :class:`~.flusher.Flushable`.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import weakref
from typing import Callable

from .._format import names
from . import flusher
from .flusher import Flushable

__all__ = [
    "flush_before_device_exit",
    "on_exit",
    "on_fork_in_child",
    "track",
    "untrack",
]

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
    flusher.reset_in_child()
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
    flusher.cancel(writer)
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
