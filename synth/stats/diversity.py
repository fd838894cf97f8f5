"""Diversity of reuse: how evenly foregrounds and backgrounds are used.

All functions take usage counts (one per distinct item, each >= 1 for used items).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["gini", "normalized_entropy", "usage_summary"]


def _counts(counts: Sequence[int] | np.ndarray) -> np.ndarray:
    c = np.asarray(counts, dtype=np.float64).ravel()
    if c.size and (not np.all(np.isfinite(c)) or c.min() < 0):
        raise ValueError(f"usage counts must be finite and >= 0, got min {c.min()}")
    return c


def gini(counts: Sequence[int] | np.ndarray) -> float | None:
    """Gini coefficient of the counts: 0 = every item used equally, -> 1 = one item takes all.

    ``None`` for no items or a zero total.
    """
    c = np.sort(_counts(counts))
    n, total = c.size, float(c.sum())
    if n == 0 or total == 0:
        return None
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return float(2.0 * np.dot(ranks, c) / (n * total) - (n + 1.0) / n)


def normalized_entropy(counts: Sequence[int] | np.ndarray) -> float | None:
    """Shannon entropy of the usage distribution divided by ``ln(n)``: 1 = uniform.

    ``None`` for fewer than two items (undefined).
    """
    c = _counts(counts)
    c = c[c > 0]
    if c.size < 2:
        return None
    p = c / c.sum()
    return float(-(p * np.log(p)).sum() / math.log(c.size))


def usage_summary(
    counts: Mapping[str, int],
    *,
    top: int = 10,
    overuse_factor: float = 3.0,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Numbers describing one usage distribution (item id -> times used).

    ``max_over_median`` compares the most used item with the median one;
    ``overused`` lists items used more than ``overuse_factor`` x the median (most
    used first, at most ``top``); ``reuse_histogram`` maps "used k times" to the
    number of items. ``names`` optionally maps ids to display names.
    """
    if overuse_factor <= 0:
        raise ValueError(f"overuse_factor must be > 0, got {overuse_factor}")
    ids = sorted(counts, key=lambda i: (-counts[i], i))
    c = np.array([counts[i] for i in ids], dtype=np.int64)
    names = names or {}
    if c.size == 0:
        return {"distinct": 0, "uses": 0, "min": None, "max": None, "mean": None, "median": None,
                "max_over_median": None, "gini": None, "entropy_norm": None, "effective_items": None,
                "top": [], "overused": [], "reuse_histogram": {}}
    median = float(np.median(c))
    p = c / c.sum()
    eff = float(math.exp(-(p * np.log(p)).sum()))
    limit = overuse_factor * median
    over = [i for i in ids if counts[i] > limit][:top]
    hist_vals, hist_counts = np.unique(c, return_counts=True)

    def item(i: str) -> dict[str, Any]:
        return {"id": i, "name": names.get(i), "uses": int(counts[i])}

    return {
        "distinct": int(c.size),
        "uses": int(c.sum()),
        "min": int(c.min()),
        "max": int(c.max()),
        "mean": float(c.mean()),
        "median": median,
        "max_over_median": float(c.max() / median) if median > 0 else None,
        "gini": gini(c),
        "entropy_norm": normalized_entropy(c),
        "effective_items": eff,
        "top": [item(i) for i in ids[:top]],
        "overused": [item(i) for i in over],
        "reuse_histogram": {str(int(v)): int(n) for v, n in zip(hist_vals, hist_counts)},
    }
