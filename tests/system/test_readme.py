"""Every Python block of README.md, and of the docs pages (docs/*.md), runs as written.

The README's blocks run in order in one scratch directory; the docs pages' blocks run in
order in another, page after page in the order of mkdocs.yml's ``nav``, except the pages
that stand apart (``docs_chains``: each integration's example, the store examples). A
block may use only what it defines itself or what an earlier block of its run left on disk
(the text around a block says what it stands for: the reading examples read the runs the
PyTorch and HParams examples wrote). The store examples (``s3://bucket/...``) run against a
local S3-protocol server holding the bucket ``bucket``. Every block runs, the optional
libraries' too: the test extra installs them all. The Ray Tune and Keras examples run, as
written, in their integrations' tests, which share their start-up and check what they wrote
(``docblocks.RUN_BY_OTHER_TESTS``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from docblocks import RUN_BY_OTHER_TESTS
from docblocks import blocks as _blocks

ROOT = Path(__file__).resolve().parents[2]
_NAV_PAGE = re.compile(r"^\s*-\s+[^:\n]+:\s+(\S+\.md)\s*$", re.M)


def nav_pages() -> list[Path]:
    """The docs pages in the order of mkdocs.yml's ``nav``."""
    return [ROOT / "docs" / page for page in _NAV_PAGE.findall((ROOT / "mkdocs.yml").read_text())]


README_BLOCKS = _blocks(ROOT / "README.md")
DOCS_BLOCKS = [block for page in nav_pages() for block in _blocks(page)]


@pytest.fixture(scope="module")
def block_env(moto_s3):
    moto_s3.create_bucket("bucket")
    env = dict(os.environ)
    env.update(moto_s3.env)
    env["PYTHONPATH"] = str(ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    env.pop("KERAS_BACKEND", None)
    return env


def _run_in_order(blocks: list[tuple[str, str]], cwd: Path, env: dict[str, str]) -> None:
    for where, code in blocks:
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, f"{where} failed:\n{out.stderr[-3000:]}"


def test_readme_and_docs_have_python_blocks() -> None:
    assert len(README_BLOCKS) >= 1
    assert len(DOCS_BLOCKS) >= 15
    pages = {where.split(":")[0] for where, _ in DOCS_BLOCKS}
    assert {"docs/switching.md", "docs/hparams.md", "docs/reading.md"} <= pages


def test_every_docs_page_is_in_the_nav() -> None:
    """A page left out of the nav would have its blocks left out here too."""
    assert sorted(nav_pages()) == sorted((ROOT / "docs").glob("*.md"))


# Pages whose blocks stand apart from the others' files: each integration's example (every
# block of the page on its own, in its own directory) and the store examples (the page's
# blocks in order). Every other page's blocks run in nav order in one directory, since the
# reading and CLI examples read what the PyTorch and HParams examples wrote.
EACH_BLOCK_ALONE = {"docs/integrations.md"}
PAGE_ALONE = {"docs/remote.md"}


def docs_chains() -> dict[str, list[tuple[str, str]]]:
    """The docs blocks as the runs they make: ``{name: blocks in order}``."""
    chains: dict[str, list[tuple[str, str]]] = {"pages": []}
    for where, code in DOCS_BLOCKS:
        page = where.split(":")[0]
        if where in RUN_BY_OTHER_TESTS:
            continue
        if page in EACH_BLOCK_ALONE:
            chains[where] = [(where, code)]
        elif page in PAGE_ALONE:
            chains.setdefault(page, []).append((where, code))
        else:
            chains["pages"].append((where, code))
    return chains


DOCS_CHAINS = docs_chains()


def test_docs_chains_hold_every_block_once() -> None:
    chained = [b for chain in DOCS_CHAINS.values() for b in chain]
    elsewhere = [b for b in DOCS_BLOCKS if b[0] in RUN_BY_OTHER_TESTS]
    assert len(elsewhere) == len(RUN_BY_OTHER_TESTS)
    assert sorted(chained + elsewhere) == sorted(DOCS_BLOCKS)
    assert {"docs/reading.md", "docs/hparams.md"} <= {
        w.split(":")[0] for w, _ in DOCS_CHAINS["pages"]
    }


# One test per chain, not one per block: a chain's blocks build on each other's files, and
# under pytest-xdist separate tests may run in separate workers (separate chains may).
@pytest.mark.timeout(120)
def test_readme_blocks_run_as_written_in_order(block_env, tmp_path) -> None:
    _run_in_order(README_BLOCKS, tmp_path, block_env)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("chain", sorted(DOCS_CHAINS))
def test_docs_blocks_run_as_written_in_order(block_env, tmp_path, chain) -> None:
    _run_in_order(DOCS_CHAINS[chain], tmp_path, block_env)


# The tests in parallel, an idle worker taking queued tests from a busy one.
TEST_COMMAND = 'python -m pytest -n auto --dist worksteal -m "not package and not stress"'
PACKAGE_COMMAND = "python -m pytest -n auto --dist worksteal tests/package"


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
    assert command.endswith(
        'python -m pytest -n auto --dist worksteal -m "not package and not stress"'
    )
    steps = [line for line in ci.splitlines() if line and not line.startswith("#")]
    runs = [line for line in steps if "pytest" in line or "readme_command" in line]
    assert runs == [
        pick,
        'eval "$readme_command"',
        "python -m pytest -n auto --dist worksteal tests/package",
    ], runs


def test_readme_opens_with_the_two_commands() -> None:
    """The first code block of the README is the two set-up commands, the demo's and the
    tests', and the quick core check follows: what a person needs on the first screen."""
    readme = (ROOT / "README.md").read_text()
    first = re.search(r"^```sh\n(.*?)^```", readme, re.S | re.M)
    assert first is not None
    lines = first.group(1).splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("pip install . && python -m tbwrite demo")
    assert lines[1].endswith(
        'python -m pytest -n auto --dist worksteal -m "not package and not stress"'
    )
    assert (
        "pip install -c tests/constraints.txt -e '.[test-core]' && python -m pytest tests/unit"
        in (readme)
    )


def _slug(heading: str) -> str:
    """A heading's anchor, as GitHub and MkDocs' toc make it for these headings."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_readme_links_reach_their_files_and_headings() -> None:
    """The README is read on GitHub and PyPI, outside the docs build: its links to the docs
    pages are checked here (those between pages, by ``mkdocs build --strict``)."""
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    local = [link for link in links if "://" not in link]
    assert any(link.startswith("docs/") for link in local), links
    for link in local:
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.exists(), link
        if anchor:
            headings = re.findall(r"^#+ (.+)$", target.read_text(), re.M)
            assert anchor in {_slug(h) for h in headings}, link
