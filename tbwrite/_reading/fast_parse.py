"""The fast parse of scalar events, a chunk of records at a time, with numpy.

An Event of a scalar is ``wall_time, step, summary{value{tag, simple_value | rank-0 float
tensor}}``: everything from the summary's first byte to the value's last four is the same for
every event of one tag (its "head"), so heads are grouped by content (a hash table of their
bytes, each confirmed word by word against its bucket's representative), each distinct head
is parsed once, and the wall times, steps and values are gathered with fancy indexing
(:func:`scalar_records`, also what ``EventAccumulator`` uses). Records of any other shape
take the reader's one protobuf path (:mod:`.decode`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .._format.wire import (
    DT_FLOAT,
    EVENT_STEP,
    EVENT_SUMMARY,
    EVENT_WALL_TIME,
    I32,
    I32_SIZE,
    I64,
    I64_SIZE,
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
    split_key,
)
from .fastscan import Words, gather

if TYPE_CHECKING:
    import numpy as np

_MAX_HEAD_BYTES: Final = 128  # longer heads take the general path
_TABLE_BITS: Final = 20  # hash buckets of the grouping of heads
_MIN_GROUP: Final = 32  # records of one length fewer than this take the hashed path
_MAX_LAYOUTS: Final = 4096  # distinct events (tags) in one length group, at most


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
        # Kinds the readers do not decode (images, audio, PR curves, meshes, ...): only
        # where their points are, so that listings show them; (plugin, tag) -> [(index,
        # step, wall_time)].
        self.listed: dict[tuple[str, str], list[tuple[int, int, float]]] = defaultdict(list)
        # For purge=True: file_version and SessionLog.START records, summary events.
        self.versions: list[tuple[int, float]] = []
        self.starts: list[tuple[int, int]] = []
        self.sum_pieces: list[tuple[Any, Any]] = []  # (index, step) arrays of summary events
        self.sum_tags: dict[int, list[str]] = {}  # index -> tags, for events on the slow path
        self.fast_tags: list[tuple[Any, Any, list[str]]] = []  # (index, code, code->tag)
        self.heads: dict[bytes, tuple[str, bool] | None] = {}


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


def read_varint(b: bytes, i: int) -> tuple[int, int]:
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


def fields(b: bytes, i: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, start, end) of each field of b[i:end]; for varints the
    value's bytes, for LEN fields the payload."""
    while i < end:
        key, i = read_varint(b, i)
        fn, wt = split_key(key)
        if wt == VARINT:
            _, j = read_varint(b, i)
        elif wt == I64:
            j = i + I64_SIZE
        elif wt == I32:
            j = i + I32_SIZE
        elif wt == LEN:
            n, i = read_varint(b, i)
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
        fs = list(fields(s, 0, end))
        if len(fs) != 1 or fs[0][:2] != (SUMMARY_VALUE_FIELD, LEN) or fs[0][3] != end:
            return None
        tag = None
        last = None
        for fn, wt, a, b in fields(s, fs[0][2], end):
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
        for tfn, twt, ta, tb in fields(s, a, b):
            if tfn == TENSOR_DTYPE_FIELD and twt == VARINT:
                dtype, _ = read_varint(s, ta)
            elif tfn == TENSOR_SHAPE_FIELD and twt == LEN:
                if tb != ta:
                    return None  # a shape with dims: not rank 0
            elif (
                tfn in (TENSOR_CONTENT_FIELD, TENSOR_FLOAT_VAL_FIELD)
                and twt == LEN
                and tb - ta == I32_SIZE
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


class ScalarRecords(NamedTuple):
    """The scalar events among a chunk's records, in record order: ``sel`` their indices
    among the chunk's records; ``codes`` index ``tags`` / ``is_tensor`` (a rank-0 float
    tensor rather than a ``simple_value``)."""

    sel: np.ndarray
    codes: np.ndarray
    tags: list[str]
    is_tensor: list[bool]
    steps: np.ndarray
    walls: np.ndarray
    values: np.ndarray


def _scalar_records_hashed(
    buf: bytes,
    starts: np.ndarray,
    lengths: np.ndarray,
    heads: dict[bytes, tuple[str, bool] | None],
) -> ScalarRecords:
    """Recognise the records of ``buf`` (payloads at ``starts``, ``lengths`` bytes) that are
    ``Event{wall_time, step, summary{value{tag, float32}}}`` with no metadata.

    Such an event's bytes from the summary's value to its last four bytes (its "head") are
    the same for every event of one tag: records are grouped by a hash of their head,
    each group's head is compared word by word with its representative's and classified
    once (``heads`` caches the classification by head bytes), and steps, wall times and
    values are then gathered for all records at once. Anything else is left out.
    """
    import numpy as np

    blen = len(buf)
    n = len(starts)
    empty = ScalarRecords(np.zeros(0, np.int64), np.zeros(0, np.int64), [], [], *(np.zeros(0),) * 3)
    if blen < 8 or not n:
        return empty
    u64 = np.ndarray((blen - 7,), dtype="<u8", buffer=buf, offset=0, strides=(1,))
    a8 = np.frombuffer(buf, dtype=np.uint8)
    last = blen - 8  # the last offset an 8-byte load may start at

    def load(offs: np.ndarray, ok: np.ndarray) -> np.ndarray:
        # Loads past the buffer only concern records the fast path cannot take anyway.
        ok &= offs <= last
        out: np.ndarray = u64[np.where(ok, offs, 0)]
        return out

    ps = starts
    pe = starts + lengths
    ok = lengths >= 8
    has_wall = (a8[np.minimum(ps, blen - 1)] == EVENT_WALL_TIME[0]) & ok
    wall = np.where(has_wall, load(ps + 1, ok), np.uint64(0)).view(np.float64)
    pos = ps + (1 + I64_SIZE) * has_wall
    has_step = a8[np.minimum(pos, blen - 1)] == EVENT_STEP[0]
    sv, sn = _varints(load(pos + 1, ok))
    ok &= ~has_step | (sn > 0)
    step = np.where(has_step, sv, np.uint64(0)).view(np.int64)
    pos += has_step * (1 + sn)
    ok &= a8[np.minimum(pos, blen - 1)] == EVENT_SUMMARY[0]
    lv, ln = _varints(load(pos + 1, ok))
    ss = pos + 1 + ln
    ok &= (ln > 0) & (ss + lv.astype(np.int64) == pe)
    hl = pe - I32_SIZE - ss
    ok &= (hl >= I32_SIZE) & (hl <= _MAX_HEAD_BYTES)
    idx = np.flatnonzero(ok)
    if not len(idx):
        return empty
    ss, hl, pe, step, wall = ss[idx], hl[idx], pe[idx], step[idx], wall[idx]
    nwords = int((hl.max() + 7) // 8)
    words = []
    good = np.ones(len(idx), dtype=bool)
    h = hl.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for j in range(nwords):
        # Word j only of the records whose head reaches it: a shorter head near the buffer's
        # end (a tag's last record, often its group's representative) must not be sent to
        # the general path because a longer head elsewhere needs more words.
        rem = hl - 8 * j
        offs = ss + 8 * j
        inside = offs <= last
        good &= (rem <= 0) | inside
        w = u64[np.where((rem > 0) & inside, offs, 0)]
        part = (rem > 0) & (rem < 8)
        if part.any():
            keep = (
                np.uint64(1) << (np.clip(rem, 0, 7).astype(np.uint64) * np.uint64(8))
            ) - np.uint64(1)
            w = np.where(part, w & keep, w)
        w = np.where(rem > 0, w, np.uint64(0))
        words.append(w)
        h = (h ^ w) * np.uint64(0x100000001B3) + np.uint64(j + 1)
        h ^= h >> np.uint64(29)
    # A representative per hash bucket, without sorting: of the records sharing a bucket,
    # whichever was assigned last. Every record is then compared with its representative,
    # so a bucket shared by two heads only sends one of them to the general path.
    table = np.empty(1 << _TABLE_BITS, dtype=np.int64)
    bucket = _bucket(h, _TABLE_BITS)
    table[bucket] = np.arange(len(idx))
    rep = table[bucket]
    # Same length and words as a representative that was itself read whole (a word past the
    # buffer reads as the buffer's first; such records take the general path).
    good &= (hl == hl[rep]) & good[rep]
    for w in words:
        good &= w == w[rep]
    is_rep = np.zeros(len(idx), dtype=bool)
    is_rep[rep[good]] = True
    reps = np.flatnonzero(is_rep)
    code_of = np.full(len(idx), -1, dtype=np.int64)
    tags: list[str] = []
    is_tensor: list[bool] = []
    for r in reps.tolist():
        a = int(ss[r])
        head = buf[a : a + int(hl[r])]
        if head in heads:
            cls = heads[head]
        else:
            cls = _classify_head(head)
            if len(heads) < 100_000:
                heads[head] = cls
        if cls is not None:
            code_of[r] = len(tags)
            tags.append(cls[0])
            is_tensor.append(cls[1])
    codes = np.where(good, code_of[rep], -1)
    keep = codes >= 0
    sel = idx[keep]
    pe = pe[keep]
    vbits = (u64[pe - I32_SIZE] & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    return ScalarRecords(
        sel,
        codes[keep],
        tags,
        is_tensor,
        step[keep],
        wall[keep],
        vbits.view(np.float32).astype(np.float64),
    )


class _Layout(NamedTuple):
    """Where the fields of a fast-path scalar event are in its payload: ``wall`` the offset
    of the wall time's 8 bytes (-1: absent), ``step`` and ``step_len`` the step varint's
    (-1, 0: absent); the value is the last 4 bytes."""

    wall: int
    step: int
    step_len: int
    tag: str
    is_tensor: bool


def _layout(p: bytes, heads: dict[bytes, tuple[str, bool] | None]) -> _Layout | None:
    """The layout of payload ``p`` if it is an event the fast path takes (as
    :func:`_scalar_records_hashed` decides it), else None."""
    n = len(p)
    i = 0
    wall = step = -1
    step_len = 0
    try:
        if p[0] == EVENT_WALL_TIME[0]:
            wall, i = 1, 9
        if p[i] == EVENT_STEP[0]:
            _, j = read_varint(p, i + 1)
            step, step_len, i = i + 1, j - i - 1, j
            if step_len > 8:
                return None
        if p[i] != EVENT_SUMMARY[0]:
            return None
        size, j = read_varint(p, i + 1)
    except (IndexError, ValueError):
        return None
    if j + size != n or not I32_SIZE <= n - I32_SIZE - j <= _MAX_HEAD_BYTES:
        return None
    head = p[j : n - I32_SIZE]
    if head in heads:
        cls = heads[head]
    else:
        cls = _classify_head(head)
        if len(heads) < 100_000:
            heads[head] = cls
    return None if cls is None else _Layout(wall, step, step_len, cls[0], cls[1])


def _data_masks(lay: _Layout, n: int) -> list[int]:
    """Per 8-byte word of an n-byte payload, the bits that hold a field's value under
    layout ``lay`` (the wall time's and the value's bytes, the step's 7 low bits per byte)
    or lie past the payload. Every other bit (keys, lengths, the tag, the varint
    continuation bits) fixes the layout."""
    words = -(-n // 8)
    byte = bytearray(8 * words)
    if lay.wall >= 0:
        byte[lay.wall : lay.wall + I64_SIZE] = b"\xff" * I64_SIZE
    if lay.step >= 0:
        byte[lay.step : lay.step + lay.step_len] = b"\x7f" * lay.step_len
    byte[n - I32_SIZE :] = b"\xff" * (len(byte) - n + I32_SIZE)
    return [int.from_bytes(byte[o : o + 8], "little") for o in range(0, len(byte), 8)]


def scalar_records(
    buf: bytes,
    starts: np.ndarray,
    lengths: np.ndarray,
    heads: dict[bytes, tuple[str, bool] | None],
    words: dict[int, Words] | None = None,
) -> ScalarRecords:
    """Recognise the records of ``buf`` (payloads at ``starts``, ``lengths`` bytes) that are
    ``Event{wall_time, step, summary{value{tag, float32}}}`` with no metadata.

    Records of one payload length are taken together: where they differ from each other
    only in the bits that hold the wall time, the step and the value under the layout of a
    representative (a record of the group parsed in Python, bytes of the tag and every
    key and length equal to it, compared word by word for every record), they are the same
    event but for those fields, which are then gathered at fixed offsets. Groups too small
    or of other shapes, and what falls off, go to :func:`_scalar_records_hashed`. Anything
    else is left out.

    ``words``: the checksum pass's payload words of these records (the chunk's), per
    length; a group found there is read from them instead of from ``buf`` again.
    """
    import numpy as np

    count = len(starts)
    blen = len(buf)
    if blen < 8 or not count:
        return _scalar_records_hashed(buf, starts, lengths, heads)
    code = np.full(count, -1, dtype=np.int64)
    steps = np.zeros(count, dtype=np.int64)
    walls = np.zeros(count, dtype=np.float64)
    vbits = np.zeros(count, dtype=np.uint32)
    tags: list[str] = []
    is_tensor: list[bool] = []
    code_of: dict[tuple[str, bool], int] = {}

    def code_for(tag: str, tensor: bool) -> int:
        c = code_of.get((tag, tensor))
        if c is None:
            c = code_of[(tag, tensor)] = len(tags)
            tags.append(tag)
            is_tensor.append(tensor)
        return c

    small = lengths.astype(np.uint16) if int(lengths.max()) < 1 << 16 else lengths
    order = np.argsort(small, kind="stable")  # a radix sort for uint16
    cuts = np.flatnonzero(small[order][1:] != small[order][:-1]) + 1
    for idx in np.split(order, cuts):
        n = int(lengths[idx[0]])
        if len(idx) < _MIN_GROUP or n < 8:
            continue
        ps = starts[idx]
        # The layout of a record of the group (the first may be another event: a file
        # version's, say, is of the length of a scalar's with a 2-byte step).
        lay = None
        for i in sorted({0, len(ps) // 2, len(ps) - 1}):
            a = int(ps[i])
            lay = _layout(buf[a : a + n], heads)
            if lay is not None:
                break
        if lay is None:
            continue
        known = words.get(n) if words is not None else None
        if known is not None:
            # The checksum pass's words: each record's XOR the first record's, so a field is
            # its bits there XOR the first's, and records are the same event where they are
            # equal. (It read the group's records but those near the chunk's end: those
            # take the hashed path below.)
            idx, rows, first, varying = known.idx, known.diff, known.first, known.varying
            ps = starts[idx]
        else:
            nbytes = 8 * -(-n // 8)
            inside = ps + nbytes <= blen  # the words of a chunk's last record may not be
            if not inside.all():
                idx, ps = idx[inside], ps[inside]
            # Word-major: word j of every record in row j (numpy's row-wise passes are
            # several times faster).
            rows, first = np.ascontiguousarray(gather(buf, ps, nbytes).T), b""
            varying = [-1] * len(rows)  # not known: every row is looked at
        wall_bits = _field(rows, lay.wall, first) if lay.wall >= 0 else None
        step_bits = _field(rows, lay.step, first) if lay.step >= 0 else None
        value_bits = _field(rows, n - I32_SIZE, first)
        # Every bit but the fields' (the keys, lengths and tag), compared record by record.
        # Rows whose varying bits are all the fields' are the same in every record: left out.
        keep = [~d & 0xFFFFFFFFFFFFFFFF for d in _data_masks(lay, n)]
        keys = [rows[j] & np.uint64(keep[j]) for j in range(len(rows)) if varying[j] & keep[j]]
        rep, good = _representatives(keys, len(idx))
        reps = np.flatnonzero(np.bincount(rep[good], minlength=len(idx))).tolist()
        if len(reps) > _MAX_LAYOUTS:
            continue
        rcode = np.full(len(idx), -1, dtype=np.int64)
        for r in reps:
            a = int(ps[r])
            other = _layout(buf[a : a + n], heads)
            # The same keys under another layout would be another event: the general path.
            if other is not None and other[:3] == lay[:3]:
                rcode[r] = code_for(other.tag, other.is_tensor)
        c = np.where(good, rcode[rep], -1)
        take = c >= 0
        if not take.all():
            idx, c = idx[take], c[take]
            wall_bits = None if wall_bits is None else wall_bits[take]
            step_bits = None if step_bits is None else step_bits[take]
            value_bits = value_bits[take]
        code[idx] = c
        if wall_bits is not None:
            walls[idx] = wall_bits.view(np.float64)
        if step_bits is not None:
            v = step_bits & np.uint64(0x7F)
            for b in range(1, lay.step_len):
                v |= ((step_bits >> np.uint64(8 * b)) & np.uint64(0x7F)) << np.uint64(7 * b)
            steps[idx] = v.view(np.int64)
        vbits[idx] = value_bits.astype(np.uint32)
    rest = np.flatnonzero(code < 0)
    if len(rest):
        more = _scalar_records_hashed(buf, starts[rest], lengths[rest], heads)
        if len(more.sel):
            at = rest[more.sel]
            remap = np.array(
                [code_for(t, x) for t, x in zip(more.tags, more.is_tensor)], dtype=np.int64
            )
            code[at] = remap[more.codes]
            steps[at] = more.steps
            walls[at] = more.walls
            vbits[at] = more.values.astype(np.float32).view(np.uint32)
    sel = np.flatnonzero(code >= 0)
    return ScalarRecords(
        sel,
        code[sel],
        tags,
        is_tensor,
        steps[sel],
        walls[sel],
        vbits[sel].view(np.float32).astype(np.float64),
    )


def _bytes_at(words: np.ndarray, offset: int) -> np.ndarray:
    """The 8 bytes at byte ``offset`` of each record, as a little-endian uint64, from its
    word-major ``words`` (row j: every record's bytes 8j to 8j + 7); bytes past the last
    row read as zeros."""
    import numpy as np

    q, r = divmod(offset, 8)
    low: np.ndarray = words[q] if r == 0 else words[q] >> np.uint64(8 * r)
    if r and q + 1 < len(words):
        low = low | (words[q + 1] << np.uint64(64 - 8 * r))
    return low


def _field(rows: np.ndarray, offset: int, first: bytes) -> np.ndarray:
    """The 8 bytes at ``offset`` of each record (see :func:`_bytes_at`); with ``first``,
    ``rows`` hold each record's bytes XOR ``first``'s, which are put back."""
    import numpy as np

    bits = _bytes_at(rows, offset)
    if first:
        bits = bits ^ np.uint64(int.from_bytes(first[offset : offset + 8], "little"))
    return bits


def _bucket(h: np.ndarray, bits: int) -> np.ndarray:
    """A table index of ``bits`` bits for each hash: its top bits after a full mix
    (MurmurHash3's finaliser), so that keys differing in any one byte spread over the table
    (the rounds that build ``h`` carry a byte's difference only part of the way up)."""
    import numpy as np

    h = h ^ (h >> np.uint64(33))
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    out: np.ndarray = (h >> np.uint64(64 - bits)).astype(np.int64)
    return out


def _representatives(keys: list[np.ndarray], m: int) -> tuple[np.ndarray, np.ndarray]:
    """For ``m`` records with key words ``keys``: (rep, good), ``rep`` a record with the
    same hash, ``good`` where every word equals rep's. Records whose hash bucket another key
    took are not good (the caller's fallback takes them)."""
    import numpy as np

    # Words the same in every record tell no record from another: only the others are
    # hashed and compared (of a group of ten tags of one length, typically one word).
    keys = [k for k in keys if (k != k[0]).any()]
    if not keys:  # one key: the usual case of a tag alone
        return np.zeros(m, dtype=np.int64), np.ones(m, dtype=bool)
    h = np.full(m, 0x9E3779B97F4A7C15, dtype=np.uint64)
    for j, k in enumerate(keys):
        h = (h ^ k) * np.uint64(0x100000001B3) + np.uint64(j + 1)
        h ^= h >> np.uint64(29)
    bits = min(_TABLE_BITS, max(8, (2 * m).bit_length()))
    bucket = _bucket(h, bits)
    table = np.empty(1 << bits, dtype=np.int64)
    table[bucket] = np.arange(m)
    rep = table[bucket]
    good = np.ones(m, dtype=bool)
    for k in keys:
        good &= k == k[rep]
    return rep, good


def fast_chunk(
    rd: RunData,
    buf: bytes,
    starts: np.ndarray,
    lengths: np.ndarray,
    words: dict[int, Words] | None = None,
) -> np.ndarray:
    """Take the scalar events of a chunk; returns a mask of the records left for the
    general path."""
    import numpy as np

    found = scalar_records(buf, starts, lengths, rd.heads, words)
    rest = np.ones(len(starts), dtype=bool)
    sel, codes = found.sel, found.codes
    if sel.size:
        ridx = rd.n + sel
        # Stable radix sort on small codes: one piece per tag, in record order.
        small = codes.astype(np.int16) if len(found.tags) < 2**15 else codes
        order = np.argsort(small, kind="stable")
        # The columns put in tag order once; each tag's piece is then a slice of them.
        r, st, wt, val = ridx[order], found.steps[order], found.walls[order], found.values[order]
        sorted_codes = codes[order]
        bounds = [0, *(np.flatnonzero(sorted_codes[1:] != sorted_codes[:-1]) + 1).tolist()]
        bounds.append(len(order))
        for a, b in zip(bounds, bounds[1:]):
            c = int(sorted_codes[a])
            target = rd.tensor_scalar if found.is_tensor[c] else rd.simple
            target[found.tags[c]].append((r[a:b], st[a:b], wt[a:b], val[a:b]))
        rd.sum_pieces.append((ridx, found.steps))
        rd.fast_tags.append((ridx, codes, found.tags))
        rest[sel] = False
    return rest
