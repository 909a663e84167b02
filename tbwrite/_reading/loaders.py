"""Loaders: every scalar, histogram and text value of a logdir, no sampling.

Strategy: :func:`tbwrite._reading.records.scan_records` hands over verified records a chunk at a
time; scalar events are then parsed for the whole chunk at once with numpy
(:mod:`.fast_parse`), records of any other shape through the protobuf classes. Each run's
values are then assembled into series, with TensorBoard's purge rules when asked for.
``read_hparams`` builds on :func:`load_runs` in :mod:`.hparams_table`.

What a tag is follows TensorBoard: the first metadata seen for a (run, tag) names its
plugin (``scalars``, ``histograms``, ``text``, ``hparams``); ``simple_value`` is always a
scalar and a legacy ``HistogramProto`` always a histogram.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Callable, Final, TypeVar

from .._errors import CorruptRecordError
from .._format.plugin_names import (
    PLUGIN_AUDIO,
    PLUGIN_HISTOGRAMS,
    PLUGIN_IMAGES,
    PLUGIN_SCALARS,
    PLUGIN_TEXT,
)
from .._format.tfrecord import FOOTER_SIZE, HEADER_SIZE
from .._format.wire import DT_STRING
from .._sinks import is_remote
from .._summaries.kinds import KINDS, read_plugins
from .decode import (
    AudioValue,
    Decoded,
    HistoValue,
    ImageValue,
    SimpleValue,
    TensorValue,
    decode_record,
)
from .fast_parse import RunData, fast_chunk
from .filters import name_filter
from .purge import RESTART_VERSION, SERVER, OutOfOrder, Restarts, restarts
from .records import (
    SkippedBytes,
    check_on_corrupt,
    find_runs,
    open_in_turn,
    scan_records,
    warn_skipped,
)
from .results import Runs, Series
from .tensors import decoded, legacy_histogram, warn_undecodable

if TYPE_CHECKING:
    import numpy as np


ProgressFn = Callable[[int, int, str], None]

REMOTE_THREADS: Final = 16  # runs fetched at once from a store
# PyTorch's legacy Summary.Value fields -> the plugin that shows them.
_LEGACY_LISTED: Final = {ImageValue: PLUGIN_IMAGES, AudioValue: PLUGIN_AUDIO}


def _load_run(
    run: str,
    files: list[str],
    on_corrupt: str,
    skipped: list[SkippedBytes],
    progress: ProgressFn | None,
    done: list[int],
    total: int,
) -> RunData:
    import numpy as np

    rd = RunData()
    keep = read_plugins()
    for path, opened in open_in_turn(files):
        if progress is not None:
            progress(done[0], total, path)
        # The scan lists the damage around a chunk's records before they are parsed here:
        # the file's list is sorted back into file order (offsets never overlap).
        mine: list[SkippedBytes] = []
        for chunk in scan_records(path, on_corrupt, mine, opened=opened):
            rest = fast_chunk(rd, chunk.buf, chunk.starts, chunk.lengths, chunk.words)
            for i in np.flatnonzero(rest).tolist():
                a = int(chunk.starts[i])
                payload = chunk.buf[a : a + int(chunk.lengths[i])]
                offset = chunk.base + a - HEADER_SIZE
                try:
                    event = decode_record(payload, offset, path)
                    _add_event(rd, event, rd.n + i, keep, offset, path)
                except CorruptRecordError as err:
                    if on_corrupt == "raise":
                        raise
                    mine.append(
                        SkippedBytes(
                            path, offset, len(payload) + HEADER_SIZE + FOOTER_SIZE, str(err.args[0])
                        )
                    )
            rd.n += len(chunk.starts)
        mine.sort(key=lambda s: s.offset)
        skipped.extend(mine)
        done[0] += 1
    return rd


def _add_event(
    rd: RunData, event: Decoded, index: int, keep: frozenset[str], offset: int, path: str
) -> None:
    """What the loaders keep of an event the fast path did not take: the values of the
    kinds they decode (plugins in ``keep``: KINDS' ``read_as``), where the points of
    every other kind are, the metadata first seen per tag, and what purging needs."""
    if event.what == "summary":
        step, wall = event.step, event.wall_time
        for v in event.values:
            tag = v.name
            if v.metadata is not None and tag not in rd.meta:
                pd = v.metadata.plugin_data
                rd.meta[tag] = (pd.plugin_name, pd.content)
            if isinstance(v, SimpleValue):
                rd.slow_simple[tag].append((index, step, wall, v.value))
            elif isinstance(v, TensorValue):
                plugin = rd.meta.get(tag, ("",))[0]
                if plugin == "" or plugin in keep:
                    rd.tensors[tag].append((index, step, wall, v.tensor))
                else:
                    rd.listed[(plugin, tag)].append((index, step, wall))
            elif isinstance(v, HistoValue):
                try:
                    histogram = legacy_histogram(v.histo)
                except ValueError as err:
                    raise CorruptRecordError(f"tag {tag!r}: {err}", offset, path) from None
                rd.histos[tag].append((index, step, wall, histogram))
            elif isinstance(v, (ImageValue, AudioValue)):
                rd.listed[(_LEGACY_LISTED[type(v)], tag)].append((index, step, wall))
        rd.sum_tags[index] = [v.name for v in event.values]
        rd.sum_pieces.append(([index], [step]))
    elif event.file_version is not None:
        rd.versions.append((index, event.file_version))
    elif event.session_start:
        rd.starts.append((index, event.step))


# -- assembly -------------------------------------------------------------------------------


def _purge_cuts(rd: RunData) -> tuple[list[tuple[int, int]], dict[str, list[tuple[int, int]]]]:
    """TensorBoard's purge of orphaned data (:mod:`.purge`, as its server applies it), as
    cuts: (index j, step s) drops every point before record j with step >= s; global cuts,
    and per-tag cuts."""
    import numpy as np

    global_cuts: list[tuple[int, int]] = []
    tag_cuts: dict[str, list[tuple[int, int]]] = defaultdict(list)
    versions = sorted(rd.versions)
    vidx = np.array([v[0] for v in versions], dtype=np.int64)
    vval = np.array([v[1] for v in versions], dtype=np.float64)

    def version_at(i: np.ndarray) -> np.ndarray:
        p = np.searchsorted(vidx, i, side="right") - 1
        out = np.full(len(i), -1.0)
        has = p >= 0
        out[has] = vval[p[has]]
        return out

    starts = Restarts(SERVER)
    for j, s in sorted(rd.starts):
        if restarts(float(version_at(np.array([j]))[0])) and starts.start():
            global_cuts.append((j, s))
    if rd.sum_pieces:
        idx = np.concatenate([np.asarray(p[0], dtype=np.int64) for p in rd.sum_pieces])
        stp = np.concatenate([np.asarray(p[1], dtype=np.int64) for p in rd.sum_pieces])
        order = np.argsort(idx, kind="stable")
        idx, stp = idx[order], stp[order]
        ooo = OutOfOrder(SERVER).summaries(stp) & ~(version_at(idx) >= RESTART_VERSION)
        if ooo.any():
            fast_tag: dict[int, str] = {}
            for ridx, codes, tags in rd.fast_tags:
                hit = np.isin(ridx, idx[ooo])
                for r, c in zip(ridx[hit].tolist(), codes[hit].tolist()):
                    fast_tag[r] = tags[c]
            for j, s in zip(idx[ooo].tolist(), stp[ooo].tolist()):
                names = rd.sum_tags.get(j) or [fast_tag[j]]
                for name in names:
                    tag_cuts[name].append((j, s))
    return global_cuts, tag_cuts


def _keep_mask(idx: np.ndarray, steps: np.ndarray, cuts: list[tuple[int, int]]) -> np.ndarray:
    import numpy as np

    if not cuts:
        return np.ones(len(idx), dtype=bool)
    cuts = sorted(cuts)
    cj = np.array([c[0] for c in cuts], dtype=np.int64)
    cs = np.array([c[1] for c in cuts], dtype=np.int64)
    # Suffix minimum of the cut steps: the lowest step cut by any later record.
    suffix = np.minimum.accumulate(cs[::-1])[::-1]
    p = np.searchsorted(cj, idx, side="right")
    keep = np.ones(len(idx), dtype=bool)
    has = p < len(cj)
    keep[has] = steps[has] < suffix[p[has]]
    return keep


def _assemble(
    pieces: list[tuple[Any, Any, Any, Any]], cuts: list[tuple[int, int]] | None, listy: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
    import numpy as np

    val: Any
    if len(pieces) == 1 and not listy:
        idx, st, wt, val = (np.asarray(x) for x in pieces[0])
    else:
        idx = np.concatenate([np.asarray(p[0], dtype=np.int64).reshape(-1) for p in pieces])
        st = np.concatenate([np.asarray(p[1], dtype=np.int64).reshape(-1) for p in pieces])
        wt = np.concatenate([np.asarray(p[2], dtype=np.float64).reshape(-1) for p in pieces])
        if listy:
            val = [v for p in pieces for v in p[3]]
        else:
            val = np.concatenate([np.asarray(p[3], dtype=np.float64).reshape(-1) for p in pieces])
        if len(idx) > 1 and not (idx[1:] > idx[:-1]).all():
            order = np.argsort(idx, kind="stable")
            idx, st, wt = idx[order], st[order], wt[order]
            val = [val[i] for i in order.tolist()] if listy else val[order]
    if cuts:
        keep = _keep_mask(idx, st, cuts)
        if not keep.all():
            idx, st, wt = idx[keep], st[keep], wt[keep]
            val = [v for v, k in zip(val, keep.tolist()) if k] if listy else val[keep]
    return idx, st.astype(np.int64, copy=False), wt.astype(np.float64, copy=False), val


def _rows(items: list[tuple[int, int, float, Any]]) -> tuple[Any, Any, Any, list[Any]]:
    return (
        [i[0] for i in items],
        [i[1] for i in items],
        [i[2] for i in items],
        [i[3] for i in items],
    )


_UNDECODABLE: Final = object()


def _histogram_value(arr: np.ndarray, tag: str, kind: str) -> Any:
    import numpy as np

    if arr.size % 3 or arr.dtype.kind not in "biuf":
        warn_undecodable(tag, kind, f"{arr.size} values of {arr.dtype}")
        return _UNDECODABLE
    return arr.astype(np.float64).reshape(-1, 3) if arr.size else np.zeros((0, 3))


def _text_value(arr: np.ndarray, tag: str, kind: str) -> Any:
    return str(arr.reshape(-1)[0]) if arr.ndim == 0 or arr.size == 1 else arr


def _as_array(arr: np.ndarray, tag: str, kind: str) -> Any:
    return arr


# The value of one point of a decoded kind (KINDS' read_as), from its tensor as numpy; a
# kind not listed here reads as the array itself. Scalars are assembled apart (below).
_VALUE_OF: Final[dict[str, Callable[[np.ndarray, str, str], Any]]] = {
    PLUGIN_HISTOGRAMS: _histogram_value,
    PLUGIN_TEXT: _text_value,
}


def series_of(
    rd: RunData, kind: str, purge: bool, want: Callable[[str], bool] | None = None
) -> dict[str, Series]:
    """The series of one kind of a run; ``want`` (a tag predicate) leaves other tags out
    before anything of theirs is decoded."""
    import numpy as np

    global_cuts: list[tuple[int, int]] = []
    tag_cuts: dict[str, list[tuple[int, int]]] = {}
    if purge:
        global_cuts, tag_cuts = _purge_cuts(rd)

    def plugin(tag: str) -> str:
        return rd.meta.get(tag, ("",))[0]

    out: dict[str, Series] = {}
    if kind == PLUGIN_SCALARS:
        tags = set(rd.simple) | set(rd.slow_simple)
        tags |= {
            t for t in (set(rd.tensor_scalar) | set(rd.tensors)) if plugin(t) == PLUGIN_SCALARS
        }
        if want is not None:
            tags = {t for t in tags if want(t)}
        for tag in sorted(tags):
            pieces = list(rd.simple.get(tag, ()))
            if rd.slow_simple.get(tag):
                pieces.append(_rows(rd.slow_simple[tag]))
            if plugin(tag) == PLUGIN_SCALARS:
                pieces.extend(rd.tensor_scalar.get(tag, ()))
                if rd.tensors.get(tag):
                    items = []
                    for i, s, w, t in rd.tensors[tag]:
                        arr = decoded(t, tag, "scalar") if t.dtype != DT_STRING else None
                        if arr is not None and arr.size:
                            items.append((i, s, w, float(arr.reshape(-1)[0])))
                    if items:
                        pieces.append(_rows(items))
            if not pieces:
                continue
            cuts = global_cuts + tag_cuts.get(tag, [])
            _, st, wt, val = _assemble(pieces, cuts, listy=False)
            out[tag] = Series(st, wt, np.asarray(val, dtype=np.float64))
    else:
        tags = {t for t in rd.tensors if plugin(t) == kind}
        if kind == PLUGIN_HISTOGRAMS:
            tags |= set(rd.histos)
        if want is not None:
            tags = {t for t in tags if want(t)}
        for tag in sorted(tags):
            rows: list[tuple[int, int, float, Any]] = []
            if kind == PLUGIN_HISTOGRAMS:
                rows.extend(rd.histos.get(tag, ()))
            if plugin(tag) == kind:
                convert = _VALUE_OF.get(kind, _as_array)
                for i, s, w, t in rd.tensors.get(tag, ()):
                    arr = decoded(t, tag, kind)
                    if arr is None:
                        continue
                    value = convert(arr, tag, kind)
                    if value is not _UNDECODABLE:
                        rows.append((i, s, w, value))
            if not rows:
                continue
            cuts = global_cuts + tag_cuts.get(tag, [])
            _, st, wt, val = _assemble([_rows(rows)], cuts, listy=True)
            out[tag] = Series(st, wt, val)
    return out


def listed_of(rd: RunData, purge: bool) -> dict[tuple[str, str], Series]:
    """Where the points of the kinds the readers do not decode are (images, audio, PR
    curves, meshes, ...): ``(plugin, tag) -> Series`` whose values are all None, purged as
    the decoded kinds are."""
    global_cuts: list[tuple[int, int]] = []
    tag_cuts: dict[str, list[tuple[int, int]]] = {}
    if purge:
        global_cuts, tag_cuts = _purge_cuts(rd)
    out: dict[tuple[str, str], Series] = {}
    for (plugin, tag), points in sorted(rd.listed.items()):
        rows = [(i, s, w, None) for i, s, w in points]
        cuts = global_cuts + tag_cuts.get(tag, [])
        _, st, wt, val = _assemble([_rows(rows)], cuts, listy=True)
        out[(plugin, tag)] = Series(st, wt, val)
    return out


def load_runs(
    logdir: str | os.PathLike[str],
    on_corrupt: str,
    progress: ProgressFn | None,
    runs: Any = None,
    threads: int | None = None,
) -> tuple[dict[str, RunData], list[SkippedBytes]]:
    """Every run under ``logdir`` whose name passes the filter ``runs``, read ``threads``
    runs at once (default: 1 for local paths, :data:`REMOTE_THREADS` for store URLs)."""
    return _load_runs_as(_same, logdir, on_corrupt, progress, runs, threads)


_T = TypeVar("_T")


def _same(rd: RunData) -> RunData:
    return rd


def _load_runs_as(
    convert: Callable[[RunData], _T],
    logdir: str | os.PathLike[str],
    on_corrupt: str,
    progress: ProgressFn | None,
    runs: Any = None,
    threads: int | None = None,
) -> tuple[dict[str, _T], list[SkippedBytes]]:
    """:func:`load_runs`, each run's data passed through ``convert`` as soon as it is
    read, so that a run's pieces can be let go before the next run is read."""
    check_on_corrupt(on_corrupt)
    want_run = name_filter(runs, "runs")
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    found = find_runs(logdir)
    if want_run is not None:
        found = {run: files for run, files in found.items() if want_run(run)}
    total = sum(len(f) for f in found.values())
    skipped: list[SkippedBytes] = []
    done = [0]
    if threads is None:
        threads = REMOTE_THREADS if is_remote(os.fspath(logdir)) else 1
    if threads == 1 or len(found) < 2:
        data = {
            run: convert(_load_run(run, files, on_corrupt, skipped, progress, done, total))
            for run, files in found.items()
        }
        return data, skipped
    # Runs on a store are mostly waiting for the network: fetch several at once.
    from concurrent.futures import ThreadPoolExecutor

    lock = threading.Lock()
    locked: ProgressFn | None = None
    if progress is not None:
        report = progress

        def locked(i: int, n: int, path: str) -> None:
            with lock:
                report(i, n, path)

    with ThreadPoolExecutor(min(threads, len(found))) as pool:
        futures = {
            run: pool.submit(_load_run, run, files, on_corrupt, skipped, locked, done, total)
            for run, files in found.items()
        }
        data = {run: convert(futures.pop(run).result()) for run in list(futures)}
    return data, skipped


def _read_kind(
    kind: str,
    logdir: str | os.PathLike[str],
    purge: bool,
    on_corrupt: str,
    progress: ProgressFn | None,
    runs: Any = None,
    tags: Any = None,
    threads: int | None = None,
) -> Runs:
    want_tag = name_filter(tags, "tags")
    # Each run's series are made as soon as it is read: holding every run's pieces until the
    # last run is read would add their bytes to the arrays returned at the peak.
    data, skipped = _load_runs_as(
        lambda rd: series_of(rd, kind, purge, want_tag), logdir, on_corrupt, progress, runs, threads
    )
    out = Runs(skipped=skipped)
    for run, series in data.items():
        if series:
            out[run] = series
    warn_skipped(skipped, stacklevel=4)
    return out


def read_kind(
    read_as: str,
    logdir: str | os.PathLike[str],
    *,
    purge: bool = False,
    on_corrupt: str = "raise",
    progress: ProgressFn | None = None,
    runs: Any = None,
    tags: Any = None,
    threads: int | None = None,
) -> Runs:
    """Every point of the kind that KINDS reads as ``read_as``: ``{run: {tag: Series}}``
    (:func:`read_scalars`, :func:`read_histograms` and :func:`read_text` are three of
    these). A kind gets here by its ``read_as`` entry alone: its tensors are kept and read
    as numpy arrays, or as ``_VALUE_OF`` converts them. Arguments as :func:`read_scalars`."""
    plugins = {k.plugin for k in KINDS.values() if k.read_as == read_as}
    if len(plugins) != 1:
        known = sorted({k.read_as for k in KINDS.values() if k.read_as})
        raise ValueError(f"read_as must be one of {known}, got {read_as!r}")
    (plugin,) = plugins
    return _read_kind(plugin, logdir, purge, on_corrupt, progress, runs, tags, threads)


def read_scalars(
    logdir: str | os.PathLike[str],
    *,
    purge: bool = False,
    on_corrupt: str = "raise",
    progress: ProgressFn | None = None,
    runs: Any = None,
    tags: Any = None,
    threads: int | None = None,
) -> Runs:
    """Every scalar of a logdir, run dir or event file: ``{run: {tag: Series}}``.

    Reads ``simple_value`` scalars (tbwrite, PyTorch, tensorboardX) and scalar tensors of
    the scalars plugin (``tf.summary.scalar``, ``new_style=True``; float32, float64 and
    integer). Points are in the order written: a run's files in file-name order, records in
    file order. Nothing is sampled.

    Args:
        logdir: a directory searched recursively for runs (see :func:`find_runs`), or one
            event file.
        purge: drop what TensorBoard's Python loader hides after a restart (off by default,
            so the raw records are visible). Within a run, once a ``file_version`` of 2 or
            more has been read, each ``SessionLog.START`` after the first drops every point
            read before it whose step is >= the START's step, across all tags. Before any
            such file_version (old files), an event whose step is lower than the previous
            summary event's drops, for its own tags only, the points read before it with a
            step >= its step.
        on_corrupt: ``"raise"`` raises :class:`~tbwrite.CorruptRecordError` (file and byte
            offset); ``"skip"`` resynchronises on the next valid record, lists what it
            passed over in the result's ``skipped`` and warns (``RuntimeWarning``).
        progress: called as ``progress(files_done, files_total, path)`` before each file.
        runs: only the runs whose names match: a glob pattern (``"lr_*/train"``, the whole
            name), a compiled regular expression (``re.compile("seed[12]")``, searched), or a
            list of those. Other runs' files are not read at all.
        tags: only the tags that match, likewise; other tags are not assembled or decoded.
        threads: runs read at once (default: 1 for local paths, ``REMOTE_THREADS`` (16) for
            store URLs, where runs are fetched concurrently).

    Returns:
        :class:`Runs`; each :class:`Series` has numpy ``steps``, ``wall_times``, ``values``.
    """
    return _read_kind(PLUGIN_SCALARS, logdir, purge, on_corrupt, progress, runs, tags, threads)


def read_histograms(
    logdir: str | os.PathLike[str],
    *,
    purge: bool = False,
    on_corrupt: str = "raise",
    progress: ProgressFn | None = None,
    runs: Any = None,
    tags: Any = None,
    threads: int | None = None,
) -> Runs:
    """Every histogram: ``{run: {tag: Series}}`` with ``values`` a list of ``[k, 3]``
    float64 arrays of (left edge, right edge, count).

    Reads TensorBoard's ``[k, 3]`` tensors and legacy ``HistogramProto`` values (converted
    as TensorBoard converts them: empty outer buckets dropped, min and max as outer edges).
    Arguments as :func:`read_scalars`.
    """
    return _read_kind(PLUGIN_HISTOGRAMS, logdir, purge, on_corrupt, progress, runs, tags, threads)


def read_text(
    logdir: str | os.PathLike[str],
    *,
    purge: bool = False,
    on_corrupt: str = "raise",
    progress: ProgressFn | None = None,
    runs: Any = None,
    tags: Any = None,
    threads: int | None = None,
) -> Runs:
    """Every text summary: ``{run: {tag: Series}}`` with ``values`` a list of ``str`` (a
    numpy array of ``str`` for a text tensor of rank >= 1). Arguments as
    :func:`read_scalars`."""
    return _read_kind(PLUGIN_TEXT, logdir, purge, on_corrupt, progress, runs, tags, threads)
