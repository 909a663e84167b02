"""Every Python block of README.md runs as written, in order, in one scratch directory.

A block may use only what it defines itself or what an earlier block left on disk (the
text around a block says what it stands for). The store examples (``s3://bucket/...``) run
against a local S3-protocol server holding the bucket ``bucket``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks() -> list[tuple[int, str]]:
    text = (ROOT / "README.md").read_text()
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _BLOCK.finditer(text)]


BLOCKS = _blocks()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory, moto_s3):
    moto_s3.create_bucket("bucket")
    env = dict(os.environ)
    env.update(moto_s3.env)
    env["PYTHONPATH"] = str(ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    env.pop("KERAS_BACKEND", None)
    return tmp_path_factory.mktemp("readme"), env


def test_readme_has_python_blocks() -> None:
    assert len(BLOCKS) >= 9


@pytest.mark.timeout(600)
def test_blocks_run_as_written_in_order(scratch) -> None:
    # One test, not one per block: the blocks build on each other's files, and under
    # pytest-xdist separate tests may run in separate workers (each with its own scratch).
    cwd, env = scratch
    for line, code in BLOCKS:
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, f"README.md:{line} failed:\n{out.stderr[-3000:]}"


def test_ci_runs_the_readme_test_command_once() -> None:
    """.ci/run takes the test command from README.md itself (so the two cannot drift), runs
    it once, and then only the package tests; the command leaves package and stress out."""
    ci = (ROOT / ".ci" / "run").read_text()
    pick = next(line for line in ci.splitlines() if line.startswith("readme_command=$("))
    picked = subprocess.run(
        ["bash", "-c", pick.split("=", 1)[1][2:-1]], capture_output=True, text=True, cwd=ROOT
    )
    command = picked.stdout.strip()
    readme = (ROOT / "README.md").read_text()
    assert command and readme.count(command) == 1, picked
    assert command.endswith('python -m pytest -n auto -m "not package and not stress"')
    steps = [line for line in ci.splitlines() if line and not line.startswith("#")]
    runs = [line for line in steps if "pytest" in line or "readme_command" in line]
    assert runs == [pick, 'eval "$readme_command"', "python -m pytest -n auto -m package"], runs
