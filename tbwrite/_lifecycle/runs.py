"""The registry of open runs: what closes a :class:`~tbwrite._run.RunWriter` that the
program left open.

Strategy: every run registers itself (:func:`register_run`, weakly) when opened and leaves
at ``close()``. At interpreter exit each run still open is closed, its session ending
FAILURE when the program dies of an uncaught exception; runs on a store close side by side
within one upload deadline (:func:`run_within`). In a forked child every run's lock is made
anew. SIGTERM is :mod:`.sigterm`'s.
"""

from __future__ import annotations

import sys
import time
from typing import Callable

from .._errors import WriterFailedError
from .._threads import start_daemon
from . import hooks, sigterm
from .registry import OpenRun, open_runs

__all__ = ["close_all_at_exit", "new_locks_in_child", "register_run", "run_within"]


def register_run(run: OpenRun) -> None:
    """``run`` is open: it is closed at exit and on SIGTERM (the first run installs the
    handler), and gets new locks in a forked child, until it leaves :data:`open_runs`."""
    open_runs.add(run)
    hooks.on_exit(close_all_at_exit)
    hooks.on_fork_in_child(new_locks_in_child)
    hooks.on_fork_in_child(sigterm.restart_watchdog_in_child)
    sigterm.handle_sigterm()


def run_within(jobs: list[Callable[[], None]], what: str) -> list[BaseException]:
    """Run ``jobs`` (calls that may wait on a store) side by side, waiting at most one
    upload's deadline for all of them; return their errors, and a ``WriterFailedError``
    for those still running then (they go on in the background)."""
    if not jobs:
        return []
    from .._sinks.remote import upload_timeout

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
