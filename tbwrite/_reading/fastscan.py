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

Data checksums are verified record by record, vectorised over the records of one payload
length: with a zero initial register CRC-32C is linear and leading zero bytes leave the
register unchanged, so every payload is read as whole 8-byte words ending at its last byte
(the bytes before it masked to zero) and its CRC is computed 16 bits per table lookup for
all records at once, then compared with its own stored CRC. Each record's checksum is
checked on its own, so damage is missed only where TensorBoard's own check would miss it:
no damage pattern spread over several records can cancel (an aggregate such as the XOR of
a group's CRCs can be fooled by two records damaged by the same bits). Records near the
end of the buffer, and small groups, take the C implementation one call per record.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Final

from .._format.tfrecord import (
    CRC32C_POLY_REFLECTED,
    FOOTER_SIZE,
    HEADER_SIZE,
    LENGTH_SIZE,
    MASK_DELTA,
    crc32c,
    masked_crc32c,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = ["walk"]

_LEARN: Final = 64  # records walked one by one before predicting again
_MAX_LEARN: Final = 4096
_FIRST_SPAN: Final = 1024  # records predicted at once, doubling while predictions hold
_MAX_SPAN: Final = 1 << 20
_MAX_PERIOD: Final = 32
_SMALL_GROUP: Final = 256  # groups this small are checked record by record (cheaper)
_TABLES: np.ndarray | None = None  # built on first use by _crc_tables
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
    record's size, across calls. Every data checksum is checked on its own whatever
    ``exact`` says (kept for callers).
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
    bad = _check_data(buf, u64, starts, sizes)
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


def _check_data(buf: bytes, u64: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> int | None:
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
            if len(idx) < _SMALL_GROUP:
                b = one_by_one(idx)
                if b is not None:
                    bads.append(b)
            else:
                wrong = _crc_mismatches(u64, ps[idx], int(g))
                if len(wrong):
                    bads.append(int(idx[wrong].min()))
    if bads:
        first_bad = min(bads)
        return first_bad
    return None


def _crc_tables() -> np.ndarray:
    """Four 65,536-entry tables for CRC-32C's linear part, 16 input bits at a time.

    Table ``k`` maps 16 bits at byte offset ``2*k`` of an 8-byte word (the register already
    XORed into its low 4 bytes) to their contribution to the register after the word: the
    classic slicing-by-8 tables, paired."""
    global _TABLES
    if _TABLES is None:
        import numpy as np

        t = np.arange(256, dtype=np.uint32)
        for _ in range(8):
            t = np.where(t & 1, (t >> 1) ^ np.uint32(CRC32C_POLY_REFLECTED), t >> 1)
        # by_byte[k][b]: byte b followed by 7-k more bytes (slicing-by-8 table 7-k).
        by_byte = [t]
        for _ in range(7):
            prev = by_byte[-1]
            by_byte.append(t[prev & 0xFF] ^ (prev >> 8))
        by_byte.reverse()  # by_byte[k]: the byte at offset k of the word
        lo = np.arange(1 << 16, dtype=np.uint32)
        _TABLES = np.stack(
            [by_byte[2 * k][lo & 0xFF] ^ by_byte[2 * k + 1][lo >> 8] for k in range(4)]
        )
    return _TABLES


def _crc_mismatches(u64: np.ndarray, ps: np.ndarray, n: int) -> np.ndarray:
    """Positions (into ``ps``) of the records whose stored data CRC is wrong: records with
    ``n``-byte payloads at ``ps``, each checksum computed on its own, vectorised over records.

    With a zero initial register CRC-32C is linear, and leading zero bytes leave a zero
    register unchanged: so each payload is read as whole 8-byte words ending at its last
    byte, the bytes before the payload are masked to zero, and ``crc(x) = lin(x) ^
    crc(0^n)``. Every record's own checksum is compared, so no damage pattern can cancel."""
    import numpy as np

    tables = _crc_tables()
    t0, t1, t2, t3 = tables[0], tables[1], tables[2], tables[3]
    w = -(-n // 8)
    pad = 8 * w - n
    first = ps - pad
    reg = np.zeros(len(ps), dtype=np.uint32)
    m16 = np.uint64(0xFFFF)
    for j in range(w):
        word = u64[first + 8 * j]
        if j == 0 and pad:
            word = word & ~np.uint64((1 << (8 * pad)) - 1)
        word = word ^ reg.astype(np.uint64)
        reg = (
            t0[(word & m16).astype(np.intp)]
            ^ t1[((word >> np.uint64(16)) & m16).astype(np.intp)]
            ^ t2[((word >> np.uint64(32)) & m16).astype(np.intp)]
            ^ t3[(word >> np.uint64(48)).astype(np.intp)]
        )
    want = reg ^ np.uint32(crc32c(bytes(n)))
    stored = _unmask(u64[ps + n] & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    out: np.ndarray = np.flatnonzero(want != stored)
    return out
