"""Reading sweeps: run and tag filters, runs read concurrently, the fast record walk on
irregular and damaged files. (A sweep on an S3-protocol server: tests/system.)"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

import tbwrite
from tbwrite import CorruptRecordError, frame
from tbwrite._proto import event_pb2
from tbwrite._reading.fastscan import walk


def _sweep(root, runs=6, steps=40) -> None:
    for r in range(runs):
        for sub in ("train", "eval"):
            with tbwrite.SummaryWriter(os.path.join(root, f"lr_{r % 3}", f"seed{r}", sub)) as w:
                for step in range(steps):
                    w.add_scalar("loss", (r + 1) / (step + 1), step)
                    w.add_scalar("acc/top1", step / steps + r, step)
                    if step % 10 == 0:
                        w.add_histogram("w", np.arange(r + 5.0), step)


def _flat(runs) -> dict:
    return {
        (run, tag): (s.steps.tolist(), s.wall_times.tolist(), np.asarray(s.values).tolist())
        for run, tags in runs.items()
        for tag, s in tags.items()
    }


def test_run_and_tag_filters(tmp_path) -> None:
    _sweep(str(tmp_path))
    everything = _flat(tbwrite.read_scalars(tmp_path))
    assert len(everything) == 6 * 2 * 2

    got = _flat(tbwrite.read_scalars(tmp_path, runs="lr_1/*/train", tags="loss"))
    assert set(got) == {("lr_1/seed1/train", "loss"), ("lr_1/seed4/train", "loss")}
    assert all(got[k] == everything[k] for k in got)

    got = _flat(tbwrite.read_scalars(tmp_path, runs=re.compile(r"seed[02]/"), tags=["acc/*"]))
    assert {k[0] for k in got} == {
        "lr_0/seed0/train",
        "lr_0/seed0/eval",
        "lr_2/seed2/train",
        "lr_2/seed2/eval",
    }
    assert {k[1] for k in got} == {"acc/top1"}

    hist = tbwrite.read_histograms(tmp_path, runs="lr_2/seed5/eval", tags=re.compile("^w$"))
    assert list(hist) == ["lr_2/seed5/eval"]
    assert [v[:, 2].sum() for v in hist["lr_2/seed5/eval"]["w"].values] == [10.0] * 4
    assert tbwrite.read_scalars(tmp_path, runs="nothing*") == {}
    with pytest.raises(TypeError, match="runs must be a glob pattern"):
        tbwrite.read_scalars(tmp_path, runs=3)
    with pytest.raises(TypeError, match="tags must be"):
        tbwrite.read_scalars(tmp_path, tags=[b"loss"])


def test_filtered_out_runs_are_not_read(tmp_path) -> None:
    _sweep(str(tmp_path), runs=2)
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "events.out.tfevents.1.h").write_bytes(frame(b"x")[:-1] + b"\0" + b"junk" * 10)
    with pytest.raises(CorruptRecordError):
        tbwrite.read_scalars(tmp_path)
    seen = []
    got = tbwrite.read_scalars(tmp_path, runs="lr_*", progress=lambda i, n, path: seen.append(path))
    assert len(got) == 4 and not any("broken" in p for p in seen) and len(seen) == 4


def test_threads_give_the_same_result(tmp_path) -> None:
    _sweep(str(tmp_path))
    one = _flat(tbwrite.read_scalars(tmp_path, threads=1))
    calls = []
    many = tbwrite.read_scalars(tmp_path, threads=4, progress=lambda *a: calls.append(a))
    assert _flat(many) == one
    assert list(many) == sorted(many)  # runs still in name order
    assert len(calls) == 12
    with pytest.raises(ValueError, match="threads must be a positive int"):
        tbwrite.read_scalars(tmp_path, threads=0)


# -- the record walk itself ------------------------------------------------------------------


def _records(sizes_and_tags) -> bytes:
    out = []
    for i, (tag, extra) in enumerate(sizes_and_tags):
        ev = event_pb2.Event(wall_time=float(i), step=i)
        ev.summary.value.add(tag=tag + "x" * extra, simple_value=float(i))
        out.append(frame(ev.SerializeToString()))
    return b"".join(out)


@pytest.mark.parametrize(
    "pattern",
    [
        [("a", 0)] * 3000,  # period 1
        [("a", 0), ("bb", 0), ("c", 5)] * 1500,  # period 3
        [("t", (i * 7919) % 13) for i in range(4000)],  # no short period
        [("a", 0)] * 2000 + [("b", 1), ("c", 2)] * 1000 + [("a", 0)] * 10,  # the period changes
    ],
)
def test_walk_finds_exactly_the_records(pattern) -> None:
    data = _records(pattern)
    end, starts, lengths, need, bad = walk(data, {})
    assert (end, need, bad) == (len(data), 0, None)
    # The reference: one record after another.
    pos, ref = 0, []
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + 8], "little")
        ref.append(pos + 12)
        pos += n + 16
    assert starts.tolist() == ref and len(lengths) == len(pattern)
    # An unfinished last record is left for later.
    end2, starts2, _, need2, _ = walk(data[:-3], {})
    assert len(starts2) == len(pattern) - 1 and need2 > 0 and end2 == ref[-1] - 12


@pytest.mark.parametrize("victim", [0, 17, 1500, 2998, 2999])
@pytest.mark.parametrize("where", ["payload", "footer", "two_same_bits"])
def test_walk_finds_the_first_damaged_record(victim, where) -> None:
    data = bytearray(_records([("a", 0), ("bb", 0)] * 1500))
    end, starts, lengths, _, _ = walk(bytes(data), {})
    s, n = int(starts[victim]), int(lengths[victim])
    if where == "payload":
        data[s + n // 2] ^= 0x04
    elif where == "footer":
        data[s + n] ^= 0x80
    else:
        # The same bits flipped in two records of one length: cancels in a plain XOR.
        other = victim + 2 if victim + 2 < 3000 else victim - 2
        first = min(victim, other)
        for i in (victim, other):
            data[int(starts[i]) + 3] ^= 0x10
        victim = first
    end, st, _, need, bad = walk(bytes(data), {})
    assert bad == int(starts[victim]) - 12 and end == bad
    assert len(st) == victim
    with pytest.raises(CorruptRecordError) as err:
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".tfevents") as f:
            f.write(bytes(data))
            f.flush()
            tbwrite.read_scalars(f.name)
    assert err.value.offset == int(starts[victim]) - 12


def test_exact_walk_checks_every_record_alone(tmp_path) -> None:
    from tbwrite._reading.records import verify_file

    data = bytearray(_records([("a", 0)] * 1000))
    _, starts, lengths, _, _ = walk(bytes(data), {})
    # The same bit flipped in two records of one length (which cancels in a plain XOR of
    # the group): the exact walk checks record by record and names the first.
    for i in (100, 164):
        data[int(starts[i]) + 5] ^= 0x01
    assert walk(bytes(data), {}, exact=True)[4] == int(starts[100]) - 12
    path = tmp_path / "events.out.tfevents.1.h"
    path.write_bytes(bytes(data))
    check = verify_file(str(path))
    assert check.records == 100 and check.corrupt is not None
    assert check.corrupt[0] == int(starts[100]) - 12
    assert check.corrupt[1].endswith("data checksum mismatch")


def test_heads_sharing_a_hash_bucket_are_told_apart(tmp_path, monkeypatch) -> None:
    import tbwrite._reading.fast_parse as fast_parse

    # Two hash buckets for twelve tags: heads share buckets, and only the word-by-word
    # comparison with each bucket's representative keeps their events apart (the others
    # take the general path).
    monkeypatch.setattr(fast_parse, "_TABLE_BITS", 1)
    tags = [t + z for t in ("ab", "cd", "efg", "h", "ijkl", "mn") for z in ("", "\x00")]
    recs = []
    for i in range(600):
        ev = event_pb2.Event(wall_time=1.0 + i, step=i)
        ev.summary.value.add(tag=tags[i % len(tags)], simple_value=float(i))
        recs.append(frame(ev.SerializeToString()))
    path = tmp_path / "events.out.tfevents.1.h"
    path.write_bytes(b"".join(recs))
    got = tbwrite.read_scalars(path)["."]
    assert sorted(got) == sorted(tags)
    for k, tag in enumerate(tags):
        assert got[tag].steps.tolist() == list(range(k, 600, len(tags)))
        assert got[tag].values.tolist() == [float(i) for i in range(k, 600, len(tags))]


def test_iter_events_runs_filter(tmp_path) -> None:
    _sweep(str(tmp_path), runs=3, steps=5)
    seen = {rec.run for rec in tbwrite.iter_events(tmp_path, runs=["*/eval", re.compile("seed0")])}
    assert seen == {"lr_0/seed0/train", "lr_0/seed0/eval", "lr_1/seed1/eval", "lr_2/seed2/eval"}
    with pytest.raises(TypeError, match="runs must be"):
        next(tbwrite.iter_events(tmp_path, runs=1))


def test_fast_path_takes_every_tag_whatever_is_written_around_it(tmp_path) -> None:
    # An HParams session start (a long head) before short scalar heads: the last tag's last
    # record sits near the buffer's end, fewer words from it than the longest head has.
    from tbwrite._reading.fast_parse import scalar_records

    with tbwrite.SummaryWriter(tmp_path, max_queue=10_000) as w:
        w.add_hparams({"lr": 0.1, "optimizer": "adam"}, {"loss": None})
        for step in range(100):
            for t in range(5):
                w.add_scalar(f"m/t{t}", float(step), step)
    (name,) = os.listdir(tmp_path)
    data = (tmp_path / name).read_bytes()
    end, starts, lengths, need, bad = walk(data, {})
    assert bad is None and need == 0
    # A chunk that ends with the last scalar record (the reader's chunks end anywhere).
    cut = int(starts[-2] + lengths[-2] + 4)
    data, starts, lengths = data[:cut], starts[:-1], lengths[:-1]
    found = scalar_records(data, starts, lengths, {})
    assert sorted(found.tags) == [f"m/t{t}" for t in range(5)]
    assert len(found.sel) == 500
