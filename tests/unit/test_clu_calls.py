"""The clu-style writer's calls write all or nothing: bad input raises TypeError or
ValueError naming the argument, and nothing of the call is written."""

from __future__ import annotations

import numpy as np
import pytest

import tbwrite
from tbwrite.integrations.clu import SummaryWriter as CluWriter


def _tags(logdir) -> set[str]:
    return {v.tag for r in tbwrite.iter_events(logdir) for v in r.event.summary.value}


def test_write_summaries_with_bad_value_writes_nothing(tmp_path) -> None:
    with CluWriter(tmp_path) as w:
        with pytest.raises(TypeError, match=r"values\['a'\]"):
            w.write_summaries(0, {"b": np.eye(2), "a": np.eye(3, dtype=np.complex64)})
        with pytest.raises(TypeError, match=r"metadata\['a'\]"):
            w.write_summaries(0, {"b": np.eye(2), "a": np.eye(3)}, {"a": {"plugin": "x"}})
        w.write_summaries(1, {"c": np.eye(2)})  # still usable
    assert _tags(tmp_path) == {"c"}


def test_write_summaries_metadata_bytes_kept_as_tensorflow_keeps_them(tmp_path) -> None:
    # tf.summary.write parses metadata bytes with protobuf's C++ parser and ignores its
    # failure: the fields before the damage are kept (clu's own test passes
    # np.ones((2, 3)).tobytes(), which TensorFlow writes as an empty SummaryMetadata).
    with CluWriter(tmp_path) as w:
        with pytest.warns(UserWarning, match=r"metadata\['a'\]"):
            w.write_summaries(0, {"b": np.eye(2), "a": np.eye(3)}, {"a": b"\x00\x00"})
        with pytest.warns(UserWarning, match=r"metadata\['m'\]"):
            w.write_summaries(0, {"m": np.eye(2)}, {"m": b"\x0a\x05\x12\x03abc\xff"})
    values = {v.tag: v for r in tbwrite.iter_events(tmp_path) for v in r.event.summary.value}
    assert set(values) == {"a", "b", "m"}
    assert not values["b"].HasField("metadata")
    assert values["a"].HasField("metadata")
    assert values["a"].metadata.SerializeToString() == b""
    assert values["m"].metadata.plugin_data.content == b"abc"


def test_write_histograms_with_one_bad_array_writes_nothing(tmp_path) -> None:
    with CluWriter(tmp_path) as w:
        with pytest.raises(ValueError, match=r"arrays\['bad'\]"):
            w.write_histograms(0, {"good": np.arange(5.0), "bad": np.array([1.0, np.nan])})
        w.write_histograms(1, {"good": np.arange(5.0)})
    assert _tags(tmp_path) == {"good"}
    steps = [r.event.step for r in tbwrite.iter_events(tmp_path) if r.event.summary.value]
    assert steps == [1]


def _steps(logdir) -> list[int]:
    return [r.event.step for r in tbwrite.iter_events(logdir) if r.event.summary.value]


def test_write_texts_with_one_bad_text_writes_nothing(tmp_path) -> None:
    with CluWriter(tmp_path) as w:
        with pytest.raises(TypeError, match=r"texts\['bad'\].*b'x'"):
            w.write_texts(0, {"good": "fine", "bad": b"x"})
        with pytest.raises(ValueError, match=r"texts\['bad'\]"):
            w.write_texts(0, {"good": "fine", "bad": "\ud800"})
        with pytest.raises(TypeError, match=r"texts"):
            w.write_texts(0, ["good"])  # type: ignore[arg-type]
        w.write_texts(1, {"good": "fine"})
    assert _tags(tmp_path) == {"good"}
    assert _steps(tmp_path) == [1]


def test_write_videos_with_one_bad_video_writes_nothing(tmp_path) -> None:
    pytest.importorskip("PIL")
    good = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    with CluWriter(tmp_path) as w:
        with pytest.raises(ValueError, match=r"videos\['bad'\].*\(4, 4\)"):
            w.write_videos(0, {"good": good, "bad": np.zeros((4, 4))})
        with pytest.raises((TypeError, ValueError), match=r"videos\['bad'\]"):
            w.write_videos(0, {"good": good, "bad": np.zeros((2, 4, 4, 7), np.uint8)})
        w.write_videos(1, {"good": good})
    assert _tags(tmp_path) == {"good"}
    assert _steps(tmp_path) == [1]


def test_write_pointcloud_with_one_bad_cloud_writes_nothing(tmp_path) -> None:
    good = np.zeros((5, 3), dtype=np.float32)
    with CluWriter(tmp_path) as w:
        with pytest.raises(ValueError, match=r"point_clouds\['bad'\]"):
            w.write_pointcloud(0, {"good": good, "bad": np.zeros((5, 2))})
        with pytest.raises(ValueError, match=r"point_clouds\['bad'\]"):
            w.write_pointcloud(
                0, {"good": good, "bad": good}, point_colors={"bad": np.full((5, 3), 300)}
            )
        with pytest.raises(TypeError, match=r"configs"):
            w.write_pointcloud(0, {"good": good}, configs=[1])  # type: ignore[arg-type]
        w.write_pointcloud(1, {"good": good})
    assert _tags(tmp_path) == {"good_VERTEX"}
    assert _steps(tmp_path) == [1]


_OK = {"ok": np.zeros((1, 4, 1))}
_BAD_CALLS = {
    "scalars['bad']": lambda w: w.write_scalars(0, {"ok": 1.0, "bad": "x"}),
    "images['bad']": lambda w: w.write_images(0, {**_OK, "bad": np.zeros(3)}),
    "audios['bad']": lambda w: w.write_audios(0, {**_OK, "bad": np.zeros(2)}, sample_rate=8000),
    "arrays['bad']": lambda w: w.write_histograms(0, {**_OK, "bad": np.array([np.inf])}),
    "values['bad']": lambda w: w.write_summaries(0, {**_OK, "bad": np.array([1j])}),
    "step": lambda w: w.write_scalars("7", {"ok": 1.0}),
}


@pytest.mark.parametrize("arg", sorted(_BAD_CALLS))
def test_every_write_is_all_or_nothing(tmp_path, arg) -> None:
    with CluWriter(tmp_path) as w:
        with pytest.raises((TypeError, ValueError)) as info:
            _BAD_CALLS[arg](w)
        assert arg in str(info.value)
        w.write_scalars(5, {"after": 1.0})  # still usable
    assert _tags(tmp_path) == {"after"}
    assert _steps(tmp_path) == [5]


def test_the_clu_style_writer_is_a_front_of_its_own(tmp_path) -> None:
    # tbwrite.MetricWriter under clu's name: it opens its run with the torch-style front's
    # checks, and tb_writer writes into the same run (one event file, one session).
    assert CluWriter is tbwrite.MetricWriter
    assert not isinstance(CluWriter(tmp_path / "a"), tbwrite.SummaryWriter)
    with pytest.raises(ValueError, match="max_queue"):
        CluWriter(tmp_path / "b", max_queue=0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        CluWriter(tmp_path / "b", flush_sec=1)  # type: ignore[call-arg]
    with CluWriter(tmp_path / "c") as w:
        w.write_hparams({"lr": 0.1})
        w.write_scalars(1, {"loss": 0.5})
        w.tb_writer.add_text("notes", "hello", 1)
        w.tb_writer.set_status("failure")
    files = [p.name for p in (tmp_path / "c").iterdir()]
    assert len(files) == 1, files
    assert _tags(tmp_path / "c") >= {"loss", "notes", "_hparams_/session_end_info"}
    [row] = tbwrite.read_hparams(tmp_path / "c")
    assert row.status == "FAILURE"
