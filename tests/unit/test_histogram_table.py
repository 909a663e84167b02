"""PyTorch's default histogram edges are counted by a table indexed by each float's top 16
bits: the counts must be np.histogram's (which PyTorch's writer uses) on every input.

PyTorch widens float32 values to float64 (``values.astype(float)``) before np.histogram,
sum and dot; tbwrite counts and sums float32 values as they are, and must get the same
numbers without that copy.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tbwrite._summaries.histograms import torch_histogram_fields
from tbwrite._summaries.torch_rules import (
    TABLE_CHUNK,
    default_bins,
    default_counts,
    float64_sums,
    pieces_sum_as_numpy,
)


def _same(values: np.ndarray) -> None:
    values = np.ascontiguousarray(values, dtype=np.float64)
    want, _ = np.histogram(values, bins=default_bins())
    np.testing.assert_array_equal(default_counts(values), want)


def test_edges_their_neighbours_zeros_denormals_and_extremes() -> None:
    edges = default_bins()
    tiny = np.finfo(np.float64).tiny
    big = np.finfo(np.float64).max
    _same(edges)
    _same(np.nextafter(edges, np.inf))
    _same(np.nextafter(edges, -np.inf))
    _same(np.array([0.0, -0.0, 5e-324, -5e-324, tiny, -tiny, tiny / 3, big, -big]))
    _same(np.array([1e20, -1e20, np.nextafter(1e20, np.inf), np.nextafter(-1e20, -np.inf)]))


def test_random_bit_patterns() -> None:
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**64, 200_000, dtype=np.uint64).view(np.float64)
    _same(bits[np.isfinite(bits)])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=50))
def test_any_finite_values(values: list[float]) -> None:
    _same(np.array(values))


def test_normal_samples_of_many_scales() -> None:
    rng = np.random.default_rng(3)
    for scale in (1e-15, 1e-9, 1e-3, 1.0, 1e6, 1e19):
        _same(rng.standard_normal(10_000) * scale)


def test_many_chunks_and_a_partial_one() -> None:
    # Counted TABLE_CHUNK values at a time: sizes around the chunk boundaries, and the
    # edges themselves spread over several chunks.
    rng = np.random.default_rng(11)
    for n in (0, 1, TABLE_CHUNK - 1, TABLE_CHUNK, TABLE_CHUNK + 1, 3 * TABLE_CHUNK + 17):
        _same(rng.standard_normal(n) * 10.0 ** rng.integers(-12, 12, n))
    edges = np.tile(default_bins(), 2 * TABLE_CHUNK // len(default_bins()) + 1)
    _same(np.concatenate([edges, np.nextafter(edges, np.inf)]))


def _same32(values) -> None:
    values = np.ascontiguousarray(values, dtype=np.float32)
    want, _ = np.histogram(values.astype(np.float64), bins=default_bins())
    np.testing.assert_array_equal(default_counts(values), want)


def _float32_adversaries() -> np.ndarray:
    # The edges as float32 (rounded either way of the float64 edge) and the float32s next
    # to them, zeros, denormals, the extremes, the float32s around 1e20.
    edges = default_bins().astype(np.float32)
    up, down = np.float32(np.inf), np.float32(-np.inf)
    f = np.finfo(np.float32)
    sub = f.smallest_subnormal
    special = [0.0, -0.0, sub, -sub, 3 * sub, f.tiny, -f.tiny, f.tiny / 3, f.max, -f.max]
    return np.concatenate(
        [
            edges,
            np.nextafter(edges, up),
            np.nextafter(edges, down),
            np.nextafter(np.nextafter(edges, up), up),
            np.array(special, dtype=np.float32),
        ]
    )


def test_float32_edges_their_neighbours_zeros_denormals_and_extremes() -> None:
    values = _float32_adversaries()
    _same32(values)
    for v in values:  # one at a time too: each bucket alone
        _same32([v])


def test_float32_random_bit_patterns() -> None:
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**32, 1_000_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    _same32(bits[np.isfinite(bits)])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1))
def test_any_finite_float32_values(values: list[float]) -> None:
    _same32(values)


def test_float32_many_chunks_and_a_partial_one() -> None:
    rng = np.random.default_rng(11)
    for n in (1, TABLE_CHUNK - 1, TABLE_CHUNK, TABLE_CHUNK + 1, 3 * TABLE_CHUNK + 17):
        _same32(rng.standard_normal(n) * 10.0 ** rng.integers(-12, 12, n))
    _same32(np.tile(_float32_adversaries(), 2 * TABLE_CHUNK // 6000 + 1))


def _bits(x: float) -> bytes:
    return np.float64(x).tobytes()


def test_float32_sum_is_numpys_float64_sum_bit_for_bit() -> None:
    # numpy's pairwise sum of the widened copy, whatever the size: around its 8-value
    # unrolling, its 128-value blocks, the pieces here, and large odd sizes.
    rng = np.random.default_rng(5)
    sizes = [*range(1, 300), 8191, 8193, TABLE_CHUNK - 1, TABLE_CHUNK, TABLE_CHUNK + 1]
    sizes += [2 * TABLE_CHUNK + 3, 1_000_001, *rng.integers(TABLE_CHUNK, 3_000_000, 8)]
    for n in sizes:
        x = (rng.standard_normal(n) * 10.0 ** rng.integers(-5, 5, n)).astype(np.float32)
        wide = x.astype(np.float64)
        total, squares = float64_sums(x)
        assert _bits(total) == _bits(wide.sum()), n
        if n <= TABLE_CHUNK:  # one piece: PyTorch's very dot product
            assert _bits(squares) == _bits(wide.dot(wide)), n
        else:  # pieces' dot products added up: equal within rounding
            assert math.isclose(squares, float(wide.dot(wide)), rel_tol=1e-12), n
    for zeros in ([-0.0], [-0.0] * 9, [0.0, -0.0], [-0.0] * (TABLE_CHUNK + 9)):
        x = np.array(zeros, np.float32)
        assert _bits(float64_sums(x)[0]) == _bits(x.astype(np.float64).sum())


def test_float32_fields_equal_the_widened_values_fields() -> None:
    rng = np.random.default_rng(13)
    bits = rng.integers(0, 2**32, 50_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    inputs = [
        _float32_adversaries(),
        bits[np.isfinite(bits)],
        rng.standard_normal((3, 1000)).astype(np.float32)[:, ::3],  # not contiguous
        np.array([-0.0, 0.0], np.float32),
        np.array([0.0, -0.0], np.float32),
        np.array([-0.0], np.float32),
    ]
    for x in inputs:
        for bins, max_bins in (("tensorflow", None), ("tensorflow", 7), (30, None), ("sturges", 4)):
            got = torch_histogram_fields(x, bins, max_bins)
            want = torch_histogram_fields(x.astype(np.float64), bins, max_bins)
            assert [_bits(v) for v in got[:5]] == [_bits(v) for v in want[:5]]
            np.testing.assert_array_equal(got[5], want[5])
            np.testing.assert_array_equal(got[6], want[6])


def test_float32_is_never_copied_to_float64() -> None:
    n = 4_000_000
    x = np.random.default_rng(1).standard_normal(n).astype(np.float32)
    torch_histogram_fields(x[:10])  # the tables, built once
    if not pieces_sum_as_numpy():  # checked once, before the measurement
        pytest.skip(f"numpy {np.__version__} splits a sum otherwise: float32 is widened")
    tracemalloc.start()
    try:
        torch_histogram_fields(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # a float64 copy would be 8 bytes a value; the pieces and chunks are a few MB at most
    assert peak < n // 2, f"peak {peak / n:.2f} bytes per value"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_float32_non_finite_is_refused_naming_it(bad: float) -> None:
    x = np.array([1.0, bad, 2.0], np.float32)
    with pytest.raises(ValueError, match=f"values must be finite, found {bad!r}"):
        torch_histogram_fields(x)


def _torch_buckets(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """torch.utils.tensorboard.summary.make_histogram's buckets (bins="tensorflow", no
    max_bins), its code on the widened values."""
    counts, limits = np.histogram(values.astype(float), bins=default_bins())
    cum_counts = np.cumsum(np.greater(counts, 0))
    start, end = np.searchsorted(cum_counts, [0, cum_counts[-1] - 1], side="right")
    start, end = int(start), int(end) + 1
    counts = counts[start - 1 : end] if start > 0 else np.concatenate([[0], counts[:end]])
    return limits[start : end + 1], counts


def test_buckets_kept_from_the_first_to_the_last_non_empty_one() -> None:
    # The first and last buckets come from the minimum and the maximum when every value is
    # inside the edges, from the counts otherwise: both against torch's own trimming.
    edges = default_bins()
    inner = [edges[0], edges[1], edges[773], edges[774], edges[-2], edges[-1], 0.0, -0.0]
    near = [np.nextafter(e, d) for e in inner for d in (-np.inf, np.inf)]
    singles = [[v] for v in inner + near if abs(v) <= edges[-1]]  # outside: refused
    cases = singles + [inner, [edges[0], edges[-1]], [-0.0, 1e-13], [2e20, 5.0], [-3e20, -1.0]]
    for case in cases:
        for dtype in (np.float64, np.float32):
            x = np.array(case, dtype=dtype)
            want_limits, want_counts = _torch_buckets(x)
            fields = torch_histogram_fields(x)
            np.testing.assert_array_equal(fields[5], want_limits, err_msg=str(case))
            np.testing.assert_array_equal(fields[6], want_counts, err_msg=str(case))
