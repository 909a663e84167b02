"""tbwrite's reader: files from tbwrite, tensorboardX and torch read back exactly, checked
against TensorBoard's own EventAccumulator; damaged files raise or are skipped precisely."""

from __future__ import annotations

import glob
import os
import struct
import threading
import time
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from readback import ALL, accumulator
from tensorboard.backend.event_processing import event_accumulator as ea_module
from tensorboard.backend.event_processing import plugin_event_accumulator as pea_module

import tbwrite
from tbwrite import CorruptRecordError, frame
from tbwrite._format.wire import file_version_event


def files_of(run_dir) -> list[str]:
    return sorted(glob.glob(os.path.join(str(run_dir), "*tfevents*")))


def assert_series_equal_ea(series, ea_events) -> None:
    assert series.steps.tolist() == [e.step for e in ea_events]
    assert series.wall_times.tolist() == [e.wall_time for e in ea_events]
    np.testing.assert_array_equal(series.values, [e.value for e in ea_events])


# -- tbwrite's own files ----------------------------------------------------------------------


def test_scalars_histograms_text_match_event_accumulator(tmp_path) -> None:
    run = tmp_path / "run"
    with tbwrite.SummaryWriter(run, histogram_form="tensor") as w:
        for step in range(50):
            w.add_scalar("loss", 1.0 / (step + 1), step)
            w.add_scalar("acc", step * 0.01, step, new_style=True)
            if step % 10 == 0:
                w.add_histogram("w", np.arange(step + 5.0), step)
                w.add_text("note", f"step **{step}**", step)
        w.add_scalar("nan", float("nan"), 1)
        w.add_scalar("big", -(2**40), -5)
    acc = accumulator(run)
    scalars = tbwrite.read_scalars(tmp_path)
    assert list(scalars) == ["run"]
    assert_series_equal_ea(scalars["run"]["loss"], acc.Scalars("loss"))
    acc_tensor = acc.Tensors("acc")
    s = scalars["run"]["acc"]
    assert s.steps.tolist() == [e.step for e in acc_tensor]
    assert s.values.tolist() == [float(np.float32(e.tensor_proto.float_val[0])) for e in acc_tensor]
    assert np.isnan(scalars["run"]["nan"].values[0])
    assert scalars["run"]["big"].steps.tolist() == [-5]
    assert scalars["run"]["big"].values.tolist() == [-(2.0**40)]
    assert s.steps.dtype == np.int64 and s.values.dtype == np.float64

    hist = tbwrite.read_histograms(tmp_path)["run"]["w"]
    from tensorboard.util import tensor_util

    expected = [tensor_util.make_ndarray(e.tensor_proto) for e in acc.Tensors("w")]
    assert hist.steps.tolist() == [0, 10, 20, 30, 40]
    for got, want in zip(hist.values, expected):
        np.testing.assert_array_equal(got, want)
    text = tbwrite.read_text(tmp_path)["run"]["note"]
    assert text.values == [f"step **{i}**" for i in range(0, 50, 10)]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    points=st.lists(
        st.tuples(
            st.sampled_from(["a", "loss/train", "ü/β", "x" * 90]),
            st.floats(width=32, allow_nan=False),
            st.integers(-(2**63), 2**63 - 1),
            st.floats(0, 4e9),
        ),
        max_size=60,
    )
)
def test_round_trip_random_series(tmp_path_factory, points) -> None:
    root = tmp_path_factory.mktemp("rt")
    with tbwrite.SummaryWriter(root / "r") as w:
        for tag, value, step, wall in points:
            w.add_scalar(tag, value, step, walltime=wall)
    got = tbwrite.read_scalars(root).get("r", {})
    for tag in {p[0] for p in points}:
        mine = [p for p in points if p[0] == tag]
        s = got[tag]
        assert s.steps.tolist() == [p[2] for p in mine]
        assert s.values.tolist() == [p[1] for p in mine]
        assert s.wall_times.tolist() == [p[3] for p in mine]
    assert set(got) == {p[0] for p in points}


def test_runs_are_found_recursively_and_named_like_tensorboard(tmp_path) -> None:
    for name in ("b", "a/x", "a"):
        with tbwrite.SummaryWriter(tmp_path / name) as w:
            w.add_scalar("v", 1.0, 1)
    with tbwrite.SummaryWriter(tmp_path) as w:
        w.add_scalar("root", 2.0, 2)
    runs = tbwrite.read_scalars(tmp_path)
    assert list(runs) == [".", "a", "a/x", "b"]
    assert runs["."]["root"].values.tolist() == [2.0]
    one_file = files_of(tmp_path / "a")[0]
    assert list(tbwrite.read_scalars(one_file)) == ["."]
    with pytest.raises(FileNotFoundError):
        tbwrite.read_scalars(tmp_path / "missing")


def test_files_of_a_run_in_name_order(tmp_path) -> None:
    for i in range(3):
        with tbwrite.SummaryWriter(tmp_path, filename_suffix=f".{i}") as w:
            w.add_scalar("v", float(i), i)
    assert tbwrite.read_scalars(tmp_path)["."]["v"].values.tolist() == [0.0, 1.0, 2.0]


def test_many_points_and_chunk_boundaries(tmp_path, monkeypatch) -> None:
    from tbwrite._reading import records as _reader

    monkeypatch.setattr(_reader, "CHUNK_SIZE", 997)
    with tbwrite.SummaryWriter(tmp_path, max_queue=1000) as w:
        for i in range(3000):
            w.add_scalar(f"t{i % 7}", i * 0.5, i)
        w.add_text("long", "y" * 5000, 1)  # one record larger than a chunk
    runs = tbwrite.read_scalars(tmp_path)["."]
    assert sum(len(s) for s in runs.values()) == 3000
    assert runs["t3"].steps.tolist() == list(range(3, 3000, 7))
    assert tbwrite.read_text(tmp_path)["."]["long"].values == ["y" * 5000]


def test_to_pandas(tmp_path) -> None:
    pd = pytest.importorskip("pandas")
    with tbwrite.SummaryWriter(tmp_path / "r") as w:
        w.add_scalar("a", 1.5, 3)
        w.add_scalar("b", 2.5, 4)
    runs = tbwrite.read_scalars(tmp_path)
    df = runs.to_pandas()
    assert list(df.columns) == ["run", "tag", "step", "wall_time", "value"]
    assert df[["run", "tag", "step", "value"]].values.tolist() == [
        ["r", "a", 3, 1.5],
        ["r", "b", 4, 2.5],
    ]
    assert isinstance(runs["r"]["a"].to_pandas(), pd.DataFrame)


# -- other writers ----------------------------------------------------------------------------


def test_tensorboardx_files(tmp_path) -> None:
    from tensorboardX import SummaryWriter as XWriter

    run = tmp_path / "x"
    with XWriter(str(run)) as w:
        for step in range(20):
            w.add_scalar("loss", 0.5**step, step)
        w.add_histogram("h", np.random.default_rng(0).normal(size=100), 3)
        w.add_text("t", "hello", 2)
        w.add_hparams({"lr": 0.1, "opt": "adam", "flag": True}, {"hp/acc": 0.75}, name="sub")
    acc = accumulator(run)
    runs = tbwrite.read_scalars(tmp_path)
    assert_series_equal_ea(runs["x"]["loss"], acc.Scalars("loss"))
    hist = tbwrite.read_histograms(tmp_path)["x"]["h"]
    legacy = acc.Histograms("h")[0].histogram_value
    got = hist.values[0]
    assert got[:, 2].sum() == legacy.num == 100
    assert got[0, 0] == legacy.min and got[-1, 1] == legacy.max
    assert tbwrite.read_text(tmp_path)["x"]["t/text_summary"].values == ["hello"]

    table = tbwrite.read_hparams(tmp_path)
    assert [r.run for r in table] == ["x/sub"]
    row = table[0]
    assert row.hparams == {"flag": True, "lr": 0.1, "opt": "adam"}
    assert row.metrics == {"hp/acc": 0.75}
    assert row.status == "SUCCESS"


def test_torch_files(tmp_path) -> None:
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    run = tmp_path / "t"
    w = torch_tb.SummaryWriter(str(run))
    for step in range(10):
        w.add_scalar("plain", step * 1.5, step)
        w.add_scalar("new", step * 2.5, step, new_style=True)
        w.add_scalar("dbl", step / 3, step, new_style=True, double_precision=True)
    w.add_histogram("h", np.arange(10.0), 1)
    w.add_hparams({"lr": 0.01, "bs": 32}, {"m": 0.5}, run_name="hp")
    w.close()
    runs = tbwrite.read_scalars(tmp_path)["t"]
    assert runs["plain"].values.tolist() == [s * 1.5 for s in range(10)]
    assert runs["new"].values.tolist() == [s * 2.5 for s in range(10)]
    assert runs["dbl"].values.tolist() == [s / 3 for s in range(10)]
    assert tbwrite.read_histograms(tmp_path)["t"]["h"].values[0][:, 2].sum() == 10
    table = tbwrite.read_hparams(tmp_path)
    assert [r.run for r in table] == ["t/hp"] and table[0].metrics == {"m": 0.5}


# -- hparams ----------------------------------------------------------------------------------


def _hparams_event(tag: str, field: str, message) -> bytes:
    from tbwrite._proto import event_pb2, hparams_pb2, summary_pb2

    pdata = hparams_pb2.HParamsPluginData(version=0)
    getattr(pdata, field).CopyFrom(message)
    value = summary_pb2.Summary.Value(tag=tag)
    value.metadata.plugin_data.plugin_name = "hparams"
    value.metadata.plugin_data.content = pdata.SerializeToString()
    return event_pb2.Event(
        wall_time=1.0, summary=summary_pb2.Summary(value=[value])
    ).SerializeToString()


def _write_records(path, payloads) -> None:
    with open(path, "wb") as f:
        f.write(frame(file_version_event(1.0)))
        for p in payloads:
            f.write(frame(p))


def test_hparams_sessions_latest_metric_and_sub_run_groups(tmp_path) -> None:
    from tbwrite._proto import hparams_pb2

    for i, status in enumerate((1, 2, None)):
        run = tmp_path / f"s{i}"
        run.mkdir()
        start = hparams_pb2.SessionStartInfo(start_time_secs=100.0 + i)
        start.hparams["lr"].number_value = 0.1 * (i + 1)
        start.hparams["name"].string_value = f"n{i}"
        records = [_hparams_event("_hparams_/session_start_info", "session_start_info", start)]
        if status is not None:
            end = hparams_pb2.SessionEndInfo(status=status, end_time_secs=200.0 + i)
            records.append(_hparams_event("_hparams_/session_end_info", "session_end_info", end))
        _write_records(run / "events.out.tfevents.0.h", records)
        with tbwrite.SummaryWriter(run) as w:
            for step in (1, 5, 3):  # the last written wins, as in TensorBoard
                w.add_scalar("loss", step * 10.0 + i, step)
        with tbwrite.SummaryWriter(run / "eval") as w:
            w.add_scalar("acc", 0.5 + i, 7)
    with tbwrite.SummaryWriter(tmp_path / "not_a_session") as w:
        w.add_scalar("other", 1.0, 1)

    table = tbwrite.read_hparams(tmp_path)
    assert [r.run for r in table] == ["s0", "s1", "s2"]
    assert table.metric_names == ["eval/acc", "loss"]
    assert table.hparam_names == ["lr", "name"]
    assert [r.status for r in table] == ["SUCCESS", "FAILURE", "UNKNOWN"]
    assert table[1].metrics == {"loss": 31.0, "eval/acc": 1.5}
    assert table[1].metric_steps["loss"] == 3
    assert table[2].start_time == 102.0 and table[2].end_time is None
    assert table[0].hparams == {"lr": 0.1, "name": "n0"}
    pytest.importorskip("pandas")
    df = table.to_pandas()
    assert list(df.columns) == [
        "run",
        "status",
        "start_time",
        "end_time",
        "lr",
        "name",
        "eval/acc",
        "loss",
    ]


def test_hparams_experiment_declares_metrics(tmp_path) -> None:
    from tbwrite._proto import hparams_pb2

    exp = hparams_pb2.Experiment()
    exp.hparam_infos.add(name="lr")
    exp.metric_infos.add().name.tag = "loss"
    _write_records(
        tmp_path / "events.out.tfevents.0.h",
        [_hparams_event("_hparams_/experiment", "experiment", exp)],
    )
    start = hparams_pb2.SessionStartInfo()
    start.hparams["lr"].number_value = 0.5
    (tmp_path / "r").mkdir()
    _write_records(
        tmp_path / "r" / "events.out.tfevents.0.h",
        [_hparams_event("_hparams_/session_start_info", "session_start_info", start)],
    )
    with tbwrite.SummaryWriter(tmp_path / "r") as w:
        w.add_scalar("loss", 2.0, 1)
        w.add_scalar("undeclared", 3.0, 1)
    table = tbwrite.read_hparams(tmp_path)
    assert table.metric_names == ["loss"]
    assert table[0].metrics == {"loss": 2.0}
    assert table.experiment is not None


# -- purge ------------------------------------------------------------------------------------


def test_purge_on_restart_matches_tensorboard(tmp_path) -> None:
    # TensorBoard's loader ignores the first SessionLog.START of a run: only a restart purges.
    with tbwrite.SummaryWriter(tmp_path, purge_step=0, filename_suffix=".a") as w:
        for step in range(10):
            w.add_scalar("loss", float(step), step)
            w.add_scalar("acc", float(step), step)
    with tbwrite.SummaryWriter(tmp_path, purge_step=6, filename_suffix=".b") as w:
        for step in range(6, 9):
            w.add_scalar("loss", 100.0 + step, step)
    raw = tbwrite.read_scalars(tmp_path)["."]
    assert raw["loss"].steps.tolist() == list(range(10)) + [6, 7, 8]
    purged = tbwrite.read_scalars(tmp_path, purge=True)["."]
    pea = pea_module.EventAccumulator(str(tmp_path), size_guidance={pea_module.TENSORS: 0})
    pea.Reload()
    for tag in ("loss", "acc"):
        want = pea.Tensors(tag)
        assert purged[tag].steps.tolist() == [e.step for e in want]
        assert purged[tag].values.tolist() == [float(e.tensor_proto.float_val[0]) for e in want]
    assert purged["loss"].steps.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert purged["acc"].steps.tolist() == [0, 1, 2, 3, 4, 5]


def test_purge_out_of_order_steps_without_file_version(tmp_path) -> None:
    from tbwrite._format.fast_scalars import ScalarEncoder

    enc = ScalarEncoder()
    steps = [("a", 1), ("b", 1), ("a", 5), ("b", 5), ("a", 3), ("b", 6)]
    with open(tmp_path / "events.out.tfevents.0.old", "wb") as f:
        for tag, step in steps:
            f.write(frame(enc.encode(tag, float(step), step, 1.0)))
    purged = tbwrite.read_scalars(tmp_path, purge=True)["."]
    pea = pea_module.EventAccumulator(str(tmp_path), size_guidance={pea_module.TENSORS: 0})
    pea.Reload()
    for tag in ("a", "b"):
        assert purged[tag].steps.tolist() == [e.step for e in pea.Tensors(tag)]
    assert purged["a"].steps.tolist() == [1, 3]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 8)),
            st.tuples(st.just(""), st.integers(0, 8)),  # a SessionLog.CHECKPOINT event
        ),
        max_size=14,
    )
)
def test_purge_out_of_order_each_face_as_its_tensorboard_reader(tmp_path, events) -> None:
    # TensorBoard's two readers purge out-of-order steps by two rules (tbwrite/_reading/
    # purge.py): the server's most recent step is the previous summary's, the classic
    # accumulator's the last event's that was not itself out of order. read_scalars
    # follows the server's, the EventAccumulator drop-in the classic one.
    from tbwrite._format.fast_scalars import ScalarEncoder
    from tbwrite._proto import event_pb2

    enc = ScalarEncoder()
    run = tmp_path / f"run{len(os.listdir(tmp_path))}"
    run.mkdir()
    with open(run / "events.out.tfevents.0.old", "wb") as f:
        for tag, step in events:
            if tag:
                f.write(frame(enc.encode(tag, float(step), step, 1.0)))
            else:
                ev = event_pb2.Event(step=step, wall_time=1.0)
                ev.session_log.status = event_pb2.SessionLog.CHECKPOINT
                f.write(frame(ev.SerializeToString()))
    purged = tbwrite.read_scalars(run, purge=True).get(".", {})
    pea = pea_module.EventAccumulator(str(run), size_guidance={pea_module.TENSORS: 0})
    pea.Reload()
    ours = tbwrite.EventAccumulator(str(run), size_guidance={"scalars": 0})
    ours.Reload()
    classic = ea_module.EventAccumulator(str(run), size_guidance={ea_module.SCALARS: 0})
    classic.Reload()
    for tag in ("a", "b"):
        server_steps = [e.step for e in pea.Tensors(tag)] if tag in pea.Tags()["tensors"] else []
        assert (purged[tag].steps.tolist() if tag in purged else []) == server_steps
        classic_steps = (
            [e.step for e in classic.Scalars(tag)] if tag in classic.Tags()["scalars"] else []
        )
        mine = [e.step for e in ours.Scalars(tag)] if tag in ours.Tags()["scalars"] else []
        assert mine == classic_steps


# -- damage -----------------------------------------------------------------------------------


@pytest.fixture
def good_file(tmp_path):
    with tbwrite.SummaryWriter(tmp_path / "run") as w:
        for step in range(20):
            w.add_scalar("v", float(step), step)
    path = files_of(tmp_path / "run")[0]
    data = open(path, "rb").read()
    offsets = []
    pos = 0
    while pos < len(data):
        offsets.append(pos)
        (n,) = struct.unpack_from("<Q", data, pos)
        pos += n + 16
    return tmp_path, path, data, offsets


def _rewrite(path, data) -> None:
    with open(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("where,reason", [(0, "length checksum"), (14, "data checksum")])
def test_corrupt_record_names_file_and_offset(good_file, where, reason) -> None:
    root, path, data, offsets = good_file
    off = offsets[5]
    bad = bytearray(data)
    bad[off + where] ^= 0x40
    _rewrite(path, bad)
    for read in (tbwrite.read_scalars, lambda p: list(tbwrite.iter_events(p))):
        with pytest.raises(CorruptRecordError) as info:
            read(root)
        assert info.value.offset == off
        assert info.value.path == path
        assert reason in str(info.value) and path in str(info.value)


def test_skip_resynchronises_and_reports(good_file) -> None:
    root, path, data, offsets = good_file
    bad = bytearray(data)
    bad[offsets[5] + 14] ^= 0x40  # record 5 = step 4
    bad[offsets[9] + 3] ^= 0x01  # record 9 = step 8
    _rewrite(path, bad)
    with pytest.warns(RuntimeWarning, match="skipped"):
        runs = tbwrite.read_scalars(root, on_corrupt="skip")
    assert runs["run"]["v"].steps.tolist() == [s for s in range(20) if s not in (4, 8)]
    assert [(s.path, s.offset, s.nbytes) for s in runs.skipped] == [
        (path, offsets[5], offsets[6] - offsets[5]),
        (path, offsets[9], offsets[10] - offsets[9]),
    ]
    with pytest.warns(RuntimeWarning):
        events = list(tbwrite.iter_events(root, on_corrupt="skip"))
    assert [e.event.step for e in events if e.event.HasField("summary")] == runs["run"][
        "v"
    ].steps.tolist()


def test_truncated_last_record_is_not_written_yet(good_file) -> None:
    root, path, data, offsets = good_file
    for cut in (offsets[-1] + 3, offsets[-1] + 13, len(data) - 1):
        _rewrite(path, data[:cut])
        assert tbwrite.read_scalars(root)["run"]["v"].steps.tolist() == list(range(19))
        assert len(list(tbwrite.iter_events(root))) == 20
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            tbwrite.read_scalars(root, on_corrupt="skip")


def test_forged_huge_length_allocates_nothing(good_file) -> None:
    root, path, data, offsets = good_file
    from tbwrite import masked_crc32c

    length = struct.pack("<Q", 1 << 60)
    forged = length + struct.pack("<I", masked_crc32c(length)) + b"junk"
    _rewrite(path, data + forged)
    assert tbwrite.read_scalars(root)["run"]["v"].steps.tolist() == list(range(20))
    assert len(list(tbwrite.iter_events(root))) == 21
    from tbwrite._reading.records import verify_file

    check = verify_file(path)
    assert check.corrupt is None and check.records == 21 and check.incomplete == len(forged)


def test_garbage_payload_with_valid_crcs(tmp_path) -> None:
    path = tmp_path / "events.out.tfevents.0.x"
    _write_records(path, [b"\xff\xff\xff"])
    with pytest.raises(CorruptRecordError, match="does not parse"):
        tbwrite.read_scalars(tmp_path)
    with pytest.warns(RuntimeWarning):
        runs = tbwrite.read_scalars(tmp_path, on_corrupt="skip")
    assert runs.skipped[0].offset == len(frame(file_version_event(1.0)))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_random_damage_raises_our_error_or_reads(good_file, data) -> None:
    root, path, original, offsets = good_file
    bad = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(bad) - 1))
        bad[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(bad)))
    _rewrite(path, bytes(bad[:cut]))
    try:
        tbwrite.read_scalars(root)
    except CorruptRecordError as err:
        assert err.path == path and 0 <= err.offset < cut
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        runs = tbwrite.read_scalars(root, on_corrupt="skip")
        events = list(tbwrite.iter_events(root, on_corrupt="skip"))
    assert sum(len(s) for r in runs.values() for s in r.values()) <= 20
    assert len(events) <= 21


# -- streaming --------------------------------------------------------------------------------


def test_iter_events_yields_every_record(tmp_path) -> None:
    with tbwrite.SummaryWriter(tmp_path / "a") as w:
        w.add_scalar("x", 1.0, 1)
    with tbwrite.SummaryWriter(tmp_path / "b") as w:
        w.add_text("t", "hi", 2)
    records = list(tbwrite.iter_events(tmp_path))
    assert [r.run for r in records] == ["a", "a", "b", "b"]
    assert records[0].event.file_version == "brain.Event:2"
    assert records[1].event.summary.value[0].simple_value == 1.0
    assert records[1].offset == len(open(records[0].path, "rb").read()) - len(
        frame(records[1].event.SerializeToString())
    )
    raw = list(tbwrite.iter_events(tmp_path / "a", raw=True))
    assert all(isinstance(r.event, bytes) for r in raw)
    assert [r.run for r in raw] == [".", "."]


def test_follow_mode_sees_new_events_files_and_runs(tmp_path) -> None:
    w = tbwrite.SummaryWriter(tmp_path / "live", max_queue=1)
    w.add_scalar("x", 0.0, 0)
    w.flush()
    seen: list[tuple[str, int]] = []

    def writer() -> None:
        for step in range(1, 4):
            time.sleep(0.05)
            w.add_scalar("x", float(step), step)
            w.flush()
        with tbwrite.SummaryWriter(tmp_path / "later") as w2:
            w2.add_scalar("y", 9.0, 9)
        # A partial record is "not written yet": the rest arrives later.
        w.close()

    t = threading.Thread(target=writer)
    t.start()
    for rec in tbwrite.iter_events(tmp_path, follow=True, poll_interval=0.02, timeout=1.0):
        if rec.event.HasField("summary"):
            seen.append((rec.run, rec.event.step))
    t.join()
    assert seen == [("live", 0), ("live", 1), ("live", 2), ("live", 3), ("later", 9)] or sorted(
        seen
    ) == sorted([("live", 0), ("live", 1), ("live", 2), ("live", 3), ("later", 9)])


def test_follow_mode_completes_a_partial_record(tmp_path) -> None:
    path = tmp_path / "events.out.tfevents.0.p"
    rec = frame(file_version_event(1.0))
    path.write_bytes(rec[:7])
    it = tbwrite.iter_events(tmp_path, follow=True, poll_interval=0.01, timeout=0.5)

    def finish() -> None:
        time.sleep(0.1)
        with open(path, "ab") as f:
            f.write(rec[7:])

    threading.Thread(target=finish).start()
    got = list(it)
    assert len(got) == 1 and got[0].event.file_version == "brain.Event:2"


def test_event_accumulator_agrees_on_all_kinds_of_demo(tmp_path) -> None:
    from tbwrite._cli.demo import run_demo

    run_demo(str(tmp_path), quiet=True)
    scalars = tbwrite.read_scalars(tmp_path)
    for run, tags in scalars.items():
        acc = ea_module.EventAccumulator(
            str(tmp_path / run) if run != "." else str(tmp_path), size_guidance=ALL
        )
        acc.Reload()
        if run == ".":
            continue
        for tag, s in tags.items():
            assert_series_equal_ea(s, acc.Scalars(tag))
