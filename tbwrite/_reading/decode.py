"""The reader's one protobuf path: an event record's bytes as a typed :class:`Decoded`.

The vectorised scalar path (:mod:`.fast_parse`) reads the common scalar events straight from
their bytes; every other record comes here, for both faces of the reader: the ``read_*``
loaders (:mod:`.loaders`) and the ``EventAccumulator`` drop-in (:mod:`.accumulator_load`).
What each face keeps of an item (and TensorBoard's quirks it reproduces) is the face's; what
an event *is* is decided here once: which of the Event's fields it holds, its summary values
with their tags and metadata, its file version as a number, whether it starts a session.
"""

from __future__ import annotations

from typing import Any, Callable, Final, NamedTuple, Union

from .._errors import CorruptRecordError
from .._format.wire import EVENT_FILE_VERSION, SESSION_LOG_START

__all__ = [
    "AudioValue",
    "Decoded",
    "HistoValue",
    "ImageValue",
    "SimpleValue",
    "TensorValue",
    "UnreadValue",
    "Value",
    "decode",
    "parse_event",
    "parse_file_version",
]

_VERSION_PREFIX: Final = EVENT_FILE_VERSION.rsplit(":", 1)[0] + ":"  # "brain.Event:"

# One typed item per field of Summary.Value's ``value`` oneof that a face reads. Each starts
# with the same three fields: ``tag`` as written ("" for a TF1 tensor named by its node),
# ``name`` as TensorBoard files it (the tag, or for a tensor without one its ``node_name``)
# and ``metadata`` (its SummaryMetadata, or None when it carries none); then what it holds.
# A face dispatches on the item's type, so what each kind holds is typed where it is used.


class SimpleValue(NamedTuple):
    """A ``simple_value`` scalar."""

    tag: str
    name: str
    metadata: Any
    value: float


class HistoValue(NamedTuple):
    """A legacy ``HistogramProto``."""

    tag: str
    name: str
    metadata: Any
    histo: Any  # HistogramProto


class ImageValue(NamedTuple):
    """A legacy ``Summary.Image`` (encoded bytes, width, height)."""

    tag: str
    name: str
    metadata: Any
    image: Any  # Summary.Image


class AudioValue(NamedTuple):
    """A legacy ``Summary.Audio``."""

    tag: str
    name: str
    metadata: Any
    audio: Any  # Summary.Audio


class TensorValue(NamedTuple):
    """A ``TensorProto``: every kind TensorBoard's plugins write today."""

    tag: str
    name: str
    metadata: Any
    tensor: Any  # TensorProto


class UnreadValue(NamedTuple):
    """A value neither face reads (no value, or the obsolete old-style histogram): its tag
    still counts for purging and its metadata is still filed."""

    tag: str
    name: str
    metadata: Any


Value = Union[SimpleValue, HistoValue, ImageValue, AudioValue, TensorValue, UnreadValue]

# Summary.Value's oneof field -> the item that holds it.
_ITEM_OF: Final[dict[str, Callable[[str, str, Any, Any], Value]]] = {
    "simple_value": SimpleValue,
    "histo": HistoValue,
    "image": ImageValue,
    "audio": AudioValue,
    "tensor": TensorValue,
}


class Decoded(NamedTuple):
    """One event."""

    wall_time: float
    step: int
    what: str | None  # which of the Event's fields it holds: "summary", "file_version", ...
    values: tuple[Value, ...]  # a summary event's values; () for the others
    file_version: float | None  # a file_version event's number (-1.0 if unreadable)
    session_start: bool  # a SessionLog.START
    source_writer: str | None  # the writer named in source_metadata, when one is
    # The serialized graph of a ``graph_def`` or ``meta_graph_def`` event (None otherwise),
    # and a ``tagged_run_metadata`` event's (tag, serialized RunMetadata).
    graph: bytes | None
    run_metadata: tuple[str, bytes] | None


def parse_file_version(text: str) -> float:
    """``brain.Event:2`` -> 2.0, as TensorBoard reads it (-1.0 when it is not a number)."""
    try:
        return float(text.split(_VERSION_PREFIX)[-1])
    except ValueError:
        return -1.0


def parse_event(payload: bytes) -> Any:
    """The ``Event`` message of a record's payload; protobuf's ``DecodeError`` when it is
    not one (the drop-in lets it reach the caller, as TensorBoard's loader does)."""
    from .._proto.event_pb2 import Event

    return Event.FromString(payload)


def decode(event: Any) -> Decoded:
    """The typed item of an ``Event``."""
    which = event.WhichOneof("what")
    values: tuple[Value, ...] = ()
    version = None
    graph = None
    run_metadata = None
    if which == "summary":
        items: list[Value] = []
        for v in event.summary.value:
            field = v.WhichOneof("value")
            tag = v.tag
            name = v.node_name if field == "tensor" and not tag else tag
            metadata = v.metadata if v.HasField("metadata") else None
            item = _ITEM_OF.get(field or "")
            if item is None:
                items.append(UnreadValue(tag, name, metadata))
            else:
                items.append(item(tag, name, metadata, getattr(v, field)))
        values = tuple(items)
    elif which == "file_version":
        version = parse_file_version(event.file_version)
    elif which in ("graph_def", "meta_graph_def"):
        graph = getattr(event, which)
    elif which == "tagged_run_metadata":
        trm = event.tagged_run_metadata
        run_metadata = (trm.tag, trm.run_metadata)
    writer = None
    if event.HasField("source_metadata"):
        writer = event.source_metadata.writer
    return Decoded(
        event.wall_time,
        event.step,
        which,
        values,
        version,
        which == "session_log" and event.session_log.status == SESSION_LOG_START,
        writer,
        graph,
        run_metadata,
    )


def decode_record(payload: bytes, offset: int, path: str) -> Decoded:
    """:func:`decode` of a record's payload; :class:`~tbwrite.CorruptRecordError` (file and
    offset) when it does not parse as an Event."""
    try:
        event = parse_event(payload)
    except Exception:
        raise CorruptRecordError("record does not parse as an Event", offset, path) from None
    return decode(event)
