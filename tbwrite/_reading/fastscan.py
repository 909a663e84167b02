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

Data checksums are verified record by record, vectorised. CRC-32C is affine: for payloads
of one length n, ``crc(a ^ d) == crc(a) ^ L_n(d)``, where ``L_n`` is linear (``L_n(d) =
crc(d) ^ crc(0^n)``) and so is the XOR of one table entry per byte of ``d``. Records of one
length are mostly the same bytes (tag, field keys): with ``a`` the group's first payload and
``d_i`` each payload XOR ``a``, every record's CRC is ``crc(a)`` XOR a few table look-ups for
the bytes where the group's payloads differ (a step, a value, a wall time). Every record's
own data checksum is thus compared with the stored one, as a one-by-one walk would, and the
first damaged record is reported exactly; no damage can cancel between records.

The payload words gathered for the checksums (word-major, each record's XOR the group's
first) are handed on as :class:`Words`, so that the scalar decoder reads the fields from
them instead of gathering every payload's bytes a second time.
"""

from __future__ import annotations

from array import array
from functools import lru_cache
from typing import TYPE_CHECKING, Final, NamedTuple

from .._format.tfrecord import (
    FOOTER_SIZE,
    HEADER_SIZE,
    LENGTH_SIZE,
    MASK_DELTA,
    crc32c,
    masked_crc32c,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Words", "gather", "walk", "walk_all"]

_LEARN: Final = 64  # records walked one by one before predicting again
_MAX_LEARN: Final = 4096
_FIRST_SPAN: Final = 1024  # records predicted at once, doubling while predictions hold
_MAX_SPAN: Final = 1 << 20
_MAX_PERIOD: Final = 32
_SMALL_GROUP: Final = 64  # groups this small are checked with one C call per record
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
    buf: bytes, hcache: dict[bytes, int], exact: bool = False, start: int = 0
) -> tuple[int, np.ndarray, np.ndarray, int, int | None]:
    """The verified records of ``buf`` from ``start`` (a record's offset in ``buf``).

    Returns (end, payload starts, payload lengths, need, bad_data_at): ``end`` is the end of
    the last good record; ``need`` as :func:`_learn`'s at ``end``; ``bad_data_at`` the start
    of the first record whose data checksum is wrong (the records returned are those before
    it, and ``end`` is it), or None. ``hcache`` maps a verified header's 12 bytes to its
    record's size, across calls. ``exact`` computes every data checksum with a call of
    its own (for ``verify``, the reference path) instead of vectorised.
    """
    end, starts, lengths, need, bad = walk_all(buf, hcache, exact, start)
    if len(bad):
        b = int(bad[0])
        at = int(starts[b]) - HEADER_SIZE
        return at, starts[:b], lengths[:b], 0, at
    return end, starts, lengths, need, None


def walk_all(
    buf: bytes,
    hcache: dict[bytes, int],
    exact: bool = False,
    start: int = 0,
    words: dict[int, Words] | None = None,
) -> tuple[int, np.ndarray, np.ndarray, int, np.ndarray]:
    """As :func:`walk`, but past records whose data checksum is wrong: the last item is the
    indices of those (ascending) among the records returned, whose headers all verify.

    ``words``, if given, receives the payload words the checksums were computed from, per
    payload length (:class:`Words`), for the decoder to read the same records without
    gathering their bytes again."""
    import numpy as np

    blen = len(buf)
    pieces_s: list[np.ndarray] = []
    pieces_n: list[np.ndarray] = []
    pos = start
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
        hi = np.array([int.from_bytes(h[8:12], "little") for h in heads], dtype=np.uint64)
        while True:
            # Whole periods: record i of period r starts at pos + r * (the period's bytes)
            # + the sizes before i within it (no tiled copies, no running sum of k sizes).
            ends_in = np.cumsum(pattern)
            reps = -(-min(span, (blen - pos) // int(pattern.min()) + 1) // p)
            k = reps * p
            base = pos + int(ends_in[-1]) * np.arange(reps, dtype=np.int64)[:, None]
            ends = (base + ends_in).ravel()
            st = (base + (ends_in - pattern)).ravel()
            fits = ends <= blen
            # Each predicted header's 12 bytes (and the 4 after them: a record is at least
            # 16 bytes long), gathered in one pass, compared with the remembered ones.
            got = gather(buf, np.where(fits, st, 0), 16).reshape(reps, p, 2)
            ok = (
                fits.reshape(reps, p)
                & (got[:, :, 0] == lo)
                & ((got[:, :, 1] & np.uint64(0xFFFFFFFF)) == hi)
            ).ravel()
            m = int(np.argmin(ok)) if not ok.all() else k
            if m:
                pieces_s.append(st[:m])
                pieces_n.append(ends[:m] - st[:m])
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
    bad = _check_data(buf, starts, sizes, exact, words)
    return pos, starts + HEADER_SIZE, sizes - (HEADER_SIZE + FOOTER_SIZE), need, bad


class Words(NamedTuple):
    """The payloads of records of one length ``n``, word-major, as the checksum pass read
    them: ``idx`` the records (indices among a walk's, ascending); ``diff`` row j holds
    each record's bytes 8j to 8j + 7 XOR the first record's (bytes past ``n`` zero);
    ``first`` the first record's payload."""

    idx: np.ndarray
    diff: np.ndarray
    first: bytes
    varying: list[int]  # per row of ``diff``, the bits that differ between any two records


def _check_data(
    buf: bytes,
    starts: np.ndarray,
    sizes: np.ndarray,
    exact: bool = False,
    words: dict[int, Words] | None = None,
) -> np.ndarray:
    """Indices of the records whose data checksum is wrong, ascending; the groups of one
    length checked vectorised go to ``words`` if given."""
    import numpy as np

    if not len(starts):
        return np.zeros(0, dtype=np.int64)
    blen = len(buf)
    ps = starts + HEADER_SIZE
    plen = sizes - (HEADER_SIZE + FOOTER_SIZE)
    # Records too near the end of the buffer for 8-byte loads are checked one by one.
    nwords = (plen + 7) // 8
    near_end = ps + 8 * np.maximum(nwords, 1) > blen - 8

    def one_by_one(idx: np.ndarray) -> list[int]:
        wrong = []
        for i in idx.tolist():
            a, n = int(ps[i]), int(plen[i])
            stored = int.from_bytes(buf[a + n : a + n + 4], "little")
            if masked_crc32c(buf[a : a + n]) != stored:
                wrong.append(i)
        return wrong

    if len(starts) < _SMALL_GROUP:  # a few records (a walk between damages): no grouping
        return np.array(one_by_one(np.arange(len(starts))), dtype=np.int64)
    bads: list[int] = one_by_one(np.flatnonzero(near_end))
    body = np.flatnonzero(~near_end)
    if len(body):
        lens = plen[body]
        if int(lens.max()) < 1 << 16:
            lens = lens.astype(np.uint16)  # argsort(kind="stable") is a radix sort on these
        order = np.argsort(lens, kind="stable")
        cuts = np.flatnonzero(np.diff(lens[order])) + 1
        for idx in np.split(body[order], cuts):
            if exact or len(idx) < _SMALL_GROUP:
                bads += one_by_one(idx)
            else:
                n = int(plen[idx[0]])
                wrong, diff, varying = _bad_in_group(buf, ps[idx], n)
                bads += idx[wrong].tolist()
                if words is not None:
                    first = int(ps[idx[0]])
                    words[n] = Words(idx, diff, buf[first : first + n], varying)
    return np.array(sorted(bads), dtype=np.int64)


def _bit_contributions(n: int, k: int) -> list[int]:
    """``L_n`` of each single bit of the byte at offset ``k`` of an n-byte payload (0 past
    the payload's end)."""
    if k >= n:
        return [0] * 8
    zero = crc32c(bytes(n))
    out = []
    for bit in range(8):
        d = bytearray(n)
        d[k] = 1 << bit
        out.append(crc32c(bytes(d)) ^ zero)
    return out


@lru_cache(maxsize=128)
def _pair_table(n: int, k: int) -> np.ndarray:
    """``L_n`` of every 16-bit value (little-endian) at offsets ``k``, ``k + 1`` of an n-byte
    payload: 65,536 uint32, built from the 16 single bits (``L_n`` is linear)."""
    import numpy as np

    bits = _bit_contributions(n, k) + _bit_contributions(n, k + 1)
    table = np.zeros(1 << 16, dtype=np.uint32)
    for bit, contribution in enumerate(bits):
        if contribution:
            size = 1 << bit  # the table up to 2^bit doubled: values with this bit set
            table[size : 2 * size] = table[:size] ^ np.uint32(contribution)
        else:
            table[1 << bit : 2 << bit] = table[: 1 << bit]
    return table


def gather(buf: bytes, at: np.ndarray, nbytes: int) -> np.ndarray:
    """The ``nbytes`` bytes of ``buf`` at each offset of ``at``, as rows: uint64 words
    (``nbytes`` a multiple of 8, shape (len(at), nbytes // 8)) or, for 4 bytes, uint32.
    Every ``at + nbytes`` must be within ``buf``.

    One gather of ``nbytes``-wide void items: numpy copies each with one memcpy, where an
    unaligned uint64 view (strides of 1 byte) takes its slow per-element path, ~5x
    slower per word.
    """
    import numpy as np

    items = np.ndarray((len(buf) - nbytes + 1,), dtype=f"V{nbytes}", buffer=buf, strides=(1,))
    rows: np.ndarray = items[at]
    if nbytes == 4:
        return rows.view("<u4")
    return rows.view("<u8").reshape(len(at), nbytes // 8)


def _bad_in_group(buf: bytes, ps: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Indices (in ``ps``) of the records whose stored data CRC differs from their
    payload's, among records with payloads at ``ps``, all ``n`` bytes long, each with its
    payload and stored CRC, rounded up to 8 bytes, inside the buffer (see the module's
    notes); and the payload words and their varying bits as :class:`Words` holds them."""
    import numpy as np

    first = int(ps[0])
    crc = np.full(len(ps), crc32c(buf[first : first + n]), dtype=np.uint32)
    words = -(-n // 8)
    # Word j of every record in row j: numpy's row-wise passes are several times faster.
    # The rows reach over the stored CRC that follows the payload, read from them too.
    rows = np.ascontiguousarray(gather(buf, ps, 8 * (-(-(n + FOOTER_SIZE) // 8))).T)
    q, r = divmod(n, 8)
    stored = rows[q] >> np.uint64(8 * r)
    if r > 4:
        stored |= rows[q + 1] << np.uint64(64 - 8 * r)
    stored = stored.astype(np.uint32)
    diff = rows[:words]
    diff ^= diff[:, :1]
    tail = n - 8 * (words - 1)
    if tail < 8:  # bytes past the payload (its CRC, the next record) are not part of it
        diff[-1] &= np.uint64((1 << (8 * tail)) - 1)
    varying = np.bitwise_or.reduce(diff, axis=1).tolist()  # the bits that differ, per word
    for j, bits in enumerate(varying):
        halves = diff[j].view("<u2")
        for c in range(4):
            if bits >> (16 * c) & 0xFFFF:
                crc ^= _pair_table(n, 8 * j + 2 * c).take(halves[c::4])
    # Masked as the writer masks: rotated right by 15 bits, plus the mask delta.
    masked = ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(MASK_DELTA)
    return np.flatnonzero(masked != stored), diff, varying
