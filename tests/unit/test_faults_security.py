"""Never write outside the log dir or through a planted link; never echo control
characters from files to the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from faultlib import REPO

import tbwrite
from tbwrite import SummaryWriter


def _files(root):
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files
    )


# -- item 15: symlinks -----------------------------------------------------------------------


def test_add_scalars_refuses_a_sub_run_that_is_a_link_out_of_the_log_dir(tmp_path):
    logdir, outside = tmp_path / "run", tmp_path / "outside"
    logdir.mkdir()
    outside.mkdir()
    os.symlink(outside, logdir / "loss_train")
    w = SummaryWriter(str(logdir))
    with pytest.raises(ValueError) as info:
        w.add_scalars("loss", {"train": 1.0, "val": 2.0})
    assert "tag_scalar_dict key 'train'" in str(info.value)
    assert "outside the log dir" in str(info.value)
    assert os.listdir(outside) == []
    assert not (logdir / "loss_val").exists()  # the whole call wrote nothing
    w.add_scalars("loss", {"val": 2.0}, 1)  # the writer goes on
    w.close()
    assert tbwrite.read_scalars(str(logdir))["loss_val"]["loss"].values.tolist() == [2.0]


def test_add_hparams_run_name_refuses_a_link_out_of_the_log_dir(tmp_path):
    logdir, outside = tmp_path / "run", tmp_path / "outside"
    logdir.mkdir()
    outside.mkdir()
    os.symlink(outside, logdir / "trial")
    w = SummaryWriter(str(logdir))
    with pytest.raises(ValueError) as info:
        w.add_hparams({"lr": 0.1}, {"loss": 1.0}, run_name="trial")
    assert "run_name" in str(info.value)
    assert os.listdir(outside) == []
    w.close()


@pytest.mark.parametrize("link", ["00000", "00000/default"])
def test_add_embedding_refuses_a_directory_link_out_of_the_log_dir(tmp_path, link):
    logdir, outside = tmp_path / "run", tmp_path / "outside"
    (logdir / os.path.dirname(link)).mkdir(parents=True) if "/" in link else logdir.mkdir()
    outside.mkdir()
    os.symlink(outside, logdir / link)
    w = SummaryWriter(str(logdir))
    with pytest.raises(ValueError) as info:
        w.add_embedding(np.ones((3, 2)), metadata=["a", "b", "c"])
    assert "outside the log dir" in str(info.value)
    assert os.listdir(outside) == []
    assert not (logdir / "projector_config.pbtxt").exists()
    w.close()


def _projector_temp_names(logdir):
    """The temporary names today's projector writer would use in this thread."""
    suffix = f".tmp.{os.getpid()}.{threading.get_ident()}"
    return [
        os.path.join(logdir, "projector_config.pbtxt" + suffix),
        os.path.join(logdir, "00000", "default", "tensors.tsv" + suffix),
        os.path.join(logdir, "00000", "default", "metadata.tsv" + suffix),
    ]


def test_add_embedding_never_writes_through_a_planted_temp_file_link(tmp_path):
    logdir = tmp_path / "run"
    (logdir / "00000" / "default").mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    for name in _projector_temp_names(str(logdir)):
        os.symlink(victim, name)
    w = SummaryWriter(str(logdir))
    w.add_embedding(np.ones((3, 2)), metadata=["a", "b", "c"])
    w.close()
    assert victim.read_bytes() == b"precious"
    assert (logdir / "00000" / "default" / "tensors.tsv").read_bytes().count(b"\n") == 3
    assert b"default:00000" in (logdir / "projector_config.pbtxt").read_bytes()


def test_add_embedding_never_reads_a_symlinked_projector_config(tmp_path):
    logdir = tmp_path / "run"
    logdir.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"password: hunter2\n")
    os.symlink(secret, logdir / "projector_config.pbtxt")
    w = SummaryWriter(str(logdir))
    with pytest.raises(ValueError) as info:
        w.add_embedding(np.ones((3, 2)))
    assert "projector_config.pbtxt" in str(info.value)
    assert "link" in str(info.value)
    assert "hunter2" not in str(info.value) and "password" not in str(info.value)
    assert secret.read_bytes() == b"password: hunter2\n"
    assert os.path.islink(logdir / "projector_config.pbtxt")
    w.close()


# -- item 16: control characters in CLI output -----------------------------------------------

EVIL_TAG = "loss\x1b]0;owned\x07\rfake"
EVIL_RUN = "run\x1b[2J"
EVIL_VALUE = "adam\x1b[31m\r"


@pytest.fixture
def evil_logdir(tmp_path):
    logdir = tmp_path / "logs"
    with SummaryWriter(str(logdir / EVIL_RUN)) as w:
        w.add_hparams({"opt": EVIL_VALUE}, {EVIL_TAG: 1.0})
        w.add_scalar(EVIL_TAG, 1.0, 1)
    return str(logdir)


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run(
        [sys.executable, "-m", "tbwrite", *args],
        capture_output=True,
        timeout=60,
        env=env,
    )


@pytest.mark.parametrize("command", [["ls"], ["hparams"], ["verify"]])
def test_cli_escapes_control_characters_of_names_and_values(evil_logdir, command):
    proc = _cli(*command, evil_logdir)
    assert proc.returncode == 0, proc.stderr
    for stream in (proc.stdout, proc.stderr):
        assert not any(b < 0x20 and b not in (0x0A,) or b == 0x7F for b in stream), stream
    assert b"\\x1b" in proc.stdout  # shown escaped, not dropped


def test_cli_escapes_control_characters_in_messages(tmp_path):
    empty = tmp_path / "empty\x1b[2J"
    empty.mkdir()
    (empty / "events.out.tfevents.1.h.1.0").write_bytes(b"")
    proc = _cli("ls", str(empty))
    assert b"\x1b" not in proc.stderr and b"\x1b" not in proc.stdout
    assert b"\\x1b" in proc.stderr


def test_sub_runs_of_a_file_url_log_dir_stay_allowed(tmp_path):
    # The link check resolves the local path of a file:// log dir, not the URL text.
    logdir = tmp_path / "run"
    with SummaryWriter(f"file://{logdir}") as w:
        w.add_scalars("m", {"a": 1.0}, 0)
        w.add_hparams({"lr": 0.1}, {"loss": 1.0}, run_name="trial")
    assert sorted(tbwrite.read_scalars(str(logdir))) == ["m_a", "trial"]
