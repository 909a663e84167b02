"""Reading a sweep from an S3-protocol server (moto): runs fetched concurrently give what
a local read gives, filters included; the multiplexer reads store URLs too."""

from __future__ import annotations

import os

import numpy as np
import pytest

import tbwrite
from tbwrite import EventMultiplexer

pytestmark = pytest.mark.system


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


def test_s3_sweep_read_concurrently_equals_local(tmp_path, moto_s3) -> None:
    import fsspec

    _sweep(str(tmp_path), runs=9, steps=30)
    fs = fsspec.filesystem("s3")
    fs.put(str(tmp_path) + "/", "tbwrite/sweep/", recursive=True)
    url = "s3://tbwrite/sweep"
    local = _flat(tbwrite.read_scalars(tmp_path))
    assert _flat(tbwrite.read_scalars(url)) == local  # 16 threads by default
    assert _flat(tbwrite.read_scalars(url, threads=1)) == local
    part = _flat(tbwrite.read_scalars(url, runs="lr_0/*", tags="loss"))
    assert part == {k: v for k, v in local.items() if k[0].startswith("lr_0/") and k[1] == "loss"}

    ours = EventMultiplexer().AddRunsFromDirectory(url).Reload()  # 16 threads for URLs
    assert sorted(ours.Runs()) == sorted({k[0] for k in local})
    for run in ours.Runs():
        values = [e.value for e in ours.Scalars(run, "loss")]
        np.testing.assert_array_equal(values, local[(run, "loss")][2])


def test_s3_filesystem_keeps_connections_for_the_reader_threads(moto_s3) -> None:
    # botocore's default pool (10) is smaller than the reader's 16 threads; a user's own
    # fsspec configuration of config_kwargs wins.
    import fsspec.config

    from tbwrite._sinks.remote import S3_POOL_CONNECTIONS, filesystem

    fs, _ = filesystem("s3://tbwrite/pool-check")
    assert fs.config_kwargs == {"max_pool_connections": S3_POOL_CONNECTIONS}
    fsspec.config.conf["s3"]["config_kwargs"] = {"max_pool_connections": 5}
    try:
        fs, _ = filesystem("s3://tbwrite/pool-check")
        assert fs.config_kwargs == {"max_pool_connections": 5}
    finally:
        del fsspec.config.conf["s3"]["config_kwargs"]
