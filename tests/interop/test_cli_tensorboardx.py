"""The CLI's hparams table of a sweep written by tensorboardX."""

from __future__ import annotations

import json

import pytest

from tbwrite._cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_hparams_table(tmp_path, capsys) -> None:
    from tensorboardX import SummaryWriter as XWriter

    for lr in (0.1, 0.2):
        with XWriter(str(tmp_path / f"lr{lr}")) as w:
            w.add_hparams({"lr": lr}, {"acc": lr * 2}, name="hp")
    code, out, err = run_cli(capsys, "hparams", str(tmp_path))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["run", "status", "lr", "acc"]
    assert lines[1].split() == ["lr0.1/hp", "SUCCESS", "0.1", "0.2"]
    code, out, err = run_cli(capsys, "hparams", str(tmp_path), "--format", "jsonl")
    assert json.loads(out.splitlines()[1])["acc"] == pytest.approx(0.4)  # float32
    code, out, err = run_cli(capsys, "hparams", str(tmp_path), "--format", "csv")
    assert out.splitlines()[0] == "run,status,start_time,end_time,lr,acc"
