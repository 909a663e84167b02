"""PyTorch's default histogram edges are counted by a table indexed by each float's top 16
bits: the counts must be np.histogram's (which PyTorch's writer uses) on every input."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tbwrite._summaries.torch_rules import default_bins, default_counts


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
    from tbwrite._summaries.torch_rules import TABLE_CHUNK

    rng = np.random.default_rng(11)
    for n in (0, 1, TABLE_CHUNK - 1, TABLE_CHUNK, TABLE_CHUNK + 1, 3 * TABLE_CHUNK + 17):
        _same(rng.standard_normal(n) * 10.0 ** rng.integers(-12, 12, n))
    edges = np.tile(default_bins(), 2 * TABLE_CHUNK // len(default_bins()) + 1)
    _same(np.concatenate([edges, np.nextafter(edges, np.inf)]))
