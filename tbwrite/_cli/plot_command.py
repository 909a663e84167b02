"""``tbwrite plot``: chosen scalar tags of chosen runs drawn into an image file.

The figure is :meth:`tbwrite.Runs.plot`'s, written with the Agg canvas (no display needed);
the command prints what it wrote. Without matplotlib it says which extra to install.

Without ``--tag`` every tag is wanted, but a figure of thousands of panels takes minutes and
gigabytes and shows nothing readable: the first :data:`MAX_AUTO_TAGS` tags (in sorted order)
are drawn and the command says how many, and which, were left out (name them with ``--tag``
to draw them).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any, Final

__all__ = ["MAX_AUTO_TAGS", "add_plot_command"]

MAX_AUTO_TAGS: Final = 25  # tags drawn when none are named
_LEFT_OUT_SHOWN: Final = 5  # names of left-out tags printed


def _exact(name: str) -> str:
    # An fnmatch pattern that matches ``name`` only (its wildcard characters bracketed).
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _cmd_plot(args: argparse.Namespace) -> int:
    from .._reading.loaders import read_scalars
    from .._reading.plot import selection
    from .._text import escape
    from .read_commands import check_path, on_corrupt, progress, report_skipped

    check_path(args.logdir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        runs = read_scalars(
            args.logdir, purge=args.purge, on_corrupt=on_corrupt(args), progress=progress(args)
        )
    report_skipped(runs.skipped)
    tags = args.tag
    left_out: list[str] = []
    if tags is None:
        try:
            every = selection(runs, None, args.run)[1]
        except ValueError:
            every = []  # runs.plot below reports it
        if len(every) > MAX_AUTO_TAGS:
            left_out = every[MAX_AUTO_TAGS:]
            tags = [_exact(t) for t in every[:MAX_AUTO_TAGS]]
    try:
        fig = runs.plot(
            tags,
            run=args.run,
            x=args.x,
            smoothing=args.smoothing,
            log_y=args.log_y,
            panels=args.panels,
            title=args.title,
            path=args.output,
            dpi=args.dpi,
        )
    except ModuleNotFoundError as err:
        print(f"tbwrite plot: error: {err}", file=sys.stderr)
        return 1
    run_names, tag_names = selection(runs, tags, args.run)
    width, height = (round(v) for v in fig.get_size_inches() * fig.dpi)
    layout = "one panel per tag" if args.panels == "per-tag" else "one shared panel"
    print(
        f"wrote {escape(str(args.output))} ({width}x{height} px): "
        f"{len(tag_names)} tag{'s' * (len(tag_names) != 1)} "
        f"({', '.join(escape(t) for t in tag_names)}) of {len(run_names)} "
        f"run{'s' * (len(run_names) != 1)}, {layout}"
    )
    if left_out:
        shown = ", ".join(escape(t) for t in left_out[:_LEFT_OUT_SHOWN])
        more = ", ..." if len(left_out) > _LEFT_OUT_SHOWN else ""
        print(
            f"left out {len(left_out)} more tags ({shown}{more}): at most {MAX_AUTO_TAGS} "
            "are drawn without --tag; name the ones wanted with --tag"
        )
    return 0


def add_plot_command(sub: Any) -> None:
    """Add ``plot`` to the ``tbwrite`` subparsers ``sub``."""
    from .._reading.plot import PANELS, X_AXES

    p = sub.add_parser("plot", help="draw scalar tags of runs into an image (needs matplotlib)")
    p.add_argument(
        "logdir", help="a logdir (searched recursively), a run directory or an event file"
    )
    p.add_argument("-o", "--output", required=True, help="the image to write: .png, .svg, .pdf")
    p.add_argument(
        "--tag",
        action="append",
        metavar="TAG",
        help="a tag or fnmatch pattern, one panel each, in order (repeat; default: every tag)",
    )
    p.add_argument(
        "--run", action="append", metavar="PATTERN", help="a run or fnmatch pattern (repeat)"
    )
    p.add_argument("--x", choices=X_AXES, default="step", help="the x axis (default: step)")
    p.add_argument(
        "--smoothing",
        type=float,
        default=0.0,
        metavar="W",
        help="TensorBoard's smoothing weight in [0, 1) (its default is 0.6; here 0: raw)",
    )
    p.add_argument("--log-y", action="store_true", help="a logarithmic y axis")
    p.add_argument(
        "--panels", choices=PANELS, default="per-tag", help="one panel per tag, or one for all"
    )
    p.add_argument("--title", help="a title over the figure")
    p.add_argument("--dpi", type=float, default=100.0, help="resolution (default: 100)")
    p.add_argument(
        "--purge",
        action="store_true",
        help="hide what TensorBoard hides after a restart (off: every record)",
    )
    p.add_argument(
        "--skip-corrupt",
        action="store_true",
        help="skip damaged records (reported on stderr) instead of stopping",
    )
    p.add_argument("--progress", action="store_true", help="report progress on stderr")
    p.set_defaults(func=_cmd_plot)
