"""The committed generated code (tbwrite/_proto) runs on both ends of the protobuf range
pyproject.toml declares: the oldest release it admits, in a fresh venv, and the one the
test environment holds (the newest the constraints allow)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CODE = (
    "import sys, tbwrite, numpy as np\n"
    "from google.protobuf import __version__ as v\n"
    "from tbwrite._proto import event_pb2, hparams_pb2\n"
    "w = tbwrite.SummaryWriter(sys.argv[1])\n"
    "w.add_scalar('x', 1.0, 1); w.add_histogram('h', np.arange(10.0), 1)\n"
    "w.add_text('t', 'hi', 1); w.close()\n"
    "s = hparams_pb2.SessionStartInfo(); s.hparams['lr'].number_value = 0.1\n"
    "print(v, len(s.SerializeToString()))\n"
)


def _oldest_declared() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    return text.split('"protobuf>=', 1)[1].split(",", 1)[0]


def _uv(*args: str, cwd: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "uv", *args], capture_output=True, text=True, timeout=600, cwd=cwd
    )
    assert out.returncode == 0, out.stderr[-3000:]


@pytest.mark.timeout(1200)
def test_oldest_and_newest_protobuf_runtime(tmp_path) -> None:
    import google.protobuf

    oldest = _oldest_declared()
    venv_dir = tmp_path / "venv"
    _uv("venv", "-q", "--python", sys.executable, str(venv_dir), cwd=tmp_path)
    oldest_python = str(venv_dir / "bin" / "python")
    # tbwrite itself comes from the source tree (the child's cwd), its dependencies from here.
    _uv(
        "pip",
        "install",
        "-q",
        "--python",
        oldest_python,
        f"protobuf=={oldest}",
        "crc32c",
        "numpy",
        cwd=tmp_path,
    )
    for python, expected in (
        (oldest_python, oldest),
        (sys.executable, google.protobuf.__version__),
    ):
        out = subprocess.run(
            [python, "-c", CODE, str(tmp_path / "run")],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.split()[0] == expected, out.stdout
