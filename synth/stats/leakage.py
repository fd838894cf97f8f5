"""Leakage between splits: shared foregrounds and near-duplicate composites.

A foreground (identified by its content hash) in two splits lets a model see a test
subject in training. Near-duplicate composites are found with 64-bit perceptual
hashes (:func:`synth.stats.measure.phash64`) and a Hamming-distance threshold ``d``.
Pairs are found without comparing all pairs: the 64 bits are cut into ``d + 1``
chunks, and two hashes within distance ``d`` agree exactly on at least one chunk
(pigeonhole), so only hashes sharing a chunk value are compared (multi-index hashing).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

__all__ = ["hamming64", "near_duplicate_pairs", "shared_items"]

_MAX_DISTANCE = 15
_BLOCK = 1 << 20  # candidate pairs verified per block


def hamming64(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Bitwise Hamming distance of uint64 hashes (broadcasting)."""
    x = np.bitwise_xor(np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64))
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).astype(np.int64)
    bytes_ = x[..., None].view(np.uint8)  # pragma: no cover - NumPy < 2
    return np.unpackbits(bytes_, axis=-1).sum(-1).astype(np.int64)  # pragma: no cover


def _chunks(max_distance: int) -> list[tuple[int, int]]:
    m = max_distance + 1
    base, extra = divmod(64, m)
    out, off = [], 0
    for c in range(m):
        w = base + (1 if c < extra else 0)
        out.append((off, w))
        off += w
    return out


def near_duplicate_pairs(
    hashes: np.ndarray,
    groups: np.ndarray,
    max_distance: int = 4,
    limit: int = 1000,
) -> tuple[int, list[tuple[int, int, int]]]:
    """Pairs of items in *different* groups whose hashes differ in at most ``max_distance`` bits.

    Args:
        hashes: ``uint64 (N,)`` perceptual hashes.
        groups: ``int (N,)`` group (split) of each item; pairs inside one group are ignored.
        max_distance: Hamming threshold, 0..15.
        limit: at most this many pairs are returned (closest first, then by index).
    Returns:
        ``(total, pairs)``: the number of such pairs and up to ``limit`` of them as
        ``(i, j, distance)`` with ``i < j``.
    """
    h = np.asarray(hashes, dtype=np.uint64).ravel()
    g = np.asarray(groups).ravel()
    if h.shape != g.shape:
        raise ValueError(f"hashes and groups must have the same length, got {h.shape} and {g.shape}")
    if not 0 <= int(max_distance) <= _MAX_DISTANCE:
        raise ValueError(f"max_distance must be in [0, {_MAX_DISTANCE}], got {max_distance}")
    if h.size < 2 or np.unique(g).size < 2:
        return 0, []
    found_i: list[np.ndarray] = []
    found_j: list[np.ndarray] = []
    for off, width in _chunks(int(max_distance)):
        key = (h >> np.uint64(off)) & np.uint64((1 << width) - 1)
        order = np.lexsort((g, key))
        k_sorted = key[order]
        starts = np.flatnonzero(np.r_[True, k_sorted[1:] != k_sorted[:-1]])
        ends = np.r_[starts[1:], k_sorted.size]
        big = ends - starts >= 2
        for s, e in zip(starts[big], ends[big]):
            idx = order[s:e]
            gi = g[idx]
            if gi[0] == gi[-1]:  # sorted by group inside a run: one group only
                continue
            _cross_pairs(idx, gi, h, int(max_distance), found_i, found_j)
    if not found_i:
        return 0, []
    i = np.concatenate(found_i)
    j = np.concatenate(found_j)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    pair_ids = np.unique(lo.astype(np.int64) * h.size + hi)
    lo, hi = pair_ids // h.size, pair_ids % h.size
    dist = hamming64(h[lo], h[hi])
    order = np.lexsort((hi, lo, dist))[:limit]
    return int(pair_ids.size), [(int(lo[k]), int(hi[k]), int(dist[k])) for k in order]


def _cross_pairs(idx: np.ndarray, gi: np.ndarray, h: np.ndarray, d: int,
                 out_i: list[np.ndarray], out_j: list[np.ndarray]) -> None:
    bounds = np.flatnonzero(np.r_[True, gi[1:] != gi[:-1], True])
    parts = [idx[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    for p in range(len(parts)):
        for q in range(p + 1, len(parts)):
            a, b = parts[p], parts[q]
            rows = max(1, _BLOCK // max(b.size, 1))
            for r0 in range(0, a.size, rows):
                aa = a[r0:r0 + rows]
                dist = hamming64(h[aa][:, None], h[b][None, :])
                ii, jj = np.nonzero(dist <= d)
                if ii.size:
                    out_i.append(aa[ii])
                    out_j.append(b[jj])


def shared_items(by_split: Mapping[str, Mapping[str, int]]) -> list[dict[str, Any]]:
    """Items used in two or more splits.

    ``by_split`` maps item id -> {split: uses}. Returns one entry per shared item,
    ``{"id", "splits": {split: uses}}``, sorted by id.
    """
    out = []
    for item in sorted(by_split):
        splits = {s: int(n) for s, n in sorted(by_split[item].items()) if n > 0}
        if len(splits) >= 2:
            out.append({"id": item, "splits": splits})
    return out
