"""The run core: metadata once per tag and file, one session per run with its end at
close, sub-runs, purge, and the public write entry point."""

from __future__ import annotations

import glob
import os

import pytest

from tbwrite import NEED_DATA, HParamsError, RecordDecoder, WriterClosedError
from tbwrite._format.names import event_file_stem, is_event_file
from tbwrite._format.wire import summary_record
from tbwrite._proto import event_pb2, hparams_pb2
from tbwrite._run import RunWriter
from tbwrite._summaries import hparams as h
from tbwrite._summaries.kinds import KINDS, READ_PLUGINS


def _events(run_dir: str) -> list[event_pb2.Event]:
    out = []
    for path in sorted(glob.glob(os.path.join(run_dir, "events.out.tfevents.*"))):
        dec = RecordDecoder()
        with open(path, "rb") as f:
            dec.receive_data(f.read())
        while (rec := dec.next_record()) is not NEED_DATA:
            out.append(event_pb2.Event.FromString(rec))  # type: ignore[arg-type]
    return out


def _values(run_dir: str) -> list[tuple[int, str, bool]]:
    """(step, tag, has metadata) of every summary value."""
    return [
        (e.step, v.tag, v.HasField("metadata"))
        for e in _events(run_dir)
        if e.HasField("summary")
        for v in e.summary.value
    ]


def test_metadata_goes_with_the_first_value_of_a_tag_in_each_file(tmp_path) -> None:
    run = RunWriter(str(tmp_path))
    for step in range(3):
        run.write("text", "notes", f"step {step}", step=step)
    sub = run.subrun(str(tmp_path / "sub"))
    run.write("text", "notes", "in the sub-run", step=5, file=sub)
    run.close()
    assert _values(str(tmp_path)) == [(0, "notes", True), (1, "notes", False), (2, "notes", False)]
    assert _values(str(tmp_path / "sub")) == [(5, "notes", True)]


def test_one_session_per_run_ending_at_close_with_the_status_set(tmp_path) -> None:
    run = RunWriter(str(tmp_path))
    start = summary_record(1.0, 0, h.session_start_summary({"lr": 0.1}, run.start_time))
    run.start_session([start])
    with pytest.raises(HParamsError, match="already"):
        run.start_session([start])
    run.set_status("unknown", end_time=123.0)
    run.fail_unless_status_set()  # a status set explicitly wins
    run.close()
    run.close()  # harmless
    tags = [t for _, t, _ in _values(str(tmp_path))]
    assert tags == ["_hparams_/session_start_info", "_hparams_/session_end_info"]
    end = _events(str(tmp_path))[-1].summary.value[0].metadata.plugin_data.content
    info = hparams_pb2.HParamsPluginData.FromString(end).session_end_info
    assert info.status == hparams_pb2.STATUS_UNKNOWN and info.end_time_secs == 123.0
    with pytest.raises(WriterClosedError):
        run.write("text", "late", "x")


def test_purge_step_writes_session_log_start(tmp_path) -> None:
    RunWriter(str(tmp_path), purge_step=7).close()
    starts = [e for e in _events(str(tmp_path)) if e.HasField("session_log")]
    assert [(e.step, e.session_log.status) for e in starts] == [(7, 1), (7, 1)]


def test_kinds_table() -> None:
    assert {k.plugin for k in KINDS.values()} >= {"scalars", "histograms", "text", "images"}
    assert READ_PLUGINS == {"scalars", "histograms", "text"}
    for name, kind in KINDS.items():
        assert callable(kind.build), name  # every builder exists where the table says
    # Builders of one function name in two modules stay apart.
    assert KINDS["image"].build is not KINDS["legacy_image"].build


def test_file_names_share_one_counter() -> None:
    a, b = event_file_stem(0.0), event_file_stem(0.0)
    assert a != b and a.rsplit(".", 1)[0] == b.rsplit(".", 1)[0]
    assert int(b.rsplit(".", 1)[1]) == int(a.rsplit(".", 1)[1]) + 1
    assert is_event_file("/x/" + a) and not is_event_file("/tfevents/plain.txt")
