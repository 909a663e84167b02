"""Read event files back with TensorBoard's own Python loaders, for assertions."""

from __future__ import annotations

import glob
import os
from typing import Any

from tensorboard.backend.event_processing import event_accumulator as ea_module
from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
from tensorboard.compat.proto import event_pb2

ALL = {
    ea_module.SCALARS: 0,
    ea_module.TENSORS: 0,
    ea_module.HISTOGRAMS: 0,
    ea_module.COMPRESSED_HISTOGRAMS: 0,
    ea_module.IMAGES: 0,
    ea_module.AUDIO: 0,
}


def accumulator(run_dir: str | os.PathLike[str]) -> ea_module.EventAccumulator:
    acc = ea_module.EventAccumulator(str(run_dir), size_guidance=ALL)
    acc.Reload()
    return acc


def event_files(run_dir: str | os.PathLike[str]) -> list[str]:
    return sorted(glob.glob(os.path.join(str(run_dir), "*tfevents*")))


def raw_events(path: str) -> list[Any]:
    """Every Event of one file, parsed with TensorBoard's Event proto (CRCs checked)."""
    out = []
    for record in RawEventFileLoader(path).Load():
        out.append(event_pb2.Event.FromString(record))
    return out


def all_events(run_dir: str | os.PathLike[str]) -> list[Any]:
    return [e for f in event_files(run_dir) for e in raw_events(f)]
