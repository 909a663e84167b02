"""The loading half of :class:`.accumulator.EventAccumulator`: files, records, events.

Which files are read and from where reading resumes, the vectorised scalar path and the
one-by-one path of every other record, and purging, as the accumulator's module describes;
the query methods are in :mod:`.accumulator`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._errors import CorruptRecordError
from .._format.names import is_event_file
from .._format.tfrecord import FOOTER_SIZE
from .._format.wire import LEN, META_GRAPH_GRAPH_DEF_FIELD
from .._sinks import is_remote, run_files
from .decode import (
    AudioValue,
    Decoded,
    HistoValue,
    ImageValue,
    SimpleValue,
    TensorValue,
    decode,
    parse_event,
)
from .event_types import (
    AudioEvent,
    CompressedHistogramEvent,
    DirectoryDeletedError,
    HistogramEvent,
    HistogramValue,
    ImageEvent,
    TensorEvent,
    compress_histogram_proto,
)
from .purge import OutOfOrder, Restarts, restarts
from .reservoir import Reservoir, ScalarBucket

__all__ = ["AccumulatorLoading", "meta_graph_graph_def"]


class AccumulatorLoading:
    """Reads a run's event files into the reservoirs and fields of an ``EventAccumulator``
    (which sets them all up in its constructor)."""

    path: str
    purge_orphaned_data: bool
    scalars: Reservoir
    histograms: Reservoir
    compressed_histograms: Reservoir
    images: Reservoir
    audios: Reservoir
    tensors: Reservoir
    accumulated_attrs: tuple[str, ...]
    summary_metadata: dict[str, Any]
    most_recent_wall_time: float
    _order: OutOfOrder  # the out-of-order check of older files (purge.CLASSIC)
    _restarts: Restarts
    file_version: float | None
    _compression_bps: tuple[int, ...]
    _plugin_to_tag_to_content: dict[str, dict[str, bytes]]
    _graph: bytes | None
    _graph_from_metagraph: bool
    _meta_graph: bytes | None
    _tagged_metadata: dict[str, bytes]
    _first_event_timestamp: float | None
    _source_writer: str | None
    _file: str | None
    _offset: int
    _heads: dict[bytes, tuple[str, bool] | None]

    @property
    def most_recent_step(self) -> int:
        """The step the out-of-order check compares with (TensorBoard's attribute)."""
        return self._order.most_recent

    def _files(self) -> list[str]:
        path = self.path
        if is_event_file(path):
            return [path]
        try:
            return run_files(path)
        except FileNotFoundError:
            if is_remote(path):
                return []  # nothing written there yet
            raise DirectoryDeletedError(f"directory {path} has been permanently deleted") from None

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
                    found = scalar_records(chunk.buf, starts, lengths, self._heads, chunk.words)
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
                self._process_chunk(chunk.buf, starts, lengths, rest, scal)
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
            # A payload that is no Event raises protobuf's DecodeError, as TensorBoard's.
            self._process_event(decode(parse_event(buf[a : a + int(lengths[i])])))
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
        if self.purge_orphaned_data and not restarts(self.file_version):
            ooo = self._order.summaries(steps)
            cuts = np.flatnonzero(ooo).tolist()
            inorder = np.flatnonzero(~ooo)
            if len(inorder):
                self.most_recent_wall_time = float(walls[int(inorder[-1])])
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

    def _process_event(self, event: Decoded) -> None:
        if self._first_event_timestamp is None:
            self._first_event_timestamp = event.wall_time
        if event.source_writer is not None:
            writer = event.source_writer
            self._source_writer = writer if writer and len(writer) <= 128 else None
        which = event.what
        if event.file_version is not None:
            self.file_version = event.file_version
        if self.purge_orphaned_data:
            if restarts(self.file_version):
                if event.session_start and self._restarts.start():
                    self._purge(event.step, None)
            elif self._order.event(event.step, which == "summary"):
                self._purge(event.step, [v.tag for v in event.values])
            else:
                self.most_recent_wall_time = event.wall_time
        if which == "graph_def":
            self._graph = event.graph
            self._graph_from_metagraph = False
        elif which == "meta_graph_def":
            self._meta_graph = event.graph
            if self._graph is None or self._graph_from_metagraph:
                self._graph_from_metagraph = True
                self._graph = meta_graph_graph_def(event.graph or b"")
        elif event.run_metadata is not None:
            tag, run_metadata = event.run_metadata
            self._tagged_metadata[tag] = run_metadata
        elif which == "summary":
            wall, step = event.wall_time, event.step
            for value in event.values:
                # Metadata is filed under the tag as written; tensors under their name.
                tag = value.tag
                if value.metadata is not None and tag not in self.summary_metadata:
                    self.summary_metadata[tag] = value.metadata
                    plugin = value.metadata.plugin_data.plugin_name
                    if plugin:
                        self._plugin_to_tag_to_content.setdefault(plugin, {})[tag] = (
                            value.metadata.plugin_data.content
                        )
                if isinstance(value, SimpleValue):
                    b = self.scalars.bucket(tag)
                    assert isinstance(b, ScalarBucket)
                    b.add_one(step, wall, value.value)
                elif isinstance(value, HistoValue):
                    h = value.histo
                    hv = HistogramValue(
                        h.min, h.max, h.num, h.sum, h.sum_squares, list(h.bucket_limit),
                        list(h.bucket),
                    )  # fmt: skip
                    he = HistogramEvent(wall, step, hv)
                    self.histograms.AddItem(tag, he)
                    self.compressed_histograms.AddItem(tag, he, self._compress)
                elif isinstance(value, ImageValue):
                    i = value.image
                    self.images.AddItem(
                        tag, ImageEvent(wall, step, i.encoded_image_string, i.width, i.height)
                    )
                elif isinstance(value, AudioValue):
                    a = value.audio
                    self.audios.AddItem(
                        tag,
                        AudioEvent(
                            wall, step, a.encoded_audio_string, a.content_type, a.sample_rate,
                            a.length_frames,
                        ),
                    )  # fmt: skip
                elif isinstance(value, TensorValue):
                    self.tensors.AddItem(value.name, TensorEvent(wall, step, value.tensor))

    def _compress(self, he: HistogramEvent) -> CompressedHistogramEvent:
        return CompressedHistogramEvent(
            he.wall_time,
            he.step,
            compress_histogram_proto(he.histogram_value, self._compression_bps),
        )


def meta_graph_graph_def(data: bytes) -> bytes:
    """Field 2 (graph_def) of a serialized MetaGraphDef (its last occurrence; empty if
    absent): TensorBoard takes a metagraph's graph even when it is empty."""
    from .fast_parse import fields

    graph = b""
    try:
        for fn, wt, a, b in fields(data, 0, len(data)):
            if fn == META_GRAPH_GRAPH_DEF_FIELD and wt == LEN:
                graph = data[a:b]
    except (ValueError, IndexError):
        pass
    return graph
