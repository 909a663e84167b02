"""The reading core: one protobuf path for both faces, one purge policy, and the kinds the
loaders decode taken from KINDS' ``read_as``."""

from __future__ import annotations

import numpy as np
import pytest

import tbwrite
from tbwrite._format.plugin_names import PLUGIN_PR_CURVES
from tbwrite._reading import loaders
from tbwrite._reading.decode import (
    HistoValue,
    SimpleValue,
    TensorValue,
    UnreadValue,
    decode,
    parse_event,
    parse_file_version,
)
from tbwrite._reading.purge import CLASSIC, SERVER, OutOfOrder, Restarts, restarts
from tbwrite._summaries import kinds


def _pr_curve_run(path) -> None:
    with tbwrite.SummaryWriter(path) as w:
        for step in range(3):
            w.add_pr_curve("pr", np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.6, 0.4]), step)
        w.add_scalar("loss", 1.0, 0)


def test_a_kind_is_read_back_by_its_kinds_entry_alone(tmp_path, monkeypatch) -> None:
    _pr_curve_run(tmp_path)
    with pytest.raises(ValueError, match="read_as must be one of"):
        loaders.read_kind("pr_curves", tmp_path)
    monkeypatch.setitem(kinds.KINDS, "pr_curve", kinds.Kind(PLUGIN_PR_CURVES, "pr_curves"))
    series = loaders.read_kind("pr_curves", tmp_path)["."]["pr"]
    assert series.steps.tolist() == [0, 1, 2]
    # The plugin's tensor, as numpy: 6 rows (TP, FP, TN, FN, precision, recall).
    assert all(v.shape == (6, 127) for v in series.values)
    assert loaders.read_kind("scalars", tmp_path)["."]["loss"].values.tolist() == [1.0]


def test_without_read_as_a_kind_is_only_listed(tmp_path) -> None:
    _pr_curve_run(tmp_path)
    data, _ = loaders.load_runs(tmp_path, "raise", None)
    assert list(loaders.listed_of(data["."], purge=False)) == [(PLUGIN_PR_CURVES, "pr")]
    assert "pr" not in data["."].tensors


def test_one_decoder_names_what_an_event_is() -> None:
    from tbwrite._proto import event_pb2

    ev = event_pb2.Event(step=3, wall_time=2.5, file_version="brain.Event:2")
    d = decode(parse_event(ev.SerializeToString()))
    assert (d.what, d.step, d.file_version, d.session_start, d.values) == (
        "file_version",
        3,
        2.0,
        False,
        (),
    )
    ev = event_pb2.Event(step=4)
    ev.session_log.status = event_pb2.SessionLog.START
    assert decode(ev).session_start
    ev = event_pb2.Event(step=5)
    v = ev.summary.value.add(node_name="n")
    v.tensor.dtype = 1
    ev.summary.value.add(tag="s", simple_value=1.5).metadata.plugin_data.plugin_name = "scalars"
    ev.summary.value.add(tag="h").histo.num = 2
    ev.summary.value.add(tag="empty")
    tensor, scalar, histo, empty = decode(ev).values
    # One typed item per kind, its data under the kind's own name.
    assert isinstance(tensor, TensorValue) and isinstance(scalar, SimpleValue)
    assert (tensor.tag, tensor.name, tensor.metadata, tensor.tensor.dtype) == ("", "n", None, 1)
    assert (scalar.name, scalar.value) == ("s", 1.5)
    assert scalar.metadata.plugin_data.plugin_name == "scalars"
    assert isinstance(histo, HistoValue) and histo.histo.num == 2
    assert empty == UnreadValue("empty", "empty", None)
    graph = event_pb2.Event(graph_def=b"g")
    assert (decode(graph).what, decode(graph).graph, decode(graph).run_metadata) == (
        "graph_def",
        b"g",
        None,
    )
    tagged = event_pb2.Event()
    tagged.tagged_run_metadata.tag, tagged.tagged_run_metadata.run_metadata = "t", b"rm"
    assert decode(tagged).run_metadata == ("t", b"rm") and decode(tagged).graph is None
    assert parse_file_version("brain.Event:1") == 1.0
    assert parse_file_version("brain.Event:x") == -1.0


def test_the_two_readers_purge_rules() -> None:
    # Summary steps 5 then 3 then 4: the server compares 4 with the previous summary's 3
    # (in order); the classic accumulator with the last in-order step, 5 (out of order).
    server, classic = OutOfOrder(SERVER), OutOfOrder(CLASSIC)
    assert server.summaries(np.array([5, 3, 4])).tolist() == [False, True, False]
    assert classic.summaries(np.array([5, 3, 4])).tolist() == [False, True, True]
    # Event by event, the same; a non-summary event sets the classic one's step only.
    server, classic = OutOfOrder(SERVER), OutOfOrder(CLASSIC)
    assert [server.event(s, True) for s in (5, 3, 4)] == [False, True, False]
    assert [classic.event(s, True) for s in (5, 3, 4)] == [False, True, True]
    assert not classic.event(1, False) and classic.most_recent == 1
    assert not server.event(1, False) and server.most_recent == 4
    # Restarts: the server passes over the first START, the classic one does not.
    assert [Restarts(SERVER).start()] == [False] and Restarts(CLASSIC).start()
    assert (restarts(None), restarts(1.0), restarts(2.0)) == (False, False, True)


def test_every_reader_passes_over_profiler_placeholders(tmp_path) -> None:
    # As TensorBoard's loaders: an event file ending .profile-empty is not read, so a
    # directory holding only one is no run.
    with tbwrite.SummaryWriter(tmp_path / "run") as w:
        w.add_scalar("loss", 1.0, 0)
    (tmp_path / "prof").mkdir()
    (tmp_path / "prof" / "events.out.tfevents.1.h.profile-empty").write_bytes(b"")
    (tmp_path / "run" / "events.out.tfevents.2.h.profile-empty").write_bytes(b"junk")
    assert list(tbwrite.find_runs(tmp_path)) == ["run"]
    assert len(tbwrite.find_runs(tmp_path)["run"]) == 1
    assert tbwrite.read_scalars(tmp_path)["run"]["loss"].values.tolist() == [1.0]
    acc = tbwrite.EventAccumulator(str(tmp_path / "run"))
    acc.Reload()
    assert [e.value for e in acc.Scalars("loss")] == [1.0]
