"""Mergeable accumulators: moments, fixed-bin histograms, capped value counts.

Every accumulator is built from values in one pass, merged with ``merge`` and
summarised with ``summary()`` into plain JSON-able numbers. Merging is exact
for counts and histograms; float sums depend on the merge order, which the
collector keeps fixed (manifest order), so results do not depend on the number
of workers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

__all__ = ["Moments", "Histogram", "ScalarAcc", "ValueCounts", "BINS", "scalar_acc"]


@dataclass
class Moments:
    """Count, sum, sum of squares, min and max of finite values; non-finite ones are counted apart."""

    n: int = 0
    total: float = 0.0
    sumsq: float = 0.0
    lo: float = math.inf
    hi: float = -math.inf
    nonfinite: int = 0

    def add_array(self, values: np.ndarray) -> None:
        v = np.asarray(values, dtype=np.float64).ravel()
        ok = np.isfinite(v)
        self.nonfinite += int(v.size - np.count_nonzero(ok))
        v = v[ok]
        if v.size == 0:
            return
        self.n += int(v.size)
        self.total += float(v.sum())
        self.sumsq += float(np.dot(v, v))
        self.lo = min(self.lo, float(v.min()))
        self.hi = max(self.hi, float(v.max()))

    def merge(self, other: "Moments") -> None:
        self.n += other.n
        self.total += other.total
        self.sumsq += other.sumsq
        self.lo = min(self.lo, other.lo)
        self.hi = max(self.hi, other.hi)
        self.nonfinite += other.nonfinite

    def summary(self) -> dict[str, Any]:
        if self.n == 0:
            return {"n": 0, "nonfinite": self.nonfinite, "mean": None, "std": None, "min": None, "max": None}
        mean = self.total / self.n
        var = max(self.sumsq / self.n - mean * mean, 0.0)
        return {"n": self.n, "nonfinite": self.nonfinite, "mean": mean, "std": math.sqrt(var),
                "min": self.lo, "max": self.hi}


@dataclass
class Histogram:
    """Counts over ``bins`` equal bins on ``[lo, hi]`` plus under/overflow (non-finite values ignored)."""

    lo: float
    hi: float
    bins: int
    counts: np.ndarray = field(default=None)  # type: ignore[assignment]
    under: int = 0
    over: int = 0

    def __post_init__(self) -> None:
        if not (self.hi > self.lo and self.bins >= 1):
            raise ValueError(f"Histogram: need hi > lo and bins >= 1, got [{self.lo}, {self.hi}] x {self.bins}")
        if self.counts is None:
            self.counts = np.zeros(self.bins, np.int64)

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(self.lo, self.hi, self.bins + 1)

    def add_array(self, values: np.ndarray) -> None:
        v = np.asarray(values, dtype=np.float64).ravel()
        v = v[np.isfinite(v)]
        if v.size == 0:
            return
        self.under += int(np.count_nonzero(v < self.lo))
        self.over += int(np.count_nonzero(v > self.hi))
        inside = v[(v >= self.lo) & (v <= self.hi)]
        idx = np.floor((inside - self.lo) / (self.hi - self.lo) * self.bins).astype(np.int64)
        np.clip(idx, 0, self.bins - 1, out=idx)  # hi itself goes to the last bin
        self.counts += np.bincount(idx, minlength=self.bins)

    def merge(self, other: "Histogram") -> None:
        if (other.lo, other.hi, other.bins) != (self.lo, self.hi, self.bins):
            raise ValueError(f"Histogram.merge: bins differ: {(self.lo, self.hi, self.bins)} vs "
                             f"{(other.lo, other.hi, other.bins)}")
        self.counts = self.counts + other.counts  # not in place: Ray results are read-only
        self.under += other.under
        self.over += other.over

    def quantile(self, q: float) -> float | None:
        """Approximate quantile (linear inside a bin); under/overflow clamp to the range ends."""
        total = int(self.counts.sum()) + self.under + self.over
        if total == 0:
            return None
        target = q * total
        if target <= self.under:
            return float(self.lo)
        cum = self.under
        width = (self.hi - self.lo) / self.bins
        for i, c in enumerate(self.counts.tolist()):
            if c and cum + c >= target:
                return float(self.lo + width * (i + (target - cum) / c))
            cum += c
        return float(self.hi)

    def summary(self) -> dict[str, Any]:
        return {"lo": self.lo, "hi": self.hi, "bins": self.bins, "counts": self.counts.tolist(),
                "under": self.under, "over": self.over}


#: Fixed bins (lo, hi, bins) of the per-sample scalars; names not listed get moments only.
BINS: dict[str, tuple[float, float, int]] = {
    "alpha.coverage": (0.0, 1.0, 50),
    "alpha.unknown_share": (0.0, 1.0, 100),
    "trimap.unknown_share": (0.0, 1.0, 100),
    "trimap.band_px": (0.0, 128.0, 128),
    "colour.fg_luma": (0.0, 255.0, 51),
    "colour.bg_luma": (0.0, 255.0, 51),
    "colour.fg_luma_std": (0.0, 128.0, 64),
    "colour.bg_luma_std": (0.0, 128.0, 64),
    "colour.fg_saturation": (0.0, 1.0, 50),
    "colour.bg_saturation": (0.0, 1.0, 50),
    "colour.luma_diff": (-128.0, 128.0, 64),
    "realism.noise_log_ratio": (-3.0, 3.0, 60),
    "realism.sharpness_log_ratio": (-3.0, 3.0, 60),
    "realism.lab_mean_dist": (0.0, 100.0, 50),
    "realism.luma_mean_diff": (-100.0, 100.0, 50),
    "realism.chroma_mean_dist": (0.0, 100.0, 50),
    "realism.lab_std_log_ratio": (-3.0, 3.0, 60),
    "realism.spill_residual": (0.0, 60.0, 60),
    "realism.straight_cut": (0.0, 1.0, 50),
    "realism.fg_noise_sigma": (0.0, 20.0, 40),
    "realism.bg_noise_sigma": (0.0, 20.0, 40),
    "realism.fg_sharpness": (0.0, 1.0, 50),
    "realism.bg_sharpness": (0.0, 1.0, 50),
    "instances.count": (0.5, 8.5, 8),  # one bin per count 1..8
    "instances.overlap_share": (0.0, 1.0, 50),
    "instances.occlusion": (0.0, 1.0, 50),
    "guidance.iou": (0.0, 1.0, 50),
    "guidance.boundary_f": (0.0, 1.0, 50),
    "temporal.still_background": (0.0, 1.0, 20),
    "temporal.noise_change_log_ratio": (-3.0, 3.0, 60),
    "temporal.blur_motion_gap": (-0.5, 0.5, 20),
    "temporal.colour_flicker": (0.0, 20.0, 40),
    "temporal.motion_log_ratio": (-4.0, 4.0, 64),
    "temporal.fg_speed": (0.0, 32.0, 64),
    "temporal.bg_speed": (0.0, 32.0, 64),
    "temporal.fg_noise_change": (0.0, 20.0, 40),
    "temporal.bg_noise_change": (0.0, 20.0, 40),
}


@dataclass
class ScalarAcc:
    """Moments plus (for names in :data:`BINS`) a fixed-bin histogram of one per-sample scalar."""

    moments: Moments = field(default_factory=Moments)
    hist: Histogram | None = None

    def add_array(self, values: Iterable[float]) -> None:
        v = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64)
        self.moments.add_array(v)
        if self.hist is not None:
            self.hist.add_array(v)

    def merge(self, other: "ScalarAcc") -> None:
        self.moments.merge(other.moments)
        if self.hist is not None and other.hist is not None:
            self.hist.merge(other.hist)

    def summary(self, with_hist: bool = True) -> dict[str, Any]:
        out = self.moments.summary()
        if self.hist is not None:
            for q, name in ((0.05, "p05"), (0.5, "p50"), (0.95, "p95")):
                out[name] = self.hist.quantile(q) if self.moments.n else None
            if with_hist:
                out["hist"] = self.hist.summary()
        return out


def scalar_acc(name: str) -> ScalarAcc:
    """A fresh accumulator for the scalar ``name`` (with its fixed bins when it has some)."""
    spec = BINS.get(name)
    return ScalarAcc(hist=Histogram(*spec) if spec else None)


@dataclass
class ValueCounts:
    """Counts of hashable values, capped at ``cap`` distinct values (the rest counted as ``other``)."""

    cap: int = 50
    counts: dict[Any, int] = field(default_factory=dict)
    other: int = 0

    def add(self, value: Any, n: int = 1) -> None:
        if value in self.counts:
            self.counts[value] += n
        elif len(self.counts) < self.cap:
            self.counts[value] = n
        else:
            self.other += n

    def merge(self, other: "ValueCounts") -> None:
        for v, n in other.counts.items():
            self.add(v, n)
        self.other += other.other
