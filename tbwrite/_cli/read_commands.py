"""The reading subcommands of the ``tbwrite`` command line: ls, export, hparams, verify.

User mistakes (a missing path, a damaged file) end with a one-line message on stderr and a
non-zero exit, never a traceback (``tbwrite._cli.main`` turns ``OSError`` / ``ValueError``
into that). Progress goes to stderr, only when it is a terminal or ``--progress`` is given.

Names and values come from files anyone may have written: every one printed for a person
(tables, messages, progress) goes through :func:`escape_control`, so an escape sequence or
a carriage return in a tag, run name or hparam value shows as text instead of acting on
the terminal. The machine formats (CSV, JSON lines) keep the data as it is.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import sys
from typing import Any, Callable, TextIO

__all__ = ["add_read_commands", "escape_control"]

# C0 and C1 control characters, DEL, and the bidirectional overrides and isolates that
# reorder what a terminal shows.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: object) -> str:
    """``str(text)`` with control characters shown as ``\\xNN`` / ``\\uNNNN`` escapes."""
    return _CONTROL.sub(_escape_one, str(text))


def _progress(args: argparse.Namespace) -> Callable[[int, int, str], None] | None:
    if not (args.progress or sys.stderr.isatty()):
        return None

    def report(done: int, total: int, path: str) -> None:
        line = f"[{done + 1}/{total}] {escape_control(path)}"[:199]
        print("\r" + line.ljust(60), end="", file=sys.stderr, flush=True)
        if done + 1 == total:
            print(file=sys.stderr)

    return report


def _on_corrupt(args: argparse.Namespace) -> str:
    return "skip" if args.skip_corrupt else "raise"


def _report_skipped(skipped: list[Any]) -> None:
    for s in skipped:
        print(
            f"skipped {s.nbytes} damaged bytes: {escape_control(s.path)} at byte offset "
            f"{s.offset} ({escape_control(s.reason)})",
            file=sys.stderr,
        )


def _check_path(path: str) -> None:
    from .._sinks import exists

    if not exists(path):
        raise FileNotFoundError(f"no such file or directory: {escape_control(repr(path))}")


def _load_all(args: argparse.Namespace) -> Any:
    import warnings

    from .._reading import loaders as _loaders

    _check_path(args.logdir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _loaders.load_runs(args.logdir, _on_corrupt(args), _progress(args))


def _cmd_ls(args: argparse.Namespace) -> int:
    from .._format import plugin_names as _names
    from .._reading import loaders as _loaders

    data, skipped = _load_all(args)
    _report_skipped(skipped)
    rows = []
    for run, rd in data.items():
        for kind in (_names.PLUGIN_SCALARS, _names.PLUGIN_HISTOGRAMS, _names.PLUGIN_TEXT):
            for tag, s in _loaders.series_of(rd, kind, args.purge).items():
                steps = f"{s.steps.min()}..{s.steps.max()}" if len(s) else ""
                rows.append((escape_control(run), escape_control(tag), kind, str(len(s)), steps))
    if not rows:
        print(f"no scalars, histograms or text in {escape_control(args.logdir)}", file=sys.stderr)
        return 0
    header = ("run", "tag", "kind", "points", "steps")
    _print_table([header, *rows])
    return 0


def _print_table(rows: list[tuple[str, ...]], out: TextIO | None = None) -> None:
    out = out or sys.stdout
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
    _report_skipped(skipped)
    out = _open_out(args)
    try:
        writer = csv.writer(out, lineterminator="\n") if args.format == "csv" else None
        if writer is not None:
            writer.writerow(("run", "tag", "step", "wall_time", "value"))
        for run, rd in data.items():
            for tag, s in _loaders.series_of(rd, _names.PLUGIN_SCALARS, args.purge).items():
                steps, walls, values = s.steps.tolist(), s.wall_times.tolist(), s.values.tolist()
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
    return 0


def _cmd_hparams(args: argparse.Namespace) -> int:
    import warnings

    from .._reading.hparams_table import read_hparams

    _check_path(args.logdir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        table = read_hparams(
            args.logdir, purge=args.purge, on_corrupt=_on_corrupt(args), progress=_progress(args)
        )
    _report_skipped(table.skipped)
    if not table:
        print(f"no hparams sessions in {escape_control(args.logdir)}", file=sys.stderr)
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
                return escape_control(v)

            keys = [k for k in records[0] if k not in ("start_time", "end_time")]
            header = tuple(escape_control(k) for k in keys)
            _print_table([header, *[tuple(fmt(r[k]) for k in keys) for r in records]], out)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from .._reading.records import find_runs, verify_file

    files = []
    for path in args.paths:
        _check_path(path)
        files += [f for run_files in find_runs(path).values() for f in run_files]
    if not files:
        print("no event files found", file=sys.stderr)
        return 1
    progress = _progress(args)
    bad = 0
    for i, path in enumerate(files):
        if progress is not None:
            progress(i, len(files), path)
        check = verify_file(path)
        shown = escape_control(path)
        if check.corrupt is not None:
            bad += 1
            offset, reason = check.corrupt
            print(
                f"{shown}: CORRUPT at byte offset {offset}: {escape_control(reason)} "
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
        print(f"{bad} of {len(files)} files are damaged", file=sys.stderr)
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

    ls = sub.add_parser("ls", help="list runs and tags with their point counts")
    common(ls)
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
