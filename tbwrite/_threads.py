"""tbwrite's own threads, started with the process's stop signals blocked.

Strategy: a signal sent to the process (``kill``, ``Pool.terminate()``, ``docker stop``,
a scheduler's preemption) is delivered by the kernel to any one thread that does not block
it. Python runs signal handlers only in the main thread, and only when that thread next
executes bytecode: a SIGTERM that lands on one of tbwrite's background threads while the
main thread waits in C (a ``multiprocessing`` queue's lock in a pool worker, a long C call)
interrupts nothing, and the handler waits for that wait to end, in a pool worker forever.
A thread that blocks the signal is never chosen, so the kernel delivers it to a thread of
the program, the main thread included, whose wait it interrupts. Every thread tbwrite
starts blocks SIGTERM and SIGINT from its first instruction on: the signals are blocked
around ``start()`` in the starting thread, and the new thread inherits that mask.
"""

from __future__ import annotations

import signal
import threading
from typing import Any, Callable

__all__ = ["STOP_SIGNALS", "start_daemon"]

# The signals that end a process and that Python turns into handlers or KeyboardInterrupt.
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
_CAN_MASK = hasattr(signal, "pthread_sigmask")


def start_daemon(
    target: Callable[..., Any], name: str, args: tuple[Any, ...] = ()
) -> threading.Thread:
    """Start ``target(*args)`` on a daemon thread that never receives :data:`STOP_SIGNALS`."""
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    if not _CAN_MASK:  # pragma: no cover - not POSIX: signals go to the main thread anyway
        thread.start()
        return thread
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        thread.start()
    finally:
        # A signal that arrived meanwhile is pending and is delivered now, to this thread
        # or another that does not block it.
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return thread
