"""Loaders: every scalar, histogram, text and hparams session of a logdir, no sampling.

Strategy: :func:`tbwrite._reader.scan_records` hands over verified records a chunk at a
time; scalar events are then parsed for the whole chunk at once with numpy. An Event of a
scalar is ``wall_time, step, summary{value{tag, simple_value | rank-0 float tensor}}``:
everything from the summary's first byte to the value's last four is the same for every
event of one tag (its "head"), so heads are grouped by content (a hash of their bytes,
confirmed word by word), each distinct head is parsed once, and the wall times, steps and
values are gathered with fancy indexing. Records of any other shape take the general path
through the protobuf classes in :mod:`tbwrite._proto`.

What a tag is follows TensorBoard: the first metadata seen for a (run, tag) names its
plugin (``scalars``, ``histograms``, ``text``, ``hparams``); ``simple_value`` is always a
scalar and a legacy ``HistogramProto`` always a histogram.
"""

from __future__ import annotations

import math
import os
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Final

from ._errors import CorruptRecordError
from ._names import (
    EXPERIMENT_TAG,
    PLUGIN_HISTOGRAMS,
    PLUGIN_HPARAMS,
    PLUGIN_SCALARS,
    PLUGIN_TEXT,
    SESSION_END_INFO_TAG,
    SESSION_START_INFO_TAG,
)
from ._reader import SkippedBytes, check_on_corrupt, find_runs, scan_records, warn_skipped

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "HParamsTable",
    "Runs",
    "Series",
    "SessionRow",
    "read_histograms",
    "read_hparams",
    "read_scalars",
    "read_text",
]

_STATUS_NAMES: Final = ("UNKNOWN", "SUCCESS", "FAILURE", "RUNNING")
_MAX_HEAD_WORDS: Final = 16  # heads up to 128 bytes take the fast path

ProgressFn = Callable[[int, int, str], None]


# -- results --------------------------------------------------------------------------------


def _import(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise ImportError(f"this needs {name}: pip install {name}") from None


class Series:
    """The points of one (run, tag), in the order they were written.

    ``steps`` (int64) and ``wall_times`` (float64) are numpy arrays; ``values`` is a float64
    array for scalars, a list of ``[k, 3]`` float64 arrays of (left edge, right edge, count)
    for histograms, a list of ``str`` for text (a numpy array of str for a text tensor of
    rank >= 1).
    """

    __slots__ = ("steps", "values", "wall_times")

    def __init__(self, steps: np.ndarray, wall_times: np.ndarray, values: Any) -> None:
        self.steps = steps
        self.wall_times = wall_times
        self.values = values

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        return f"<Series of {len(self)} points>"

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` with columns step, wall_time, value."""
        pd = _import("pandas")
        values = (
            self.values
            if not isinstance(self.values, list)
            else pd.Series(self.values, dtype=object)
        )
        return pd.DataFrame({"step": self.steps, "wall_time": self.wall_times, "value": values})


class Runs(dict):  # type: ignore[type-arg]
    """``{run: {tag: Series}}``; ``skipped`` lists damaged bytes passed over by
    ``on_corrupt="skip"``."""

    skipped: list[SkippedBytes]

    def __init__(self, *args: Any, skipped: list[SkippedBytes] | None = None) -> None:
        super().__init__(*args)
        self.skipped = skipped or []

    def _columns(self) -> dict[str, Any]:
        import numpy as np

        runs, tags, steps, walls, values = [], [], [], [], []
        lists = False
        for run, by_tag in self.items():
            for tag, s in by_tag.items():
                n = len(s)
                runs.append(np.full(n, run, dtype=object))
                tags.append(np.full(n, tag, dtype=object))
                steps.append(s.steps)
                walls.append(s.wall_times)
                if isinstance(s.values, list):
                    lists = True
                    arr = np.empty(n, dtype=object)
                    arr[:] = s.values if n else []
                    values.append(arr)
                else:
                    values.append(s.values)

        def cat(parts: list[Any], dtype: Any) -> Any:
            return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

        return {
            "run": cat(runs, object),
            "tag": cat(tags, object),
            "step": cat(steps, np.int64),
            "wall_time": cat(walls, np.float64),
            "value": cat(values, object if lists else np.float64),
        }

    def to_pandas(self) -> Any:
        """One row per point: run, tag, step, wall_time, value (a ``pandas.DataFrame``)."""
        pd = _import("pandas")
        return pd.DataFrame(self._columns())

    def to_polars(self) -> Any:
        """One row per point: run, tag, step, wall_time, value (a ``polars.DataFrame``)."""
        pl = _import("polars")
        cols = self._columns()
        cols["run"] = cols["run"].astype(str)
        cols["tag"] = cols["tag"].astype(str)
        if cols["value"].dtype == object:
            cols["value"] = list(cols["value"])
        return pl.DataFrame(cols)


@dataclass
class SessionRow:
    """One hparams session run: its hparams, the latest value of each metric, its status."""

    run: str
    hparams: dict[str, Any]
    metrics: dict[str, float]
    status: str  # UNKNOWN (no end info yet), SUCCESS, FAILURE or RUNNING
    start_time: float | None
    end_time: float | None
    metric_steps: dict[str, int] = field(default_factory=dict)
    group_name: str = ""


class HParamsTable(list):  # type: ignore[type-arg]
    """The sweep table: a list of :class:`SessionRow`, one per session run, by run name.

    ``hparam_names`` and ``metric_names`` are the columns; ``experiment`` is the parsed
    ``_hparams_/experiment`` used (or None); ``skipped`` as for :class:`Runs`.
    """

    def __init__(
        self,
        rows: Iterable[SessionRow],
        hparam_names: list[str],
        metric_names: list[str],
        experiment: Any,
        skipped: list[SkippedBytes],
    ) -> None:
        super().__init__(rows)
        self.hparam_names = hparam_names
        self.metric_names = metric_names
        self.experiment = experiment
        self.skipped = skipped

    def records(self) -> list[dict[str, Any]]:
        """Flat rows: run, status, start_time, end_time, then hparams, then metrics (a metric
        whose name is also an hparam's is prefixed ``metric:``)."""
        out = []
        for row in self:
            rec: dict[str, Any] = {
                "run": row.run,
                "status": row.status,
                "start_time": row.start_time,
                "end_time": row.end_time,
            }
            for name in self.hparam_names:
                rec[name] = row.hparams.get(name)
            for name in self.metric_names:
                key = f"metric:{name}" if name in rec else name
                rec[key] = row.metrics.get(name, math.nan)
            out.append(rec)
        return out

    def to_pandas(self) -> Any:
        """The table as a ``pandas.DataFrame``, one row per session."""
        pd = _import("pandas")
        return pd.DataFrame.from_records(self.records())

    def to_polars(self) -> Any:
        """The table as a ``polars.DataFrame``, one row per session."""
        pl = _import("polars")
        return pl.from_dicts(self.records(), infer_schema_length=None)


# -- per-run accumulation -------------------------------------------------------------------


class _RunData:
    """Everything one run's files yield, before purging and assembly."""

    def __init__(self) -> None:
        self.n = 0  # records so far: record i of the run has index i
        self.meta: dict[str, tuple[str, bytes]] = {}  # tag -> first (plugin, content)
        # tag -> pieces of (index, step, wall_time, value) arrays
        self.simple: dict[str, list[tuple[Any, Any, Any, Any]]] = defaultdict(list)
        self.tensor_scalar: dict[str, list[tuple[Any, Any, Any, Any]]] = defaultdict(list)
        # tag -> [(index, step, wall_time, TensorProto | [k,3] array)]
        self.tensors: dict[str, list[tuple[int, int, float, Any]]] = defaultdict(list)
        self.histos: dict[str, list[tuple[int, int, float, Any]]] = defaultdict(list)
        self.slow_simple: dict[str, list[tuple[int, int, float, float]]] = defaultdict(list)
        # For purge=True: file_version and SessionLog.START records, summary events.
        self.versions: list[tuple[int, float]] = []
        self.starts: list[tuple[int, int]] = []
        self.sum_pieces: list[tuple[Any, Any]] = []  # (index, step) arrays of summary events
        self.sum_tags: dict[int, list[str]] = {}  # index -> tags, for events on the slow path
        self.fast_tags: list[tuple[Any, Any, list[str]]] = []  # (index, code, code->tag)
        self.heads: dict[bytes, tuple[str, bool] | None] = {}


def _gather_u64(a64: np.ndarray, offs: np.ndarray) -> np.ndarray:
    """Little-endian uint64 at arbitrary byte offsets of the buffer viewed by ``a64``."""
    import numpy as np

    # Offsets past the buffer only occur for records that fail the shape checks; clip them.
    offs = np.minimum(offs, 8 * (len(a64) - 2))
    q = offs >> 3
    sh = ((offs & 7) << 3).astype(np.uint64)
    lo = a64[q] >> sh
    # (hi << (64 - sh)) without a shift by 64 when sh == 0.
    hi = (a64[q + 1] << np.uint64(1)) << (np.uint64(63) - sh)
    out: np.ndarray = lo | hi
    return out


def _varints(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decode the varint starting at byte 0 of each word: (values, lengths); length 0 marks
    a varint longer than 8 bytes (not decoded here)."""
    import numpy as np

    stop = ~w & np.uint64(0x8080808080808080)
    low = stop & (~stop + np.uint64(1))
    nbytes = np.zeros(len(w), dtype=np.int64)
    nz = low != 0
    nbytes[nz] = (np.log2(low[nz].astype(np.float64)).astype(np.int64) - 7) // 8 + 1
    val = w & np.uint64(0x7F)
    for k in range(1, 8):
        more = nbytes > k
        if not more.any():
            break
        part = ((w >> np.uint64(8 * k)) & np.uint64(0x7F)) << np.uint64(7 * k)
        val |= np.where(more, part, np.uint64(0))
    return val, nbytes


def _read_varint(b: bytes, i: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        x = b[i]
        i += 1
        result |= (x & 0x7F) << shift
        if x < 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(b: bytes, i: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, start, end) of each field of b[i:end]; for varints the
    value's bytes, for LEN fields the payload."""
    while i < end:
        key, i = _read_varint(b, i)
        fn, wt = key >> 3, key & 7
        if wt == 0:
            _, j = _read_varint(b, i)
        elif wt == 1:
            j = i + 8
        elif wt == 5:
            j = i + 4
        elif wt == 2:
            n, i = _read_varint(b, i)
            j = i + n
        else:
            raise ValueError("unsupported wire type")
        if j > end:
            raise ValueError("field overruns its message")
        yield fn, wt, i, j
        i = j


def _classify_head(head: bytes) -> tuple[str, bool] | None:
    """(tag, is_tensor) when ``head + 4 bytes`` is a Summary of one value whose last four
    bytes are its float32 scalar (simple_value, or a rank-0 DT_FLOAT tensor), no metadata."""
    s = head + b"\0\0\0\0"
    end = len(s)
    try:
        fs = list(_fields(s, 0, end))
        if len(fs) != 1 or fs[0][:2] != (1, 2) or fs[0][3] != end:
            return None
        tag = None
        last = None
        for fn, wt, a, b in _fields(s, fs[0][2], end):
            if fn == 1 and wt == 2:
                tag = s[a:b].decode("utf-8")
            elif fn in (2, 8):
                last = (fn, wt, a, b)
            else:
                return None  # metadata, node_name, other kinds: the general path
        if tag is None or last is None or last[3] != end:
            return None
        fn, wt, a, b = last
        if fn == 2:
            return (tag, False) if wt == 5 else None
        dtype = 0
        value_field = None
        for tfn, twt, ta, tb in _fields(s, a, b):
            if tfn == 1 and twt == 0:
                dtype, _ = _read_varint(s, ta)
            elif tfn == 2 and twt == 2:
                if tb != ta:
                    return None  # a shape with dims: not rank 0
            elif tfn in (4, 5) and twt == 2 and tb - ta == 4:
                value_field = (ta, tb)
            elif tfn == 5 and twt == 5:
                value_field = (ta, tb)
            elif tfn == 3:
                continue
            else:
                return None
        if dtype != 1 or value_field is None or value_field[1] != end:
            return None
        return (tag, True)
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def _fast_chunk(rd: _RunData, buf: bytes, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Take the scalar events of a chunk; returns a mask of the records left for the
    general path."""
    import numpy as np

    n = len(starts)
    pad = (-len(buf)) % 8 + 32
    a64 = np.frombuffer(buf + bytes(pad), dtype="<u8")
    a8 = np.frombuffer(buf, dtype=np.uint8)
    ps = starts
    pe = starts + lengths
    ok = lengths >= 8
    pos = ps.copy()
    safe = np.minimum(pos, len(buf) - 1)
    has_wall = (a8[safe] == 0x09) & ok
    wall_bits = _gather_u64(a64, ps + 1)
    wall = np.where(has_wall, wall_bits, np.uint64(0)).view(np.float64)
    pos += 9 * has_wall
    safe = np.minimum(pos, len(buf) - 1)
    has_step = a8[safe] == 0x10
    sv, sn = _varints(_gather_u64(a64, pos + 1))
    ok &= ~has_step | (sn > 0)
    step = np.where(has_step, sv, np.uint64(0)).view(np.int64)
    pos += has_step * (1 + sn)
    safe = np.minimum(pos, len(buf) - 1)
    ok &= a8[safe] == 0x2A
    lv, ln_ = _varints(_gather_u64(a64, pos + 1))
    ss = pos + 1 + ln_
    ok &= (ln_ > 0) & (ss + lv.astype(np.int64) == pe)
    hl = pe - 4 - ss
    ok &= (hl >= 4) & (hl <= 8 * _MAX_HEAD_WORDS)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return ~ok
    ss_o = ss[idx]
    hl_o = hl[idx]
    nwords = int((hl_o.max() + 7) // 8)
    words = []
    h = hl_o.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for j in range(nwords):
        w = _gather_u64(a64, ss_o + 8 * j)
        rem = hl_o - 8 * j
        keep = np.where(
            rem >= 8,
            np.uint64(0xFFFFFFFFFFFFFFFF),
            (np.uint64(1) << (np.clip(rem, 0, 7).astype(np.uint64) * np.uint64(8))) - np.uint64(1),
        )
        w &= keep
        words.append(w)
        h = (h ^ w) * np.uint64(0x100000001B3) + np.uint64(j + 1)
        h ^= h >> np.uint64(29)
    uh, first, inv = np.unique(h, return_index=True, return_inverse=True)
    rep = first[inv]
    same = np.ones(len(idx), dtype=bool)
    for w in words:
        same &= w == w[rep]
    # Classify each distinct head once (cached per run).
    code_of_head = np.full(len(uh), -1, dtype=np.int64)
    tags: list[str] = []
    is_tensor: list[bool] = []
    for u, r in enumerate(first.tolist()):
        a = int(ss_o[r])
        head = buf[a : a + int(hl_o[r])]
        if head in rd.heads:
            cls = rd.heads[head]
        else:
            cls = _classify_head(head)
            if len(rd.heads) < 100_000:
                rd.heads[head] = cls
        if cls is not None:
            code_of_head[u] = len(tags)
            tags.append(cls[0])
            is_tensor.append(cls[1])
    codes = code_of_head[inv]
    good = same & (codes >= 0)
    sel = idx[good]
    codes = codes[good]
    if sel.size:
        vbits = (_gather_u64(a64, pe[sel] - 4) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        values = vbits.view(np.float32).astype(np.float64)
        ridx = rd.n + sel
        st = step[sel]
        wt = wall[sel]
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        bounds = np.flatnonzero(np.diff(sorted_codes)) + 1
        for part in np.split(order, bounds):
            c = int(codes[part[0]])
            target = rd.tensor_scalar if is_tensor[c] else rd.simple
            target[tags[c]].append((ridx[part], st[part], wt[part], values[part]))
        rd.sum_pieces.append((ridx, st))
        rd.fast_tags.append((ridx, codes, tags))
    rest = np.ones(n, dtype=bool)
    rest[sel] = False
    return rest


def _slow_record(
    rd: _RunData, payload: bytes, index: int, offset: int, path: str, event_cls: Any
) -> None:
    try:
        ev = event_cls.FromString(payload)
    except Exception:
        raise CorruptRecordError("record does not parse as an Event", offset, path) from None
    which = ev.WhichOneof("what")
    if which == "summary":
        step = ev.step
        wall = ev.wall_time
        tags = []
        for v in ev.summary.value:
            tag = v.tag
            kind = v.WhichOneof("value")
            if kind == "tensor" and not tag:
                tag = v.node_name
            tags.append(tag)
            if v.HasField("metadata") and tag not in rd.meta:
                pd = v.metadata.plugin_data
                rd.meta[tag] = (pd.plugin_name, pd.content)
            if kind == "simple_value":
                rd.slow_simple[tag].append((index, step, wall, v.simple_value))
            elif kind == "tensor":
                plugin = rd.meta.get(tag, ("",))[0]
                if plugin in ("", PLUGIN_SCALARS, PLUGIN_HISTOGRAMS, PLUGIN_TEXT):
                    rd.tensors[tag].append((index, step, wall, v.tensor))
            elif kind == "histo":
                try:
                    histogram = _legacy_histogram(v.histo)
                except ValueError as err:
                    raise CorruptRecordError(f"tag {tag!r}: {err}", offset, path) from None
                rd.histos[tag].append((index, step, wall, histogram))
        rd.sum_tags[index] = tags
        rd.sum_pieces.append(([index], [step]))
    elif which == "file_version":
        fv = ev.file_version
        try:
            version = float(fv.split("brain.Event:")[-1])
        except ValueError:
            version = -1.0
        rd.versions.append((index, version))
    elif which == "session_log":
        if ev.session_log.status == 1:  # SessionLog.START
            rd.starts.append((index, ev.step))


def _legacy_histogram(h: Any) -> np.ndarray:
    """A HistogramProto as [k, 3] (left, right, count), converted as TensorBoard's
    data_compat does: empty buckets at both ends dropped, min and max as the outer edges."""
    import numpy as np

    counts = list(h.bucket)
    limits = list(h.bucket_limit)
    if len(counts) != len(limits):
        # Parallel lists: bucket i counts the values up to bucket_limit[i].
        raise ValueError(
            f"malformed histogram: {len(limits)} bucket_limit values for {len(counts)} buckets"
        )
    nonzero = [i for i, c in enumerate(counts) if c > 0]
    if not nonzero:
        return np.zeros((0, 3), dtype=np.float64)
    start, end = nonzero[0], nonzero[-1]
    inner = limits[start:end]
    lefts = [h.min, *inner]
    rights = [*inner, h.max]
    return np.array([lefts, rights, counts[start : end + 1]], dtype=np.float64).T.copy()


_NP_DTYPES: Final = {
    1: "<f4",
    2: "<f8",
    3: "<i4",
    4: "u1",
    5: "<i2",
    6: "i1",
    9: "<i8",
    10: "?",
    19: "<f2",
}


# The most values one stored value may be repeated into (8 MiB of float64).
MAX_FILL_VALUES: Final = 1 << 20


def tensor_to_numpy(t: Any) -> np.ndarray:
    """A TensorProto of a numeric, bool or string dtype as a numpy array."""
    import numpy as np

    shape = [d.size for d in t.tensor_shape.dim]
    if t.dtype == 7:  # DT_STRING
        arr = np.empty(len(t.string_val), dtype=object)
        arr[:] = [s.decode("utf-8", "replace") for s in t.string_val]
        return arr.reshape(shape) if arr.size == math.prod(shape) else arr
    dt = _NP_DTYPES.get(t.dtype)
    if dt is None:
        raise ValueError(f"unsupported tensor dtype {t.dtype}")
    if t.tensor_content:
        out = np.frombuffer(t.tensor_content, dtype=dt)
    elif t.dtype == 1:
        out = np.array(t.float_val, dtype=np.float32)
    elif t.dtype == 2:
        out = np.array(t.double_val, dtype=np.float64)
    elif t.dtype == 9:
        out = np.array(t.int64_val, dtype=np.int64)
    elif t.dtype == 10:
        out = np.array(t.bool_val, dtype=bool)
    elif t.dtype == 19:
        out = np.array(t.half_val, dtype=np.uint16).view(np.float16)
    else:
        out = np.array(t.int_val, dtype=dt)
    size = math.prod(shape)  # Python ints: a huge declared shape cannot overflow
    if out.size == 1 and size > 1:
        # One value stands for the whole shape (TensorFlow's compact form). The shape is
        # only declared: fill it only up to a bound, so memory follows the bytes present.
        if size > MAX_FILL_VALUES:
            raise ValueError(
                f"its shape {shape} declares {size} values from a single one, more than "
                f"{MAX_FILL_VALUES} tbwrite expands"
            )
        out = np.repeat(out, size)
    return out.reshape(shape) if out.size == size else out


def _warn_undecodable(tag: str, kind: str, why: str) -> None:
    warnings.warn(
        f"tag {tag!r}: a {kind} tensor that does not decode ({why}); left out",
        RuntimeWarning,
        stacklevel=5,
    )


def _decoded(t: Any, tag: str, kind: str) -> np.ndarray | None:
    """``tensor_to_numpy(t)``, or None with a warning for a tensor that does not decode
    (an unknown dtype, content whose size is no multiple of the item size): TensorBoard
    leaves such points out too."""
    try:
        return tensor_to_numpy(t)
    except ValueError as err:
        _warn_undecodable(tag, kind, str(err))
        return None


def _load_run(
    run: str,
    files: list[str],
    on_corrupt: str,
    skipped: list[SkippedBytes],
    progress: ProgressFn | None,
    done: list[int],
    total: int,
) -> _RunData:
    import numpy as np

    from ._proto.event_pb2 import Event

    rd = _RunData()
    for path in files:
        if progress is not None:
            progress(done[0], total, path)
        for chunk in scan_records(path, on_corrupt, skipped):
            rest = _fast_chunk(rd, chunk.buf, chunk.starts, chunk.lengths)
            for i in np.flatnonzero(rest).tolist():
                a = int(chunk.starts[i])
                payload = chunk.buf[a : a + int(chunk.lengths[i])]
                offset = chunk.base + a - 12
                try:
                    _slow_record(rd, payload, rd.n + i, offset, path, Event)
                except CorruptRecordError as err:
                    if on_corrupt == "raise":
                        raise
                    skipped.append(SkippedBytes(path, offset, len(payload) + 16, str(err.args[0])))
            rd.n += len(chunk.starts)
        done[0] += 1
    return rd


# -- assembly -------------------------------------------------------------------------------


def _purge_cuts(rd: _RunData) -> tuple[list[tuple[int, int]], dict[str, list[tuple[int, int]]]]:
    """TensorBoard's purge of orphaned data, as cuts: (index j, step s) drops every point
    before record j with step >= s; global cuts, and per-tag cuts."""
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

    seen_start = False
    for j, s in sorted(rd.starts):
        if version_at(np.array([j]))[0] >= 2:
            if seen_start:
                global_cuts.append((j, s))
            seen_start = True
    if rd.sum_pieces:
        idx = np.concatenate([np.asarray(p[0], dtype=np.int64) for p in rd.sum_pieces])
        stp = np.concatenate([np.asarray(p[1], dtype=np.int64) for p in rd.sum_pieces])
        order = np.argsort(idx, kind="stable")
        idx, stp = idx[order], stp[order]
        prev = np.concatenate([[-1], stp[:-1]])
        ooo = (stp < prev) & ~(version_at(idx) >= 2)
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


def _series_of(rd: _RunData, kind: str, purge: bool) -> dict[str, Series]:
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
        for tag in sorted(tags):
            pieces = list(rd.simple.get(tag, ()))
            if rd.slow_simple.get(tag):
                pieces.append(_rows(rd.slow_simple[tag]))
            if plugin(tag) == PLUGIN_SCALARS:
                pieces.extend(rd.tensor_scalar.get(tag, ()))
                if rd.tensors.get(tag):
                    items = []
                    for i, s, w, t in rd.tensors[tag]:
                        arr = _decoded(t, tag, "scalar") if t.dtype != 7 else None
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
        for tag in sorted(tags):
            rows: list[tuple[int, int, float, Any]] = []
            if kind == PLUGIN_HISTOGRAMS:
                rows.extend(rd.histos.get(tag, ()))
            if plugin(tag) == kind:
                for i, s, w, t in rd.tensors.get(tag, ()):
                    arr = _decoded(t, tag, kind)
                    if arr is None:
                        continue
                    if kind == PLUGIN_HISTOGRAMS:
                        if arr.size % 3 or arr.dtype.kind not in "biuf":
                            _warn_undecodable(tag, kind, f"{arr.size} values of {arr.dtype}")
                            continue
                        value: Any = (
                            arr.astype(np.float64).reshape(-1, 3) if arr.size else np.zeros((0, 3))
                        )
                    else:
                        value = str(arr.reshape(-1)[0]) if arr.ndim == 0 or arr.size == 1 else arr
                    rows.append((i, s, w, value))
            if not rows:
                continue
            cuts = global_cuts + tag_cuts.get(tag, [])
            _, st, wt, val = _assemble([_rows(rows)], cuts, listy=True)
            out[tag] = Series(st, wt, val)
    return out


def _load(
    logdir: str | os.PathLike[str],
    on_corrupt: str,
    progress: ProgressFn | None,
) -> tuple[dict[str, _RunData], list[SkippedBytes]]:
    check_on_corrupt(on_corrupt)
    runs = find_runs(logdir)
    total = sum(len(f) for f in runs.values())
    skipped: list[SkippedBytes] = []
    done = [0]
    data = {
        run: _load_run(run, files, on_corrupt, skipped, progress, done, total)
        for run, files in runs.items()
    }
    return data, skipped


def _read_kind(
    kind: str,
    logdir: str | os.PathLike[str],
    purge: bool,
    on_corrupt: str,
    progress: ProgressFn | None,
) -> Runs:
    data, skipped = _load(logdir, on_corrupt, progress)
    out = Runs(skipped=skipped)
    for run, rd in data.items():
        series = _series_of(rd, kind, purge)
        if series:
            out[run] = series
    warn_skipped(skipped, stacklevel=4)
    return out


def read_scalars(
    logdir: str | os.PathLike[str],
    *,
    purge: bool = False,
    on_corrupt: str = "raise",
    progress: ProgressFn | None = None,
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

    Returns:
        :class:`Runs`; each :class:`Series` has numpy ``steps``, ``wall_times``, ``values``.
    """
    return _read_kind(PLUGIN_SCALARS, logdir, purge, on_corrupt, progress)


def read_histograms(
    logdir: str | os.PathLike[str],
    *,
    purge: bool = False,
    on_corrupt: str = "raise",
    progress: ProgressFn | None = None,
) -> Runs:
    """Every histogram: ``{run: {tag: Series}}`` with ``values`` a list of ``[k, 3]``
    float64 arrays of (left edge, right edge, count).

    Reads TensorBoard's ``[k, 3]`` tensors and legacy ``HistogramProto`` values (converted
    as TensorBoard converts them: empty outer buckets dropped, min and max as outer edges).
    Arguments as :func:`read_scalars`.
    """
    return _read_kind(PLUGIN_HISTOGRAMS, logdir, purge, on_corrupt, progress)


def read_text(
    logdir: str | os.PathLike[str],
    *,
    purge: bool = False,
    on_corrupt: str = "raise",
    progress: ProgressFn | None = None,
) -> Runs:
    """Every text summary: ``{run: {tag: Series}}`` with ``values`` a list of ``str`` (a
    numpy array of ``str`` for a text tensor of rank >= 1). Arguments as
    :func:`read_scalars`."""
    return _read_kind(PLUGIN_TEXT, logdir, purge, on_corrupt, progress)


# -- hparams --------------------------------------------------------------------------------


def _plugin_data(content: bytes, run: str, tag: str) -> Any:
    """The HParamsPluginData in a summary's metadata, or None (with a warning) when the
    bytes do not parse: that session or experiment is left out, the rest of the table
    stands."""
    from google.protobuf.message import DecodeError

    from ._proto import hparams_pb2

    try:
        return hparams_pb2.HParamsPluginData.FromString(content)
    except DecodeError:
        warnings.warn(
            f"run {run!r}: the hparams plugin data of {tag!r} does not parse; ignored",
            RuntimeWarning,
            stacklevel=4,
        )
        return None


def _hparam_value(v: Any) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "number_value":
        return v.number_value
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return v.bool_value
    return None


def _longest_parent(sessions: list[str], run: str) -> str | None:
    """The session run that is ``run`` or its nearest ancestor ("." is everyone's)."""
    owners = [s for s in sessions if s == run or s == "." or run.startswith(s + "/")]
    if not owners:
        return None
    return max(owners, key=lambda s: (s != ".", len(s)))


def read_hparams(
    logdir: str | os.PathLike[str],
    *,
    purge: bool = False,
    on_corrupt: str = "raise",
    progress: ProgressFn | None = None,
) -> HParamsTable:
    """The hparams table of a sweep: one :class:`SessionRow` per session run.

    As TensorBoard's hparams plugin:

    - a session run is any run holding ``_hparams_/session_start_info``; only the first
      start and end info of a run count. PyTorch's and tensorboardX's ``add_hparams``
      sub-runs (``<run>/<timestamp>``) are session runs like any other.
    - metrics are those of the first ``_hparams_/experiment`` found (runs in name order),
      or, with none, every scalar tag of each session run and of its sub-runs that are not
      sessions themselves. A metric in sub-run ``eval`` of a session is named ``eval/<tag>``.
    - a metric's value is the LAST point of that tag in the order written (run files in
      name order, records in file order): what TensorBoard's Python loader shows
      (``Tensors(run, tag)[-1]``); for a run whose steps only increase, the value at the
      highest step. ``metric_steps`` holds its step.
    - ``status`` is from the end info: SUCCESS, FAILURE, RUNNING, or UNKNOWN when there
      is none yet; ``start_time`` / ``end_time`` are its seconds since the epoch.

    ``purge``, ``on_corrupt``, ``progress`` as :func:`read_scalars`.
    """
    data, skipped = _load(logdir, on_corrupt, progress)
    starts: dict[str, Any] = {}
    ends: dict[str, Any] = {}
    experiment = None
    for run, rd in data.items():
        for tag, slot in ((SESSION_START_INFO_TAG, starts), (SESSION_END_INFO_TAG, ends)):
            meta = rd.meta.get(tag)
            if meta and meta[0] == PLUGIN_HPARAMS:
                pdata = _plugin_data(meta[1], run, tag)
                if pdata is not None:
                    info = pdata.session_start_info if slot is starts else pdata.session_end_info
                    slot[run] = info
        meta = rd.meta.get(EXPERIMENT_TAG)
        if experiment is None and meta and meta[0] == PLUGIN_HPARAMS:
            pdata = _plugin_data(meta[1], run, EXPERIMENT_TAG)
            experiment = pdata.experiment if pdata is not None else None
    sessions = sorted(starts)
    scalars = {run: _series_of(rd, PLUGIN_SCALARS, purge) for run, rd in data.items()}

    # metric name -> (group, tag)
    metric_defs: dict[str, tuple[str, str]] = {}
    if experiment is not None:
        for mi in experiment.metric_infos:
            group, tag = mi.name.group, mi.name.tag
            metric_defs[f"{group}/{tag}" if group else tag] = (group, tag)
    else:
        for run, series in scalars.items():
            owner = _longest_parent(sessions, run)
            if owner is None:
                continue
            group = "" if run == owner else (run[len(owner) + 1 :] if owner != "." else run)
            for tag in series:
                if tag.startswith("_hparams_/"):
                    continue
                metric_defs[f"{group}/{tag}" if group else tag] = (group, tag)
        metric_defs = dict(sorted(metric_defs.items()))

    hparam_names: list[str] = []
    if experiment is not None:
        hparam_names = [h.name for h in experiment.hparam_infos]
    extra = sorted({k for run in sessions for k in starts[run].hparams} - set(hparam_names))
    hparam_names += extra

    rows = []
    for run in sessions:
        start = starts[run]
        end = ends.get(run)
        metrics: dict[str, float] = {}
        metric_steps: dict[str, int] = {}
        for name, (group, tag) in metric_defs.items():
            mrun = run if not group else (group if run == "." else f"{run}/{group}")
            mrun = os.path.normpath(mrun).replace(os.sep, "/")
            s = scalars.get(mrun, {}).get(tag)
            if s is not None and len(s):
                metrics[name] = float(s.values[-1])
                metric_steps[name] = int(s.steps[-1])
        status = _STATUS_NAMES[end.status] if end is not None and 0 <= end.status < 4 else "UNKNOWN"
        rows.append(
            SessionRow(
                run=run,
                hparams={k: _hparam_value(v) for k, v in sorted(start.hparams.items())},
                metrics=metrics,
                status=status,
                start_time=start.start_time_secs or None,
                end_time=(end.end_time_secs or None) if end is not None else None,
                metric_steps=metric_steps,
                group_name=start.group_name,
            )
        )
    warn_skipped(skipped, stacklevel=3)
    return HParamsTable(rows, hparam_names, list(metric_defs), experiment, skipped)
