"""TensorBoard's reservoir sampling, reproduced item for item: at most ``size`` items per
key (0 keeps all), the draws those of ``random.Random(0)``'s ``randint`` for the n-th item,
the newest item always kept (unless ``always_keep_last`` is off), and purges that rescale
the count of items seen as TensorBoard's do. Scalar buckets hold numpy columns.
"""

from __future__ import annotations

import gc
import random
import threading
from itertools import repeat
from typing import Any, Callable, Final

from .event_types import ScalarEvent

__all__ = ["Bucket", "Reservoir", "ScalarBucket"]


def _randbelow_fn(rng: random.Random) -> Callable[[int], int]:
    """``lambda n: rng.randint(0, n - 1)``, drawn the way CPython draws it (rejection
    sampling on ``getrandbits(n.bit_length())``) without its three call layers, when this
    Python's ``randint`` is verified to draw exactly so; ``randint`` itself otherwise."""
    if _RANDBELOW_OK:
        bits = rng.getrandbits

        def below(n: int) -> int:
            k = n.bit_length()
            r = bits(k)
            while r >= n:
                r = bits(k)
            return r

        return below
    return lambda n: rng.randint(0, n - 1)


def _check_randbelow() -> bool:
    a, b = random.Random(12345), random.Random(12345)
    bits = b.getrandbits
    for n in (1, 2, 3, 5, 7, 100, 1000, 10001, 65535, 65536, 65537, 10**6, 2**31 + 3):
        for _ in range(20):
            k = n.bit_length()
            r = bits(k)
            while r >= n:
                r = bits(k)
            if a.randint(0, n - 1) != r:
                return False
    return True


_RANDBELOW_OK: Final = _check_randbelow()


class Bucket:
    """One key's items: TensorBoard's reservoir-bucket algorithm on a list.

    While fewer than ``size`` items are kept (or size is 0) a new item is appended;
    otherwise r = randint(0, seen): r < size pops item r and appends the new one, else the
    new one replaces the last (``keep_last``) or is dropped. ``transform`` is applied only
    to items that are kept.
    """

    __slots__ = ("_below", "items", "keep_last", "seen", "size")

    def __init__(self, size: int, keep_last: bool) -> None:
        self.size = size
        self.keep_last = keep_last
        self.items: list[Any] = []
        self.seen = 0
        self._below = _randbelow_fn(random.Random(0))

    def add(self, item: Any, transform: Callable[[Any], Any] | None = None) -> None:
        items = self.items
        if self.size == 0 or len(items) < self.size:
            items.append(transform(item) if transform else item)
        else:
            r = self._below(self.seen + 1)
            if r < self.size:
                items.pop(r)
                items.append(transform(item) if transform else item)
            elif self.keep_last:
                items[-1] = transform(item) if transform else item
        self.seen += 1

    def filter_below(self, step: int) -> int:
        before = len(self.items)
        self.items = [x for x in self.items if x.step < step]
        return self._rescale(before, len(self.items))

    def _rescale(self, before: int, after: int) -> int:
        # The count of items seen shrinks in proportion to the items kept.
        prop = after / float(before) if before > 0 else 0
        self.seen = int(round(self.seen * prop))
        return before - after

    def get(self) -> list[Any]:
        return list(self.items)


class ScalarBucket(Bucket):
    """A scalar bucket holding its points as numpy columns; ``items`` are positions into
    them when sampling (size > 0), unused when everything is kept."""

    __slots__ = ("_cols", "_parts", "_pending")

    def __init__(self, size: int) -> None:
        super().__init__(size, True)
        self._parts: list[tuple[Any, Any, Any]] = []  # (steps, walls, values) arrays
        self._pending: list[tuple[int, float, float]] = []
        self._cols: tuple[Any, Any, Any] | None = None

    def count(self) -> int:
        return sum(len(p[0]) for p in self._parts) + len(self._pending)

    def _flush_pending(self) -> None:
        """The points added one by one since the last part, as a part of their own."""
        import numpy as np

        if self._pending:
            s, w, v = zip(*self._pending)
            self._parts.append(
                (
                    np.array(s, dtype=np.int64),
                    np.array(w, dtype=np.float64),
                    np.array(v, dtype=np.float64),
                )
            )
            self._pending = []
            self._cols = None

    def columns(self) -> tuple[Any, Any, Any]:
        import numpy as np

        self._flush_pending()
        if self._cols is None:
            if len(self._parts) == 1:
                self._cols = self._parts[0]
            elif not self._parts:
                e = np.empty(0)
                self._cols = (e.astype(np.int64), e, e)
            else:
                self._cols = (
                    np.concatenate([p[0] for p in self._parts]),
                    np.concatenate([p[1] for p in self._parts]),
                    np.concatenate([p[2] for p in self._parts]),
                )
                self._parts = [self._cols]
        return self._cols

    def add_one(self, step: int, wall: float, value: float) -> None:
        pos = self.count()
        self._pending.append((step, wall, value))
        if self.size:
            super().add(pos)
        else:
            self.seen += 1

    def add_many(self, steps: Any, walls: Any, values: Any) -> None:
        # Not columns(): joining the parts at every chunk would copy a long series once per
        # chunk (quadratic); they are joined when asked for.
        self._flush_pending()
        base = self.count()
        n = len(steps)
        self._parts.append((steps, walls, values))
        self._cols = None
        if self.size == 0:
            self.seen += n
            return
        items = self.items
        size = self.size
        # Until the bucket is full, every item is kept without a draw.
        i = max(0, min(n, size - len(items)))
        items.extend(range(base, base + i))
        self.seen += i
        below = self._below
        seen = self.seen
        keep_last = self.keep_last
        for pos in range(base + i, base + n):
            r = below(seen + 1)
            if r < size:
                items.pop(r)
                items.append(pos)
            elif keep_last:
                items[-1] = pos
            seen += 1
        self.seen = seen

    def filter_below(self, step: int) -> int:
        steps, walls, values = self.columns()
        if self.size == 0:
            keep = steps < step
            before = len(steps)
            after = int(keep.sum())
            if after != before:
                self._parts = [(steps[keep], walls[keep], values[keep])]
                self._cols = None
            return self._rescale(before, after)
        before = len(self.items)
        self.items = [p for p in self.items if steps[p] < step]
        return self._rescale(before, len(self.items))

    def get(self) -> list[Any]:
        # Built at every call, not copied from a cache: a copy touches each of the events
        # (a reference count each, a cache miss each once there are millions), which cost
        # half as much as making them; the columns they are made from are kept.
        steps, walls, values = self.columns()
        if self.size:
            import numpy as np

            idx = np.array(self.items, dtype=np.int64)
            steps, walls, values = steps[idx], walls[idx], values[idx]
        # Creating a million tuples would run the cyclic garbage collector hundreds of times
        # over the growing list (4/5 of the time); tuples of floats and ints cannot form
        # cycles, so it is paused while they are made.
        enabled = gc.isenabled()
        gc.disable()
        try:
            # tuple.__new__ on zipped rows: no Python-level call per event.
            rows = zip(walls.tolist(), steps.tolist(), values.tolist())
            return list(map(tuple.__new__, repeat(ScalarEvent), rows))
        finally:
            if enabled:
                gc.enable()


class Reservoir:
    """Items by key, at most ``size`` per key (0: all), sampled as TensorBoard's
    ``reservoir.Reservoir`` samples them (deterministically, per key)."""

    def __init__(self, size: int, always_keep_last: bool = True, scalars: bool = False) -> None:
        if size < 0 or size != round(size):
            raise ValueError(f"size must be a nonnegative integer, got {size!r}")
        self.size = int(size)
        self.always_keep_last = always_keep_last
        self._scalars = scalars
        self._buckets: dict[str, Bucket] = {}
        self.lock = threading.Lock()  # held by whoever adds to a bucket

    def bucket(self, key: str) -> Bucket:
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = (
                ScalarBucket(self.size)
                if self._scalars
                else Bucket(self.size, self.always_keep_last)
            )
        return b

    def Keys(self) -> list[str]:  # noqa: N802 - TensorBoard's method names
        with self.lock:
            return list(self._buckets)

    def Items(self, key: str) -> list[Any]:  # noqa: N802
        with self.lock:
            if key not in self._buckets:
                raise KeyError(f"Key {key} was not found in Reservoir")
            return self._buckets[key].get()

    def AddItem(  # noqa: N802
        self, key: str, item: Any, f: Callable[[Any], Any] | None = None
    ) -> None:
        with self.lock:
            b = self.bucket(key)
            if isinstance(b, ScalarBucket):
                b.add_one(item.step, item.wall_time, item.value)
            else:
                b.add(item, f)

    def FilterBelow(self, step: int, key: str | None = None) -> int:  # noqa: N802
        """Keep only items whose step is < ``step``, in the bucket ``key`` or, when key is
        None or empty (as TensorBoard treats an empty tag), in every bucket."""
        with self.lock:
            if key:
                b = self._buckets.get(key)
                return b.filter_below(step) if b is not None else 0
            return sum(b.filter_below(step) for b in self._buckets.values())
