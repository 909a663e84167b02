"""``tbwrite bench``: tbwrite against the other TensorBoard writers, side by side.

Strategy: every (writer, workload) pair runs in a fresh subprocess of this interpreter, so
import time and peak RSS are each writer's own. Each child repeats its workload, times it
from the first call through ``close()`` (the writers' defaults otherwise), and reports the
median. The add_scalar loop is read back after timing: every event must be in the files.
Writers that are not installed are skipped with the reason. Figures only: nothing here
asserts a speed.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["main"]

from .bench_workloads import (
    MODULES,
    N_RSS_SERIES,
    N_SERIES_LOOP,
    WORKLOADS,
    WRITERS,
    Skip,
    child,
    child_series_rss,
)

_IMPORT_CODE = """
import sys, time
if {block_torch}:
    class _NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ModuleNotFoundError(name)
    sys.meta_path.insert(0, _NoTorch())
t = time.perf_counter()
import {module}
print(time.perf_counter() - t)
"""


def _import_time(module: str, repeats: int, block_torch: bool) -> float:
    code = _IMPORT_CODE.format(module=module, block_torch=block_torch)
    times = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.split()[-1]))
    return statistics.median(times)


# -- the parent ---------------------------------------------------------------------------


def _available(writer: str) -> str | None:
    """None when importable, else why not."""
    import importlib.util

    top = MODULES[writer].split(".")[0]
    if importlib.util.find_spec(top) is None:
        return f"{top} is not installed"
    return None


def _run_child(args: list[str]) -> dict[str, Any]:
    env = dict(os.environ)
    # The checkout (or site-packages) holding this tbwrite, so the child runs the same code.
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    out = subprocess.run(
        [sys.executable, "-m", "tbwrite._cli.bench", "--child", *args],
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": last}
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _fmt_rate(rate: float) -> str:
    if rate >= 1e6:
        return f"{rate / 1e6:.2f}M/s"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f}k/s"
    return f"{rate:.0f}/s"


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


# The table of docs/speed.md lies between these two lines.
README_START = "<!-- bench:start (python -m tbwrite bench --markdown docs/speed.md) -->"
README_END = "<!-- bench:end -->"


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="tbwrite bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per measurement (median; default 3)"
    )
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes, one repeat")
    parser.add_argument(
        "--markdown",
        nargs="?",
        const="-",
        metavar="FILE",
        help="print the figures as the Markdown table of docs/speed.md; given a file, replace "
        "its table "
        f"(between {README_START!r} and {README_END!r}) instead",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind = args.child[0]
        if kind == "rss":
            result = child_series_rss(int(args.child[1]))
        else:
            writer, workload, repeats, scale = args.child
            try:
                result = child(writer, workload, int(repeats), float(scale))
            except Skip as skip:
                result = {"skip": str(skip)}
        print(json.dumps(result))
        return 0
    repeats, scale = (1, 0.1) if args.quick else (args.repeats, 1.0)
    if args.markdown is None:
        return _parent(repeats, scale)
    block = markdown(measure(repeats, scale, say=lambda _: None))
    if args.markdown == "-":
        print(block)
    else:
        replace_block(args.markdown, block)
        print(f"wrote the benchmark table into {args.markdown}")
    return 0


class Figures:
    """One benchmark run: the table and what it was measured on."""

    def __init__(
        self,
        machine: str,
        versions: dict[str, str],
        skipped: dict[str, str],
        repeats: int,
        header: list[str],
        rows: list[list[str]],
        series_note: str,
    ) -> None:
        self.machine = machine
        self.versions = versions
        self.skipped = skipped
        self.repeats = repeats
        self.header = header
        self.rows = rows
        self.series_note = series_note


def measure(repeats: int, scale: float, say: Callable[[str], None] = print) -> Figures:
    """Run every workload for every installed writer; ``say`` reports progress."""
    present = []
    skipped = {}
    for writer in WRITERS:
        why = _available(writer)
        if why:
            skipped[writer] = why
            say(f"skipping {writer}: {why}")
        else:
            present.append(writer)
    versions = {}
    for writer in present:
        try:
            versions[writer] = __import__("importlib.metadata").metadata.version(
                {"tf.summary": "tensorflow", "torch": "torch"}.get(writer, writer)
            )
        except Exception:  # noqa: BLE001 - a version is only decoration
            versions[writer] = "?"
    say("versions: " + ", ".join(f"{w} {v}" for w, v in versions.items()))
    say(
        f"each figure: median of {repeats} runs in a fresh process after one untimed "
        "warm-up run, timed through close()\n"
    )

    others = [w for w in present if w != "tbwrite"]
    header = ["workload", "tbwrite"] + [x for w in others for x in (w, "ratio")]
    rows: list[list[str]] = []
    rss: dict[str, Any] = {}
    for key, (label, _unit, _fn, _size) in WORKLOADS.items():
        results = {w: _run_child([w, key, str(repeats), str(scale)]) for w in present}
        ours = results.get("tbwrite", {})
        row = [label, _fmt_rate(ours["rate"]) if "rate" in ours else ours.get("error", "-")]
        for w in others:
            r = results[w]
            if "rate" in r:
                ratio = f"{ours['rate'] / r['rate']:.1f}x" if "rate" in ours else "-"
                row += [_fmt_rate(r["rate"]), ratio]
            else:
                row += [r.get("skip") or r.get("error", "-"), "-"]
        rows.append(row)
        if key == "scalar":
            rss = {w: results[w].get("peak_rss_mib") for w in present}

    imports = {}
    for w in present:
        imports[w] = _import_time(MODULES[w], max(repeats, 5), block_torch=(w == "tensorboardX"))
    row = ["import time", f"{imports['tbwrite'] * 1000:.0f} ms"]
    for w in others:
        row += [f"{imports[w] * 1000:.0f} ms", f"{imports[w] / imports['tbwrite']:.0f}x less"]
    rows.append(row)
    row = ["peak RSS, add_scalar loop", f"{rss['tbwrite']:.0f} MiB"]
    for w in others:
        value = rss.get(w)
        row += [
            f"{value:.0f} MiB" if value else "-",
            f"{value / rss['tbwrite']:.1f}x less" if value else "-",
        ]
    rows.append(row)

    n = int(N_RSS_SERIES * scale)
    r = _run_child(["rss", str(n)])
    if "rate" in r:
        series_note = (
            f"tbwrite add_scalar_series of {n / 1e6:g}M points: {_fmt_rate(r['rate'])}, "
            f"{r['file_mb']:.0f} MB written, peak RSS +{r['growth_mib']:.0f} MiB over the "
            f"{r['input_mib']:.0f} MiB input array"
        )
    else:
        series_note = f"series RSS run failed: {r.get('error')}"
    return Figures(machine(), versions, skipped, repeats, header, rows, series_note)


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table, columns padded to one width."""
    widths = [max(len(cells[i]) for cells in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(wd) for c, wd in zip(cells, widths)) + " |"

    return [line(header), "|" + "|".join("-" * (wd + 2) for wd in widths) + "|"] + [
        line(cells) for cells in rows
    ]


def markdown(fig: Figures) -> str:
    """The benchmark paragraph and table of docs/speed.md for ``fig``."""
    peers = ", ".join(f"{w} {v}" for w, v in fig.versions.items() if w != "tbwrite")
    missing = "; ".join(f"{w} skipped: {why}" for w, why in fig.skipped.items())
    lines = [
        f"On {fig.machine}; {peers or 'no other writer installed'}"
        + (f" ({missing})" if missing else "")
        + f". Median of {fig.repeats} runs, each in a fresh process, timed through `close()`:",
        "",
        *table(fig.header, fig.rows),
        "",
        f"{fig.series_note}.",
    ]
    return "\n".join(lines)


def replace_block(path: str, block: str) -> None:
    """Put ``block`` between README_START and README_END in the file ``path``."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{path!r} has no {README_START!r} ... {README_END!r} block")
    head = text[: start + len(README_START)]
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{head}\n{block}\n{text[end:]}")


def _parent(repeats: int, scale: float) -> int:
    print(f"machine: {machine()}")
    fig = measure(repeats, scale)
    for line in table(fig.header, fig.rows):
        print(line)
    print("\nratio: tbwrite's rate / the other's (import, RSS: the other's / tbwrite's).")
    print("tensorboardX's import is timed with torch hidden (it imports torch when present);")
    print(
        "the others have no bulk path: their row is their add_scalar loop over "
        f"{int(N_SERIES_LOOP * scale)} points."
    )
    print(f"\n{fig.series_note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
