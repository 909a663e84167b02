"""The docs site builds without a warning, and its API reference has every public name.

``mkdocs build --strict`` fails on any warning: a link to a page or an anchor that does not
exist, a page left out of the nav, a docstring mkdocstrings cannot parse (a parameter the
signature does not have), an object it cannot find. The build needs no network: the theme
uses the browser's fonts (``theme.font: false``) and no plugin fetches anything; where it
can, the test builds in a network namespace with no network to show it.

The docs tools (``tbwrite[docs]``: mkdocs, its Material theme with Babel, mkdocstrings) are
about 120 MB the ``test`` extra leaves out: ``tests/package/test_extras.py`` runs this file in
a fresh venv holding ``tbwrite[docs]``.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs"))
from griffe_sphinx_roles import public_names  # noqa: E402

_DIRECTIVE = re.compile(r"^:::\s+(\S+)", re.M)


def _directives() -> list[str]:
    return [
        name
        for page in (ROOT / "docs").glob("*.md")
        for name in _DIRECTIVE.findall(page.read_text())
    ]


def _offline() -> list[str]:
    """``unshare -n``, where it can run (root on Linux): the build then runs in a network
    namespace of its own, with no network at all, so a fetch would fail it."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


@pytest.mark.timeout(300)
def test_mkdocs_build_strict_has_no_warning(tmp_path) -> None:
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    build = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", "mkdocs.yml"]
    out = subprocess.run(
        [*_offline(), *build, "-d", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "WARNING" not in log, log
    assert (site / "index.html").exists()
    for page in (ROOT / "docs").glob("*.md"):
        if page.stem != "index":
            assert (site / page.stem / "index.html").exists(), page
    api = (site / "api" / "index.html").read_text()
    # every public name is rendered under its own anchor, the docstrings' prose with it
    for name in public_names():
        assert f'id="{name}"' in api, name
    assert "Writes TensorBoard event files into" in api  # SummaryWriter's docstring
    # Sphinx roles of the docstrings came out as links or code, never as written
    assert not re.search(r":(class|meth|func|mod|data|attr):", api)
    # no page asks for a font or a script from elsewhere
    for html in site.rglob("*.html"):
        assert "fonts.googleapis.com" not in html.read_text(), html


def test_every_public_name_is_in_the_api_reference() -> None:
    names = public_names()
    assert "tbwrite.SummaryWriter" in names
    assert "tbwrite.integrations.ray.TbwriteLoggerCallback" in names
    missing = sorted(set(names) - set(_directives()))
    assert not missing, f"public names without a ':::' entry in docs/: {missing}"


def test_public_names_are_read_from_the_package() -> None:
    """public_names() reads ``__all__`` from the source; it is the package's own."""
    import tbwrite

    assert {f"tbwrite.{n}" for n in tbwrite.__all__} <= set(public_names())
    from tbwrite.integrations import clu

    assert {f"tbwrite.integrations.clu.{n}" for n in clu.__all__} <= set(public_names())


def test_the_package_does_not_import_the_docs_tools() -> None:
    for path in (ROOT / "tbwrite").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top not in {"mkdocs", "mkdocstrings", "griffe", "material"}, (path, module)
