"""TensorBoard's purge of orphaned data: the one policy both reader faces apply.

After a crash and a restart from a checkpoint, a run's files hold points from the lost
future; TensorBoard hides them. Two signals, chosen by the run's file version (the last
``file_version`` event read so far, ``brain.Event:<v>``):

- **version >= 2: restarts.** A ``SessionLog.START`` at step ``s`` drops every point read
  before it with step >= ``s``, in every tag.
- **older files: out-of-order steps.** A summary event whose step is lower than the
  "most recent step" drops, for its own tags, the points read before it with step >= its
  step.

TensorBoard has two readers that differ in two details, and each tbwrite face follows the
one it stands for (:data:`SERVER` for the ``read_*`` loaders, :data:`CLASSIC` for the
``EventAccumulator`` drop-in):

- ``first_start_purges``: the server's accumulator takes the first START as the session's
  beginning, not a restart; the classic ``EventAccumulator`` purges at every START.
- ``step_of_every_summary``: the server's "most recent step" is the previous summary
  event's step, whatever it was; the classic one is the step of the last event of any kind
  that was not itself out of order.

Both faces call :class:`OutOfOrder` (per event, or vectorised over a run of summary events)
and :func:`restarts`; numpy is imported on use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, NamedTuple

if TYPE_CHECKING:
    import numpy as np

__all__ = ["CLASSIC", "SERVER", "OutOfOrder", "PurgeRule", "Restarts", "restarts"]

RESTART_VERSION: Final = 2.0  # file versions from this on mark restarts with SessionLog.START
NO_STEP: Final = -1  # the "most recent step" before any event


class PurgeRule(NamedTuple):
    """Which of TensorBoard's two readers' details a face follows (module docstring)."""

    first_start_purges: bool
    step_of_every_summary: bool


SERVER: Final = PurgeRule(first_start_purges=False, step_of_every_summary=True)
"""TensorBoard's server (its Python loader, ``--load_fast=false``): the ``read_*`` loaders."""

CLASSIC: Final = PurgeRule(first_start_purges=True, step_of_every_summary=False)
"""TensorBoard's classic ``EventAccumulator``: the drop-in."""


def restarts(version: float | None) -> bool:
    """Whether a run whose last file version read is ``version`` marks restarts with
    ``SessionLog.START`` (otherwise, out-of-order steps mark them)."""
    return bool(version) and version is not None and version >= RESTART_VERSION


class OutOfOrder:
    """The out-of-order check of older files, with its "most recent step" carried from
    event to event (and from chunk to chunk) of one run."""

    __slots__ = ("most_recent", "rule")

    def __init__(self, rule: PurgeRule) -> None:
        self.rule = rule
        self.most_recent = NO_STEP

    def event(self, step: int, is_summary: bool) -> bool:
        """One event of an older file: whether it purges (a summary event out of order)."""
        ooo = is_summary and step < self.most_recent
        if is_summary if self.rule.step_of_every_summary else not ooo:
            self.most_recent = step
        return ooo

    def summaries(self, steps: np.ndarray) -> np.ndarray:
        """:meth:`event` for consecutive summary events of an older file, vectorised:
        which of them purge."""
        import numpy as np

        steps = np.asarray(steps, dtype=np.int64)
        if not len(steps):
            return np.zeros(0, dtype=bool)
        before = np.empty(len(steps), dtype=np.int64)
        before[0] = self.most_recent
        if self.rule.step_of_every_summary:
            before[1:] = steps[:-1]
            self.most_recent = int(steps[-1])
        else:
            # In-order summaries raise the most recent step; out-of-order ones leave it.
            before[1:] = np.maximum.accumulate(steps)[:-1]
            np.maximum(before, self.most_recent, out=before)
            self.most_recent = max(self.most_recent, int(steps.max()))
        ooo: np.ndarray = steps < before
        return ooo


class Restarts:
    """The restart check of version-2 files: whether each ``SessionLog.START`` purges."""

    __slots__ = ("rule", "seen")

    def __init__(self, rule: PurgeRule) -> None:
        self.rule = rule
        self.seen = False

    def start(self) -> bool:
        """A START read: whether it purges (the server reader passes over the first)."""
        purges = self.seen or self.rule.first_start_purges
        self.seen = True
        return purges
