"""What the gradient-boosting callbacks (XGBoost, LightGBM) share: one training as one run.

Strategy: the training's run ``<log_dir>`` holds an HParams session whose hparams are the
booster's parameters; every eval set gets the sub-run ``<log_dir>/<eval set name>`` with
one scalar per metric (tag = the metric's name, step = the boosting round). TensorBoard's
HParams table then shows each eval set's metrics as the columns ``<eval set>/<metric>``,
moving as training goes, and the session's status is written once, when the run closes.

Only public tbwrite API is used (``SummaryWriter`` and its methods).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Union

from .. import SummaryWriter

HParamValue = Union[bool, str, float]

# Written every this many records or seconds, so a live TensorBoard follows training.
_MAX_QUEUE = 200
_FLUSH_SECS = 10.0


def hparam(value: Any) -> HParamValue:
    """A parameter value as one of TensorBoard's hparam types (BOOL, STRING, FLOAT64):
    bool as such, real numbers (numpy's too) as float, a function or class as its name,
    anything else as its text (``None`` as ``"None"``, a list of metrics as
    ``"['l2', 'l1']"``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind == "b" and getattr(value, "size", 0) == 1:
        return bool(value)
    if isinstance(value, (int, float)) or (
        kind in ("i", "u", "f") and getattr(value, "size", 0) == 1
    ):
        return float(value)
    if callable(value) and hasattr(value, "__qualname__"):  # a custom objective, a class
        return str(value.__qualname__)
    text = str(value)
    return type(value).__name__ if " object at 0x" in text else text


def run_name(eval_name: str) -> str:
    """An eval set's name as a sub-run directory name: path separators become ``_``, and a
    name that would leave ``log_dir`` (``""``, ``"."``, ``".."``) is prefixed with ``_``."""
    name = str(eval_name).replace("/", "_").replace("\\", "_")
    return name if name not in ("", ".", "..") else "_" + name


class BoostingRun:
    """One training's writers: the session's run and one sub-run per eval set.

    - :meth:`start` writes the session (its hparams) into ``log_dir``;
    - :meth:`write` logs each (eval set, metric, value) at one step;
    - :meth:`end` decides the status and closes every file; calling it again does nothing.

    A run not ended when the interpreter exits is ended then: FAILURE when the interpreter
    is exiting because of an uncaught exception, else ``status_at_exit``.
    """

    def __init__(self, log_dir: str, hparams: Mapping[str, HParamValue], status_at_exit: str):
        self.log_dir = log_dir
        self.status_at_exit = status_at_exit
        self._lock = threading.Lock()
        self._writer = SummaryWriter(log_dir, max_queue=_MAX_QUEUE, flush_secs=_FLUSH_SECS)
        self._subruns: dict[str, SummaryWriter] = {}
        self._ended = False
        try:
            self._writer.add_hparams(dict(hparams))
        except BaseException:
            self._writer.close()
            raise
        _register(self)

    def write(self, step: int, values: Iterable[tuple[str, str, float]]) -> None:
        """Log ``(eval set name, metric name, value)`` triples at ``step``."""
        for eval_name, metric, value in values:
            writer = self._subruns.get(eval_name)
            if writer is None:
                path = os.path.join(self.log_dir, run_name(eval_name))
                writer = SummaryWriter(path, max_queue=_MAX_QUEUE, flush_secs=_FLUSH_SECS)
                self._subruns[eval_name] = writer
            writer.add_scalar(metric, value, step)

    def flush(self) -> None:
        for writer in (self._writer, *self._subruns.values()):
            writer.flush()

    @property
    def ended(self) -> bool:
        return self._ended

    def end(self, status: str) -> None:
        """Close every file, the session ending with ``status`` (``"success"`` or
        ``"failure"``). Only the first call counts."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
        _open_runs.discard(self)
        errors = []
        for writer in self._subruns.values():
            try:
                writer.close()
            except Exception as err:  # close the session's run even so
                errors.append(err)
        self._writer.set_status(status)
        self._writer.close()
        if errors:
            raise errors[0]


def metric_value(value: Any) -> float | None:
    """A metric value as a float (NaN and infinities as they are), or None when it is not
    a real number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# Strong references: a run whose callback was dropped (``callbacks=[TensorBoardCallback(...)]``
# inline) still has to end, at exit at the latest.
_open_runs: set[BoostingRun] = set()
_exit_hook_registered = False


def _register(run: BoostingRun) -> None:
    global _exit_hook_registered
    _open_runs.add(run)
    if not _exit_hook_registered:
        # Registered after tbwrite's own exit hook (which closes open writers with their
        # current status), so it runs before it: atexit runs the newest hook first.
        _exit_hook_registered = True
        atexit.register(_end_open_runs_at_exit)


def _end_open_runs_at_exit() -> None:
    # An uncaught exception is in sys.last_value (3.12+: also sys.last_exc) by the time
    # atexit hooks run.
    crashed = getattr(sys, "last_value", None) is not None
    for run in list(_open_runs):
        try:
            run.end("failure" if crashed else run.status_at_exit)
        except Exception:  # noqa: S110 - nothing can be reported at exit; close the others
            pass
