"""``EventAccumulator``: TensorBoard's classic per-run accumulator, without TensorBoard.

A drop-in for ``tensorboard.backend.event_processing.event_accumulator.EventAccumulator``:
the same constructor, methods, tag-type keys and result fields, and the same results on the
same files, sampling included. What it reproduces, event by event in file order:

- Files: a single event file, or the event files directly inside a directory (basename
  contains ``tfevents``, not ending ``.profile-empty``) in name order; a later ``Reload``
  continues the last file and then reads newer ones. A damaged record ends its file, as it
  does for TensorBoard's Python loader.
- Kinds: ``simple_value`` -> scalars, legacy ``HistogramProto`` -> histograms and
  compressed histograms ("distributions"), legacy ``Summary.Image`` / ``Summary.Audio`` ->
  images / audio, every tensor -> tensors (also new-style scalars: the classic accumulator
  does not convert them). The first metadata seen for a tag is kept.
- Sampling: per tag, a reservoir of ``size_guidance[kind]`` items (0 keeps all), seeded 0,
  whose draws are those of Python's ``random.Random(0).randint(0, n)`` for the n-th item;
  the newest item is always kept (except for compressed histograms), exactly as
  TensorBoard's reservoir, so the same items survive.
- Purging (``purge_orphaned_data``): once a ``file_version`` >= 2 was read, a
  ``SessionLog.START`` drops every scalar, histogram, image and audio item whose step is >=
  its step; before that, a summary event whose step is lower than the most recent step drops
  the items of its own tags with a step >= its step. Tensors are never purged (nor are they
  by TensorBoard). A purge rescales the reservoir's count of items seen as TensorBoard does.

Speed: scalar events (``simple_value``, no metadata) are recognised a whole chunk at a
time by the loaders' vectorised parser (:func:`.fast_parse.scalar_records`) and added to
their reservoir (:mod:`.reservoir`) as arrays; every other record is parsed with protobuf
and processed alone (that loading half is :mod:`.accumulator_load`). Results are plain
namedtuples (:mod:`.event_types`), re-exported here under the names TensorBoard's
``event_accumulator`` module gives them.

``TensorEvent.tensor_proto`` is tbwrite's own ``TensorProto`` message
(``tbwrite._proto.tensor_pb2``): TensorBoard's field names and numbers (dtype,
tensor_shape, tensor_content, float_val, ...), so ``tensor_proto.SerializeToString()``
parses as TensorBoard's / TensorFlow's message, and :func:`make_ndarray` converts it (or
theirs) to numpy as ``tensor_util.make_ndarray`` does. Likewise ``SummaryMetadata`` returns
tbwrite's ``SummaryMetadata`` message. ``Graph()``, ``MetaGraph()`` and ``RunMetadata()``
return the serialized bytes (tbwrite has no GraphDef message).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from .accumulator_load import AccumulatorLoading
from .event_types import (
    AUDIO,
    COMPRESSED_HISTOGRAMS,
    DEFAULT_SIZE_GUIDANCE,
    GRAPH,
    HISTOGRAMS,
    IMAGES,
    META_GRAPH,
    NORMAL_HISTOGRAM_BPS,
    RUN_METADATA,
    SCALARS,
    STORE_EVERYTHING_SIZE_GUIDANCE,
    TENSORS,
    AudioEvent,
    CompressedHistogramEvent,
    DirectoryDeletedError,
    HistogramEvent,
    HistogramValue,
    ImageEvent,
    ScalarEvent,
    TensorEvent,
    Unsupported,
    compress_histogram_proto,
    make_ndarray,
)
from .purge import CLASSIC, OutOfOrder, Restarts
from .reservoir import Reservoir

__all__ = [
    "AUDIO",
    "COMPRESSED_HISTOGRAMS",
    "DEFAULT_SIZE_GUIDANCE",
    "GRAPH",
    "HISTOGRAMS",
    "IMAGES",
    "META_GRAPH",
    "NORMAL_HISTOGRAM_BPS",
    "RUN_METADATA",
    "SCALARS",
    "STORE_EVERYTHING_SIZE_GUIDANCE",
    "TENSORS",
    "AudioEvent",
    "CompressedHistogramEvent",
    "DirectoryDeletedError",
    "EventAccumulator",
    "HistogramEvent",
    "HistogramValue",
    "ImageEvent",
    "Reservoir",
    "ScalarEvent",
    "TensorEvent",
    "Unsupported",
    "compress_histogram_proto",
    "make_ndarray",
]

# -- the accumulator ------------------------------------------------------------------------


class EventAccumulator(AccumulatorLoading):
    """One run's events, accumulated as TensorBoard's ``EventAccumulator`` does.

    Args:
        path: an event file, or a directory whose event files (not those of
            subdirectories) are read in name order.
        size_guidance: items kept per tag, by tag type (``scalars``, ``images``,
            ``audio``, ``histograms``, ``distributions``, ``tensors``); 0 keeps all. Types
            not given take :data:`DEFAULT_SIZE_GUIDANCE` (scalars 10000, images 4, audio 4,
            histograms 1, distributions 500, tensors 10).
        compression_bps: the basis points of ``CompressedHistograms``.
        purge_orphaned_data: drop what a restart orphaned (see the module's notes).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        size_guidance: dict[str, int] | None = None,
        compression_bps: Sequence[int] = NORMAL_HISTOGRAM_BPS,
        purge_orphaned_data: bool = True,
    ) -> None:
        if not path:
            raise ValueError(f"path must be a non-empty path, got {path!r}")
        size_guidance = size_guidance or DEFAULT_SIZE_GUIDANCE
        sizes = {k: size_guidance.get(k, v) for k, v in DEFAULT_SIZE_GUIDANCE.items()}
        self.path = os.fspath(path)
        self._compression_bps = tuple(compression_bps)
        self.purge_orphaned_data = purge_orphaned_data
        self.scalars = Reservoir(sizes[SCALARS], scalars=True)
        self.histograms = Reservoir(sizes[HISTOGRAMS])
        self.compressed_histograms = Reservoir(sizes[COMPRESSED_HISTOGRAMS], False)
        self.images = Reservoir(sizes[IMAGES])
        self.audios = Reservoir(sizes[AUDIO])
        self.tensors = Reservoir(sizes[TENSORS])
        # What purges reach: every kind but tensors.
        self.accumulated_attrs = (
            "scalars",
            "histograms",
            "compressed_histograms",
            "images",
            "audios",
        )
        self.summary_metadata: dict[str, Any] = {}
        self._plugin_to_tag_to_content: dict[str, dict[str, bytes]] = {}
        self._graph: bytes | None = None
        self._graph_from_metagraph = False
        self._meta_graph: bytes | None = None
        self._tagged_metadata: dict[str, bytes] = {}
        self._first_event_timestamp: float | None = None
        self._source_writer: str | None = None
        self._order = OutOfOrder(CLASSIC)  # most_recent_step
        self._restarts = Restarts(CLASSIC)
        self.most_recent_wall_time: float = -1
        self.file_version: float | None = None
        self._mutex = threading.Lock()
        # Where reading resumes: the current file and the offset after its last record.
        self._file: str | None = None
        self._offset = 0
        self._heads: dict[bytes, tuple[str, bool] | None] = {}

    def Reload(self) -> EventAccumulator:  # noqa: N802
        """Load every event written since the last call (all of them the first time)."""
        with self._mutex:
            self._load(limit=None)
        return self

    # -- queries --------------------------------------------------------------------------

    def Tags(self) -> dict[str, Any]:  # noqa: N802
        """``{tag type: [tags]}`` (``graph`` and ``meta_graph``: whether there is one)."""
        return {
            IMAGES: self.images.Keys(),
            AUDIO: self.audios.Keys(),
            HISTOGRAMS: self.histograms.Keys(),
            SCALARS: self.scalars.Keys(),
            COMPRESSED_HISTOGRAMS: self.compressed_histograms.Keys(),
            TENSORS: self.tensors.Keys(),
            GRAPH: self._graph is not None,
            META_GRAPH: self._meta_graph is not None,
            RUN_METADATA: list(self._tagged_metadata),
        }

    def Scalars(self, tag: str) -> list[ScalarEvent]:  # noqa: N802
        """The kept :class:`ScalarEvent` of ``tag``; ``KeyError`` for an unknown tag."""
        return self.scalars.Items(tag)

    def Histograms(self, tag: str) -> list[HistogramEvent]:  # noqa: N802
        return self.histograms.Items(tag)

    def CompressedHistograms(self, tag: str) -> list[CompressedHistogramEvent]:  # noqa: N802
        return self.compressed_histograms.Items(tag)

    def Images(self, tag: str) -> list[ImageEvent]:  # noqa: N802
        return self.images.Items(tag)

    def Audio(self, tag: str) -> list[AudioEvent]:  # noqa: N802
        return self.audios.Items(tag)

    def Tensors(self, tag: str) -> list[TensorEvent]:  # noqa: N802
        return self.tensors.Items(tag)

    def SummaryMetadata(self, tag: str) -> Any:  # noqa: N802
        """The first ``SummaryMetadata`` seen for ``tag``; ``KeyError`` if none."""
        return self.summary_metadata[tag]

    def PluginTagToContent(self, plugin_name: str) -> dict[str, bytes]:  # noqa: N802
        """``{tag: plugin content bytes}`` of a plugin; ``KeyError`` if it has none."""
        if plugin_name not in self._plugin_to_tag_to_content:
            raise KeyError(f"Plugin {plugin_name!r} could not be found.")
        return self._plugin_to_tag_to_content[plugin_name]

    def ActivePlugins(self) -> list[str]:  # noqa: N802
        """Names of the plugins whose metadata was seen."""
        return list(self._plugin_to_tag_to_content)

    def FirstEventTimestamp(self) -> float:  # noqa: N802
        """Wall time of the first event; reads it if nothing was loaded yet. ``ValueError``
        when there is no event at all."""
        if self._first_event_timestamp is not None:
            return self._first_event_timestamp
        with self._mutex:
            self._load(limit=1)
        if self._first_event_timestamp is None:
            raise ValueError("No event timestamp could be found")
        return self._first_event_timestamp

    def GetSourceWriter(self) -> str | None:  # noqa: N802
        """The ``source_metadata.writer`` of the events read (``None`` if none)."""
        if self._source_writer is None and self._first_event_timestamp is None:
            with self._mutex:
                self._load(limit=1)
        return self._source_writer

    def SerializedGraph(self) -> bytes:  # noqa: N802
        if self._graph is None:
            raise ValueError("There is no graph in this EventAccumulator")
        return self._graph

    def Graph(self) -> bytes:  # noqa: N802
        """The serialized ``GraphDef`` (bytes: tbwrite has no GraphDef message; parse it
        with TensorBoard's or TensorFlow's ``GraphDef.FromString`` if needed).
        ``ValueError`` when the run has no graph."""
        return self.SerializedGraph()

    def MetaGraph(self) -> bytes:  # noqa: N802
        """The serialized ``MetaGraphDef``; ``ValueError`` when there is none."""
        if self._meta_graph is None:
            raise ValueError("There is no metagraph in this EventAccumulator")
        return self._meta_graph

    def RunMetadata(self, tag: str) -> bytes:  # noqa: N802
        """The serialized ``RunMetadata`` of ``tag``; ``ValueError`` for an unknown tag."""
        if tag not in self._tagged_metadata:
            raise ValueError("There is no run metadata with this tag name")
        return self._tagged_metadata[tag]

    def PluginAssets(self, plugin_name: str) -> list[str]:  # noqa: N802
        """Asset names under ``<run>/plugins/<plugin_name>/``."""
        d = os.path.join(self.path, "plugins", plugin_name)
        try:
            return sorted(os.listdir(d))
        except OSError:
            return []

    def RetrievePluginAsset(self, plugin_name: str, asset_name: str) -> str:  # noqa: N802
        """The text of a plugin asset; ``KeyError`` if it does not exist."""
        p = os.path.join(self.path, "plugins", plugin_name, asset_name)
        try:
            with open(p, encoding="utf-8") as f:
                return f.read()
        except OSError:
            raise KeyError(f"Asset {asset_name!r} not found for plugin {plugin_name!r}") from None

    def RetrieveHealthPills(self, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
        raise Unsupported(
            "RetrieveHealthPills is not supported by tbwrite's EventAccumulator "
            "(TensorFlow debugger data); use tensorboard's EventAccumulator"
        )

    def __getattr__(self, name: str) -> Any:
        if name[:1].isupper():
            raise Unsupported(
                f"EventAccumulator.{name} is not supported by tbwrite; use tensorboard's "
                "EventAccumulator for it"
            )
        raise AttributeError(name)
