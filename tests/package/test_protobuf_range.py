"""The committed generated code (tbwrite/_proto) runs on both ends of the protobuf range
pyproject.toml declares: the oldest release it admits, in a fresh venv, and the one the
test environment holds (the newest the constraints allow)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from freshvenv import ROOT, make_venv

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


@pytest.mark.timeout(1200)
def test_oldest_and_newest_protobuf_runtime(tmp_path) -> None:
    import google.protobuf

    oldest = _oldest_declared()
    # tbwrite itself comes from the source tree (the child's cwd), its dependencies from here.
    oldest_python = make_venv(tmp_path, [f"protobuf=={oldest}", "crc32c", "numpy"])
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
