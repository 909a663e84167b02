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
and processed alone. Results are plain namedtuples (:mod:`.event_types`), re-exported here
under the names TensorBoard's ``event_accumulator`` module gives them.

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
from collections.abc import Iterable, Sequence
from typing import Any, Final

from .._errors import CorruptRecordError
from .._format.names import is_event_file
from .._format.tfrecord import FOOTER_SIZE
from .._sinks import is_remote
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
from .reservoir import Reservoir, ScalarBucket

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

_SESSION_START: Final = 1  # SessionLog.START


# -- the accumulator ------------------------------------------------------------------------


def _is_summary_file(path: str) -> bool:
    base = os.path.basename(path)
    return is_event_file(base) and not path.endswith(".profile-empty")


def _parse_file_version(text: str) -> float:
    try:
        return float(text.split("brain.Event:")[-1])
    except ValueError:
        return -1.0


class EventAccumulator:
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
        self.most_recent_step = -1
        self.most_recent_wall_time: float = -1
        self.file_version: float | None = None
        self._mutex = threading.Lock()
        # Where reading resumes: the current file and the offset after its last record.
        self._file: str | None = None
        self._offset = 0
        self._heads: dict[bytes, tuple[str, bool] | None] = {}

    # -- loading --------------------------------------------------------------------------

    def _files(self) -> list[str]:
        from .records import find_runs

        path = self.path
        if _is_summary_file(path):
            return [path]
        if is_remote(path):
            try:
                return find_runs(path).get(".", [])
            except FileNotFoundError:
                return []
        try:
            names = os.listdir(path)
        except FileNotFoundError:
            raise DirectoryDeletedError(f"directory {path} has been permanently deleted") from None
        except NotADirectoryError:
            return []
        return sorted(
            os.path.join(path, n)
            for n in names
            if _is_summary_file(n) and os.path.isfile(os.path.join(path, n))
        )

    def Reload(self) -> EventAccumulator:  # noqa: N802
        """Load every event written since the last call (all of them the first time)."""
        with self._mutex:
            self._load(limit=None)
        return self

    def _load(self, limit: int | None) -> None:
        files = self._files()
        if self._file is not None:
            files = [f for f in files if f >= self._file]
        loaded = 0
        for path in files:
            if path != self._file:
                self._file, self._offset = path, 0
            loaded += self._load_file(path, limit if limit is None else limit - loaded)
            if limit is not None and loaded >= limit:
                return

    def _load_file(self, path: str, limit: int | None) -> int:
        """Process the complete records of ``path`` from the saved offset; returns how
        many. Stops at a damaged record, as TensorBoard's loader does."""
        import numpy as np

        from .._proto.event_pb2 import Event
        from .fast_parse import scalar_records
        from .records import scan_records

        done = 0
        try:
            for chunk in scan_records(path, start=self._offset):
                starts, lengths = chunk.starts, chunk.lengths
                if limit is not None:
                    starts, lengths = starts[: limit - done], lengths[: limit - done]
                n = len(starts)
                rest = np.ones(n, dtype=bool)
                if limit is None:
                    found = scalar_records(chunk.buf, starts, lengths, self._heads)
                    # Scalar tensors are tensors to this accumulator: the general path.
                    simple = ~np.array(found.is_tensor + [False], dtype=bool)[found.codes]
                    sel = found.sel[simple]
                    rest[sel] = False
                    scal = (
                        sel,
                        found.codes[simple],
                        found.steps[simple],
                        found.walls[simple],
                        found.values[simple],
                        found.tags,
                    )
                else:
                    scal = None
                self._process_chunk(chunk.buf, starts, lengths, rest, scal, Event)
                done += n
                end = int(starts[-1] + lengths[-1]) + FOOTER_SIZE
                self._offset = chunk.base + end
                if limit is not None and done >= limit:
                    break
        except CorruptRecordError:
            pass
        except FileNotFoundError:
            pass
        return done

    def _process_chunk(
        self,
        buf: bytes,
        starts: Any,
        lengths: Any,
        rest: Any,
        scal: tuple[Any, Any, Any, Any, Any, list[str]] | None,
        event_cls: Any,
    ) -> None:
        import numpy as np

        slow = np.flatnonzero(rest).tolist()
        if scal is not None:
            idx, code, st, wt, val, tags = scal
        else:
            idx = np.zeros(0, dtype=np.int64)
        # Interleave: runs of scalar events between the records parsed one by one.
        pos = 0
        bounds = np.searchsorted(idx, np.array(slow, dtype=np.int64)).tolist() if slow else []
        for i, b in zip(slow, bounds):
            if b > pos:
                self._add_scalar_run(code[pos:b], st[pos:b], wt[pos:b], val[pos:b], tags)
                pos = b
            a = int(starts[i])
            ev = event_cls.FromString(buf[a : a + int(lengths[i])])
            self._process_event(ev)
        if pos < len(idx):
            self._add_scalar_run(code[pos:], st[pos:], wt[pos:], val[pos:], tags)

    def _add_scalar_run(
        self, code: Any, steps: Any, walls: Any, values: Any, tags: list[str]
    ) -> None:
        """Summary events of one ``simple_value`` each, in file order."""
        import numpy as np

        if self._first_event_timestamp is None:
            self._first_event_timestamp = float(walls[0])
        cuts: list[int] = []
        if self.purge_orphaned_data and not (self.file_version and self.file_version >= 2):
            # Out-of-order check: step < the running maximum of earlier steps.
            run_max = np.maximum.accumulate(steps)
            before = np.empty_like(run_max)
            before[0] = self.most_recent_step
            if len(steps) > 1:
                before[1:] = np.maximum(run_max[:-1], self.most_recent_step)
            ooo = steps < before
            cuts = np.flatnonzero(ooo).tolist()
            inorder = np.flatnonzero(~ooo)
            if len(inorder):
                last = int(inorder[-1])
                self.most_recent_step = int(steps[last])
                self.most_recent_wall_time = float(walls[last])
        pos = 0
        for c in [*cuts, len(steps)]:
            if c > pos:
                self._add_scalars(code[pos:c], steps[pos:c], walls[pos:c], values[pos:c], tags)
            if c < len(steps):
                self._purge(int(steps[c]), [tags[int(code[c])]])
                self._add_scalars(
                    code[c : c + 1], steps[c : c + 1], walls[c : c + 1], values[c : c + 1], tags
                )
            pos = c + 1

    def _add_scalars(self, code: Any, steps: Any, walls: Any, values: Any, tags: list[str]) -> None:
        import numpy as np

        if not len(code):
            return
        groups: list[tuple[int, Any]]
        if (code == code[0]).all():
            groups = [(int(code[0]), slice(None))]
        else:
            # One group per tag, in the order the tags first appear (new buckets are
            # created, and so listed by Tags(), in that order).
            small = code.astype(np.int16) if len(tags) < 2**15 else code
            order = np.argsort(small, kind="stable")  # a radix sort for int16
            sc = code[order]
            cuts = (np.flatnonzero(np.diff(sc)) + 1).tolist()
            parts = np.split(order, cuts)
            groups = sorted(((int(code[p[0]]), p) for p in parts), key=lambda g: int(g[1][0]))
        res = self.scalars
        with res.lock:
            for c, sel in groups:
                b = res.bucket(tags[c])
                assert isinstance(b, ScalarBucket)
                b.add_many(steps[sel], walls[sel], values[sel])

    def _purge(self, step: int, tags: Iterable[str] | None) -> None:
        for attr in self.accumulated_attrs:
            res: Reservoir = getattr(self, attr)
            if tags is None:
                res.FilterBelow(step)
            else:
                for tag in tags:
                    res.FilterBelow(step, tag)

    def _process_event(self, event: Any) -> None:
        if self._first_event_timestamp is None:
            self._first_event_timestamp = event.wall_time
        if event.HasField("source_metadata"):
            writer = event.source_metadata.writer
            self._source_writer = writer if writer and len(writer) <= 128 else None
        which = event.WhichOneof("what")
        if which == "file_version":
            self.file_version = _parse_file_version(event.file_version)
        if self.purge_orphaned_data:
            if self.file_version and self.file_version >= 2:
                if which == "session_log" and event.session_log.status == _SESSION_START:
                    self._purge(event.step, None)
            elif event.step < self.most_recent_step and which == "summary":
                self._purge(event.step, [v.tag for v in event.summary.value])
            else:
                self.most_recent_step = event.step
                self.most_recent_wall_time = event.wall_time
        if which == "graph_def":
            self._graph = event.graph_def
            self._graph_from_metagraph = False
        elif which == "meta_graph_def":
            self._meta_graph = event.meta_graph_def
            if self._graph is None or self._graph_from_metagraph:
                self._graph_from_metagraph = True
                self._graph = _meta_graph_graph_def(event.meta_graph_def)
        elif which == "tagged_run_metadata":
            trm = event.tagged_run_metadata
            self._tagged_metadata[trm.tag] = trm.run_metadata
        elif which == "summary":
            wall, step = event.wall_time, event.step
            for value in event.summary.value:
                if value.HasField("metadata") and value.tag not in self.summary_metadata:
                    self.summary_metadata[value.tag] = value.metadata
                    plugin = value.metadata.plugin_data.plugin_name
                    if plugin:
                        self._plugin_to_tag_to_content.setdefault(plugin, {})[value.tag] = (
                            value.metadata.plugin_data.content
                        )
                kind = value.WhichOneof("value")
                tag = value.tag
                if kind == "simple_value":
                    b = self.scalars.bucket(tag)
                    assert isinstance(b, ScalarBucket)
                    b.add_one(step, wall, value.simple_value)
                elif kind == "histo":
                    h = value.histo
                    hv = HistogramValue(
                        h.min,
                        h.max,
                        h.num,
                        h.sum,
                        h.sum_squares,
                        list(h.bucket_limit),
                        list(h.bucket),
                    )
                    he = HistogramEvent(wall, step, hv)
                    self.histograms.AddItem(tag, he)
                    self.compressed_histograms.AddItem(tag, he, self._compress)
                elif kind == "image":
                    im = value.image
                    self.images.AddItem(
                        tag, ImageEvent(wall, step, im.encoded_image_string, im.width, im.height)
                    )
                elif kind == "audio":
                    au = value.audio
                    self.audios.AddItem(
                        tag,
                        AudioEvent(
                            wall,
                            step,
                            au.encoded_audio_string,
                            au.content_type,
                            au.sample_rate,
                            au.length_frames,
                        ),
                    )
                elif kind == "tensor":
                    self.tensors.AddItem(
                        tag or value.node_name, TensorEvent(wall, step, value.tensor)
                    )

    def _compress(self, he: HistogramEvent) -> CompressedHistogramEvent:
        return CompressedHistogramEvent(
            he.wall_time,
            he.step,
            compress_histogram_proto(he.histogram_value, self._compression_bps),
        )

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


def _meta_graph_graph_def(data: bytes) -> bytes:
    """Field 2 (graph_def) of a serialized MetaGraphDef (its last occurrence; empty if
    absent): TensorBoard takes a metagraph's graph even when it is empty."""
    from .fast_parse import fields

    graph = b""
    try:
        for fn, wt, a, b in fields(data, 0, len(data)):
            if fn == 2 and wt == 2:
                graph = data[a:b]
    except (ValueError, IndexError):
        pass
    return graph
