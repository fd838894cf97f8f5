"""synth.stats.leakage: near-duplicate search equals brute force."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.stats import hamming64, near_duplicate_pairs


def _brute(h: np.ndarray, g: np.ndarray, d: int) -> set[tuple[int, int]]:
    out = set()
    for i in range(len(h)):
        for j in range(i + 1, len(h)):
            if g[i] != g[j] and bin(int(h[i]) ^ int(h[j])).count("1") <= d:
                out.add((i, j))
    return out


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 60), d=st.integers(0, 12), flips=st.integers(0, 14))
def test_near_duplicate_pairs_equal_brute_force(seed, n, d, flips):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**63, max(1, n // 3), dtype=np.int64).astype(np.uint64)
    h = base[rng.integers(0, base.size, n)]
    for k in range(n):  # flip a few random bits so distances spread around d
        for bit in rng.choice(64, rng.integers(0, flips + 1), replace=False):
            h[k] ^= np.uint64(1) << np.uint64(bit)
    g = rng.integers(0, 3, n)
    total, pairs = near_duplicate_pairs(h, g, d, limit=10_000)
    want = _brute(h, g, d)
    assert total == len(want)
    assert {(i, j) for i, j, _ in pairs} == want
    assert all(dist == bin(int(h[i]) ^ int(h[j])).count("1") for i, j, dist in pairs)
    assert [p[2] for p in pairs] == sorted(p[2] for p in pairs)


def test_near_duplicate_pairs_limits_and_validation():
    h = np.zeros(5, np.uint64)
    total, pairs = near_duplicate_pairs(h, np.array([0, 0, 1, 1, 1]), 0, limit=3)
    assert total == 6 and len(pairs) == 3
    assert near_duplicate_pairs(h, np.zeros(5), 4) == (0, [])  # one group: nothing across splits
    with pytest.raises(ValueError, match="max_distance"):
        near_duplicate_pairs(h, np.zeros(5), 16)
    with pytest.raises(ValueError, match="same length"):
        near_duplicate_pairs(h, np.zeros(4), 2)
    assert hamming64(np.uint64(0b1011), np.uint64(0)) == 3
