"""Many processes, one logdir: the process_writer helper, and 4 real processes at once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types

import pytest

import tbwrite
from tbwrite import NullWriter, SummaryWriter, process_count, process_index, process_writer
from tbwrite._writers.multiprocess import ENV_CONVENTIONS

ALL_ENV = [v for pair in ENV_CONVENTIONS for v in pair]


@pytest.fixture
def clean_env(monkeypatch):
    for var in ALL_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delitem(sys.modules, "jax", raising=False)
    return monkeypatch


def test_default_is_process_0_of_1(clean_env) -> None:
    assert (process_index(), process_count()) == (0, 1)


@pytest.mark.parametrize("index_var,count_var", ENV_CONVENTIONS)
def test_launcher_environment(clean_env, index_var, count_var) -> None:
    clean_env.setenv(index_var, "3")
    clean_env.setenv(count_var, "8")
    assert (process_index(), process_count()) == (3, 8)


def test_local_rank_is_not_a_process_index(clean_env) -> None:
    clean_env.setenv("LOCAL_RANK", "1")
    clean_env.setenv("SLURM_LOCALID", "1")
    assert process_index() == 0


def test_first_convention_wins_and_bad_values_are_named(clean_env) -> None:
    clean_env.setenv("RANK", "1")
    clean_env.setenv("WORLD_SIZE", "2")
    clean_env.setenv("SLURM_PROCID", "5")
    assert process_index() == 1
    clean_env.setenv("RANK", "one")
    with pytest.raises(ValueError, match="RANK"):
        process_index()


def test_jax_is_asked_only_when_already_imported(clean_env) -> None:
    clean_env.setenv("RANK", "1")
    clean_env.setenv("WORLD_SIZE", "2")
    fake = types.ModuleType("jax")
    fake.process_index = lambda: 2  # type: ignore[attr-defined]
    fake.process_count = lambda: 4  # type: ignore[attr-defined]
    clean_env.setitem(sys.modules, "jax", fake)
    assert (process_index(), process_count()) == (2, 4)


def test_jax_is_never_imported() -> None:
    code = (
        "import sys, tbwrite\n"
        "tbwrite.process_index(); tbwrite.process_count()\n"
        "assert 'jax' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_main_mode(tmp_path, clean_env) -> None:
    w = process_writer(tmp_path / "run", process_index=1, process_count=2)
    assert isinstance(w, NullWriter)
    with w:
        w.add_scalar("loss", 1.0, 1)
        w.add_histogram("h", [1, 2, 3], 1)
        w.flush()
    w.close()
    assert w.get_logdir() == str(tmp_path / "run")
    with pytest.raises(AttributeError):
        w.add_scalr("loss", 1.0)  # a typo is still an error
    assert not (tmp_path / "run").exists()
    with process_writer(tmp_path / "run", process_index=0, process_count=2) as w0:
        assert isinstance(w0, SummaryWriter)
        w0.add_scalar("loss", 1.0, 1)
    assert list(tbwrite.read_scalars(tmp_path / "run")) == ["."]


def test_per_process_mode_names_sort(tmp_path, clean_env) -> None:
    w = process_writer(tmp_path, mode="per_process", process_index=3, process_count=12)
    w.close()
    assert w.get_logdir() == os.path.join(str(tmp_path), "process_03")
    w = process_writer("memory://tbw-pp/logs", mode="per_process", process_index=0, process_count=1)
    w.close()
    assert w.get_logdir() == "memory://tbw-pp/logs/process_0"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "all"},
        {"process_index": -1, "process_count": 2},
        {"process_index": 2, "process_count": 2},
        {"process_index": 0, "process_count": 0},
        {"process_index": True, "process_count": 2},
    ],
)
def test_bad_arguments(tmp_path, kwargs) -> None:
    with pytest.raises(ValueError):
        process_writer(tmp_path, **kwargs)


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
    puts = moto_s3.puts(f"/tbwrite/four/{mode}/")
    assert len({p for p, _ in puts}) == len(puts), "an object was uploaded twice"
