"""Diversity of reuse: how evenly foregrounds and backgrounds are used, and what a guided
build's choices cost in diversity.

The usage functions take usage counts (one per distinct item, each >= 1 for used items).
:class:`GuidedAcc` folds the ``meta.json["guided"]`` records of a guided build (synth.critic.guide)
and :func:`guided_summary` compares what the detector chose with what the plan drew (candidate
0: the unguided recipe's background and placement): background usage entropy and effective
number of backgrounds, placement spread, detector scores.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["GuidedAcc", "gini", "guided_summary", "normalized_entropy", "usage_summary"]


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


def _effective(counts: Counter) -> float | None:
    """exp(Shannon entropy) of the usage: the number of equally used items with the same entropy."""
    c = np.array([v for v in counts.values() if v > 0], dtype=np.float64)
    if c.size == 0:
        return None
    p = c / c.sum()
    return float(math.exp(-(p * np.log(p)).sum()))


@dataclass
class GuidedAcc:
    """Mergeable tallies of a guided build's choices: per side (``chosen``: what the detector
    kept; ``planned``: candidate 0, what the unguided recipe draws) the background uses and the
    placement's sums (scale, centre y, centre x and their squares, as canvas fractions), the
    chosen candidate's index, the scores of the kept and of candidate 0, the pinned samples; and
    for builds with the difficulty guard (records with ``eligible``): the guarded samples, those
    whose lowest score was ruled out, the eligible share of candidates 1+, and the kept and
    candidate 0's (contrast, texture) sums where both were measured."""

    samples: int = 0
    pinned: int = 0
    backgrounds: dict[str, Counter] = field(default_factory=lambda: {"chosen": Counter(), "planned": Counter()})
    place: dict[str, np.ndarray] = field(default_factory=lambda: {"chosen": np.zeros(7), "planned": np.zeros(7)})
    chosen_index: Counter = field(default_factory=Counter)
    scores: np.ndarray = field(default_factory=lambda: np.zeros(3))  # n, sum kept, sum candidate 0
    weights: Counter = field(default_factory=Counter)
    guard: np.ndarray = field(default_factory=lambda: np.zeros(5))  # guarded, overruled, eligible, others, measured
    difficulty: np.ndarray = field(default_factory=lambda: np.zeros(4))  # contrast, texture: kept, candidate 0

    def add(self, record: Any, background_id: Any, ops: Any) -> None:
        """Fold one sample's ``meta["guided"]`` (ignored unless a dict), its chosen background id
        and its ``meta["ops"]`` (for the kept placement)."""
        if not isinstance(record, dict):
            return
        self.samples += 1
        self.pinned += bool(record.get("pinned"))
        self.weights[str(record.get("weights_sha256"))] += 1
        self.chosen_index[str(record.get("chosen"))] += 1
        planned = record.get("planned") or {}
        self.backgrounds["chosen"][str(background_id)] += 1
        self.backgrounds["planned"][str(planned.get("background"))] += 1
        kept = next((op for op in ops or [] if isinstance(op, dict) and op.get("op") == "place"
                     and op.get("target") == "foreground"), None)
        if kept is not None:
            (h, w), (ch, cw) = kept["size_hw"], kept["canvas_hw"]
            self._place("chosen", kept["scale"], (kept["top"] + h / 2) / ch, (kept["left"] + w / 2) / cw)
        p = planned.get("place")
        if isinstance(p, dict):
            self._place("planned", p["scale"], *p["centre"])
        scores = record.get("scores") or []
        if record.get("score") is not None and scores and scores[0] is not None:
            self.scores += (1.0, float(record["score"]), float(scores[0]))
        eligible, difficulty = record.get("eligible"), record.get("difficulty")
        if isinstance(eligible, list) and eligible and len(eligible) == len(scores):
            self._guard(eligible, scores, difficulty, record.get("chosen"))

    def _guard(self, eligible: list, scores: list, difficulty: Any, chosen: Any) -> None:
        scored = [(s, k) for k, s in enumerate(scores) if s is not None]
        overruled = bool(scored) and not eligible[min(scored)[1]]
        measured = 0.0
        if isinstance(difficulty, list) and isinstance(chosen, int) and 0 <= chosen < len(difficulty):
            kept, first = difficulty[chosen], difficulty[0]
            if None not in (*kept, *first):
                self.difficulty += (kept[0], kept[1], first[0], first[1])
                measured = 1.0
        self.guard += (1.0, float(overruled), float(sum(map(bool, eligible[1:]))), float(len(eligible) - 1), measured)

    def _place(self, side: str, scale: float, cy: float, cx: float) -> None:
        v = np.array([scale, cy, cx], dtype=np.float64)
        self.place[side] += np.concatenate([[1.0], v, v * v])

    def merge(self, other: "GuidedAcc") -> None:
        self.samples += other.samples
        self.pinned += other.pinned
        for side in ("chosen", "planned"):
            self.backgrounds[side].update(other.backgrounds[side])
            self.place[side] = self.place[side] + other.place[side]
        self.chosen_index.update(other.chosen_index)
        self.scores = self.scores + other.scores
        self.weights.update(other.weights)
        self.guard = self.guard + other.guard
        self.difficulty = self.difficulty + other.difficulty


def _spread(sums: np.ndarray) -> dict[str, float | None]:
    n = sums[0]
    if n == 0:
        return {"scale_mean": None, "scale_std": None, "centre_std": None}
    mean = sums[1:4] / n
    var = np.maximum(sums[4:7] / n - mean * mean, 0.0)
    return {"scale_mean": float(mean[0]), "scale_std": float(math.sqrt(var[0])),
            "centre_std": float(math.sqrt(var[1] + var[2]))}


def guided_summary(acc: GuidedAcc) -> dict[str, Any] | None:
    """The diversity cost of a guided build (None when no sample was guided): per side
    (``chosen`` / ``planned``) the distinct backgrounds, their normalised usage entropy, the
    effective number of backgrounds (exp entropy) and the placement's spread (scale mean and std,
    std of the subject's centre as a canvas fraction, y and x together); the effective number
    kept over the plan's, the share of pinned samples, how often each candidate index was kept
    and the mean detector score of the kept candidate and of candidate 0 (lower: less detectable);
    ``difficulty_guard`` (None without the guard): guarded samples, the share whose lowest score
    the guard ruled out, the share of candidates 1+ that were eligible, and the mean (contrast,
    texture) of the kept candidates and of candidate 0 (synth.critic.difficulty)."""
    if acc.samples == 0:
        return None
    sides = {}
    for side in ("chosen", "planned"):
        counts = acc.backgrounds[side]
        sides[side] = {"distinct": len(counts), "entropy_norm": normalized_entropy(list(counts.values())),
                       "effective_backgrounds": _effective(counts), **_spread(acc.place[side])}
    eff_c, eff_p = sides["chosen"]["effective_backgrounds"], sides["planned"]["effective_backgrounds"]
    n = acc.scores[0]
    return {
        "samples": acc.samples,
        "pinned_share": acc.pinned / acc.samples,
        "weights_sha256": sorted(acc.weights),
        "chosen_index": dict(sorted(acc.chosen_index.items())),
        **sides,
        "effective_backgrounds_ratio": eff_c / eff_p if eff_c and eff_p else None,
        "score_chosen": float(acc.scores[1] / n) if n else None,
        "score_planned": float(acc.scores[2] / n) if n else None,
        "difficulty_guard": _guard_summary(acc),
    }


def _guard_summary(acc: GuidedAcc) -> dict[str, Any] | None:
    guarded, overruled, eligible, others, measured = acc.guard
    if guarded == 0:
        return None
    mean = acc.difficulty / measured if measured else [None] * 4
    return {"samples": int(guarded), "overruled_share": overruled / guarded,
            "eligible_share": eligible / others if others else None,
            "kept": {"contrast": mean[0], "texture": mean[1]},
            "planned": {"contrast": mean[2], "texture": mean[3]}}
