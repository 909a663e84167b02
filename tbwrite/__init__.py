"""tbwrite: TensorBoard event files from pure Python, without torch or TensorFlow.

``from tbwrite import SummaryWriter`` is a drop-in for
``torch.utils.tensorboard.SummaryWriter``. Importing tbwrite loads neither numpy nor
protobuf; each is imported when a feature needs it.
"""

from ._errors import CorruptRecordError, TbwriteError, WriterClosedError, WriterFailedError
from ._framing import NEED_DATA, RecordDecoder, frame, masked_crc32c
from ._writer import SummaryWriter

# Names whose modules import protobuf or numpy: loaded on first access, so that
# `import tbwrite` stays light.
_LAZY = {
    "Discrete": "._hparams",
    "HParam": "._hparams",
    "HParamsError": "._hparams",
    "IntInterval": "._hparams",
    "Metric": "._hparams",
    "RealInterval": "._hparams",
    "write_experiment": "._hparams",
    "EventAccumulator": "._accumulator",
    "EventMultiplexer": "._multiplexer",
    "make_ndarray": "._accumulator",
    "EventRecord": "._reader",
    "SkippedBytes": "._reader",
    "find_runs": "._reader",
    "iter_events": "._reader",
    "HParamsTable": "._loaders",
    "Runs": "._loaders",
    "Series": "._loaders",
    "SessionRow": "._loaders",
    "read_histograms": "._loaders",
    "read_hparams": "._loaders",
    "read_scalars": "._loaders",
    "read_text": "._loaders",
    "NullWriter": "._multiprocess",
    "process_count": "._multiprocess",
    "process_index": "._multiprocess",
    "process_writer": "._multiprocess",
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
    "RecordDecoder",
    "SummaryWriter",
    "TbwriteError",
    "WriterClosedError",
    "WriterFailedError",
    "frame",
    "masked_crc32c",
    "__version__",
]

__version__ = "0.1.0"
