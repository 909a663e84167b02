"""Hostile input: each bad call raises a clear TypeError/ValueError naming the argument (and
showing the value), writes nothing, and leaves the writer usable.

Calls that, unchecked, would allocate gigabytes run in a child process whose address space
is limited, so an unchecked allocation fails fast there instead of taking the machine's
memory; the child reports the exception it got.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from faultlib import REPO

import tbwrite
from tbwrite import SummaryWriter


def _tree(root):
    """Every file under ``root`` with its size (what a rejected call must not change)."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            out[os.path.relpath(path, root)] = os.path.getsize(path)
    return out


def _dirs(root):
    return sorted(os.path.relpath(d, root) for d, _, _ in os.walk(root))


_checks = itertools.count()


def _assert_usable(w, logdir):
    tag = f"after{next(_checks)}"
    w.add_scalar(tag, 1.5, 7)
    w.flush()
    runs = tbwrite.read_scalars(logdir)
    assert runs["."][tag].values.tolist() == [1.5]


def _rejected(w, logdir, call, exc, *words):
    """``call()`` raises ``exc`` whose message holds every one of ``words``; nothing under
    ``logdir`` changes; the writer still logs."""
    w.flush()
    before, dirs = _tree(logdir), _dirs(logdir)
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    w.flush()
    assert _tree(logdir) == before
    assert _dirs(logdir) == dirs
    _assert_usable(w, logdir)
    return info.value


# -- item 9: lone surrogates in add_hparams -------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"hparam_dict": {"lr\ud800": 0.1}}, "hparam_dict"),
        ({"hparam_dict": {"opt": "ad\udcffam"}}, "opt"),
        (
            {"hparam_dict": {"opt": "adam"}, "hparam_domain_discrete": {"opt": ["adam", "\ud800"]}},
            "hparam_domain_discrete",
        ),
        ({"hparam_dict": {"opt": "adam"}, "metric_dict": {"loss\ud800": 1.0}}, "metric_dict"),
    ],
)
def test_add_hparams_lone_surrogate_is_a_value_error_and_keeps_the_session_free(
    tmp_path, kwargs, name
):
    logdir = str(tmp_path)
    w = SummaryWriter(logdir)
    _rejected(w, logdir, lambda: w.add_hparams(**kwargs), ValueError, name, "UTF-8")
    # The run has no session yet: a valid add_hparams works, close writes one end.
    w.add_hparams({"opt": "sgd"}, {"loss": 0.5})
    w.close()
    table = tbwrite.read_hparams(logdir)
    assert len(table) == 1
    row = table.records()[0]
    assert row["opt"] == "sgd"
    assert row["status"] == "SUCCESS"


# -- item 10: sizes and rates that overflow, names the OS refuses ------------------------

_LIMITED_CHILD = textwrap.dedent(
    r"""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    import numpy as np
    from tbwrite import SummaryWriter
    w = SummaryWriter(sys.argv[1])
    calls = {
        "bins": lambda: w.add_histogram("h", np.arange(10.0), bins=10**9),
        "num_thresholds": lambda: w.add_pr_curve(
            "p", np.array([0, 1]), np.array([0.2, 0.8]), num_thresholds=10**9),
        "rescale": lambda: w.add_image_with_boxes(
            "b", np.zeros((3, 8, 8)), np.array([[0, 0, 2, 2]]), rescale=1e5),
        "sample_rate": lambda: w.add_audio("a", np.zeros(10), sample_rate=2**31),
        "fps": lambda: w.add_video("v", np.zeros((1, 2, 3, 4, 4)), fps=1e-9),
    }
    out = {}
    for name, call in calls.items():
        try:
            call()
            out[name] = ["no error", ""]
        except BaseException as err:
            out[name] = [type(err).__name__, str(err)]
    w.add_scalar("after", 1.0, 1)
    w.close()
    print(json.dumps(out))
    """
)


def test_huge_sizes_and_rates_are_value_errors_before_any_allocation(tmp_path):
    logdir = str(tmp_path / "run")
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run(
        [sys.executable, "-c", _LIMITED_CHILD, logdir],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, (kind, message) in got.items():
        assert kind == "ValueError", f"{name}: {kind}: {message}"
        assert name in message, f"{name}: {message}"
    # Nothing of the rejected calls was written; the writer went on.
    runs = tbwrite.read_scalars(logdir)
    assert list(runs["."]) == ["after"]
    assert "h" not in tbwrite.read_histograms(logdir).get(".", {})


def test_add_histogram_raw_non_numeric_buckets_names_the_argument(tmp_path):
    logdir = str(tmp_path)
    w = SummaryWriter(logdir)
    _rejected(
        w,
        logdir,
        lambda: w.add_histogram_raw("h", 0, 1, 2, 1, 1, [0.5, 1.0], ["a", "b"]),
        TypeError,
        "bucket_counts",
    )
    _rejected(
        w,
        logdir,
        lambda: w.add_histogram_raw("h", 0, 1, 2, 1, 1, ["x", 1.0], [1, 1]),
        TypeError,
        "bucket_limits",
    )


def test_embedding_tag_too_long_for_a_directory_name_writes_nothing(tmp_path):
    logdir = str(tmp_path)
    w = SummaryWriter(logdir)
    _rejected(
        w,
        logdir,
        lambda: w.add_embedding(np.ones((3, 2)), tag="t" * 300),
        ValueError,
        "tag",
        "255",
    )


@pytest.mark.parametrize(
    "suffix, words",
    [("a" * 300, ("filename_suffix", "255")), ("a\0b", ("filename_suffix", "NUL"))],
)
def test_filename_suffix_the_os_would_refuse_is_a_value_error_before_any_directory(
    tmp_path, suffix, words
):
    logdir = tmp_path / "new" / "run"
    with pytest.raises(ValueError) as info:
        SummaryWriter(str(logdir), filename_suffix=suffix)
    for word in words:
        assert word in str(info.value)
    assert not (tmp_path / "new").exists()


def test_add_scalars_nul_in_main_tag_blames_main_tag(tmp_path):
    logdir = str(tmp_path)
    w = SummaryWriter(logdir)
    err = _rejected(w, logdir, lambda: w.add_scalars("m\0", {"a": 1.0}), ValueError, "main_tag")
    assert "tag_scalar_dict key" not in str(err)


def test_log_dir_that_is_a_file_is_a_value_error_naming_log_dir(tmp_path):
    path = tmp_path / "afile"
    path.write_bytes(b"keep")
    with pytest.raises(ValueError) as info:
        SummaryWriter(str(path))
    assert "log_dir" in str(info.value) and str(path) in str(info.value)
    assert path.read_bytes() == b"keep"


_EMFILE_CHILD = textwrap.dedent(
    r"""
    import json, os, resource, sys
    import tbwrite
    from tbwrite import SummaryWriter
    SummaryWriter(sys.argv[1] + "-warm-up").close()  # every lazy import done
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    held = []
    try:
        while True:
            held.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
    try:
        SummaryWriter(sys.argv[1])
        out = ["no error", "", False]
    except BaseException as err:
        out = [type(err).__name__, str(err), isinstance(err, tbwrite.WriterFailedError)]
    for fd in held:
        os.close(fd)
    print(json.dumps(out))
    """
)


def test_too_many_open_files_is_a_writer_failed_error_naming_the_log_dir(tmp_path):
    logdir = str(tmp_path / "run")
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run(
        [sys.executable, "-c", _EMFILE_CHILD, logdir],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    kind, message, failed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert failed, f"{kind}: {message}"
    assert logdir in message and "open files" in message.lower(), message
    assert not [f for f in os.listdir(logdir) if f.startswith("events.out")]


# -- item 11: empty embedding labels ---------------------------------------------------------


@pytest.mark.parametrize(
    "metadata, header",
    [
        (["a", "", "c"], None),
        (["a", "  ", "c"], None),
        ([["a", "x"], [" ", ""], ["c", "z"]], ["name", "kind"]),
    ],
)
def test_empty_or_blank_embedding_labels_are_refused(tmp_path, metadata, header):
    logdir = str(tmp_path)
    w = SummaryWriter(logdir)
    _rejected(
        w,
        logdir,
        lambda: w.add_embedding(np.ones((3, 2)), metadata=metadata, metadata_header=header),
        ValueError,
        "metadata[1]",
    )


def test_blank_metadata_header_is_refused(tmp_path):
    logdir = str(tmp_path)
    w = SummaryWriter(logdir)
    _rejected(
        w,
        logdir,
        lambda: w.add_embedding(
            np.ones((2, 2)), metadata=[["a", "x"], ["b", "y"]], metadata_header=[" ", ""]
        ),
        ValueError,
        "metadata_header",
    )


def test_one_blank_cell_of_a_row_is_kept(tmp_path):
    # The projector drops blank lines only: a row with one blank column is a line.
    logdir = str(tmp_path)
    w = SummaryWriter(logdir)
    w.add_embedding(
        np.ones((2, 2)), metadata=[["a", ""], ["b", "y"]], metadata_header=["name", "kind"]
    )
    w.close()
    (path,) = [
        os.path.join(d, f) for d, _, fs in os.walk(logdir) for f in fs if f == "metadata.tsv"
    ]
    with open(path, encoding="utf-8") as f:
        assert f.read() == "name\tkind\na\t\nb\ty\n"


# -- item 12: add_image with HWC pixels and the default CHW ----------------------------------


def test_add_image_hwc_with_default_chw_names_the_shape_and_suggests_hwc(tmp_path):
    logdir = str(tmp_path)
    w = SummaryWriter(logdir)
    # An HWC image (height 5, width 5, 3 channels) read as CHW has 5 "channels".
    err = _rejected(
        w, logdir, lambda: w.add_image("i", np.zeros((5, 5, 3))), ValueError, "(5, 5, 3)"
    )
    assert 'dataformats="HWC"' in str(err) or "dataformats='HWC'" in str(err)
    err = _rejected(
        w,
        logdir,
        lambda: w.add_images("i", np.zeros((2, 5, 5, 3))),
        ValueError,
        "(2, 5, 5, 3)",
    )
    assert "dataformats='NHWC'" in str(err)


def test_add_hparams_that_failed_to_write_leaves_the_run_free(tmp_path, monkeypatch):
    # A write error (here a simulated disk error on the run's file) raises and keeps
    # nothing; the run has no session, and a later add_hparams makes one.
    logdir = str(tmp_path)
    w = SummaryWriter(logdir, max_queue=1)
    real_write = os.write
    failing = {"on": True}

    def write(fd, data):
        if failing["on"]:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(tbwrite.WriterFailedError):
        w.add_hparams({"lr": 0.1})
    failing["on"] = False
    w.add_hparams({"lr": 0.2})
    w.close()
    (row,) = tbwrite.read_hparams(logdir).records()
    assert row["lr"] == 0.2 and row["status"] == "SUCCESS"


def test_add_hparams_start_time_is_the_sessions_start_and_checked(tmp_path):
    # For runs logged after the fact (Optuna's finished trials): the session starts when
    # given; a bad value names start_time and leaves the session free.
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(ValueError, match="start_time"):
            w.add_hparams({"lr": 0.1}, start_time=float("nan"))
        w.add_hparams({"lr": 0.1}, start_time=1_600_000_000.5)
        w.set_status("success", end_time=1_600_000_100.0)
    [row] = tbwrite.read_hparams(tmp_path)
    assert (row.start_time, row.end_time) == (1_600_000_000.5, 1_600_000_100.0)
    assert row.hparams == {"lr": 0.1}
