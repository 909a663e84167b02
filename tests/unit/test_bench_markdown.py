"""`tbwrite bench --markdown`: the benchmark table of docs/speed.md is the bench's own output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tbwrite._cli import bench
from tbwrite._cli.bench_workloads import WORKLOADS

ROOT = Path(__file__).resolve().parents[2]


def _figures() -> bench.Figures:
    header = ["workload", "tbwrite", "torch", "ratio"]
    rows = [[label, "1.0k/s", "10/s", "100.0x"] for label, *_ in WORKLOADS.values()]
    rows += [["import time", "20 ms", "900 ms", "45x less"]]
    return bench.Figures(
        "2 cores, CPU, Python 3.x, Linux",
        {"tbwrite": "0", "torch": "2"},
        {"tf.summary": "tensorflow is not installed"},
        3,
        header,
        rows,
        "series note",
    )


def test_markdown_block_replaces_only_the_readme_table(tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{bench.README_START}\nold table\n{bench.README_END}\nafter\n")
    block = bench.markdown(_figures())
    bench.replace_block(str(readme), block)
    text = readme.read_text()
    assert text == f"before\n{bench.README_START}\n{block}\n{bench.README_END}\nafter\n"
    assert "old table" not in text
    bench.replace_block(str(readme), block)  # again: the same file, not a second table
    assert readme.read_text() == text
    lines = block.splitlines()
    assert [c.strip() for c in lines[2].strip("|").split("|")] == _figures().header
    assert "tf.summary skipped: tensorflow is not installed" in lines[0]


def test_replace_block_refuses_a_file_without_markers(tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="bench:start"):
        bench.replace_block(str(readme), "x")
    assert readme.read_text() == "no markers\n"


def test_docs_table_is_in_the_bench_form() -> None:
    text = (ROOT / "docs" / "speed.md").read_text()
    start = text.index(bench.README_START) + len(bench.README_START)
    block = text[start : text.index(bench.README_END)].strip()
    rows = [line for line in block.splitlines() if line.startswith("| ")]
    labels = [row.split("|")[1].strip() for row in rows[1:]]
    expected = [label for label, *_ in WORKLOADS.values()]
    assert labels == [*expected, "import time", "peak RSS, add_scalar loop"]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    assert bench.table(
        header, [[c.strip() for c in r.strip("|").split("|")] for r in rows[1:]]
    ) == [
        rows[0],
        block.splitlines()[3],
        *rows[1:],
    ]
