"""The reading subcommands of the ``tbwrite`` command line: ls, export, hparams, verify.

User mistakes (a missing path, a damaged file) end with a one-line message on stderr and a
non-zero exit, never a traceback (``tbwrite._cli.main`` turns ``OSError`` / ``ValueError``
into that). Progress goes to stderr, only when it is a terminal or ``--progress`` is given.

Names and values come from files anyone may have written: every one printed for a person
(tables, messages, progress) goes through :func:`tbwrite._text.escape`, so an escape sequence or
a carriage return in a tag, run name or hparam value shows as text instead of acting on
the terminal. The machine formats (CSV, JSON lines) keep the data as it is.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from typing import Any, Callable, Final, TextIO

from .._errors import CorruptRecordError
from .._text import escape

__all__ = ["add_read_commands", "check_path", "on_corrupt", "progress", "report_skipped"]


def progress(args: argparse.Namespace) -> Callable[[int, int, str], None] | None:
    """A ``progress(done, total, path)`` reporter on stderr, or None: only for a terminal or
    with ``--progress``."""
    if not (args.progress or sys.stderr.isatty()):
        return None

    def report(done: int, total: int, path: str) -> None:
        line = f"[{done + 1}/{total}] {escape(path)}"[:199]
        print("\r" + line.ljust(60), end="", file=sys.stderr, flush=True)
        if done + 1 == total:
            print(file=sys.stderr)

    return report


def on_corrupt(args: argparse.Namespace) -> str:
    """The readers' ``on_corrupt`` for ``--skip-corrupt``."""
    return "skip" if args.skip_corrupt else "raise"


def report_skipped(skipped: list[Any]) -> None:
    """One line on stderr per damaged range that was skipped."""
    for s in skipped:
        print(
            f"skipped {s.nbytes} damaged bytes: {escape(s.path)} at byte offset "
            f"{s.offset} ({escape(s.reason)})",
            file=sys.stderr,
        )


def check_path(path: str) -> None:
    """``FileNotFoundError`` (a one-line CLI error) for a local path that does not exist."""
    from .._sinks import exists

    if not exists(path):
        raise FileNotFoundError(f"no such file or directory: {escape(repr(path))}")


def _load_all(args: argparse.Namespace) -> Any:
    import warnings

    from .._reading import loaders as _loaders

    check_path(args.logdir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return _loaders.load_runs(args.logdir, on_corrupt(args), progress(args))
        except CorruptRecordError as err:
            # Say how to read past the damage, not only where it is.
            raise ValueError(f"{err}; --skip-corrupt reads what is intact") from None


def _cmd_ls(args: argparse.Namespace) -> int:
    from .._format import plugin_names as _names
    from .._reading import loaders as _loaders
    from .._text import scalar_cells, unicode_ok

    spark = None if args.no_spark else "unicode" if unicode_ok(sys.stdout) else "ascii"
    header = ("run", "tag", "kind", "points", "steps", "last", "range", *(["trend"] * bool(spark)))
    data, skipped = _load_all(args)
    report_skipped(skipped)
    blank = ("",) * (len(header) - 5)
    rows = []
    for run, rd in data.items():
        for kind in (_names.PLUGIN_SCALARS, _names.PLUGIN_HISTOGRAMS, _names.PLUGIN_TEXT, ""):
            for tag, s in _loaders.series_of(rd, kind, args.purge).items():
                scalar = kind == _names.PLUGIN_SCALARS
                cells = scalar_cells(s.values, spark) if scalar else blank
                rows.append((run, tag, kind or _TENSORS, str(len(s)), _steps(s), *cells))
        # Images, audio, PR curves, meshes, ...: counted and located, not decoded.
        for (plugin, tag), s in _loaders.listed_of(rd, args.purge).items():
            if plugin in _CONFIG_PLUGINS:
                continue
            rows.append((run, tag, escape(plugin), str(len(s)), _steps(s), *blank))
    if not rows:
        print(f"no summaries in {escape(args.logdir)}", file=sys.stderr)
        return 0
    _print_table([header, *rows])
    return 0


_TENSORS: Final = "tensors"  # the kind shown for tensors of no plugin (add_tensor)
# Summaries that configure a plugin rather than log points: `tbwrite hparams` shows the
# hparams sessions; the custom scalars layout is one config record.
_CONFIG_PLUGINS: Final = frozenset({"hparams", "custom_scalars"})


def _steps(s: Any) -> str:
    return f"{s.steps.min()}..{s.steps.max()}" if len(s) else ""


def _print_table(rows: list[tuple[str, ...]], out: TextIO | None = None) -> None:

    out = out or sys.stdout
    rows = [tuple(escape(c) for c in r) for r in rows]  # names from files: no raw ESC, CR
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip(), file=out)


def _json_number(x: float) -> Any:
    # JSON has no NaN or infinity: those are written as the strings "nan", "inf", "-inf".
    return x if math.isfinite(x) else repr(x)


def _open_out(args: argparse.Namespace) -> TextIO:
    if args.output in (None, "-"):
        return sys.stdout
    return open(args.output, "w", newline="", encoding="utf-8")


def _cmd_export(args: argparse.Namespace) -> int:
    from .._format import plugin_names as _names
    from .._reading import loaders as _loaders

    data, skipped = _load_all(args)
    report_skipped(skipped)
    out = _open_out(args)
    rows = series = 0
    runs = set()
    try:
        writer = csv.writer(out, lineterminator="\n") if args.format == "csv" else None
        if writer is not None:
            writer.writerow(("run", "tag", "step", "wall_time", "value"))
        for run, rd in data.items():
            for tag, s in _loaders.series_of(rd, _names.PLUGIN_SCALARS, args.purge).items():
                steps, walls, values = s.steps.tolist(), s.wall_times.tolist(), s.values.tolist()
                rows, series = rows + len(steps), series + 1
                runs.add(run)
                if writer is not None:
                    writer.writerows(
                        zip(
                            [run] * len(steps),
                            [tag] * len(steps),
                            steps,
                            map(repr, walls),
                            map(repr, values),
                        )
                    )
                else:
                    dumps = json.dumps
                    out.writelines(
                        dumps(
                            {
                                "run": run,
                                "tag": tag,
                                "step": st,
                                "wall_time": wt,
                                "value": _json_number(v),
                            }
                        )
                        + "\n"
                        for st, wt, v in zip(steps, walls, values)
                    )
    finally:
        if out is not sys.stdout:
            out.close()
    if out is not sys.stdout:
        _say_written(
            args, f"{rows} scalar points ({series} series of {len(runs)} runs), one per row"
        )
    return 0


def _say_written(args: argparse.Namespace, what: str) -> None:
    # With -o the data goes to the file; the terminal learns what went where.
    size = os.path.getsize(args.output)
    print(f"wrote {what} to {args.output} ({args.format}, {size} bytes)")


def _cmd_hparams(args: argparse.Namespace) -> int:
    import warnings

    from .._reading.hparams_table import read_hparams

    check_path(args.logdir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        table = read_hparams(
            args.logdir, purge=args.purge, on_corrupt=on_corrupt(args), progress=progress(args)
        )
    report_skipped(table.skipped)
    if not table:
        print(f"no hparams sessions in {escape(args.logdir)}", file=sys.stderr)
        return 0
    records = table.records()
    out = _open_out(args)
    try:
        if args.format == "jsonl":
            for rec in records:
                clean = {k: _json_number(v) if isinstance(v, float) else v for k, v in rec.items()}
                out.write(json.dumps(clean) + "\n")
        elif args.format == "csv":
            writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(records)
        else:

            def fmt(v: Any) -> str:
                if v is None:
                    return ""
                if isinstance(v, float):
                    return f"{v:.6g}"
                return escape(v)

            keys = [k for k in records[0] if k not in ("start_time", "end_time")]
            header = tuple(escape(k) for k in keys)
            _print_table([header, *[tuple(fmt(r[k]) for k in keys) for r in records]], out)
    finally:
        if out is not sys.stdout:
            out.close()
    if out is not sys.stdout:
        _say_written(args, f"{len(records)} sessions, one per row")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from .._reading.records import find_runs, verify_file

    files = []
    for path in args.paths:
        check_path(path)
        files += [f for run_files in find_runs(path).values() for f in run_files]
    if not files:
        print("no event files found", file=sys.stderr)
        return 1
    # Each file's verdict names it already: a progress line too would print every path
    # twice, so progress is shown only when the verdicts are not (--quiet).
    report = progress(args) if args.quiet else None
    bad = 0
    for i, path in enumerate(files):
        if report is not None:
            report(i, len(files), path)
        shown = escape(path)
        try:
            check = verify_file(path)
        except OSError as err:
            # One unreadable file must not hide the state of the others: report it, go on,
            # and fail at the end.
            bad += 1
            print(f"{shown}: UNREADABLE: {escape(err.strerror or str(err))}")
            continue
        if check.corrupt is not None:
            bad += 1
            offset, reason = check.corrupt
            print(
                f"{shown}: CORRUPT at byte offset {offset}: {escape(reason)} "
                f"(after {check.records} valid records)"
            )
        else:
            note = (
                f", {check.incomplete} bytes of an unfinished last record"
                if check.incomplete
                else ""
            )
            if not args.quiet:
                print(f"{shown}: ok, {check.records} records{note}")
    if bad:
        print(f"{bad} of {len(files)} files are damaged or unreadable", file=sys.stderr)
        return 1
    return 0


def _quiet_pipe(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    # `tbwrite export LOGDIR | head` closes stdout early: stop quietly, as Unix tools do.
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 141

    return run


def add_read_commands(sub: Any) -> None:
    """Add ls, export, hparams and verify to the ``tbwrite`` subparsers ``sub``."""

    def common(p: argparse.ArgumentParser, logdir: bool = True) -> None:
        if logdir:
            p.add_argument(
                "logdir", help="a logdir (searched recursively), a run directory or an event file"
            )
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

    ls = sub.add_parser(
        "ls", help="list runs and tags: point counts; scalars' last value, range and sparkline"
    )
    common(ls)
    ls.add_argument("--no-spark", action="store_true", help="leave out the sparkline column")
    ls.set_defaults(func=_quiet_pipe(_cmd_ls))

    export = sub.add_parser("export", help="export every scalar as CSV or JSON lines")
    common(export)
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="default: csv")
    export.add_argument("-o", "--output", help="output file (default: stdout)")
    export.set_defaults(func=_quiet_pipe(_cmd_export))

    hp = sub.add_parser("hparams", help="the hparams table of a sweep: hparams, metrics, status")
    common(hp)
    hp.add_argument(
        "--format", choices=("table", "csv", "jsonl"), default="table", help="default: table"
    )
    hp.add_argument("-o", "--output", help="output file (default: stdout)")
    hp.set_defaults(func=_quiet_pipe(_cmd_hparams))

    verify = sub.add_parser("verify", help="check the checksums of every record of event files")
    verify.add_argument("paths", nargs="+", metavar="PATH", help="event files, runs or logdirs")
    common(verify, logdir=False)
    verify.add_argument("-q", "--quiet", action="store_true", help="report damaged files only")
    verify.set_defaults(func=_quiet_pipe(_cmd_verify))
