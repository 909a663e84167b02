"""The sinks through their own interface: what ``write`` and ``sync`` promise a caller."""

from __future__ import annotations

import os
import shutil

import pytest

import tbwrite
from tbwrite import WriterFailedError, frame
from tbwrite._sinks import Outcome
from tbwrite._sinks.local import LocalSink
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


@pytest.mark.skipif(os.name != "posix", reason="deletion is noticed on POSIX")
def test_the_local_sink_says_when_a_write_began_a_new_file(tmp_path, past_check_interval) -> None:
    logdir = str(tmp_path / "run")
    os.makedirs(logdir)
    sink = LocalSink(logdir)
    assert sink.write(frame(b"a")) is Outcome.NOTHING  # the first file is no news
    shutil.rmtree(logdir)
    past_check_interval()  # the next write checks that the file is still there
    with pytest.warns(RuntimeWarning, match="deleted"):
        assert sink.write(frame(b"b")) is Outcome.NEW_FILE
    assert sink.write(frame(b"c")) is Outcome.NOTHING  # said once
    assert sink.sync() is Outcome.NOTHING
    sink.close()
    (path,) = (os.path.join(logdir, f) for f in os.listdir(logdir))
    assert [r.event for r in tbwrite.iter_events(path, raw=True)][1:] == [b"a", b"b", b"c"]


@pytest.mark.skipif(os.name != "posix", reason="deletion is noticed on POSIX")
def test_the_local_sink_says_when_a_sync_began_a_new_file(tmp_path) -> None:
    logdir = str(tmp_path / "run")
    os.makedirs(logdir)
    sink = LocalSink(logdir)
    sink.write(frame(b"a"))
    shutil.rmtree(logdir)
    with pytest.warns(RuntimeWarning, match="deleted"):
        assert sink.sync() is Outcome.NEW_FILE  # a sync always checks
    assert sink.sync() is Outcome.NOTHING
    sink.close()


def test_the_memory_sink_never_begins_a_new_file_nor_asks_for_a_sync() -> None:
    sink = MemorySink("mem")
    assert sink.write(frame(b"a")) is Outcome.NOTHING
    assert sink.sync() is Outcome.NOTHING
