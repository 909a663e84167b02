"""Malformed records with valid checksums: the readers raise CorruptRecordError (or skip
them with on_corrupt="skip"), never another error, and never allocate more memory than the
bytes present justify."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from faultlib import REPO

import tbwrite
from tbwrite import SummaryWriter, frame
from tbwrite._proto import event_pb2, summary_pb2

READERS = [tbwrite.read_scalars, tbwrite.read_histograms, tbwrite.read_text, tbwrite.read_hparams]


def _append_event(logdir, event):
    """A run with one good scalar (step 1), then ``event`` framed with valid checksums."""
    with SummaryWriter(logdir) as w:
        w.add_scalar("good", 2.5, 1)
    (name,) = [f for f in os.listdir(logdir) if f.startswith("events.out")]
    with open(os.path.join(logdir, name), "ab") as f:
        f.write(frame(event.SerializeToString()))


# bucket_limit and bucket are parallel lists (the right edge and count of each bucket): a
# histogram whose lists differ in length is malformed, whatever its counts.
RAGGED = [([1.0], [1, 1, 1]), ([1.0, 2.0], [1, 1, 1]), ([1.0, 2.0, 3.0], [0, 2])]


def _ragged_histogram_event(limits=RAGGED[0][0], counts=RAGGED[0][1]):
    histo = summary_pb2.HistogramProto(
        min=0.0, max=3.0, num=3, sum=3.0, sum_squares=5.0, bucket_limit=limits, bucket=counts
    )
    return event_pb2.Event(
        wall_time=1.0, step=2, summary=summary_pb2.Summary(value=[{"tag": "h", "histo": histo}])
    )


@pytest.mark.parametrize("limits, counts", RAGGED)
@pytest.mark.parametrize("read", READERS, ids=lambda f: f.__name__)
def test_ragged_legacy_histogram_is_a_corrupt_record(tmp_path, read, limits, counts):
    logdir = str(tmp_path)
    _append_event(logdir, _ragged_histogram_event(limits, counts))
    with pytest.raises(tbwrite.CorruptRecordError) as info:
        read(logdir)
    assert "histogram" in str(info.value)


def test_ragged_legacy_histogram_is_skipped_on_request(tmp_path):
    logdir = str(tmp_path)
    _append_event(logdir, _ragged_histogram_event())
    with pytest.warns(RuntimeWarning, match="malformed histogram"):
        runs = tbwrite.read_scalars(logdir, on_corrupt="skip")
    assert runs["."]["good"].values.tolist() == [2.5]
    assert len(runs.skipped) == 1
    with pytest.warns(RuntimeWarning, match="malformed histogram"):
        histograms = tbwrite.read_histograms(logdir, on_corrupt="skip")
    assert "h" not in histograms.get(".", {})


def test_cli_ls_reports_a_ragged_histogram_as_damage(tmp_path):
    logdir = str(tmp_path)
    _append_event(logdir, _ragged_histogram_event())
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run(
        [sys.executable, "-m", "tbwrite", "ls", "--skip-corrupt", logdir],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "good" in proc.stdout
    assert "skipped" in proc.stderr


# A 118-byte-or-so file: a scalar tensor that declares 2**28 (or 2**31) float32 elements
# but holds one value. Read in a child whose address space may grow by 1 GiB at most: a
# reader that fills the declared shape dies of MemoryError there. The limit counts from
# the address space the interpreter already holds: a free-threaded CPython (3.13t) reserves
# about 1 GiB for its allocator (mimalloc) at start, a default build some 15 MB.
_CHILD = textwrap.dedent(
    r"""
    import json, resource, sys, warnings
    with open("/proc/self/status") as f:
        held = next(int(l.split()[1]) for l in f if l.startswith("VmSize:")) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (held + (1 << 30), held + (1 << 30)))
    import tbwrite
    out = {}
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        for name in ("read_scalars", "read_histograms", "read_text"):
            try:
                got = getattr(tbwrite, name)(sys.argv[1])
                out[name] = ["ok", sorted(got.get(".", {}))]
            except BaseException as err:
                out[name] = [type(err).__name__, str(err)[:300]]
    # This process's own peak (VmHWM): ru_maxrss would count the parent's RSS at fork time,
    # which Linux carries across exec.
    with open("/proc/self/status") as f:
        out["maxrss_kib"] = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    print(json.dumps(out))
    """
)


def _huge_tensor_event(size, plugin):
    from tbwrite._proto import tensor_pb2

    shape = tensor_pb2.TensorShapeProto(dim=[{"size": size}])
    tensor = tensor_pb2.TensorProto(dtype=1, tensor_shape=shape, float_val=[1.0])
    metadata = summary_pb2.SummaryMetadata(plugin_data={"plugin_name": plugin})
    return event_pb2.Event(
        wall_time=1.0,
        step=2,
        summary=summary_pb2.Summary(
            value=[{"tag": "huge", "tensor": tensor, "metadata": metadata}]
        ),
    )


@pytest.mark.parametrize("size", [2**28, 2**31])
@pytest.mark.parametrize("plugin", ["scalars", "histograms"])
def test_declared_tensor_size_does_not_drive_memory(tmp_path, size, plugin):
    logdir = str(tmp_path)
    _append_event(logdir, _huge_tensor_event(size, plugin))
    assert sum(os.path.getsize(os.path.join(logdir, f)) for f in os.listdir(logdir)) < 400
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, logdir],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("read_scalars", "read_histograms", "read_text"):
        assert out[name][0] == "ok", f"{name}: {out[name]}"
    assert "good" in out["read_scalars"][1]
    # Imports (numpy, protobuf) take ~100 MB; a filled tensor would take 1 GiB or more.
    assert out["maxrss_kib"] < 400 * 1024, out["maxrss_kib"]


def test_cli_ls_on_damage_suggests_skip_corrupt(tmp_path):
    logdir = str(tmp_path)
    _append_event(logdir, _ragged_histogram_event())
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run(
        [sys.executable, "-m", "tbwrite", "ls", logdir],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode != 0
    assert "--skip-corrupt" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
