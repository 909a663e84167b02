"""The run core: metadata once per tag and file, one session per run with its end at
close, sub-runs, purge, and the public write entry point."""

from __future__ import annotations

import glob
import os

import pytest

from tbwrite import NEED_DATA, HParamsError, RecordDecoder, WriterClosedError
from tbwrite._format.names import event_file_stem, is_event_file
from tbwrite._proto import event_pb2, hparams_pb2
from tbwrite._run import RunWriter
from tbwrite._summaries.kinds import KINDS, read_plugins


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
        run.write_text("notes", f"step {step}", step=step)
    sub = run.subrun(str(tmp_path / "sub"))
    run.write_text("notes", "in the sub-run", step=5, file=sub)
    run.close()
    assert _values(str(tmp_path)) == [(0, "notes", True), (1, "notes", False), (2, "notes", False)]
    assert _values(str(tmp_path / "sub")) == [(5, "notes", True)]


def test_one_session_per_run_ending_at_close_with_the_status_set(tmp_path) -> None:
    run = RunWriter(str(tmp_path))
    run.start_session({"lr": 0.1}, group="g")
    with pytest.raises(HParamsError, match="already"):
        run.start_session({"lr": 0.1})
    run.set_status("unknown", end_time=123.0)
    run.fail_unless_status_set()  # a status set explicitly wins
    run.close()
    run.close()  # harmless
    tags = [t for _, t, _ in _values(str(tmp_path))]
    assert tags == ["_hparams_/session_start_info", "_hparams_/session_end_info"]
    first = [e for e in _events(str(tmp_path)) if e.HasField("summary")][0]
    start = first.summary.value[0].metadata.plugin_data.content
    info = hparams_pb2.HParamsPluginData.FromString(start).session_start_info
    assert info.group_name == "g" and info.start_time_secs == run.start_time
    assert info.hparams["lr"].number_value == 0.1
    end = _events(str(tmp_path))[-1].summary.value[0].metadata.plugin_data.content
    info = hparams_pb2.HParamsPluginData.FromString(end).session_end_info
    assert info.status == hparams_pb2.STATUS_UNKNOWN and info.end_time_secs == 123.0
    with pytest.raises(WriterClosedError):
        run.write_text("late", "x", step=0)


def test_purge_step_writes_session_log_start(tmp_path) -> None:
    RunWriter(str(tmp_path), purge_step=7).close()
    starts = [e for e in _events(str(tmp_path)) if e.HasField("session_log")]
    assert [(e.step, e.session_log.status) for e in starts] == [(7, 1), (7, 1)]


def test_kinds_table() -> None:
    assert {k.plugin for k in KINDS.values()} >= {"scalars", "histograms", "text", "images"}
    assert read_plugins() == {"scalars", "histograms", "text"}


# RunWriter's write_* methods that are not one kind of KINDS: the simple_value scalar
# dispatch (one value, one per sub-run, a series), the tensor form of several scalars at
# once, any built Summary, a finished session.
NOT_KINDS = {
    "write_scalar",
    "write_scalar_per_subrun",
    "write_scalar_series",
    "write_scalar_tensors",
    "write_summary",
    "write_closed_session",
}


def test_every_kind_has_its_typed_method_and_every_method_its_kind() -> None:
    methods = {name for name in vars(RunWriter) if name.startswith("write_")}
    assert methods - NOT_KINDS == {f"write_{kind}" for kind in KINDS}


def test_every_kind_is_written_with_its_plugin_s_metadata(tmp_path) -> None:
    import numpy as np

    from tbwrite._summaries import av, custom_scalars, media, mesh

    png = media.png_encode(np.zeros((2, 3, 3), np.uint8))
    wav = av.wav_encode(np.zeros(4, np.float32), 8000)
    vertices = np.zeros((1, 3, 3))
    run = RunWriter(str(tmp_path))
    calls = {
        "scalar_tensor": lambda: run.write_scalar_tensor("scalar_tensor", 1.0, step=0),
        "histogram": lambda: run.write_histogram("histogram", np.ones((1, 3)), step=0),
        "text": lambda: run.write_text("text", "x", step=0),
        "image": lambda: run.write_image("image", [png], 3, 2, step=0),
        "audio": lambda: run.write_audio("audio", [wav], step=0),
        "pr_curve": lambda: run.write_pr_curve("pr_curve", np.zeros((6, 2)), step=0),
        "mesh": lambda: run.write_mesh("mesh", mesh.mesh_parts(vertices, None, None), "{}", step=0),
        "custom_scalars": lambda: run.write_custom_scalars(
            "custom_scalars",
            custom_scalars.custom_scalars_layout({"c": {"t": ["Multiline", ["a"]]}}),
            step=0,
        ),
        "tensor": lambda: run.write_tensor("tensor", np.ones(2), None, step=0),
        "legacy_image": lambda: run.write_legacy_image("legacy_image", png, 2, 3, 3, step=0),
        "legacy_audio": lambda: run.write_legacy_audio("legacy_audio", wav, 8000, 4, step=0),
        "legacy_histogram": lambda: run.write_legacy_histogram(
            "legacy_histogram", 0.0, 1.0, 1.0, 1.0, 1.0, [1.0], [1.0], step=0
        ),
    }
    assert calls.keys() == KINDS.keys()
    for call in calls.values():
        call()
    run.close()
    plugins = {}
    for event in _events(str(tmp_path)):
        for value in event.summary.value:
            plugins[value.tag] = value.metadata.plugin_data.plugin_name
    for kind, (plugin, _) in KINDS.items():
        tag = "mesh_VERTEX" if kind == "mesh" else kind
        # PyTorch's legacy image and histogram carry no metadata: the loaders know them
        # by their Summary.Value field.
        expected = "" if kind in ("legacy_image", "legacy_histogram") else plugin
        assert plugins[tag] == expected, kind


def test_file_names_share_one_counter() -> None:
    a, b = event_file_stem(0.0), event_file_stem(0.0)
    assert a != b and a.rsplit(".", 1)[0] == b.rsplit(".", 1)[0]
    assert int(b.rsplit(".", 1)[1]) == int(a.rsplit(".", 1)[1]) + 1
    assert is_event_file("/x/" + a) and not is_event_file("/tfevents/plain.txt")
