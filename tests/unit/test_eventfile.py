"""EventFileWriter's buffering and flush policy, over the in-memory sink (no disk)."""

from __future__ import annotations

import errno

import pytest

from tbwrite import NEED_DATA, RecordDecoder, WriterClosedError, WriterFailedError, frame
from tbwrite._eventfile import EventFileWriter
from tbwrite._proto import event_pb2
from tbwrite._sinks.memory import MemorySink


def _records(data: bytes | bytearray) -> list[bytes]:
    dec = RecordDecoder()
    dec.receive_data(data)
    out = []
    while (rec := dec.next_record()) is not NEED_DATA:
        out.append(rec)
    assert dec.pending == 0
    return out  # type: ignore[return-value]


def _writer(max_queue: int = 3, **sink_kwargs: object) -> tuple[EventFileWriter, MemorySink]:
    sink = MemorySink("mem", **sink_kwargs)  # type: ignore[arg-type]
    return EventFileWriter(lambda: sink, name="mem", max_queue=max_queue, flush_secs=60), sink


def test_header_is_written_at_open() -> None:
    w, sink = _writer()
    (header,) = _records(sink.data)
    assert event_pb2.Event.FromString(header).file_version == "brain.Event:2"
    w.close()


def test_records_are_buffered_until_max_queue() -> None:
    w, sink = _writer(max_queue=3)
    size = len(sink.data)
    w.write_record(frame(b"a"))
    w.write_record(frame(b"b"))
    assert len(sink.data) == size  # buffered, not written
    w.write_record(frame(b"c"))  # the third reaches max_queue: written in one go
    assert _records(sink.data)[1:] == [b"a", b"b", b"c"]
    w.close()


def test_flush_writes_and_syncs_and_close_is_idempotent() -> None:
    w, sink = _writer(max_queue=100)
    w.write_records([frame(b"x"), frame(b"y")])
    w.flush()
    assert _records(sink.data)[1:] == [b"x", b"y"]
    assert sink.syncs == 1 and sink.pending_bytes == 0
    w.write_record(frame(b"z"))
    w.close()
    w.close()
    assert sink.closed
    assert _records(sink.data)[1:] == [b"x", b"y", b"z"]
    with pytest.raises(WriterClosedError):
        w.write_record(frame(b"late"))
    with pytest.raises(WriterClosedError):
        w.write_records([frame(b"late")])


def test_failed_write_keeps_records_for_the_next_flush() -> None:
    w, sink = _writer(max_queue=100)
    w.write_record(frame(b"kept"))
    sink.fail_writes = OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(WriterFailedError) as info:
        w.flush()
    assert isinstance(info.value.__cause__, OSError)
    assert _records(sink.data)[1:] == []
    sink.fail_writes = None
    w.flush()  # retried: the record was kept
    assert _records(sink.data)[1:] == [b"kept"]
    w.close()


def test_background_failure_is_raised_at_the_next_call() -> None:
    w, sink = _writer(max_queue=100)
    w.write_record(frame(b"r"))
    sink.fail_writes = OSError(errno.EIO, "I/O error")
    w.timed_flush()  # what the flusher thread calls: keeps the error
    sink.fail_writes = None
    with pytest.raises(WriterFailedError, match="in the background"):
        w.write_record(frame(b"next"))
    w.flush()
    assert _records(sink.data)[1:] == [b"r"]
    w.close()


def test_a_sink_past_its_pending_limit_refuses_records() -> None:
    w, sink = _writer(max_queue=1)
    sink.slow = True  # plays a store, which caps what it holds itself
    sink.max_pending_bytes = 10
    sink.fail_syncs = OSError("store down")
    with pytest.raises(WriterFailedError):
        sink.sync()  # the store is failing: last_error is set
    w.write_record(frame(b"0123456789abcdef"))  # drained: over the limit
    with pytest.raises(WriterFailedError, match="keeps failing"):
        w.write_record(frame(b"refused"))
    sink.fail_syncs = None
    sink.sync()
    w.write_record(frame(b"accepted"))
    w.close()
    assert _records(sink.data)[1:] == [b"0123456789abcdef", b"accepted"]
