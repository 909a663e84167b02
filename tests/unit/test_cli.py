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
    size = target.stat().st_size
    # The data went to the file; the terminal is told what went where.
    said = (
        f"wrote 8 scalar points (4 series of 2 runs), one per row to {target} (jsonl, {size} bytes)"
    )
    assert code == 0 and out == said + "\n"
    recs = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(recs) == 8
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
    assert "1 of 2 files are damaged or unreadable" in err
    # The loaders stop with the file and offset, no traceback; --skip-corrupt reads on.
    code, out, err = run_cli(capsys, "export", str(logdir))
    assert code == 1 and path in err and "byte offset" in err and "Traceback" not in err
    code, out, err = run_cli(capsys, "export", str(logdir), "--skip-corrupt")
    assert code == 0 and "skipped" in err


def test_verify_reports_every_failure_and_fails_at_the_end(logdir, capsys, monkeypatch) -> None:
    import tbwrite._reading.records as records

    unreadable = sorted(glob.glob(str(logdir / "a" / "*tfevents*")))[0]
    damaged = sorted(glob.glob(str(logdir / "b" / "c" / "*tfevents*")))[0]
    data = bytearray(open(damaged, "rb").read())
    data[60] ^= 0xFF
    open(damaged, "wb").write(bytes(data))
    real = records.verify_file

    def verify_file(path: str) -> records.FileCheck:
        if path == unreadable:
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    # (Root reads files whatever their mode, so the unreadable file is simulated.)
    monkeypatch.setattr(records, "verify_file", verify_file)
    code, out, err = run_cli(capsys, "verify", str(logdir / "a"), str(logdir / "b"))
    assert code == 1 and "Traceback" not in err
    assert f"{unreadable}: UNREADABLE: Permission denied" in out
    assert f"{damaged}: CORRUPT at byte offset" in out
    assert "2 of 2 files are damaged or unreadable" in err


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
    # Progress goes to stderr; stdout has only the closing line about the file written.
    assert out.returncode == 0 and "[2/2]" in out.stderr and "[2/2]" not in out.stdout
    assert out.stdout.startswith("wrote 8 scalar points") and out.stdout.count("\n") == 1


def _demo_in_child(tmp_path, hide_tensorboard: bool) -> str:
    # The environment of README's first command: tbwrite alone, no tensorboard.
    blocker = (
        "import sys, importlib.abc\n"
        "class Hide(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'tensorboard':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        if hide_tensorboard
        else ""
    )
    code = blocker + "from tbwrite._cli import main\nraise SystemExit(main(['demo', 'my demo']))\n"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_demo_hint_works_where_the_demo_ran(tmp_path) -> None:
    out = _demo_in_child(tmp_path, hide_tensorboard=True)
    lines = [line.strip() for line in out.splitlines()]
    # Without tensorboard the hint installs it first; the log dir is quoted for the shell.
    assert lines.index("pip install tensorboard") < lines.index("tensorboard --logdir 'my demo'")
    ls_line = lines.index("python -m tbwrite ls 'my demo'")
    # The terminal view it offers runs as printed and shows the demo's runs.
    shown = subprocess.run(
        [sys.executable, "-m", "tbwrite", "ls", "my demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ls_line >= 0 and shown.returncode == 0, shown.stderr
    assert "loss/train" in shown.stdout or "loss" in shown.stdout


def test_demo_hint_skips_the_install_where_tensorboard_is(tmp_path) -> None:
    pytest.importorskip("tensorboard")
    out = _demo_in_child(tmp_path, hide_tensorboard=False)
    assert "pip install tensorboard" not in out
    assert "tensorboard --logdir 'my demo'" in out


def test_hparams_to_a_file_says_what_it_wrote(tmp_path, capsys) -> None:
    for lr in (0.1, 0.2):
        with tbwrite.SummaryWriter(tmp_path / "sweep" / f"lr={lr}") as w:
            w.add_hparams({"lr": lr}, {"loss": 1.0})
    target = tmp_path / "table.csv"
    code, out, err = run_cli(
        capsys, "hparams", str(tmp_path / "sweep"), "--format", "csv", "-o", str(target)
    )
    rows = list(csv.reader(target.open()))
    assert code == 0, err
    assert len(rows) == 3 and "lr" in rows[0]
    size = target.stat().st_size
    assert out == f"wrote 2 sessions, one per row to {target} (csv, {size} bytes)\n"


def test_ls_lists_every_kind(tmp_path, capsys) -> None:
    # Images, audio, PR curves, meshes and plain tensors are listed with their counts and
    # steps (the readers do not decode them, but a listing without them would hide them).
    import numpy as np

    from tbwrite import SummaryWriter

    with SummaryWriter(str(tmp_path / "r")) as w:
        for step in (3, 7):
            w.add_image("img", np.zeros((3, 4, 4), dtype=np.uint8), step)
        w.add_audio("snd", np.zeros(800, dtype=np.float32), 5, sample_rate=8000)
        w.add_pr_curve("pr", np.array([0, 1, 1]), np.array([0.1, 0.8, 0.6]), 9)
        w.add_mesh("m", np.zeros((1, 3, 3), dtype=np.float32), global_step=2)
        w.add_hparams({"lr": 0.1}, {"hp/acc": 1.0})
    code, out, err = run_cli(capsys, "ls", str(tmp_path), "--no-spark")
    assert code == 0, err
    rows = {tuple(line.split()[1:5]) for line in out.splitlines()[1:]}
    assert ("img", "images", "2", "3..7") in rows
    assert ("snd", "audio", "1", "5..5") in rows
    assert ("pr", "pr_curves", "1", "9..9") in rows
    assert any(r[1] == "mesh" and r[0].startswith("m_") for r in rows), rows
    assert not any(r[1] == "hparams" for r in rows)


def test_verify_prints_each_path_once(logdir, capsys) -> None:
    # With --progress and per-file verdicts, the progress line would repeat every path.
    code, out, err = run_cli(capsys, "verify", "--progress", str(logdir))
    assert code == 0, err
    for path in glob.glob(str(logdir / "**" / "events.out.tfevents.*"), recursive=True):
        assert (out + err).count(path) == 1, (out, err)


def test_series_repr_counts_in_english() -> None:
    import numpy as np

    one = tbwrite.Series(np.array([1]), np.array([1.0]), np.array([0.5]))
    three = tbwrite.Series(np.arange(3), np.zeros(3), np.zeros(3))
    assert repr(one) == "<Series of 1 point>"
    assert repr(three) == "<Series of 3 points>"
