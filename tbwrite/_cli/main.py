"""The ``tbwrite`` command line (also ``python -m tbwrite``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _cmd_demo(args: argparse.Namespace) -> int:
    import importlib.util
    import shlex

    from .demo import run_demo

    print(f"writing a demo sweep into {args.dir}/ ...")
    runs = run_demo(args.dir)
    where = shlex.quote(args.dir)
    print(f"wrote {len(runs)} runs. How training went, right here:\n")
    print(f"    python -m tbwrite ls {where}\n")
    # The hint must work where the demo ran: a fresh environment has tbwrite alone, and
    # tbwrite never needs TensorBoard to write.
    try:
        have_tensorboard = importlib.util.find_spec("tensorboard") is not None
    except (ImportError, ValueError):
        have_tensorboard = False
    install = "" if have_tensorboard else "    pip install tensorboard\n"
    print(f"View them in TensorBoard:\n\n{install}    tensorboard --logdir {where}\n")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    repeats = [] if args.repeats is None else ["--repeats", str(args.repeats)]
    if args.jax:
        from .bench_jax import main as jax_main

        return jax_main([*(["--steps", "100"] if args.quick else []), *repeats])
    from .bench import main as bench_main

    argv = [*(["--quick"] if args.quick else []), *repeats]
    if args.markdown is not None:
        argv += ["--markdown", args.markdown]
    return bench_main(argv)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from .demo import DEFAULT_DIR

    parser = argparse.ArgumentParser(
        prog="tbwrite", description="TensorBoard event files without torch or TensorFlow."
    )
    parser.add_argument("--version", action="version", version=f"tbwrite {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="write a demo hyperparameter sweep to view in TensorBoard")
    demo.add_argument(
        "dir", nargs="?", default=DEFAULT_DIR, help=f"where to write (default: {DEFAULT_DIR})"
    )
    demo.set_defaults(func=_cmd_demo)
    bench = sub.add_parser(
        "bench", help="measure tbwrite against the other installed TensorBoard writers"
    )
    bench.add_argument(
        "--repeats", type=int, help="runs per figure, median (default: 3; --jax: 11)"
    )
    bench.add_argument("--quick", action="store_true", help="a tenth of the sizes, one run each")
    bench.add_argument(
        "--markdown",
        nargs="?",
        const="-",
        metavar="FILE",
        help="print the Markdown table of docs/speed.md; given docs/speed.md, replace the "
        "table in it",
    )
    bench.add_argument(
        "--jax",
        action="store_true",
        help="instead: a JAX training loop logging its loss every step, against the same "
        "loop not logging and against add_scalar(float(loss)) (needs JAX)",
    )
    bench.set_defaults(func=_cmd_bench)
    from .read_commands import add_read_commands

    add_read_commands(sub)  # ls, export, hparams, verify
    from .plot_command import add_plot_command

    add_plot_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError) as err:
        from .._text import escape

        print(f"tbwrite {args.command}: error: {escape(err)}", file=sys.stderr)
        return 1
