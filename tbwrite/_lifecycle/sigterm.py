"""SIGTERM (``docker stop``, Kubernetes and Slurm preemption, ``Pool.terminate()``): the
open runs end as the process does.

Strategy: see the comments below; the runs are :mod:`.runs`' registry.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, Callable

from .._threads import start_daemon
from .registry import OpenRun, open_runs

__all__ = [
    "SIGTERM_CLOSE_TIMEOUT",
    "WATCH_SECS",
    "handle_sigterm",
    "restart_watchdog_in_child",
]


# SIGTERM (docker stop, Kubernetes and Slurm preemption, Pool.terminate()) kills a process
# without running atexit: where the program left SIGTERM's default action, the first run
# opened installs a handler that ends every open run (session FAILURE, buffers written) and
# then dies of the signal as the default action would, within SIGTERM_CLOSE_TIMEOUT of the
# handler starting. tbwrite's own threads block the signal (tbwrite._threads), so it lands on
# a thread of the program and interrupts the main thread's waits. A handler the program
# installed before is chained (buffers written, then its handler called; the sessions end as
# the program then ends); one it installs later replaces ours.
#
# A Python handler runs only when the main thread next executes Python. A main thread in
# one long C call, or one that enters a blocking wait (a multiprocessing lock) in the
# instant after the signal arrived (Python's C-level handler then only notes it, and the
# wait does not see it), would not run it for long or ever. So tbwrite also asks the
# interpreter to write the number of each caught signal into a pipe (signal.set_wakeup_fd,
# unless the program uses it), and a watchdog thread reads it: when SIGTERM comes and the
# main thread has not started the handler within WATCH_SECS, the watchdog closes the runs
# and ends the process itself, from its own thread. (The pipe is made anew in a forked
# child; a child signalled in the microseconds before that would wake its parent's
# watchdog, which then ends the parent too: the one case this cannot tell apart.)
SIGTERM_CLOSE_TIMEOUT = 0.8  # seconds the runs get to close before the process dies
WATCH_SECS = 0.1  # how long the watchdog waits for the main thread's handler
_sigterm_installed = False
_watch_fd = -1  # read end of the wakeup pipe, or -1
_entered = threading.Event()  # the main thread's handler started
_deferred = threading.Event()  # ... and waits for the program's code to go on
_close_lock = threading.Lock()
_close_deadline: float | None = None  # set by whoever started closing


def handle_sigterm() -> None:
    global _sigterm_installed
    if _sigterm_installed or os.name != "posix":
        return
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set a handler; the next run opened there will
    import signal

    _sigterm_installed = True
    try:
        current = signal.getsignal(signal.SIGTERM)
        if current is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
            _start_watchdog()
        elif callable(current):
            # The program's own handler decides what SIGTERM means (it may not exit): chain
            # it, after writing out what is buffered.
            signal.signal(signal.SIGTERM, _chained_sigterm(current))
    except (ValueError, OSError):  # pragma: no cover - not the main interpreter
        pass


def _start_watchdog() -> None:
    """Route caught signals' numbers to a pipe the watchdog reads, unless the program
    already has a wakeup fd (its event loop's): then there is no watchdog."""
    global _watch_fd
    import signal

    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        previous = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    except (ValueError, OSError):  # pragma: no cover - not the main thread
        os.close(r)
        os.close(w)
        return
    if previous != -1:  # the program's: give it back
        signal.set_wakeup_fd(previous)
        os.close(r)
        os.close(w)
        return
    _watch_fd = r
    start_daemon(_watch, "tbwrite-sigterm-watch", (r,))


def restart_watchdog_in_child() -> None:
    """In a forked child: a pipe and a watchdog of its own (the inherited pipe is read by
    the parent's watchdog, and this process has no watchdog thread)."""
    global _watch_fd, _close_deadline, _entered, _deferred, _close_lock
    import signal

    # Made anew: a thread of the parent may have held their locks at the fork.
    _entered, _deferred, _close_lock = threading.Event(), threading.Event(), threading.Lock()
    _close_deadline = None
    if _watch_fd == -1:
        return
    try:
        old_w = signal.set_wakeup_fd(-1)
    except ValueError:  # pragma: no cover - forked from a thread that is not main here
        return
    for fd in (_watch_fd, old_w):
        try:
            os.close(fd)
        except OSError:
            pass
    _watch_fd = -1
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:
        _start_watchdog()


def _watch(fd: int) -> None:
    import signal

    while True:
        try:
            data = os.read(fd, 512)
        except OSError:
            return
        if not data:
            return
        if signal.SIGTERM in data and signal.getsignal(signal.SIGTERM) is _on_sigterm:
            # The main thread's handler normally starts at once and ends the process
            # itself; if it does not start, or waits for the program's code to go on,
            # end it from here.
            if _entered.wait(WATCH_SECS) and not _deferred.wait(WATCH_SECS):
                time.sleep(SIGTERM_CLOSE_TIMEOUT + WATCH_SECS)  # still alive: end it
            _close_all_and_die()


def _each_within(job: Callable[[OpenRun], None], timeout: float) -> None:
    """``job(run)`` for every open run, each on a thread of its own, waiting ``timeout`` s
    for all of them. A run whose lock the interrupted main thread holds cannot be reached
    from another thread; the others are not held up by it."""
    deadline = time.monotonic() + timeout

    def run_job(run: OpenRun) -> None:
        try:
            job(run)
        except Exception:  # noqa: BLE001 - the process is ending; do the others
            pass

    threads = []
    for run in list(open_runs):
        try:
            threads.append(start_daemon(run_job, "tbwrite-sigterm", (run,)))
        except RuntimeError:  # pragma: no cover - no new threads at interpreter shutdown
            break
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def _chained_sigterm(program_handler: Callable[[int, Any], Any]) -> Callable[[int, Any], Any]:
    def on_sigterm(signum: int, frame: Any) -> Any:
        _each_within(lambda run: run.flush(), SIGTERM_CLOSE_TIMEOUT)
        try:
            return program_handler(signum, frame)
        except SystemExit as exit_:
            # The program ends here: its sessions end as it does, SUCCESS only for a clean
            # exit (status 0 or None), FAILURE for any other status.
            if exit_.code not in (0, None):
                _fail_all()
            raise
        except BaseException:
            _fail_all()
            raise

    return on_sigterm


def _fail_all() -> None:
    for run in list(open_runs):
        run.fail_unless_status_set()


# When the signal interrupts the main thread inside tbwrite's own code, that thread may hold
# a writer's lock, which closing needs (from the handler, on this thread, or from another),
# or be in the middle of closing a run: the handler then returns at once and the closing
# runs as soon as the thread leaves tbwrite (a trace function, as debuggers set:
# microseconds later), back in the program's code that called it or, where tbwrite was
# called from C (an exit hook), when tbwrite's outermost frame returns. Meanwhile the
# watchdog closes the runs from threads of its own; a run being closed is waited for. If
# the thread does not leave within WATCH_SECS (blocked inside tbwrite), the watchdog closes
# what it can.


def _is_ours(frame: Any) -> bool:
    """Whether ``frame`` runs tbwrite's own code (integrations, which may run the program's
    code, are not)."""
    name = frame.f_globals.get("__name__", "")
    return (name == "tbwrite" or name.startswith("tbwrite.")) and not name.startswith(
        "tbwrite.integrations"
    )


def _way_out(frame: Any) -> tuple[Any, bool] | None:
    """Where the main thread, interrupted in ``frame``, leaves tbwrite's own code: the
    program's frame that called it (True: at its next event), or tbwrite's outermost
    frame when C called it (False: when it returns). None when ``frame`` is not tbwrite's."""
    outermost = None
    while frame is not None:
        if _is_ours(frame):
            outermost = frame
        elif outermost is not None:
            return frame, True
        frame = frame.f_back
    return None if outermost is None else (outermost, False)


def _on_sigterm(signum: int, frame: Any) -> None:
    first = not _entered.is_set()
    _entered.set()
    way_out = _way_out(frame)
    if way_out is not None and _close_deadline is None:
        if first:
            _close_when_leaving(*way_out)
            _deferred.set()
        return
    _close_all_and_die()


def _close_when_leaving(frame: Any, program: bool) -> None:
    """Close and die at ``frame``'s next event (a program's frame) or its return
    (tbwrite's own, whose next lines may still hold a lock)."""

    def leaving(frame: Any, event: str, arg: Any) -> Any:
        if event == "return" or (program and event in ("line", "exception")):
            sys.settrace(None)
            frame.f_trace = None
            _close_all_and_die()
        return leaving

    frame.f_trace = leaving
    frame.f_trace_lines = program
    sys.settrace(lambda frame, event, arg: None)  # on: only ``frame`` is traced


def _close_all_and_die() -> None:
    """Close every open run within SIGTERM_CLOSE_TIMEOUT, then die of SIGTERM. From any
    thread; whoever comes second waits for the first one's deadline, then ends it."""
    global _close_deadline
    with _close_lock:
        first = _close_deadline is None
        if _close_deadline is None:
            _close_deadline = time.monotonic() + SIGTERM_CLOSE_TIMEOUT
        deadline: float = _close_deadline
    if first:
        _fail_all()
        _each_within(lambda run: run.close(), SIGTERM_CLOSE_TIMEOUT)
    else:
        time.sleep(max(0.0, deadline - time.monotonic()))
    _die()


def _die() -> None:
    """Die of SIGTERM, as its default action does."""
    import signal

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    # Only the main thread may set a handler through the signal module; the C library may
    # be asked from any thread. Then the signal goes to this very thread, which unblocks it.
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.signal.restype = ctypes.c_void_p
    libc.signal.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.signal(int(signal.SIGTERM), None)  # SIG_DFL
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
    time.sleep(1.0)  # pragma: no cover - the signal ends the process before this ends
