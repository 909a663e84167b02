"""The exit registry of open runs: what closes a :class:`~tbwrite._run.RunWriter` that the
program left open.

Strategy: every run registers itself in :data:`open_runs` (weakly) when opened and leaves at
``close()``. At interpreter exit each run still open is closed, its session ending FAILURE
when the program dies of an uncaught exception; runs on a store close side by side within
one upload deadline (:func:`run_within`). In a forked child every run's lock is made anew.
SIGTERM: where the program left its default action, the first run installs a handler that
closes every open run (session FAILURE, buffers flushed), then dies of the signal; where the
program installed its own handler first, it is chained: every open run's buffer is written,
then the program's handler runs (no session is ended for it).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from typing import Any, Callable, Protocol

from ._errors import WriterFailedError
from ._threads import start_daemon

__all__ = [
    "SIGTERM_CLOSE_TIMEOUT",
    "OpenRun",
    "close_all_at_exit",
    "handle_sigterm",
    "new_locks_in_child",
    "open_runs",
    "run_within",
]


class OpenRun(Protocol):
    """What the registry needs of a run (a :class:`~tbwrite._run.RunWriter`)."""

    @property
    def slow(self) -> bool: ...

    def close(self) -> None: ...

    def flush(self) -> None: ...

    def fail_unless_status_set(self) -> None: ...

    def after_fork_in_child(self) -> None: ...


open_runs: weakref.WeakSet[OpenRun] = weakref.WeakSet()


def run_within(jobs: list[Callable[[], None]], what: str) -> list[BaseException]:
    """Run ``jobs`` (calls that may wait on a store) side by side, waiting at most one
    upload's deadline for all of them; return their errors, and a ``WriterFailedError``
    for those still running then (they go on in the background)."""
    if not jobs:
        return []
    from ._sinks.remote import upload_timeout

    errors: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as err:  # noqa: BLE001 - reported to the caller
            errors.append(err)

    if len(jobs) == 1:
        run(jobs[0])  # bounded by its own deadline already
        return errors
    timeout = upload_timeout()
    deadline = time.monotonic() + timeout
    threads = []
    for job in jobs:
        try:
            thread = start_daemon(run, "tbwrite-close", (job,))
        except RuntimeError:  # no new threads at interpreter shutdown: one after the other
            run(job)
            continue
        threads.append(thread)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    late = sum(thread.is_alive() for thread in threads)
    if late:
        errors.append(
            WriterFailedError(
                f"{what}: {late} uploads did not finish within {timeout:g} s (the store's "
                "deadline for one upload); they go on in the background until the process ends"
            )
        )
    return errors


def close_all_at_exit() -> None:
    # A run left open ends with the interpreter: its session ends SUCCESS, or FAILURE when
    # the program is dying of an uncaught exception (the interpreter has stored it in
    # sys.last_value by now). Runs on a store close side by side, within one deadline.
    failed = getattr(sys, "last_value", None) is not None
    runs = list(open_runs)
    if failed:
        for run in runs:
            run.fail_unless_status_set()
    local = [run for run in runs if not run.slow]
    for run in local:
        try:
            run.close()
        except Exception:  # noqa: BLE001 - nobody to raise to at exit
            pass
    run_within([run.close for run in runs if run not in local], "closing at exit")


def new_locks_in_child() -> None:
    # A lock held by another thread at the fork stays held forever in the child, where that
    # thread does not exist: every run's lock is made anew there.
    for run in list(open_runs):
        run.after_fork_in_child()


# SIGTERM (docker stop, Kubernetes and Slurm preemption, Pool.terminate()) kills a process
# without running atexit: where the program left SIGTERM's default action, the first run
# opened installs a handler that ends every open run (session FAILURE, buffers written) and
# then dies of the signal as the default action would, within SIGTERM_CLOSE_TIMEOUT of the
# handler starting. tbwrite's own threads block the signal (tbwrite._threads), so it lands on
# a thread of the program and interrupts the main thread's waits. A handler the program
# installed before is chained (buffers written, then its handler called; the sessions end as
# the program then ends); one it installs later replaces ours.
SIGTERM_CLOSE_TIMEOUT = 0.8  # seconds the runs get to close before the process dies
_sigterm_installed = False


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
        elif callable(current):
            # The program's own handler decides what SIGTERM means (it may not exit): chain
            # it, after writing out what is buffered.
            signal.signal(signal.SIGTERM, _chained_sigterm(current))
    except (ValueError, OSError):  # pragma: no cover - not the main interpreter
        pass


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
# a writer's lock, which closing needs (from the handler, on this thread, or from another):
# the handler then returns at once and the closing runs as soon as the program's code that
# called tbwrite goes on (a trace function on that frame, as debuggers set: microseconds
# later). A thread of tbwrite's sends the signal again after RETRY_SECS in case it never does
# (a main thread blocked inside tbwrite); the handler then closes what it can.
RETRY_SECS = SIGTERM_CLOSE_TIMEOUT / 2
_retry_until: float | None = None


def _program_frame(frame: Any) -> Any:
    """The program's frame that called into tbwrite, when ``frame`` is tbwrite's own code
    (integrations, which may run the program's code, are not); None otherwise."""
    inside = None
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        ours = (name == "tbwrite" or name.startswith("tbwrite.")) and not name.startswith(
            "tbwrite.integrations"
        )
        if ours:
            inside = frame
        elif inside is not None:
            return frame
        frame = frame.f_back
    return None


def _on_sigterm(signum: int, frame: Any) -> None:
    global _retry_until
    caller = _program_frame(frame)
    now = time.monotonic()
    if caller is not None and (_retry_until is None or now < _retry_until):
        if _retry_until is None:
            _retry_until = now + RETRY_SECS
            _close_when_back_in(caller)
            start_daemon(_signal_again_after, "tbwrite-sigterm", (RETRY_SECS,))
        return
    _close_all_and_die()


def _close_when_back_in(caller: Any) -> None:
    def back(frame: Any, event: str, arg: Any) -> Any:
        if event in ("line", "return", "exception"):
            sys.settrace(None)
            frame.f_trace = None
            _close_all_and_die()
        return back

    caller.f_trace = back
    caller.f_trace_lines = True
    sys.settrace(lambda frame, event, arg: None)  # on: only ``caller`` is traced


def _signal_again_after(seconds: float) -> None:
    import signal

    threading.Event().wait(seconds)
    os.kill(os.getpid(), signal.SIGTERM)


def _close_all_and_die() -> None:
    import signal

    _fail_all()
    _each_within(lambda run: run.close(), SIGTERM_CLOSE_TIMEOUT)
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)  # die of the signal, as without this handler
