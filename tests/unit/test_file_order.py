"""Event file names sort in creation order within a process, as TensorBoard's loaders and
tbwrite's readers read a run's files: in name order, as strings."""

from __future__ import annotations

import os

import tbwrite
from tbwrite._format.names import event_file_name


def test_names_made_in_one_second_sort_in_creation_order() -> None:
    names = [event_file_name(wall_time=1_700_000_000.0) for _ in range(1200)]
    assert sorted(names) == names


def test_twelve_writers_of_one_run_are_read_in_the_order_they_were_made(tmp_path) -> None:
    for i in range(12):
        with tbwrite.SummaryWriter(tmp_path) as writer:
            writer.add_scalar("order", float(i), i)
    files = sorted(os.listdir(tmp_path))
    assert len(files) == 12
    steps = [e.event.step for e in tbwrite.iter_events(tmp_path) if e.event.HasField("summary")]
    assert steps == list(range(12))
    series = tbwrite.read_scalars(tmp_path)
    assert list(series["."]["order"].steps) == list(range(12))
