"""KINDS: every summary kind tbwrite writes, the one table the writers and the reader share.

A kind is the plugin TensorBoard files it under and its builder, a pure function
``build(tag, *payload, with_metadata) -> bytes`` (a serialized Summary) in a module of this
package. The writers check their arguments, then hand the payload to
:meth:`tbwrite._run.RunWriter.write` with the kind's name; the reader decodes the kinds whose
``read_as`` is set (``read_scalars``, ``read_histograms``, ``read_text``).

Adding a kind: one entry here, its builder, and the writer method that checks its arguments.

Builder modules import numpy and protobuf, so they are imported when a kind is first used;
this table imports nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import Callable, Final, NamedTuple

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

__all__ = ["KINDS", "READ_PLUGINS", "Kind", "builder"]

Builder = Callable[..., bytes]


class Kind(NamedTuple):
    """One summary kind: TensorBoard's plugin for it and where its builder lives.

    (A NamedTuple, not a dataclass: importing dataclasses would double ``import tbwrite``.)
    """

    plugin: str  # "" for raw tensors, whose metadata the caller gives
    module: str  # under tbwrite._summaries
    function: str
    read_as: str | None = None  # the reader's name for it, when tbwrite reads it back

    @property
    def build(self) -> Builder:
        """The builder, imported on first use."""
        key = f"{self.module}.{self.function}"  # modules may share a function name
        built = _builders.get(key)
        if built is None:
            module = importlib.import_module(f"{__package__}.{self.module}")
            built = _builders[key] = getattr(module, self.function)
        return built


_builders: dict[str, Builder] = {}


KINDS: Final[dict[str, Kind]] = {
    "scalar": Kind(PLUGIN_SCALARS, "scalars_text", "scalar_tensor_summary", "scalars"),
    "histogram": Kind(PLUGIN_HISTOGRAMS, "histograms", "histogram_summary", "histograms"),
    "text": Kind(PLUGIN_TEXT, "scalars_text", "text_summary", "text"),
    "image": Kind(PLUGIN_IMAGES, "images_audio", "image_summary"),
    "audio": Kind(PLUGIN_AUDIO, "images_audio", "audio_summary"),
    "pr_curve": Kind(PLUGIN_PR_CURVES, "pr_curves", "pr_curve_summary"),
    "mesh": Kind(PLUGIN_MESH, "mesh", "mesh_summary"),
    "custom_scalars": Kind(PLUGIN_CUSTOM_SCALARS, "custom_scalars", "custom_scalars_summary"),
    "tensor": Kind("", "tensors", "tensor_summary"),
    # PyTorch's legacy forms (Summary.Value.image / .audio / .histo), which the loaders
    # convert for the plugins and the legacy readers (EventAccumulator, tbparse) read.
    "legacy_image": Kind(PLUGIN_IMAGES, "legacy", "image_summary"),
    "legacy_audio": Kind(PLUGIN_AUDIO, "legacy", "audio_summary"),
    "legacy_histogram": Kind(PLUGIN_HISTOGRAMS, "legacy", "histogram_summary", "histograms"),
}
"""Kind name -> :class:`Kind`. (The scalar kind is its tensor form; ``simple_value``
scalars are framed by the fast path in :mod:`tbwrite._format.fast_scalars`, and the
hparams plugin's session summaries are written by the run core.)"""

# Plugins whose values the reader decodes: scalars, histograms, text.
READ_PLUGINS: Final = frozenset(k.plugin for k in KINDS.values() if k.read_as is not None)


def builder(kind: str) -> Builder:
    """The builder of ``kind`` (a key of :data:`KINDS`)."""
    return KINDS[kind].build
