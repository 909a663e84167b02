"""The reader's one protobuf path: an event record's bytes as a typed :class:`Decoded`.

The vectorised scalar path (:mod:`.fast_parse`) reads the common scalar events straight from
their bytes; every other record comes here, for both faces of the reader: the ``read_*``
loaders (:mod:`.loaders`) and the ``EventAccumulator`` drop-in (:mod:`.accumulator_load`).
What each face keeps of an item (and TensorBoard's quirks it reproduces) is the face's; what
an event *is* is decided here once: which of the Event's fields it holds, its summary values
with their tags and metadata, its file version as a number, whether it starts a session.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from .._errors import CorruptRecordError
from .._format.wire import EVENT_FILE_VERSION, SESSION_LOG_START

__all__ = ["Decoded", "Value", "decode", "parse_event", "parse_file_version"]

_VERSION_PREFIX: Final = EVENT_FILE_VERSION.rsplit(":", 1)[0] + ":"  # "brain.Event:"


class Value(NamedTuple):
    """One value of a summary event."""

    tag: str  # as written ("" for a TF1 tensor named by its node)
    name: str  # the tag, or for a tensor without one its ``node_name``, as TensorBoard names it
    kind: str  # which of Summary.Value's fields holds it: "simple_value", "histo", "tensor", ...
    data: Any  # that field: a float, HistogramProto, Image, Audio or TensorProto
    metadata: Any  # its SummaryMetadata, or None when it carries none


class Decoded(NamedTuple):
    """One event."""

    wall_time: float
    step: int
    what: str | None  # which of the Event's fields it holds: "summary", "file_version", ...
    values: tuple[Value, ...]  # a summary event's values; () for the others
    file_version: float | None  # a file_version event's number (-1.0 if unreadable)
    session_start: bool  # a SessionLog.START
    source_writer: str | None  # the writer named in source_metadata, when one is
    event: Any  # the Event itself, for the kinds a face takes whole (graphs, run metadata)


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
    if which == "summary":
        items = []
        for v in event.summary.value:
            kind = v.WhichOneof("value") or ""
            tag = v.tag
            name = v.node_name if kind == "tensor" and not tag else tag
            data = getattr(v, kind) if kind else None
            items.append(
                Value(tag, name, kind, data, v.metadata if v.HasField("metadata") else None)
            )
        values = tuple(items)
    elif which == "file_version":
        version = parse_file_version(event.file_version)
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
        event,
    )


def decode_record(payload: bytes, offset: int, path: str) -> Decoded:
    """:func:`decode` of a record's payload; :class:`~tbwrite.CorruptRecordError` (file and
    offset) when it does not parse as an Event."""
    try:
        event = parse_event(payload)
    except Exception:
        raise CorruptRecordError("record does not parse as an Event", offset, path) from None
    return decode(event)
