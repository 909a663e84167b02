"""The ``tbwrite`` command line: ``python -m tbwrite`` (demo, bench, ls, export, ...)."""

from .main import main

__all__ = ["main"]
