"""A log dir deleted or replaced under an open writer: the writer recovers as soon as the
path can be made again, every call that returned is written exactly once, a link planted at
the path is never followed, and the new file shows the run as the old one did."""

from __future__ import annotations

import os
import shutil
import warnings

import pytest

import tbwrite
from tbwrite import SummaryWriter, WriterFailedError

pytestmark = pytest.mark.skipif(os.name != "posix", reason="deletion is noticed on POSIX")


def _steps(logdir: str) -> list[int]:
    runs = tbwrite.read_scalars(logdir)
    return [int(s) for s in runs["."]["loss"].steps] if runs else []


def _log(w: SummaryWriter, steps: range) -> list[int]:
    """Log ``steps``; return those whose call returned (the others raised)."""
    returned = []
    for step in steps:
        try:
            w.add_scalar("loss", float(step), step)
        except WriterFailedError:
            continue
        returned.append(step)
    return returned


def test_recovers_once_the_path_can_be_made_again(tmp_path, past_check_interval) -> None:
    logdir = str(tmp_path / "run")
    w = SummaryWriter(logdir, max_queue=1, flush_secs=3600)
    returned = _log(w, range(5))
    past_check_interval()
    returned += _log(w, range(5, 10))
    shutil.rmtree(logdir)
    with open(logdir, "w") as f:  # the path is taken by a file: no directory can be made
        f.write("x")
    past_check_interval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        returned += _log(w, range(10, 12))
        os.unlink(logdir)
        returned += _log(w, range(12, 20))
        w.close()
    assert returned[:10] == list(range(10))
    # Steps 0-4 were seen in the file before it was deleted (gone with it, as the user
    # asked); every call after that which returned is written, once.
    assert _steps(logdir) == returned[5:], "a call that returned was lost or doubled"


def test_close_reports_what_could_not_be_written_again(tmp_path) -> None:
    logdir = str(tmp_path / "run")
    w = SummaryWriter(logdir, max_queue=1, flush_secs=3600)
    _log(w, range(3))
    shutil.rmtree(logdir)
    with open(logdir, "w") as f:
        f.write("x")
    with pytest.raises(WriterFailedError, match="could not be written again"):
        w.close()


def test_a_link_planted_at_the_path_is_not_followed(tmp_path, past_check_interval) -> None:
    logdir = tmp_path / "run"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    w = SummaryWriter(str(logdir), max_queue=1, flush_secs=3600)
    _log(w, range(3))
    w.flush()
    shutil.rmtree(logdir)
    os.symlink(elsewhere, logdir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        past_check_interval()
        assert _log(w, range(3, 6)) == []  # each call raised: nothing kept
        w.close()  # nothing that returned was lost
    assert os.listdir(elsewhere) == [], "writes followed the planted link"


def test_a_remade_hparams_run_keeps_its_session(tmp_path) -> None:
    logdir = str(tmp_path / "run")
    w = SummaryWriter(logdir, max_queue=1, flush_secs=3600)
    w.add_hparams({"lr": 0.1}, {"loss": None})
    w.add_scalar("loss", 1.0, 0)
    w.flush()
    shutil.rmtree(logdir)
    with pytest.warns(RuntimeWarning, match="deleted"):
        w.add_scalar("loss", 2.0, 1)
        w.close()
    (row,) = tbwrite.read_hparams(logdir).records()
    assert row["lr"] == 0.1 and row["status"] == "SUCCESS"
    assert _steps(logdir) == [1]
