"""Run and tag filters of the readers: glob patterns or regular expressions.

A filter is ``None`` (everything), a glob pattern string (``"lr_*"``, matched against the
whole name with :func:`fnmatch.fnmatchcase`, so ``/`` is an ordinary character), a compiled
regular expression (``re.compile(r"seed[0-2]$")``, matched with ``search``), or a list of
those (any may match).
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any, Callable

__all__ = ["name_filter"]


def name_filter(value: Any, name: str) -> Callable[[str], bool] | None:
    """A predicate for the filter ``value`` (the argument ``name``), or None for no filter.
    ``TypeError`` for anything but a str, a compiled pattern or a list/tuple of those."""
    if value is None:
        return None
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    globs: list[str] = []
    regexes: list[re.Pattern[str]] = []
    for item in items:
        if isinstance(item, str):
            globs.append(item)
        elif isinstance(item, re.Pattern):
            regexes.append(item)
        else:
            raise TypeError(
                f"{name} must be a glob pattern (str), a compiled regular expression or a "
                f"list of those, got {value!r}"
            )

    def match(s: str) -> bool:
        return any(fnmatchcase(s, g) for g in globs) or any(r.search(s) for r in regexes)

    return match
