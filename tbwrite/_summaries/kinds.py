"""KINDS: every summary kind tbwrite writes, the one table the writers and the reader share.

A kind is the plugin TensorBoard files it under and, when tbwrite reads it back, the
reader's name for it. Its builder is a pure function ``build(tag, ..., with_metadata) ->
bytes`` (a serialized Summary) in a module of this package, and the run core writes it with
one typed method, :meth:`tbwrite._run.RunWriter`'s ``write_<kind>``, that imports the
builder when first called (builders import numpy and protobuf; this table imports nothing
heavy). The reader decodes the kinds whose ``read_as`` is set (``read_scalars``,
``read_histograms``, ``read_text``).

Adding a kind: one entry here, its builder, its ``RunWriter.write_<kind>`` and the writer
method that checks its arguments. (tests/unit/test_run.py holds this table and the
``write_<kind>`` methods in step.)
"""

from __future__ import annotations

from typing import Final, NamedTuple

from .._format.plugin_names import (
    PLUGIN_AUDIO,
    PLUGIN_CUSTOM_SCALARS,
    PLUGIN_HISTOGRAMS,
    PLUGIN_IMAGES,
    PLUGIN_MESH,
    PLUGIN_PR_CURVES,
    PLUGIN_SCALARS,
    PLUGIN_TEXT,
)

__all__ = ["KINDS", "Kind", "read_plugins"]


class Kind(NamedTuple):
    """One summary kind: TensorBoard's plugin for it and the reader's name for it.

    (A NamedTuple, not a dataclass: importing dataclasses would double ``import tbwrite``.)
    """

    plugin: str  # "" for raw tensors, whose metadata the caller gives
    read_as: str | None = None  # the reader's name for it, when tbwrite reads it back


KINDS: Final[dict[str, Kind]] = {
    "scalar_tensor": Kind(PLUGIN_SCALARS, "scalars"),
    "histogram": Kind(PLUGIN_HISTOGRAMS, "histograms"),
    "text": Kind(PLUGIN_TEXT, "text"),
    "image": Kind(PLUGIN_IMAGES),
    "audio": Kind(PLUGIN_AUDIO),
    "pr_curve": Kind(PLUGIN_PR_CURVES),
    "mesh": Kind(PLUGIN_MESH),
    "custom_scalars": Kind(PLUGIN_CUSTOM_SCALARS),
    "tensor": Kind(""),
    # PyTorch's legacy forms (Summary.Value.image / .audio / .histo), which the loaders
    # convert for the plugins and the legacy readers (EventAccumulator, tbparse) read.
    "legacy_image": Kind(PLUGIN_IMAGES),
    "legacy_audio": Kind(PLUGIN_AUDIO),
    "legacy_histogram": Kind(PLUGIN_HISTOGRAMS, "histograms"),
}
"""Kind name -> :class:`Kind`. (The scalar kind is its tensor form; ``simple_value``
scalars are framed by the fast path in :mod:`tbwrite._format.fast_scalars`, and the
hparams plugin's session summaries are written by the run core.)"""


def read_plugins() -> frozenset[str]:
    """The plugins whose values the reader decodes (the kinds with ``read_as``: scalars,
    histograms, text), read from KINDS when a load starts."""
    return frozenset(k.plugin for k in KINDS.values() if k.read_as is not None)
