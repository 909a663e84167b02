"""The fast parse of scalar events, a chunk of records at a time, with numpy.

An Event of a scalar is ``wall_time, step, summary{value{tag, simple_value | rank-0 float
tensor}}``: everything from the summary's first byte to the value's last four is the same for
every event of one tag (its "head"), so heads are grouped by content (a hash of their bytes,
confirmed word by word), each distinct head is parsed once, and the wall times, steps and
values are gathered with fancy indexing. Records of any other shape take the general path
(:func:`slow_record`) through the protobuf classes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from .._errors import CorruptRecordError
from .._format.wire import (
    DT_FLOAT,
    EVENT_STEP,
    EVENT_SUMMARY,
    EVENT_WALL_TIME,
    I32,
    I64,
    LEN,
    SUMMARY_VALUE_FIELD,
    TENSOR_CONTENT_FIELD,
    TENSOR_DTYPE_FIELD,
    TENSOR_FLOAT_VAL_FIELD,
    TENSOR_SHAPE_FIELD,
    TENSOR_VERSION_FIELD,
    VALUE_SIMPLE_VALUE_FIELD,
    VALUE_TAG_FIELD,
    VALUE_TENSOR_FIELD,
    VARINT,
)
from .._summaries.kinds import READ_PLUGINS
from .tensors import legacy_histogram

if TYPE_CHECKING:
    import numpy as np

_MAX_HEAD_WORDS: Final = 16  # heads up to 128 bytes take the fast path


# -- per-run accumulation -------------------------------------------------------------------


class RunData:
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
        if wt == VARINT:
            _, j = _read_varint(b, i)
        elif wt == I64:
            j = i + 8
        elif wt == I32:
            j = i + 4
        elif wt == LEN:
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
        if len(fs) != 1 or fs[0][:2] != (SUMMARY_VALUE_FIELD, LEN) or fs[0][3] != end:
            return None
        tag = None
        last = None
        for fn, wt, a, b in _fields(s, fs[0][2], end):
            if fn == VALUE_TAG_FIELD and wt == LEN:
                tag = s[a:b].decode("utf-8")
            elif fn in (VALUE_SIMPLE_VALUE_FIELD, VALUE_TENSOR_FIELD):
                last = (fn, wt, a, b)
            else:
                return None  # metadata, node_name, other kinds: the general path
        if tag is None or last is None or last[3] != end:
            return None
        fn, wt, a, b = last
        if fn == VALUE_SIMPLE_VALUE_FIELD:
            return (tag, False) if wt == I32 else None
        dtype = 0
        value_field = None
        for tfn, twt, ta, tb in _fields(s, a, b):
            if tfn == TENSOR_DTYPE_FIELD and twt == VARINT:
                dtype, _ = _read_varint(s, ta)
            elif tfn == TENSOR_SHAPE_FIELD and twt == LEN:
                if tb != ta:
                    return None  # a shape with dims: not rank 0
            elif (
                tfn in (TENSOR_CONTENT_FIELD, TENSOR_FLOAT_VAL_FIELD)
                and twt == LEN
                and tb - ta == 4
            ):
                value_field = (ta, tb)
            elif tfn == TENSOR_FLOAT_VAL_FIELD and twt == I32:
                value_field = (ta, tb)
            elif tfn == TENSOR_VERSION_FIELD:
                continue
            else:
                return None
        if dtype != DT_FLOAT or value_field is None or value_field[1] != end:
            return None
        return (tag, True)
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def fast_chunk(rd: RunData, buf: bytes, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
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
    has_wall = (a8[safe] == EVENT_WALL_TIME[0]) & ok
    wall_bits = _gather_u64(a64, ps + 1)
    wall = np.where(has_wall, wall_bits, np.uint64(0)).view(np.float64)
    pos += 9 * has_wall
    safe = np.minimum(pos, len(buf) - 1)
    has_step = a8[safe] == EVENT_STEP[0]
    sv, sn = _varints(_gather_u64(a64, pos + 1))
    ok &= ~has_step | (sn > 0)
    step = np.where(has_step, sv, np.uint64(0)).view(np.int64)
    pos += has_step * (1 + sn)
    safe = np.minimum(pos, len(buf) - 1)
    ok &= a8[safe] == EVENT_SUMMARY[0]
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


def slow_record(
    rd: RunData, payload: bytes, index: int, offset: int, path: str, event_cls: Any
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
                if plugin == "" or plugin in READ_PLUGINS:  # kept: a kind the readers decode
                    rd.tensors[tag].append((index, step, wall, v.tensor))
            elif kind == "histo":
                try:
                    histogram = legacy_histogram(v.histo)
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
