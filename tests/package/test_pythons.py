"""Every CPython this machine has (pyenv's and the system's, 3.9 and up) installs tbwrite with
the ``test-core`` extra alone and holds no heavy library then. Every other version passes the
unit layer there; the running interpreter's passed it already, in the README's test command
(CI runs each test once), and its core environment passes ``mypy --strict tbwrite`` instead
(the optional libraries absent).

One venv per version, under the test's tmp_path, made and filled by uv (from the ``test``
extra: seconds where pip takes minutes). Each step has a time bound, so that a hung install
fails instead of stalling CI.
"""

from __future__ import annotations

import glob
import os
import re
import sys

import pytest
from freshvenv import CONSTRAINTS, INSTALL_TIMEOUT, ROOT, clean_env, importable, make_venv, run

# Bound for the unit layer of one version (seconds, on a loaded 2-core box).
UNIT_TIMEOUT = 600

# The heavy libraries the core environment must not hold.
HEAVY = ("tensorboard", "torch", "jax", "ray", "tensorflow", "keras", "matplotlib", "fsspec")


def _interpreters() -> dict[str, str]:
    """{"3.9": path, ...}: one interpreter per minor version 3.9 and up (a free-threaded
    build as "3.13t"), pyenv's newest patch release first, else the system's (or /opt's)."""
    found: dict[str, str] = {}
    system = glob.glob("/usr/bin/python3.*") + glob.glob("/usr/local/bin/python3.*")
    # scripts/build_py313t.sh installs the free-threaded build as /opt/py313t/bin/python3.13t.
    system += glob.glob("/opt/py3*t/bin/python3.*t")
    for path in sorted(system):
        m = re.fullmatch(r"python(3\.\d+t?)", os.path.basename(path))
        if m:
            found[m.group(1)] = path
    pyenv = glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python"))
    for path in sorted(pyenv, key=lambda p: [int(x) for x in re.findall(r"\d+", p.split("/")[-3])]):
        m = re.fullmatch(r"(3\.\d+)\.\d+(t?)", path.split("/")[-3])
        if m:
            found[m.group(1) + m.group(2)] = path
    return {v: p for v, p in found.items() if _key(v) >= (3, 9)}


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.rstrip("t").split("."))


INTERPRETERS = _interpreters()
CURRENT = f"{sys.version_info.major}.{sys.version_info.minor}"


def test_the_machine_has_the_oldest_and_newest_declared_python() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    declared = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', text)
    assert declared, "pyproject.toml lists no Python versions"
    oldest = text.split('requires-python = ">=', 1)[1].split('"', 1)[0]
    assert oldest == declared[0], (oldest, declared)
    missing = [v for v in declared if v not in INTERPRETERS]
    if missing:
        pytest.skip(f"Pythons declared but not on this machine: {missing}")


@pytest.mark.timeout(INSTALL_TIMEOUT + 2 * UNIT_TIMEOUT + 300)
@pytest.mark.parametrize("version", sorted(INTERPRETERS, key=_key))
def test_core_install_per_python(tmp_path, version) -> None:
    env = clean_env(tmp_path)
    # The constraints are a freeze of the running interpreter's green run; older Pythons
    # take the newest releases that still support them.
    pinned = ["-c", str(CONSTRAINTS)] if version == CURRENT else []
    if version.endswith("t"):
        # Free-threaded: the compiled dependencies from wheels only. The newest releases of
        # numpy, crc32c and hypothesis ship no cp313t wheel (their sdists need a long
        # build, hypothesis's a Rust toolchain); uv takes the newest release that has one.
        for package in ("numpy", "crc32c", "hypothesis"):
            pinned += ["--only-binary", package]
    extras = "test-core,typecheck" if version == CURRENT else "test-core"
    python = make_venv(
        tmp_path,
        [f"{ROOT}[{extras}]"],
        python=INTERPRETERS[version],
        install_args=pinned,
        env=env,
    )
    assert importable(python, HEAVY, tmp_path) == []

    if version == CURRENT:
        cache = ["--cache-dir", str(tmp_path / "mypy-cache")]
        typed = run([python, "-m", "mypy", "--strict", *cache, "tbwrite"], UNIT_TIMEOUT, ROOT, env)
        assert typed.returncode == 0, typed.stdout[-3000:] + typed.stderr[-2000:]
        assert "Success" in typed.stdout, typed.stdout
        return

    tests = run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "tests" / "unit")],
        UNIT_TIMEOUT,
        tmp_path,
        env,
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    summary = tests.stdout.strip().splitlines()[-1]
    # Only tests that need an optional library (tensorboard, matplotlib) may skip here.
    assert int(summary.split(" passed")[0]) >= 150 and "failed" not in summary, summary
