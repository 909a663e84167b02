"""The open runs of the process, weakly held: what :mod:`.runs` closes at exit and
:mod:`.sigterm` on SIGTERM."""

from __future__ import annotations

import weakref
from typing import Protocol

__all__ = ["OpenRun", "open_runs"]


class OpenRun(Protocol):
    """What the registry needs of a run (a :class:`~tbwrite._run.RunWriter`)."""

    @property
    def slow(self) -> bool: ...

    def close(self) -> None: ...

    def flush(self) -> None: ...

    def fail_unless_status_set(self) -> None: ...

    def after_fork_in_child(self) -> None: ...


open_runs: weakref.WeakSet[OpenRun] = weakref.WeakSet()
