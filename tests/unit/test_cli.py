"""The reading subcommands: ls, export, hparams, verify; clean errors, no tracebacks."""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tbwrite
from tbwrite._cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def logdir(tmp_path):
    for name, offset in (("a", 0.0), ("b/c", 10.0)):
        with tbwrite.SummaryWriter(tmp_path / name) as w:
            for step in range(3):
                w.add_scalar("loss", offset + step, step, walltime=100.0 + step)
            w.add_scalar("nan", float("nan"), 1, walltime=5.0)
            w.add_histogram("h", [1.0, 2.0, 3.0], 1)
            w.add_text("t", "hi", 0)
    return tmp_path


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ls(logdir, capsys) -> None:
    code, out, err = run_cli(capsys, "ls", str(logdir))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["run", "tag", "kind", "points", "steps", "last", "range", "trend"]
    # capsys's stdout is UTF-8: the sparkline is drawn with block characters.
    assert lines[1].split() == ["a", "loss", "scalars", "3", "0..2", "2", "0..2", "▁▅█"]
    assert lines[2].split() == ["a", "nan", "scalars", "1", "1..1", "nan", "·"]
    assert any(line.split() == ["b/c", "h", "histograms", "1", "1..1"] for line in lines)
    assert any(line.split()[:4] == ["b/c", "t", "text", "1"] for line in lines)


def test_export_csv_and_jsonl(logdir, capsys, tmp_path) -> None:
    code, out, err = run_cli(capsys, "export", str(logdir))
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["run", "tag", "step", "wall_time", "value"]
    assert rows[1] == ["a", "loss", "0", "100.0", "0.0"]
    assert ["b/c", "loss", "2", "102.0", "12.0"] in rows
    assert ["a", "nan", "1", "5.0", "nan"] in rows
    assert len(rows) == 1 + 2 * 4

    target = tmp_path / "out.jsonl"
    code, out, err = run_cli(capsys, "export", str(logdir), "--format", "jsonl", "-o", str(target))
    assert code == 0 and out == ""
    recs = [json.loads(line) for line in target.read_text().splitlines()]
    assert recs[0] == {"run": "a", "tag": "loss", "step": 0, "wall_time": 100.0, "value": 0.0}
    assert {"run": "a", "tag": "nan", "step": 1, "wall_time": 5.0, "value": "nan"} in recs


def test_verify_ok_and_corrupt(logdir, capsys) -> None:
    code, out, err = run_cli(capsys, "verify", str(logdir))
    assert code == 0, err
    assert out.count(": ok,") == 2
    path = sorted(glob.glob(str(logdir / "a" / "*tfevents*")))[0]
    data = bytearray(open(path, "rb").read())
    data[60] ^= 0xFF
    open(path, "wb").write(bytes(data))
    code, out, err = run_cli(capsys, "verify", str(logdir))
    assert code == 1
    assert f"{path}: CORRUPT at byte offset" in out
    assert "1 of 2 files are damaged" in err
    # The loaders stop with the file and offset, no traceback; --skip-corrupt reads on.
    code, out, err = run_cli(capsys, "export", str(logdir))
    assert code == 1 and path in err and "byte offset" in err and "Traceback" not in err
    code, out, err = run_cli(capsys, "export", str(logdir), "--skip-corrupt")
    assert code == 0 and "skipped" in err


@pytest.mark.parametrize("cmd", ["ls", "export", "hparams", "verify"])
def test_missing_path_is_a_clean_error(cmd, tmp_path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tbwrite", cmd, str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode != 0
    assert "no such file or directory" in out.stderr
    assert "Traceback" not in out.stderr


def test_progress_goes_to_stderr(logdir) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tbwrite", "export", str(logdir), "--progress", "-o", os.devnull],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0 and "[2/2]" in out.stderr and out.stdout == ""
