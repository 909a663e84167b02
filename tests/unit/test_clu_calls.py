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
