"""The clu-style writer's calls write all or nothing: bad input raises TypeError or
ValueError naming the argument, and nothing of the call is written."""

from __future__ import annotations

import numpy as np
import pytest

import tbwrite
from tbwrite.integrations.clu import SummaryWriter as CluWriter


def _tags(logdir) -> set[str]:
    return {v.tag for r in tbwrite.iter_events(logdir) for v in r.event.summary.value}


def test_write_summaries_with_bad_metadata_writes_nothing(tmp_path) -> None:
    with CluWriter(tmp_path) as w:
        with pytest.raises(ValueError, match=r"metadata\['a'\]"):
            w.write_summaries(0, {"b": np.eye(2), "a": np.eye(3)}, {"a": b"\x00\x00"})
        w.write_summaries(1, {"c": np.eye(2)})  # still usable
    assert _tags(tmp_path) == {"c"}


def test_write_histograms_with_one_bad_array_writes_nothing(tmp_path) -> None:
    with CluWriter(tmp_path) as w:
        with pytest.raises(ValueError, match=r"arrays\['bad'\]"):
            w.write_histograms(0, {"good": np.arange(5.0), "bad": np.array([1.0, np.nan])})
        w.write_histograms(1, {"good": np.arange(5.0)})
    assert _tags(tmp_path) == {"good"}
    steps = [r.event.step for r in tbwrite.iter_events(tmp_path) if r.event.summary.value]
    assert steps == [1]
