"""Project metadata people need to adopt tbwrite: the license file ships in the wheel, and
the wheel names its license, authors and project URLs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_carries_license_authors_and_urls(tmp_path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("tbwrite-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(z.read(meta_name).decode())
        license_name = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
        shipped = z.read(license_name).decode()
    assert shipped == (ROOT / "LICENSE").read_text()
    assert "Apache License" in shipped and "Version 2.0" in shipped
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta["Author"]
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Homepage", "Source", "Issues"} <= urls.keys()
    assert all(u.startswith("https://") for u in urls.values())
    assert "Typing :: Typed" in meta.get_all("Classifier")
    assert "tbwrite/py.typed" in names
    # `pip install 'tbwrite[keras]'` must bring a backend: Keras 3 imports none by itself.
    keras_reqs = [r for r in meta.get_all("Requires-Dist") if "extra == 'keras'" in r]
    assert any(r.startswith("jax") for r in keras_reqs), keras_reqs
