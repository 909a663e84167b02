"""The Python blocks of README.md and the docs pages, as the tests run them.

``tests/system/test_readme.py`` runs every block as written; a block that starts something
costly another test also needs is run by that test instead, as written and first in its
process, and then checked (``RUN_BY_OTHER_TESTS``).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def blocks(path: Path) -> list[tuple[str, str]]:
    """``(file:line, code)`` of every Python block of ``path``, in order."""
    text = path.read_text()
    name = path.relative_to(ROOT)
    return [
        (f"{name}:{text.count(chr(10), 0, m.start()) + 1}", m.group(1))
        for m in _BLOCK.finditer(text)
    ]


def the_block(path: Path, needle: str) -> tuple[str, str]:
    """The one block of ``path`` whose code holds ``needle``."""
    found = [block for block in blocks(path) if needle in block[1]]
    if len(found) != 1:
        raise LookupError(f"{len(found)} blocks of {path} hold {needle!r}, not one")
    return found[0]


def script(block: tuple[str, str], then: str, before: str = "") -> str:
    """A ``python -c`` script that runs ``block`` as written, at the top of ``__main__``
    (after ``before``, which sets up where it runs), and then ``then``."""
    where, code = block
    return f"{before}\n# {where}, as written\n{code}\n# then\n{then}"


# The Ray Tune example: Ray's start costs about 10 CPU-seconds, so the Ray Tune tests
# (tests/extras/test_ray.py, in the ray extra's own venv) run the example as written and
# then their own trials in the same Ray session, and check what the example wrote.
RAY_TUNE_BLOCK = the_block(ROOT / "docs" / "integrations.md", "TbwriteLoggerCallback")

# The Keras example: Keras and JAX take about 4 s to import, so the child that trains the
# Keras tests' JAX models (tests/system/test_integrations_keras.py) runs it first, as
# written, and they check what it wrote.
KERAS_BLOCK = the_block(ROOT / "docs" / "integrations.md", "from tbwrite.integrations.keras")

RUN_BY_OTHER_TESTS = {
    RAY_TUNE_BLOCK[0]: "tests/extras/test_ray.py (Ray Tune, in its own venv)",
    KERAS_BLOCK[0]: "tests/system/test_integrations_keras.py (jax_trainings)",
}
