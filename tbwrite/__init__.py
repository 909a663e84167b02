"""tbwrite: TensorBoard event files from pure Python, without torch or TensorFlow.

``from tbwrite import SummaryWriter`` is a drop-in for
``torch.utils.tensorboard.SummaryWriter``. Importing tbwrite loads neither numpy nor
protobuf; each is imported when a feature needs it.
"""

from ._errors import CorruptRecordError, TbwriteError, WriterClosedError, WriterFailedError
from ._framing import NEED_DATA, RecordDecoder, frame, masked_crc32c
from ._writer import SummaryWriter

__all__ = [
    "NEED_DATA",
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
