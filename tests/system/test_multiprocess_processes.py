"""Several processes logging at once (local and S3 log dirs), and process_writer on a store."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

import tbwrite
from tbwrite import process_writer


def test_per_process_mode_on_a_store() -> None:
    w = process_writer("memory://tbw-pp/logs", mode="per_process", process_index=0, process_count=1)
    w.close()
    assert w.get_logdir() == "memory://tbw-pp/logs/process_0"


# -- 4 processes at once ------------------------------------------------------------------

CHILD = r"""
import sys
import tbwrite
logdir, mode = sys.argv[1], sys.argv[2]
if mode == "shared":
    w = tbwrite.SummaryWriter(logdir, flush_secs=3600)
else:
    w = tbwrite.process_writer(logdir, mode=mode, flush_secs=3600)
rank = tbwrite.process_index()
for step in range(100):
    w.add_scalar("loss", rank * 1000 + step, step)
    if step % 10 == 9:
        w.flush()
w.close()
"""


def run_four(logdir: str, mode: str, env: dict[str, str] | None = None) -> None:
    procs = []
    for rank in range(4):
        child_env = {**os.environ, **(env or {}), "RANK": str(rank), "WORLD_SIZE": "4"}
        procs.append(subprocess.Popen([sys.executable, "-c", CHILD, logdir, mode], env=child_env))
    codes = [p.wait(timeout=120) for p in procs]
    assert codes == [0, 0, 0, 0]


def check_four(logdir: str, mode: str) -> None:
    runs = tbwrite.read_scalars(logdir)
    if mode == "per_process":
        assert list(runs) == [f"process_{r}" for r in range(4)]
        for r in range(4):
            s = runs[f"process_{r}"]["loss"]
            assert list(s.steps) == list(range(100))
            assert list(s.values) == [r * 1000 + i for i in range(100)]
    elif mode == "main":
        assert list(runs) == ["."]
        assert list(runs["."]["loss"].values) == list(range(100))
    else:  # four writers in one run directory: each its own files, nothing collides
        files = tbwrite.find_runs(logdir)["."]
        # ...tfevents.<time>.<host>.<pid>.<counter>[.<nonce>.<seq>] (a host may hold dots)
        name = re.compile(r"\.(\d+)\.(\d+)(?:\.[0-9a-f]{6}\.\d{8})?$")
        writers = {name.search(f).group(1) for f in files}  # type: ignore[union-attr]
        assert len(writers) == 4
        values = sorted(int(v) for v in runs["."]["loss"].values)
        assert values == sorted(r * 1000 + i for r in range(4) for i in range(100))


@pytest.mark.parametrize("mode", ["per_process", "main", "shared"])
def test_four_processes_one_local_logdir(tmp_path, mode) -> None:
    logdir = str(tmp_path / "logs")
    run_four(logdir, mode)
    check_four(logdir, mode)


@pytest.mark.server
@pytest.mark.parametrize("mode", ["per_process", "shared"])
def test_four_processes_one_s3_logdir(moto_s3, mode) -> None:
    logdir = f"s3://tbwrite/four/{mode}"
    run_four(logdir, mode, moto_s3.env)
    check_four(logdir, mode)
    # Each process uploads segments named after it (check_four reads every step once).
    puts = moto_s3.puts(f"/tbwrite/four/{mode}/")
    assert len({path.rsplit("/", 1)[1].split(".")[5] for path, _ in puts}) == 4


# -- multiprocessing workers ---------------------------------------------------------------

POOL = r"""
import multiprocessing, os, sys

def init(logdir):
    global writer
    import tbwrite
    writer = tbwrite.SummaryWriter(os.path.join(logdir, f"worker_{os.getpid()}"))
    writer.add_hparams({"pid": os.getpid()}, {"score": 0.0})

def work(step):
    writer.add_scalar("loss", float(step), step)  # left buffered: flush_secs=120
    return step

if __name__ == "__main__":
    logdir, method, ending = sys.argv[1:]
    with multiprocessing.get_context(method).Pool(2, initializer=init, initargs=(logdir,)) as pool:
        pool.map(work, range(8), chunksize=1)
        if ending == "close":
            pool.close()
            pool.join()
    # ending "terminate": leaving the with block terminates the pool
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("ending", ["close", "terminate"])
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_pool_workers_write_what_they_logged(tmp_path, method, ending) -> None:
    # A worker started by fork ends in os._exit, which runs no atexit hook: what it logged
    # and left buffered is written all the same, and its session ends.
    script = tmp_path / "pool_main.py"  # spawn and forkserver workers import it by path
    script.write_text(POOL)
    logdir = tmp_path / "logs"
    subprocess.run(
        [sys.executable, str(script), str(logdir), method, ending], check=True, timeout=100
    )
    runs = tbwrite.read_scalars(logdir)
    steps = sorted(int(s) for run in runs.values() if "loss" in run for s in run["loss"].steps)
    assert steps == list(range(8))
    table = tbwrite.read_hparams(logdir)
    assert len(table) >= 1
    assert all(row.status in ("SUCCESS", "FAILURE") for row in table), table
