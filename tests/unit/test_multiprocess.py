"""Many processes, one logdir: the process_writer helper, and 4 real processes at once."""

from __future__ import annotations

import os
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
