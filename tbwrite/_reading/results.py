"""What the readers return: Series, Runs, SessionRow, HParamsTable.

Plain containers of numpy arrays, with conversions to pandas and polars and a matplotlib
figure (:meth:`Runs.plot`, drawn by :mod:`.plot`), each imported only when asked for.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .records import SkippedBytes

if TYPE_CHECKING:
    import numpy as np


# -- results --------------------------------------------------------------------------------


def _import(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise ImportError(f"this needs {name}: pip install {name}") from None


class Series:
    """The points of one (run, tag), in the order they were written.

    ``steps`` (int64) and ``wall_times`` (float64) are numpy arrays; ``values`` is a float64
    array for scalars, a list of ``[k, 3]`` float64 arrays of (left edge, right edge, count)
    for histograms, a list of ``str`` for text (a numpy array of str for a text tensor of
    rank >= 1).
    """

    __slots__ = ("steps", "values", "wall_times")

    def __init__(self, steps: np.ndarray, wall_times: np.ndarray, values: Any) -> None:
        self.steps = steps
        self.wall_times = wall_times
        self.values = values

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        n = len(self)
        return f"<Series of {n} point{'' if n == 1 else 's'}>"

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` with columns step, wall_time, value."""
        pd = _import("pandas")
        values = (
            self.values
            if not isinstance(self.values, list)
            else pd.Series(self.values, dtype=object)
        )
        return pd.DataFrame({"step": self.steps, "wall_time": self.wall_times, "value": values})


class Runs(dict):  # type: ignore[type-arg]
    """``{run: {tag: Series}}``; ``skipped`` lists damaged bytes passed over by
    ``on_corrupt="skip"``."""

    skipped: list[SkippedBytes]

    def __init__(self, *args: Any, skipped: list[SkippedBytes] | None = None) -> None:
        super().__init__(*args)
        self.skipped = skipped or []

    def _columns(self) -> dict[str, Any]:
        import numpy as np

        runs, tags, steps, walls, values = [], [], [], [], []
        lists = False
        for run, by_tag in self.items():
            for tag, s in by_tag.items():
                n = len(s)
                runs.append(np.full(n, run, dtype=object))
                tags.append(np.full(n, tag, dtype=object))
                steps.append(s.steps)
                walls.append(s.wall_times)
                if isinstance(s.values, list):
                    lists = True
                    arr = np.empty(n, dtype=object)
                    arr[:] = s.values if n else []
                    values.append(arr)
                else:
                    values.append(s.values)

        def cat(parts: list[Any], dtype: Any) -> Any:
            return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

        return {
            "run": cat(runs, object),
            "tag": cat(tags, object),
            "step": cat(steps, np.int64),
            "wall_time": cat(walls, np.float64),
            "value": cat(values, object if lists else np.float64),
        }

    def to_pandas(self) -> Any:
        """One row per point: run, tag, step, wall_time, value (a ``pandas.DataFrame``)."""
        pd = _import("pandas")
        return pd.DataFrame(self._columns())

    def to_polars(self) -> Any:
        """One row per point: run, tag, step, wall_time, value (a ``polars.DataFrame``)."""
        pl = _import("polars")
        cols = self._columns()
        cols["run"] = cols["run"].astype(str)
        cols["tag"] = cols["tag"].astype(str)
        if cols["value"].dtype == object:
            cols["value"] = list(cols["value"])
        return pl.DataFrame(cols)

    def plot(
        self,
        tags: str | list[str] | None = None,
        *,
        run: str | list[str] | None = None,
        x: str = "step",
        smoothing: float = 0.0,
        log_y: bool = False,
        panels: str = "per-tag",
        title: str | None = None,
        path: str | os.PathLike[str] | None = None,
        figsize: tuple[float, float] | None = None,
        dpi: float = 100.0,
    ) -> Any:
        """Scalar series in one matplotlib figure; returns the ``Figure`` (needs the ``plot``
        extra: ``pip install 'tbwrite[plot]'``).

        Args:
            tags: tags to draw, each an exact tag or an ``fnmatch`` pattern (``"loss/*"``), in
                this order; default every scalar tag, sorted.
            run: runs to draw, names or patterns as for ``tags``; default every run.
            x: ``"step"``, ``"wall_time"`` (dates, UTC) or ``"relative"`` (time since each
                series' first point).
            smoothing: TensorBoard's smoothing weight in [0, 1) (its default is 0.6); the raw
                series is drawn faintly behind the smoothed one.
            log_y: a logarithmic y axis.
            panels: ``"per-tag"`` (one panel per tag, a line per run, legend by run) or
                ``"shared"`` (every line on one panel).
            title: a title over the figure.
            path: write the figure there (format from the suffix: png, svg, pdf, ...) with
                the Agg canvas, without pyplot; without it the figure comes from pyplot.
            figsize: the figure's size in inches.
            dpi: the figure's resolution.
        """
        from .plot import plot_runs

        return plot_runs(
            self,
            tags,
            run=run,
            x=x,
            smoothing=smoothing,
            log_y=log_y,
            panels=panels,
            title=title,
            path=path,
            figsize=figsize,
            dpi=dpi,
        )


@dataclass
class SessionRow:
    """One hparams session run: its hparams, the latest value of each metric, its status."""

    run: str
    hparams: dict[str, Any]
    metrics: dict[str, float]
    status: str  # UNKNOWN (no end info yet), SUCCESS, FAILURE or RUNNING
    start_time: float | None
    end_time: float | None
    metric_steps: dict[str, int] = field(default_factory=dict)
    group_name: str = ""


class HParamsTable(list):  # type: ignore[type-arg]
    """The sweep table: a list of :class:`SessionRow`, one per session run, by run name.

    ``hparam_names`` and ``metric_names`` are the columns; ``experiment`` is the parsed
    ``_hparams_/experiment`` used (or None); ``skipped`` as for :class:`Runs`.
    """

    def __init__(
        self,
        rows: Iterable[SessionRow],
        hparam_names: list[str],
        metric_names: list[str],
        experiment: Any,
        skipped: list[SkippedBytes],
    ) -> None:
        super().__init__(rows)
        self.hparam_names = hparam_names
        self.metric_names = metric_names
        self.experiment = experiment
        self.skipped = skipped

    def records(self) -> list[dict[str, Any]]:
        """Flat rows: run, status, start_time, end_time, then hparams, then metrics (a metric
        whose name is also an hparam's is prefixed ``metric:``)."""
        out = []
        for row in self:
            rec: dict[str, Any] = {
                "run": row.run,
                "status": row.status,
                "start_time": row.start_time,
                "end_time": row.end_time,
            }
            for name in self.hparam_names:
                rec[name] = row.hparams.get(name)
            for name in self.metric_names:
                key = f"metric:{name}" if name in rec else name
                rec[key] = row.metrics.get(name, math.nan)
            out.append(rec)
        return out

    def to_pandas(self) -> Any:
        """The table as a ``pandas.DataFrame``, one row per session."""
        pd = _import("pandas")
        return pd.DataFrame.from_records(self.records())

    def to_polars(self) -> Any:
        """The table as a ``polars.DataFrame``, one row per session."""
        pl = _import("polars")
        return pl.from_dicts(self.records(), infer_schema_length=None)
