"""The code stays clean: ruff (lint and format) on everything. (``mypy --strict tbwrite`` runs
in the package tests, in the core environment: tests/package/test_pythons.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATHS = ["tbwrite", "tests", "benchmarks", "scripts", "examples", "docs/griffe_sphinx_roles.py"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT)


def test_ruff_lint() -> None:
    out = _run("ruff", "check", *PATHS)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format() -> None:
    out = _run("ruff", "format", "--check", *PATHS)
    assert out.returncode == 0, out.stdout + out.stderr
