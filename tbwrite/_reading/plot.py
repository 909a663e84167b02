"""Scalar series drawn with matplotlib: the figure behind ``Runs.plot`` and ``tbwrite plot``.

Strategy: pick the runs and tags (exact names or ``fnmatch`` patterns), smooth each series
the way TensorBoard's scalar card does (:func:`tb_smooth`), and draw one panel per tag with a
line per run (or every (run, tag) on one shared panel). With smoothing, the raw series is drawn
faintly behind the smoothed one in the same colour, as TensorBoard does.

matplotlib is the optional ``plot`` extra, imported on first use. A figure bound for a file
is a bare ``matplotlib.figure.Figure`` on the Agg canvas: no pyplot, no display needed. A
figure not bound for a file comes from pyplot, so ``plt.show()`` and notebooks show it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import numpy as np

__all__ = ["PANELS", "X_AXES", "plot_runs", "selection", "tb_smooth"]

X_AXES: Final = ("step", "wall_time", "relative")
PANELS: Final = ("per-tag", "shared")
_RAW_ALPHA: Final = 0.25  # the raw series behind a smoothed one
_PANEL_SIZE: Final = (5.0, 3.4)  # inches per panel


def _matplotlib() -> Any:
    try:
        import matplotlib
        import matplotlib.dates  # noqa: F401  (mpl.dates below)
        import matplotlib.ticker  # noqa: F401  (mpl.ticker below)
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            "plotting needs matplotlib, the 'plot' extra: pip install 'tbwrite[plot]'",
            name="matplotlib",
        ) from err
    return matplotlib


def tb_smooth(values: Any, weight: float) -> np.ndarray:
    """``values`` smoothed as TensorBoard's scalar card smooths them (a float64 copy).

    A debiased exponential moving average: ``last = last * weight + (1 - weight) * v`` from
    ``last = 0``, each point shown as ``last / (1 - weight ** k)`` where ``k`` counts the
    finite points so far (no division when ``weight`` is 1). NaN and ±inf are shown as they
    are and leave the average untouched. A constant series (every value ``==`` the first;
    one NaN makes it not constant) is returned unchanged. ``weight`` is clamped to [0, 1],
    a non-finite weight counts as 0.
    """
    import numpy as np

    y = np.array(values, dtype=np.float64).ravel()
    w = float(weight)
    w = min(max(w, 0.0), 1.0) if math.isfinite(w) else 0.0
    if len(y) == 0 or bool(np.all(y == y[0])):
        return y
    last = 0.0
    k = 0
    for i, v in enumerate(y.tolist()):
        if not math.isfinite(v):
            continue
        last = last * w + (1.0 - w) * v
        k += 1
        y[i] = last if w == 1.0 else last / (1.0 - w**k)
    return y


def _label(text: str) -> str:
    # Names from files go into figure text: no control characters, and a "$" is a dollar,
    # not the start of matplotlib's math mode.
    from .._text import escape

    return escape(text).replace("$", r"\$")


def _as_patterns(value: str | Sequence[str] | None, name: str) -> list[str] | None:
    if value is None:
        return None
    patterns = [value] if isinstance(value, str) else list(value)
    if not patterns or not all(isinstance(p, str) for p in patterns):
        raise TypeError(f"{name} must be a str or a non-empty list of str, got {value!r}")
    return patterns


def _select(names: Iterable[str], patterns: list[str] | None, name: str) -> list[str]:
    """``names`` (in order) matched by ``patterns`` (in order): each an exact name or an
    ``fnmatch`` pattern; a pattern that matches nothing is an error."""
    names = list(names)
    if patterns is None:
        return names
    chosen: dict[str, None] = {}
    for p in patterns:
        hits = [n for n in names if n == p or fnmatchcase(n, p)]
        if not hits:
            shown = ", ".join(repr(n) for n in names[:20]) + (", ..." if len(names) > 20 else "")
            raise ValueError(f"{name}: nothing matches {p!r}; there are: {shown or 'none'}")
        chosen.update(dict.fromkeys(hits))
    return list(chosen)


def selection(
    runs: Mapping[str, Mapping[str, Any]],
    tags: str | Sequence[str] | None = None,
    run: str | Sequence[str] | None = None,
) -> tuple[list[str], list[str]]:
    """The runs and the tags ``plot_runs`` draws, in the order it draws them."""
    import numpy as np

    tag_patterns = _as_patterns(tags, "tags")
    run_names = _select(runs, _as_patterns(run, "run"), "run")
    all_tags: dict[str, None] = {}
    for r in run_names:
        for tag, s in runs[r].items():
            values = s.values
            if not (isinstance(values, np.ndarray) and values.dtype.kind in "fiu"):
                raise TypeError(
                    f"plots draw scalars, but tag {tag!r} of run {r!r} is not a scalar series "
                    "(read the logdir with read_scalars)"
                )
            all_tags[tag] = None
    tag_names = _select(sorted(all_tags), tag_patterns, "tags")
    if not tag_names:
        raise ValueError("there are no scalar series to plot")
    return run_names, tag_names


def _time_unit(seconds: float) -> tuple[str, float]:
    if seconds < 120:
        return "s", 1.0
    if seconds < 2 * 3600:
        return "min", 60.0
    return "h", 3600.0


def _legend_outside(fig: Any, axes: list[Any], handles: list[Any]) -> None:
    """The legend right of the panels, where it covers no data: a figure legend placed
    outside the axes by the constrained layout (matplotlib 3.7+), else anchored right of
    the top right panel."""
    labels = [h.get_label() for h in handles]
    try:
        fig.legend(handles, labels, loc="outside right upper", fontsize="small")
    except ValueError:  # matplotlib < 3.7: no "outside" locations
        right = max(axes, key=lambda ax: ax.get_position().x1)
        right.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                     borderaxespad=0.0, fontsize="small")  # fmt: skip


def plot_runs(
    runs: Mapping[str, Mapping[str, Any]],
    tags: str | Sequence[str] | None = None,
    *,
    run: str | Sequence[str] | None = None,
    x: str = "step",
    smoothing: float = 0.0,
    log_y: bool = False,
    panels: str = "per-tag",
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float = 100.0,
) -> Any:
    """Draw scalar series of ``runs`` (``{run: {tag: Series}}``); see ``Runs.plot``."""
    import numpy as np

    if x not in X_AXES:
        raise ValueError(f"x must be one of {', '.join(X_AXES)}; got {x!r}")
    if panels not in PANELS:
        raise ValueError(f"panels must be one of {', '.join(PANELS)}; got {panels!r}")
    if (
        isinstance(smoothing, bool)
        or not isinstance(smoothing, (int, float))
        or not 0.0 <= smoothing < 1.0
    ):
        raise ValueError(f"smoothing must be a number in [0, 1), got {smoothing!r}")
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not 0 < dpi < math.inf:
        raise ValueError(f"dpi must be a positive number, got {dpi!r}")
    if figsize is not None and (
        len(figsize) != 2 or not all(isinstance(v, (int, float)) and v > 0 for v in figsize)
    ):
        raise ValueError(f"figsize must be (width, height) in inches, got {figsize!r}")

    run_names, tag_names = selection(runs, tags, run)

    mpl = _matplotlib()
    n_panels = len(tag_names) if panels == "per-tag" else 1
    ncols = 1 if n_panels == 1 else 2 if n_panels <= 4 else 3
    nrows = -(-n_panels // ncols)
    size = figsize or (_PANEL_SIZE[0] * ncols + 1.0, _PANEL_SIZE[1] * nrows + 0.4)
    if path is not None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=size, dpi=dpi, layout="constrained")
        FigureCanvasAgg(fig)
    else:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=size, dpi=dpi, layout="constrained")
    grid = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in grid[n_panels:]:
        fig.delaxes(ax)
    axes = list(grid[:n_panels])

    # x values of every series first, so relative time shares one unit across panels.
    xs: dict[tuple[str, str], Any] = {}
    for r in run_names:
        for tag in tag_names:
            s = runs[r].get(tag)
            if s is None or not len(s):
                continue
            if x == "step":
                xs[r, tag] = s.steps
            elif x == "wall_time":
                xs[r, tag] = (np.asarray(s.wall_times) * 1e6).astype("datetime64[us]")
            else:
                xs[r, tag] = np.asarray(s.wall_times) - s.wall_times[0]
    scale = 1.0
    xlabel = {"step": "step", "wall_time": "wall time (UTC)"}.get(x, "")
    if x == "relative":
        longest = max((float(np.nanmax(v)) for v in xs.values()), default=0.0)
        unit, scale = _time_unit(longest if math.isfinite(longest) else 0.0)
        xlabel = f"relative time ({unit})"

    pairs = [(r, t) for r in run_names for t in tag_names]
    run_handles: dict[str, Any] = {}
    for r, tag in pairs:
        if (r, tag) not in xs:
            continue
        s = runs[r][tag]
        if panels == "per-tag":
            ax = axes[tag_names.index(tag)]
            color = f"C{run_names.index(r) % 10}"
            label = _label(r)
        else:
            ax = axes[0]
            color = f"C{pairs.index((r, tag)) % 10}"
            label = _label(r) if len(tag_names) == 1 else f"{_label(r)}: {_label(tag)}"
        xv = xs[r, tag] / scale if x == "relative" else xs[r, tag]
        yv = np.asarray(s.values, dtype=np.float64)
        if smoothing > 0:
            ax.plot(xv, yv, color=color, alpha=_RAW_ALPHA, linewidth=1.0)
            yv = tb_smooth(yv, smoothing)
        (line,) = ax.plot(xv, yv, color=color, linewidth=1.5, label=label)
        run_handles.setdefault(r, line)

    for i, ax in enumerate(axes):
        if panels == "per-tag":
            ax.set_title(_label(tag_names[i]))
        elif len(tag_names) == 1:
            ax.set_ylabel(_label(tag_names[0]))
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
        if log_y:
            ax.set_yscale("log")
        if x == "wall_time":
            locator = mpl.dates.AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mpl.dates.ConciseDateFormatter(locator))
        if x == "step":
            # Steps are integers: no ticks between them (MaxNLocator's integer mode).
            ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    if panels == "per-tag":
        # One legend by run, for the runs drawn anywhere.
        handles = [run_handles[r] for r in run_names if r in run_handles]
    else:
        handles = axes[0].get_legend_handles_labels()[0]
    if handles:
        _legend_outside(fig, axes, handles)
    if title:
        fig.suptitle(_label(title))
    if path is not None:
        fig.savefig(os.fspath(path), dpi=dpi)
    return fig
