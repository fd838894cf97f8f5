"""How well the detector separates composites from real patches: ROC AUC, its bootstrap
interval over pictures, and a contact sheet of the patches it is surest about.

The AUC is the Mann-Whitney statistic: the probability that a random composite patch scores
above a random real one, ties counting one half. 0.5 means the detector cannot tell them
apart; 1.0 that it always can. Patches cut from the same picture are not independent, so
the interval resamples whole pictures (``groups``), not patches.
"""
from __future__ import annotations

import itertools

import numpy as np

__all__ = ["roc_auc", "bootstrap_auc", "contact_sheet", "rank_agreement", "rank_agreement_p"]


def _check(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel()
    if s.shape != y.shape:
        raise ValueError(f"roc_auc: {s.size} scores but {y.size} labels")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"roc_auc: labels must be 0 or 1, got {sorted(set(np.unique(y).tolist()))}")
    if not np.isfinite(s).all():
        raise ValueError("roc_auc: scores must be finite")
    return s, y.astype(bool)


def _weighted_auc(s: np.ndarray, pos: np.ndarray, w: np.ndarray) -> float:
    """AUC with row weights (a bootstrap's multiplicities); nan without both classes."""
    values, inverse = np.unique(s, return_inverse=True)
    wp = np.bincount(inverse, weights=w * pos, minlength=values.size)
    wn = np.bincount(inverse, weights=w * ~pos, minlength=values.size)
    total_p, total_n = wp.sum(), wn.sum()
    if total_p <= 0 or total_n <= 0:
        return float("nan")
    below = np.cumsum(wn) - wn  # negative weight strictly below each value
    return float(np.sum(wp * (below + 0.5 * wn)) / (total_p * total_n))


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC of ``scores`` (float (N,), higher = more composite) for ``labels`` (int (N,)
    in {0, 1}, 1 = composite), in [0, 1]; ties count one half. Raises ValueError without
    both labels."""
    s, y = _check(scores, labels)
    if y.all() or not y.any():
        raise ValueError(f"roc_auc: needs both labels, got {int(y.sum())} positives of {y.size}")
    return _weighted_auc(s, y, np.ones(s.size))


def bootstrap_auc(scores: np.ndarray, labels: np.ndarray, groups: np.ndarray, rng: np.random.Generator, *,
                  draws: int = 1000, level: float = 0.9) -> tuple[float, float]:
    """Percentile interval (``level``, e.g. 0.9 for 5 %-95 %) of the AUC when whole groups
    (pictures; ``groups`` (N,) of any hashable ids) are resampled with replacement.

    Draws that lack a label are left out. Returns (low, high).
    """
    s, y = _check(scores, labels)
    g = np.asarray(groups).ravel()
    if g.shape != s.shape:
        raise ValueError(f"bootstrap_auc: {g.size} groups for {s.size} scores")
    if not 0 < level < 1 or draws < 1:
        raise ValueError(f"bootstrap_auc: level must be in (0, 1) and draws >= 1, got {level}, {draws}")
    _, gid = np.unique(g, return_inverse=True)
    k = int(gid.max()) + 1
    aucs = []
    for _ in range(draws):
        mult = np.bincount(rng.integers(0, k, size=k), minlength=k).astype(np.float64)
        a = _weighted_auc(s, y, mult[gid])
        if np.isfinite(a):
            aucs.append(a)
    if not aucs:
        return float("nan"), float("nan")
    lo, hi = np.quantile(aucs, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _tile(patch: np.ndarray, label: int, zoom: int, border: int) -> np.ndarray:
    big = np.repeat(np.repeat(patch, zoom, axis=0), zoom, axis=1)
    colour = (220, 40, 40) if label == 1 else (40, 180, 60)
    out = np.empty((big.shape[0] + 2 * border, big.shape[1] + 2 * border, 3), dtype=np.uint8)
    out[:] = colour
    out[border:-border, border:-border] = big
    return out


def contact_sheet(patches: np.ndarray, scores: np.ndarray, labels: np.ndarray, *, k: int = 12,
                  zoom: int = 3, border: int = 3) -> np.ndarray:
    """The ``k`` patches scored most composite (top row, highest first) and the ``k`` scored
    most real (bottom row, lowest first), zoomed by pixel repetition, each framed red if it
    really is a composite and green if it is real.

    patches: uint8 (N, P, P, 3); scores: float (N,); labels: int (N,) in {0, 1}.
    Returns uint8 (2 * T, k * T, 3) RGB with T = P * zoom + 2 * border (blank where N < k).
    """
    if patches.ndim != 4 or len(patches) != len(scores) or len(scores) != len(labels):
        raise ValueError(f"contact_sheet: patches {patches.shape}, {len(scores)} scores, {len(labels)} labels")
    size = patches.shape[1] * zoom + 2 * border
    sheet = np.full((2 * size, k * size, 3), 255, dtype=np.uint8)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    rows = (order[:k], order[::-1][:k])
    for r, idx in enumerate(rows):
        for c, i in enumerate(idx):
            sheet[r * size:(r + 1) * size, c * size:(c + 1) * size] = _tile(patches[i], int(labels[i]), zoom, border)
    return sheet


def _paired(detectability: dict[str, float], outcome: dict[str, float]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The variants in both mappings, sorted, and their two values as float64 arrays."""
    names = sorted(set(detectability) & set(outcome))
    return (names, np.array([detectability[n] for n in names], np.float64),
            np.array([outcome[n] for n in names], np.float64))


def rank_agreement(detectability: dict[str, float], outcome: dict[str, float]) -> tuple[float, list[str], list[str]]:
    """Does a detector's AUC rank variants as a model's error does? For the variants in both
    mappings (``name -> mean AUC``, ``name -> mean real-photo error``; lower is better in both):
    Spearman's rank correlation (1: the same order, -1: reversed; nan under 3 variants or with
    a constant side) and both orders, best first."""
    names, a, b = _paired(detectability, outcome)
    by_a = [names[i] for i in np.argsort(a, kind="stable")]
    by_b = [names[i] for i in np.argsort(b, kind="stable")]
    if len(names) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan"), by_a, by_b
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic), by_a, by_b


def rank_agreement_p(detectability: dict[str, float], outcome: dict[str, float]) -> float:
    """Two-sided exact permutation p-value of :func:`rank_agreement`'s Spearman correlation:
    the share of all pairings of the variants' outcomes with ``|rho|`` at least the observed
    one (how often a ranking unrelated to the outcome agrees as well). nan where the
    correlation is; for more than 8 variants (40,320 pairings) scipy's t approximation."""
    rho = rank_agreement(detectability, outcome)[0]
    if np.isnan(rho):
        return float("nan")
    from scipy.stats import rankdata, spearmanr

    names, a, b = _paired(detectability, outcome)
    if len(names) > 8:
        return float(spearmanr(a, b).pvalue)
    ra, rb = rankdata(a), rankdata(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    perms = np.array(list(itertools.permutations(range(len(names)))))
    rhos = (rb[perms] @ ra) / np.sqrt((ra @ ra) * (rb @ rb))
    return float(np.mean(np.abs(rhos) >= abs(rho) - 1e-12))
