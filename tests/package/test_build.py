"""Ready to publish: ``python -m build`` makes the sdist and the wheel, ``twine check --strict``
passes both (the README renders on PyPI, the metadata is complete), and what they carry is
what users rely on: the ``py.typed`` marker, the Python classifiers, and the version that
``tbwrite.__version__`` reports.

The build runs without isolation (``--no-isolation``): the build backend, hatchling, is in
the ``test`` extra, so the test needs no network; the wheel is built from the sdist, as
``python -m build`` does, so a file missing from the sdist fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

pytestmark = pytest.mark.package

ROOT = Path(__file__).resolve().parents[2]
PYTHONS = ["3.9", "3.10", "3.11", "3.12", "3.13"]


def _run(cmd: list[str], cwd: Path, timeout: float, **env: str) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **env})  # fmt: skip
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """(sdist, wheel) built by ``python -m build`` from this checkout."""
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--sdist", "--wheel", "--no-isolation",
          "--outdir", str(out), str(ROOT)], out, timeout=240)  # fmt: skip
    sdists, wheels = sorted(out.glob("tbwrite-*.tar.gz")), sorted(out.glob("tbwrite-*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, sorted(p.name for p in out.iterdir())
    return sdists[0], wheels[0]


def _wheel_metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(z.read(name).decode()), z.namelist()


def _sdist_metadata(sdist: Path):
    with tarfile.open(sdist) as t:
        names = t.getnames()
        (pkg_info,) = [n for n in names if n.count("/") == 1 and n.endswith("/PKG-INFO")]
        member = t.extractfile(pkg_info)
        assert member is not None
        return Parser().parsestr(member.read().decode()), names


def test_twine_check_passes(dists) -> None:
    sdist, wheel = dists
    out = _run([sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)],
               sdist.parent, timeout=120)  # fmt: skip
    assert out.count("PASSED") == 2, out


def test_version_classifiers_and_typed_marker(dists) -> None:
    sdist, wheel = dists
    # the version tbwrite reports, from this checkout's source
    reported = _run([sys.executable, "-c", "import tbwrite; print(tbwrite.__version__)"],
                    ROOT, timeout=60, PYTHONPATH=str(ROOT)).strip()  # fmt: skip
    wheel_meta, wheel_names = _wheel_metadata(wheel)
    sdist_meta, sdist_names = _sdist_metadata(sdist)
    for meta in (wheel_meta, sdist_meta):
        assert meta["Name"] == "tbwrite"
        assert meta["Version"] == reported
        assert meta["Requires-Python"] == ">=3.9"
        assert meta["Description-Content-Type"] == "text/markdown"
        pythons = [
            c.rsplit(" :: ", 1)[1]
            for c in meta.get_all("Classifier")
            if c.startswith("Programming Language :: Python :: 3.")
        ]
        assert pythons == PYTHONS
        assert "Typing :: Typed" in meta.get_all("Classifier")
    assert wheel.name == f"tbwrite-{reported}-py3-none-any.whl"
    assert sdist.name == f"tbwrite-{reported}.tar.gz"
    assert "tbwrite/py.typed" in wheel_names
    assert f"tbwrite-{reported}/tbwrite/py.typed" in sdist_names
    # the sdist carries what builds and tests the package, and no build leftovers
    for path in ("pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE", "tests/conftest.py"):
        assert f"tbwrite-{reported}/{path}" in sdist_names, path
    assert not [n for n in sdist_names + wheel_names if "__pycache__" in n or n.endswith(".pyc")]
