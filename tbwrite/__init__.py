"""tbwrite: TensorBoard event files from pure Python, without torch or TensorFlow.

``from tbwrite import SummaryWriter`` is a drop-in for
``torch.utils.tensorboard.SummaryWriter``. Importing tbwrite loads neither numpy nor
protobuf; each is imported when a feature needs it.
"""

from typing import TYPE_CHECKING

from ._errors import (
    CorruptRecordError,
    DeviceValueError,
    HParamsError,
    TbwriteError,
    WriterClosedError,
    WriterFailedError,
)
from ._format.tfrecord import NEED_DATA, RecordDecoder, frame, masked_crc32c
from ._writers.summary_writer import SummaryWriter

if TYPE_CHECKING:  # the lazy names below, as type checkers should see them
    from ._reading.accumulator import EventAccumulator, make_ndarray
    from ._reading.events import iter_events
    from ._reading.hparams_table import read_hparams
    from ._reading.loaders import read_histograms, read_scalars, read_text
    from ._reading.multiplexer import EventMultiplexer
    from ._reading.records import EventRecord, SkippedBytes, find_runs
    from ._reading.results import HParamsTable, Runs, Series, SessionRow
    from ._summaries.hparam_values import flatten_hparams, hparam_value
    from ._summaries.hparams import Discrete, HParam, IntInterval, Metric, RealInterval
    from ._writers.experiment import write_experiment
    from ._writers.metric_writer import MetricWriter
    from ._writers.multiprocess import NullWriter, process_count, process_index, process_writer

# Names whose modules import protobuf or numpy: loaded on first access, so that
# `import tbwrite` stays light.
_LAZY = {
    "Discrete": "._summaries.hparams",
    "HParam": "._summaries.hparams",
    "IntInterval": "._summaries.hparams",
    "Metric": "._summaries.hparams",
    "RealInterval": "._summaries.hparams",
    "write_experiment": "._writers.experiment",
    "MetricWriter": "._writers.metric_writer",
    "flatten_hparams": "._summaries.hparam_values",
    "hparam_value": "._summaries.hparam_values",
    "EventAccumulator": "._reading.accumulator",
    "EventMultiplexer": "._reading.multiplexer",
    "make_ndarray": "._reading.accumulator",
    "EventRecord": "._reading.records",
    "SkippedBytes": "._reading.records",
    "find_runs": "._reading.records",
    "iter_events": "._reading.events",
    "HParamsTable": "._reading.results",
    "Runs": "._reading.results",
    "Series": "._reading.results",
    "SessionRow": "._reading.results",
    "read_histograms": "._reading.loaders",
    "read_hparams": "._reading.hparams_table",
    "read_scalars": "._reading.loaders",
    "read_text": "._reading.loaders",
    "NullWriter": "._writers.multiprocess",
    "process_count": "._writers.multiprocess",
    "process_index": "._writers.multiprocess",
    "process_writer": "._writers.multiprocess",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tbwrite' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "NEED_DATA",
    "Discrete",
    "HParam",
    "HParamsError",
    "IntInterval",
    "Metric",
    "RealInterval",
    "write_experiment",
    "flatten_hparams",
    "hparam_value",
    "EventAccumulator",
    "EventMultiplexer",
    "EventRecord",
    "HParamsTable",
    "Runs",
    "Series",
    "SessionRow",
    "SkippedBytes",
    "find_runs",
    "iter_events",
    "make_ndarray",
    "read_histograms",
    "read_hparams",
    "read_scalars",
    "read_text",
    "NullWriter",
    "process_count",
    "process_index",
    "process_writer",
    "CorruptRecordError",
    "DeviceValueError",
    "RecordDecoder",
    "SummaryWriter",
    "MetricWriter",
    "TbwriteError",
    "WriterClosedError",
    "WriterFailedError",
    "frame",
    "masked_crc32c",
    "__version__",
]

__version__ = "0.1.0"
"""tbwrite's version, as the package reports it."""
