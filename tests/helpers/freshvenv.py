"""Fresh virtual environments for the package tests (``tests/package``), made and filled by
uv: seconds where pip takes minutes. Every step has a time bound, so that a hung install
fails with its output instead of stalling CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "tests" / "constraints.txt"

# Seconds one venv's install may take on a loaded 2-core machine.
INSTALL_TIMEOUT = 600


def clean_env(tmp_path: Path) -> dict[str, str]:
    """This process's environment for a child of a fresh venv.

    Without PYTHONPATH: the venv must import the tbwrite it installed, not a source tree.
    Bytecode is written as modules are first imported (where PYTHONDONTWRITEBYTECODE is set,
    every interpreter a test starts would compile them again), under ``tmp_path``, not
    beside the sources: only what the test imports is compiled, where compiling the whole
    venv at install took longer.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path / "pycache")
    return env


def run(
    cmd: list[str], timeout: float, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


def make_venv(
    tmp_path: Path,
    requirements: list[str],
    *,
    python: str = sys.executable,
    install_args: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """A venv at ``tmp_path / "venv"`` for the interpreter ``python``, holding
    ``requirements`` (uv's install arguments ``install_args`` before them). Returns the
    venv's python; an install that fails fails the test with uv's output."""
    venv_dir = tmp_path / "venv"
    uv = [sys.executable, "-m", "uv"]
    made = run([*uv, "venv", "-q", "--python", python, str(venv_dir)], 120, tmp_path, env)
    assert made.returncode == 0, made.stderr[-3000:]
    venv_python = str(venv_dir / "bin" / "python")
    install = [*uv, "pip", "install", "-q", "--python", venv_python, *(install_args or [])]
    out = run([*install, *requirements], INSTALL_TIMEOUT, tmp_path, env)
    assert out.returncode == 0, out.stderr[-3000:]
    return venv_python


def importable(python: str, modules: tuple[str, ...], tmp_path: Path) -> list[str]:
    """Those of ``modules`` the interpreter ``python`` finds (an empty list if none)."""
    probe = (
        "import importlib.util as u, json, sys\n"
        "print(json.dumps([m for m in sys.argv[1:] if u.find_spec(m)]))"
    )
    out = run([python, "-c", probe, *modules], 60, tmp_path, clean_env(tmp_path))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)
