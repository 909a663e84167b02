"""The sinks through their own interface: what ``write`` and ``sync`` promise a caller."""

from __future__ import annotations

import pytest

from tbwrite import WriterFailedError, frame
from tbwrite._sinks.memory import MemorySink


def test_the_memory_sink_refuses_a_write_past_its_cap_while_syncs_fail() -> None:
    sink = MemorySink("mem")
    sink.max_pending_bytes = 100
    sink.write(frame(b"x" * 50))  # 66 bytes pending
    size = len(sink.data)
    sink.fail_syncs = OSError("store down")
    with pytest.raises(WriterFailedError):
        sink.sync()
    with pytest.raises(WriterFailedError, match="66 bytes wait .* cap of 100") as info:
        sink.write(frame(b"y" * 50))
    assert isinstance(info.value.__cause__, OSError)
    assert len(sink.data) == size  # nothing of the refused write
    sink.fail_syncs = None
    sink.sync()
    sink.write(frame(b"y" * 50))  # room again
    assert len(sink.data) == size + 66


def test_the_memory_sink_syncs_rather_than_refuse_while_syncs_work() -> None:
    sink = MemorySink("mem")
    sink.max_pending_bytes = 100
    sink.write(frame(b"x" * 50))
    sink.write(frame(b"y" * 50))  # past the cap: synced first, then kept
    assert sink.syncs == 1 and sink.pending_bytes == 66


def test_a_write_larger_than_the_cap_goes_through_when_nothing_is_pending() -> None:
    sink = MemorySink("mem")
    sink.max_pending_bytes = 10
    sink.fail_syncs = OSError("store down")
    sink.write(frame(b"x" * 50))  # kept: refused, it could never be written at all
    assert sink.pending_bytes == 66
