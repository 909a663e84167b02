"""Stress trial (marker ``stress``, not in the default run): more than 100k distinct tags
logged from six threads into one writer, twice over, about 30 s. The default run covers the
same promise in tests/unit/test_faults_core.py (tag-cache eviction under threads, ~1 s);
this is its long form, for changes to the tag cache or its locking."""

from __future__ import annotations

from faultlib import log_distinct_tags

from tbwrite import SummaryWriter


def test_more_than_100k_distinct_tags_from_threads_never_raise(tmp_path):
    w = SummaryWriter(str(tmp_path), max_queue=100_000, flush_secs=3600)
    errors = []
    for _ in range(2):
        errors += log_distinct_tags(w, threads=6, per_thread=100_000)
        if errors:
            break
    w.close()
    assert errors == []
