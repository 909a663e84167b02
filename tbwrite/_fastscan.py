"""The record walk of a whole buffer, vectorised: both checksums of every record, in numpy.

Strategy. A TFRecord stream is a chain: each header's length gives the next record's start,
so finding the records is inherently sequential, and one Python step per record (a slice, a
dict lookup, a CRC call) is what used to bound reading speed. Logs are repetitive, though:
a training loop writes the same tags in the same order, so the sequence of record sizes is
periodic. The walk therefore alternates two phases:

- learn: walk a few records one by one, verifying each new header's length checksum and
  remembering its 12 bytes (a header seen before needs no new check: same bytes, same CRC);
- predict: find the period P of the recent sizes, lay the next records out by repeating the
  last P sizes, and compare every predicted header with the remembered one in one numpy
  pass. Records up to the first mismatch are exactly those a sequential walk would find
  (each start follows from a verified header); at the mismatch, learn again.

Data checksums are verified in batches. CRC-32C is affine: for payloads of one length n,
``crc(a ^ b) == crc(a) ^ crc(b) ^ crc(0^n)``. So the XOR of the stored CRCs of a group of
equal-length records must equal the CRC of the XOR of their payloads (corrected by
``crc(0^n)`` when the group's size is even): one C call checks many records. Each group is
checked in two partitions of ``_PARTS`` subsets (record index mod 64, and 64 runs of
consecutive records), so damage is missed only where a single CRC would miss it, or where
two records of the same length 64*k records apart within one run are damaged by exactly the
same bits (their damage cancels in the XOR). When any aggregate fails, that group is checked
record by record, which finds and reports the first damaged record exactly.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Final, NamedTuple

from crc32c import crc32c as _crc32c

from ._framing import FOOTER_SIZE, HEADER_SIZE, LENGTH_SIZE, MASK_DELTA, masked_crc32c

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ScalarRecords", "scalar_records", "walk"]

_LEARN: Final = 64  # records walked one by one before predicting again
_MAX_LEARN: Final = 4096
_FIRST_SPAN: Final = 1024  # records predicted at once, doubling while predictions hold
_MAX_SPAN: Final = 1 << 20
_MAX_PERIOD: Final = 32
_SMALL_GROUP: Final = 256  # groups this small are checked record by record (cheaper)
_PARTS: Final = 64  # each group is checked in 2 x 64 subsets
_MAX_CACHED_HEADERS: Final = 4096


def _learn(
    buf: bytes,
    pos: int,
    count: int,
    hcache: dict[bytes, int],
    starts: array[int],
    sizes: array[int],
) -> tuple[int, int]:
    """Walk up to ``count`` records from ``pos``; returns (end, need): need is 0 when more
    records may follow or the buffer ended cleanly, the size of an incomplete record, or -1
    for a header whose length checksum is wrong (at end)."""
    blen = len(buf)
    get = hcache.get
    for _ in range(count):
        h = buf[pos : pos + HEADER_SIZE]
        n = get(h)
        if n is None:
            if len(h) < HEADER_SIZE:
                return pos, 0
            length = int.from_bytes(h[:LENGTH_SIZE], "little")
            if masked_crc32c(h[:LENGTH_SIZE]) != int.from_bytes(h[LENGTH_SIZE:], "little"):
                return pos, -1
            n = length + HEADER_SIZE + FOOTER_SIZE
            if len(hcache) < _MAX_CACHED_HEADERS:
                hcache[h] = n
        if pos + n > blen:
            return pos, n
        starts.append(pos)
        sizes.append(n)
        pos += n
    return pos, 0


def _period(sizes: array[int]) -> int:
    """The smallest P such that the last 2P sizes (at least 8) repeat with period P; 0 if
    there is none."""
    k = len(sizes)
    for p in range(1, _MAX_PERIOD + 1):
        span = max(2 * p, 8)
        if span > k:
            return 0
        tail = sizes[k - span :]
        if all(tail[i] == tail[i - p] for i in range(p, span)):
            return p
    return 0


def walk(
    buf: bytes, hcache: dict[bytes, int], exact: bool = False
) -> tuple[int, np.ndarray, np.ndarray, int, int | None]:
    """The verified records of ``buf`` from 0.

    Returns (end, payload starts, payload lengths, need, bad_data_at): ``end`` is the end of
    the last good record; ``need`` as :func:`_learn`'s at ``end``; ``bad_data_at`` the start
    of the first record whose data checksum is wrong (the records returned are those before
    it, and ``end`` is it), or None. ``hcache`` maps a verified header's 12 bytes to its
    record's size, across calls. ``exact`` checks every data checksum on its own (for
    ``verify``) instead of in aggregate.
    """
    import numpy as np

    blen = len(buf)
    u64 = (
        np.ndarray((blen - 7,), dtype="<u8", buffer=buf, offset=0, strides=(1,))
        if blen >= 8
        else np.zeros(0, dtype="<u8")
    )
    pieces_s: list[np.ndarray] = []
    pieces_n: list[np.ndarray] = []
    pos = 0
    learn = _LEARN
    span = _FIRST_SPAN
    need = 0
    while True:
        ls: array[int] = array("q")
        ln: array[int] = array("q")
        pos, need = _learn(buf, pos, learn, hcache, ls, ln)
        if len(ls):
            pieces_s.append(np.frombuffer(ls, dtype=np.int64))
            pieces_n.append(np.frombuffer(ln, dtype=np.int64))
        if need != 0 or len(ls) < learn or pos + HEADER_SIZE > blen:
            break
        p = _period(ln)
        if not p:
            learn = min(2 * learn, _MAX_LEARN)
            continue
        pattern = np.frombuffer(ln[len(ln) - p :], dtype=np.int64)
        heads = [buf[s : s + HEADER_SIZE] for s in ls[len(ls) - p :]]
        lo = np.array([int.from_bytes(h[:8], "little") for h in heads], dtype=np.uint64)
        hi = np.array([int.from_bytes(h[4:12], "little") for h in heads], dtype=np.uint64)
        while True:
            k = min(span, (blen - pos) // int(pattern.min()) + 1)
            reps = -(-k // p)
            sz = np.tile(pattern, reps)[:k]
            ends = pos + np.cumsum(sz)
            st = ends - sz
            fits = ends <= blen
            safe = np.where(fits, st, 0)
            ok = (
                fits
                & (u64[safe] == np.tile(lo, reps)[:k])
                & (u64[safe + 4] == np.tile(hi, reps)[:k])
            )
            m = int(np.argmin(ok)) if not ok.all() else k
            if m:
                pieces_s.append(st[:m])
                pieces_n.append(sz[:m])
                pos = int(ends[m - 1])
                # Keep the pattern's phase: the next prediction starts where this one stopped.
                shift = m % p
                if shift:
                    pattern = np.roll(pattern, -shift)
                    lo, hi = np.roll(lo, -shift), np.roll(hi, -shift)
            if m < k:
                span = _FIRST_SPAN if m < span // 2 else span
                learn = _LEARN if m >= _LEARN else min(2 * learn, _MAX_LEARN)
                break
            span = min(2 * span, _MAX_SPAN)
            if pos + HEADER_SIZE > blen:
                break
        if pos + HEADER_SIZE > blen:
            break
    if pieces_s:
        starts = np.concatenate(pieces_s) if len(pieces_s) > 1 else pieces_s[0]
        sizes = np.concatenate(pieces_n) if len(pieces_n) > 1 else pieces_n[0]
    else:
        starts = sizes = np.zeros(0, dtype=np.int64)
    bad = _check_data(buf, u64, starts, sizes, exact)
    if bad is not None:
        starts, sizes = starts[:bad], sizes[:bad]
        end = int(starts[-1] + sizes[-1]) if len(starts) else 0
        return end, starts + HEADER_SIZE, sizes - (HEADER_SIZE + FOOTER_SIZE), 0, end
    return pos, starts + HEADER_SIZE, sizes - (HEADER_SIZE + FOOTER_SIZE), need, None


def _unmask(m: np.ndarray) -> np.ndarray:
    import numpy as np

    c = (m.astype(np.uint64) - np.uint64(MASK_DELTA)) & np.uint64(0xFFFFFFFF)
    out: np.ndarray = ((c << np.uint64(15)) | (c >> np.uint64(17))) & np.uint64(0xFFFFFFFF)
    return out


def _check_data(
    buf: bytes, u64: np.ndarray, starts: np.ndarray, sizes: np.ndarray, exact: bool = False
) -> int | None:
    """Index of the first record whose data checksum is wrong, or None."""
    import numpy as np

    if not len(starts):
        return None
    blen = len(buf)
    ps = starts + HEADER_SIZE
    plen = sizes - (HEADER_SIZE + FOOTER_SIZE)
    # Records too near the end of the buffer for 8-byte loads are checked one by one.
    nwords = (plen + 7) // 8
    near_end = ps + 8 * np.maximum(nwords, 1) > blen - 8
    first_bad = len(starts)

    def one_by_one(idx: np.ndarray) -> int | None:
        for i in idx.tolist():
            a, n = int(ps[i]), int(plen[i])
            stored = int.from_bytes(buf[a + n : a + n + 4], "little")
            if masked_crc32c(buf[a : a + n]) != stored:
                return int(i)
        return None

    bads: list[int] = []
    b = one_by_one(np.flatnonzero(near_end))
    if b is not None:
        bads.append(b)
    body = np.flatnonzero(~near_end)
    if len(body):
        lengths, inverse = np.unique(plen[body], return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        cuts = np.flatnonzero(np.diff(inverse[order])) + 1
        for g, idx in zip(lengths.tolist(), np.split(body[order], cuts)):
            if exact or len(idx) < _SMALL_GROUP or not _group_ok(buf, u64, ps[idx], int(g)):
                b = one_by_one(idx)
                if b is not None:
                    bads.append(b)
    if bads:
        first_bad = min(bads)
        return first_bad
    return None


def _group_ok(buf: bytes, u64: np.ndarray, ps: np.ndarray, n: int) -> bool:
    """Whether the stored data CRCs of the records with payloads at ``ps``, all ``n`` bytes
    long, agree with their payloads in aggregate (see the module's notes)."""
    import numpy as np

    count = len(ps)
    w = -(-n // 8)
    r = _PARTS
    padded = -(-count // r) * r
    cols = np.zeros((w + 1, padded), dtype=np.uint64)
    for j in range(w):
        cols[j, :count] = u64[ps + 8 * j]
    tail = n - 8 * (w - 1)
    if tail < 8:
        cols[w - 1] &= np.uint64((1 << (8 * tail)) - 1)
    cols[w, :count] = _unmask(u64[ps + n] & np.uint64(0xFFFFFFFF))
    # Two partitions: index mod r, and r runs of consecutive records.
    by_residue = np.bitwise_xor.reduce(cols.reshape(w + 1, -1, r), axis=1)
    res_count = np.full(r, count // r) + (np.arange(r) < count % r)
    run = -(-count // r)
    bounds = np.arange(0, count, run)
    by_run = np.bitwise_xor.reduceat(cols[:, :count], bounds, axis=1)
    run_count = np.diff(np.append(bounds, count))
    zero_crc = _crc32c(bytes(n))
    for agg, counts in ((by_residue, res_count), (by_run, run_count)):
        data = np.ascontiguousarray(agg[:w].T).astype("<u8").tobytes()
        stride = 8 * w
        for i, c in enumerate(counts.tolist()):
            if not c:
                continue
            want = _crc32c(data[i * stride : i * stride + n]) ^ (zero_crc if c % 2 == 0 else 0)
            if want != int(agg[w, i]):
                return False
    return True


# -- scalar events, a chunk at a time ---------------------------------------------------------

_MAX_HEAD_BYTES: Final = 128
_TABLE_BITS: Final = 20


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


def scalar_records(
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

    from ._loaders import _classify_head

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
    has_wall = (a8[np.minimum(ps, blen - 1)] == 0x09) & ok
    wall = np.where(has_wall, load(ps + 1, ok), np.uint64(0)).view(np.float64)
    pos = ps + 9 * has_wall
    has_step = a8[np.minimum(pos, blen - 1)] == 0x10
    sv, sn = _varints(load(pos + 1, ok))
    ok &= ~has_step | (sn > 0)
    step = np.where(has_step, sv, np.uint64(0)).view(np.int64)
    pos += has_step * (1 + sn)
    ok &= a8[np.minimum(pos, blen - 1)] == 0x2A
    lv, ln = _varints(load(pos + 1, ok))
    ss = pos + 1 + ln
    ok &= (ln > 0) & (ss + lv.astype(np.int64) == pe)
    hl = pe - 4 - ss
    ok &= (hl >= 4) & (hl <= _MAX_HEAD_BYTES)
    idx = np.flatnonzero(ok)
    if not len(idx):
        return empty
    ss, hl, pe, step, wall = ss[idx], hl[idx], pe[idx], step[idx], wall[idx]
    nwords = int((hl.max() + 7) // 8)
    words = []
    good = np.ones(len(idx), dtype=bool)
    h = hl.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for j in range(nwords):
        w = load(ss + 8 * j, good)
        rem = hl - 8 * j
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
    bucket = (h >> np.uint64(64 - _TABLE_BITS)).astype(np.int64)
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
    vbits = (u64[pe - 4] & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    return ScalarRecords(
        sel,
        codes[keep],
        tags,
        is_tensor,
        step[keep],
        wall[keep],
        vbits.view(np.float32).astype(np.float64),
    )
