"""The optional extras too heavy for the ``test`` environment, each tested in a fresh venv of
its own: ``tbwrite[<extra>]``, the ``test-core`` tools and what its tests read back with,
nothing else. ``tests/extras/test_<extra>.py`` runs there, so every one of its tests runs
once in CI, and the extra is shown to hold all that its feature needs.

Kept out of the ``test`` extra by size (a fresh ``[test]`` install is 1.33 GB without them,
2.2 GB with): Ray Tune with the pyarrow its Tune imports, polars, the docs tools, and the
Flax example's chain (Orbax, TensorStore). pytest never collects ``tests/extras`` on its
own (``norecursedirs``); named on the command line, as here, it does.
"""

from __future__ import annotations

import re

import pytest
from freshvenv import CONSTRAINTS, ROOT, clean_env, importable, make_venv, run

# extra: (what its tests need beside it and test-core, modules its venv must not hold)
EXTRAS: dict[str, tuple[list[str], tuple[str, ...]]] = {
    # read back by a live tensorboard server under both loaders
    "ray": (["tensorboard"], ("torch", "jax")),
    # to_polars goes through neither pandas nor pyarrow
    "polars": ([], ("pandas", "pyarrow")),
    "docs": ([], ("torch", "jax")),
    "examples": ([], ("torch", "tensorboard")),
}

# Seconds the tests of one extra may take on a loaded 2-core machine (Ray's trials: 20 s
# idle, bounded at 240 s inside the test).
TESTS_TIMEOUT = 600


def test_every_extras_file_has_its_environment() -> None:
    files = {path.name for path in (ROOT / "tests" / "extras").glob("test_*.py")}
    assert files == {f"test_{extra}.py" for extra in EXTRAS}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_extra_in_its_own_venv(tmp_path, extra) -> None:
    needs, absent = EXTRAS[extra]
    env = clean_env(tmp_path)
    python = make_venv(
        tmp_path,
        [f"{ROOT}[{extra},test-core]", *needs],
        install_args=["-c", str(CONSTRAINTS)],
        env=env,
    )
    assert importable(python, absent, tmp_path) == []
    tests = run(
        [
            python,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rfEs",
            str(ROOT / "tests" / "extras" / f"test_{extra}.py"),
        ],
        TESTS_TIMEOUT,
        tmp_path,
        env,
    )
    log = tests.stdout[-5000:] + tests.stderr[-2000:]
    assert tests.returncode == 0, log
    # every test ran and passed: nothing skipped for a library the extra did not bring
    summary = tests.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"=* ?\d+ passed in [\d.]+s( \(.*\))? ?=*", summary), log
