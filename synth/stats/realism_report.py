"""Composite realism of a dataset, measured against real photographs.

A composite betrays itself where its foreground meets its background: different noise,
sharpness, colour and contrast on either side of the alpha boundary.  Real photos have such
differences too (depth of field blurs what is behind the subject; subject and scenery have
different colours), so the reference is not zero but the *distribution* of the same
indicators over real photos with ground-truth alpha.  This module

- measures the indicators of one image (:func:`measure_image`, a thin wrapper over
  :func:`augment.mismatch.realism_mismatch` with a resolution-scaled ring width),
- measures every sample of a built dataset (:func:`measure_dataset`, decoding ``image.*``
  and ``alpha.png`` from the shards listed in its manifest) and real photo + alpha pairs
  (:func:`measure_photos`),
- compares each dataset's distribution with the reference, indicator by indicator
  (:func:`compare`: 1-D Wasserstein distance, medians, dropped ``nan`` counts), and
  prints the comparison (:func:`format_table`).

Indicators (:data:`INDICATORS`), measured on rings 3 px to ``3 + band`` px from the
boundary (``alpha >= 0.95`` inside, ``<= 0.05`` outside), the last one on the mixed
pixels between them:

====================  ==========================================================
``noise_log_ratio``    ``ln(sigma_F / sigma_B)``, Immerkær noise std
``sharpness_log_ratio`` ``ln(sharp_F / sharp_B)``, noise-compensated sharpness
``lab_mean_dist``      Delta E 76 between the LAB means of the two rings
``luma_mean_diff``     ``L_F - L_B`` (signed)
``chroma_mean_dist``   distance of the (a, b) means
``lab_std_log_ratio``  ``ln`` of the ratio of the mean LAB channel stds (contrast)
``spill_residual``     colour of the mixed pixels that is neither the local F nor B
                       (levels; the old background bleeding through F)
``straight_cut``       longest straight axis-aligned subject edge inside the picture
                       (share of its side; a photo frame's cut pasted inside a new one)
====================  ==========================================================

The distance between two distributions of one indicator is the 1-D Wasserstein (earth
mover's) distance, in the indicator's own unit: how far, on average, the values must move
to turn one distribution into the other.  It sees shifts of the median *and* differences
of spread; ratios of distances (dataset A against dataset B, both against the same
reference) are unit-free.
"""
from __future__ import annotations

import glob
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from augment.mismatch import MISMATCH_KEYS, realism_mismatch
from shards.codec import decode_alpha, decode_rgb
from shards.manifest import read_manifest, shard_url
from shards.reader import iter_shard_samples

from ..rng import seeded_rng

__all__ = [
    "INDICATORS",
    "dataset_samples",
    "BAND_PX",
    "BAND_REFERENCE",
    "IndicatorComparison",
    "compare",
    "format_table",
    "measure_dataset",
    "measure_image",
    "measure_photos",
    "quantile_table",
    "ratio_interval",
    "sampling_floor",
    "wasserstein",
]

#: The mismatch indicators compared between datasets and real photos.
INDICATORS: tuple[str, ...] = MISMATCH_KEYS[:8]  # the ratios and distances, not the raw levels

#: Ring width in px at an image whose long side is :data:`BAND_REFERENCE`; scaled with the
#: long side so that photos and composites of different sizes are measured on rings covering
#: the same share of the picture.
BAND_PX = 24.0
BAND_REFERENCE = 800
MARGIN_PX = 3.0

Measures = dict[str, float]


def measure_image(image: np.ndarray, alpha: np.ndarray, *, band_px: float | None = None,
                  margin_px: float = MARGIN_PX) -> Measures:
    """The realism indicators of one image (every key of ``realism_mismatch``).

    Args:
        image: ``uint8 (H, W, 3)`` RGB, a composite or a real photo.
        alpha: ``float32 (H, W)`` in ``[0, 1]``.
        band_px: ring width in px; default :data:`BAND_PX` scaled by ``max(H, W) / 800``.
        margin_px: distance kept from the boundary, px.
    Returns:
        dict of floats; ``nan`` for what could not be measured (a ring under 64 pixels).
    """
    if band_px is None:
        band_px = BAND_PX * max(image.shape[:2]) / BAND_REFERENCE
    return realism_mismatch(image, alpha, band_px=band_px, margin_px=margin_px)


def measure_photos(image_dir: str | os.PathLike, alpha_dir: str | os.PathLike, *,
                   band_px: float | None = None) -> list[Measures]:
    """Indicators of real photos with ground-truth alpha, files matched by stem.

    Raises ``ValueError`` naming the folder when no pair is found.
    """
    alphas = {Path(p).stem: p for p in glob.glob(os.path.join(os.fspath(alpha_dir), "*"))}
    pairs = [(p, alphas[Path(p).stem]) for p in sorted(glob.glob(os.path.join(os.fspath(image_dir), "*")))
             if Path(p).stem in alphas]
    if not pairs:
        raise ValueError(f"{image_dir}: no image with a matching alpha (by file stem) in {alpha_dir}")
    out = []
    for image_path, alpha_path in pairs:
        image = decode_rgb(Path(image_path).read_bytes())
        alpha = decode_alpha(Path(alpha_path).read_bytes())
        if alpha.shape != image.shape[:2]:
            raise ValueError(f"{alpha_path}: alpha shape {alpha.shape} differs from its photo's {image.shape[:2]}")
        out.append(measure_image(image, alpha, band_px=band_px))
    return out


def dataset_samples(path: str | os.PathLike, limit: int | None, keep: Callable[[str], bool],
                    split: str | None = None) -> Iterator[tuple[str, dict[str, bytes]]]:
    """``(key, members)`` of every sample (or the first ``limit``) of a built dataset (of one
    ``split``, or all), only the members ``keep`` accepts; ValueError naming the shard and the
    sample for a bad one."""
    manifest = read_manifest(path)
    n = 0
    for entry in (manifest.shards if split is None else manifest.shards_of(split)):
        for _, (key, members, error) in iter_shard_samples(shard_url(path, entry), keep=keep):
            if limit is not None and n >= limit:
                return
            n += 1
            if error is not None:
                raise ValueError(f"{entry.path}: sample {key}: {error}")
            yield key, members


def _still_member(member: str) -> bool:
    return member.startswith("image.") or member == "alpha.png"


def measure_dataset(path: str | os.PathLike, *, limit: int | None = None,
                    band_px: float | None = None) -> list[Measures]:
    """Indicators of every sample (or the first ``limit``) of a built dataset.

    ``path`` is the dataset folder (or its manifest); the composite ``image.*`` and
    ``alpha.png`` of each sample are decoded at full resolution.
    """
    out = []
    for key, members in dataset_samples(path, limit, _still_member):
        image_name = next((m for m in sorted(members) if m.startswith("image.")), None)
        if image_name is None or "alpha.png" not in members:
            raise ValueError(f"{path}: sample {key} lacks an image.* or alpha.png member")
        out.append(measure_image(decode_rgb(members[image_name]), decode_alpha(members["alpha.png"]),
                                 band_px=band_px))
    return out


def _values(measures: Iterable[Mapping[str, float]], key: str) -> tuple[np.ndarray, int]:
    """(finite values of `key`, number of nan/missing ones dropped)."""
    raw = np.array([float(m.get(key, math.nan)) for m in measures], dtype=np.float64)
    ok = np.isfinite(raw)
    return raw[ok], int(raw.size - ok.sum())


def wasserstein(u: Sequence[float] | np.ndarray, v: Sequence[float] | np.ndarray) -> float:
    """1-D Wasserstein-1 distance between two samples (``nan`` if either is empty)."""
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    if u.size == 0 or v.size == 0:
        return math.nan
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(u, v))


def sampling_floor(reference: Sequence[float] | np.ndarray, n: int, *, draws: int = 200, seed: int = 0) -> float:
    """The distance to the reference that a *perfect* dataset of ``n`` values would still show.

    With few reference photos, the reference distribution is itself a noisy sample of the
    population of real photos, so even a dataset drawn from that very population is at a
    distance from it.  The population is modelled by a smoothed bootstrap of the reference
    (Gaussian kernel, Silverman's bandwidth); the floor is the mean of
    ``W(n draws, len(reference) draws)`` over ``draws`` repetitions (seeded, deterministic).
    Distances near the floor cannot be told apart from a perfect match. ``nan`` when the
    reference has fewer than 2 values.
    """
    ref = np.asarray(reference, dtype=np.float64)
    ref = ref[np.isfinite(ref)]
    if ref.size < 2 or n < 1:
        return math.nan
    rng = seeded_rng(seed)
    bandwidth = 1.06 * float(ref.std(ddof=1)) * ref.size ** -0.2

    def draw(m: int) -> np.ndarray:
        return rng.choice(ref, m) + rng.normal(0.0, bandwidth, m)

    return float(np.mean([wasserstein(draw(n), draw(ref.size)) for _ in range(draws)]))


def ratio_interval(reference: Sequence[Mapping[str, float]], candidate: Sequence[Mapping[str, float]],
                   baseline: Sequence[Mapping[str, float]], key: str, *, draws: int = 200, level: float = 0.9,
                   seed: int = 0) -> tuple[float, float]:
    """Bootstrap interval of ``W(candidate, real) / W(baseline, real)`` for one indicator.

    Both datasets' composites are resampled with replacement (the reference is held fixed:
    its own sampling error is what :func:`sampling_floor` describes), so the interval shows
    how much the ratio would move with another draw of the same number of composites, e.g.
    another recipe seed. A target met by the point estimate but not by the whole interval
    is not a robust pass. Seeded, deterministic; ``(nan, nan)`` when a side has no values.
    """
    if not 0.0 < level < 1.0 or draws < 1:
        raise ValueError(f"level must be in (0, 1) and draws >= 1, got {level!r}, {draws!r}")
    ref, _ = _values(reference, key)
    cand, _ = _values(candidate, key)
    base, _ = _values(baseline, key)
    if not (ref.size and cand.size and base.size):
        return math.nan, math.nan
    rng = seeded_rng(seed)
    ratios = []
    for _ in range(draws):
        b = wasserstein(rng.choice(base, base.size), ref)
        c = wasserstein(rng.choice(cand, cand.size), ref)
        ratios.append(c / b if b > 0 else (0.0 if c == 0 else math.inf))
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(np.asarray(ratios, np.float64), [tail, 1.0 - tail])
    return float(lo), float(hi)


@dataclass(frozen=True)
class IndicatorComparison:
    """One indicator: the reference and each dataset's median, distance to it and nan count."""

    indicator: str
    reference_median: float
    reference_n: int
    reference_dropped: int
    medians: dict[str, float] = field(default_factory=dict)
    distances: dict[str, float] = field(default_factory=dict)
    n: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    floor: float = math.nan  # sampling_floor for the largest dataset's size (nan when not computed)

    def measurable(self, baseline: str, max_ratio: float = 0.5) -> bool:
        """Whether ``max_ratio * W(baseline)`` lies above the sampling floor, so that a dataset
        meeting the target could be told apart from one that misses it (True without a floor)."""
        return not math.isfinite(self.floor) or max_ratio * self.distances[baseline] > self.floor

    def ratio(self, dataset: str, baseline: str) -> float:
        """distance(dataset) / distance(baseline); ``inf`` when the baseline is at distance 0."""
        d, b = self.distances[dataset], self.distances[baseline]
        if not (math.isfinite(d) and math.isfinite(b)):
            return math.nan
        if b == 0:
            return 0.0 if d == 0 else math.inf
        return d / b


def compare(reference: Sequence[Mapping[str, float]], datasets: Mapping[str, Sequence[Mapping[str, float]]],
            indicators: Sequence[str] = INDICATORS, *, floor_draws: int = 0) -> list[IndicatorComparison]:
    """Per indicator, each dataset's distribution against the reference's (nans dropped, counted).

    ``floor_draws > 0`` also computes each indicator's :func:`sampling_floor`.
    """
    rows = []
    for key in indicators:
        ref, ref_dropped = _values(reference, key)
        medians, dists, ns, dropped = {}, {}, {}, {}
        for name, measures in datasets.items():
            vals, nd = _values(measures, key)
            medians[name] = float(np.median(vals)) if vals.size else math.nan
            dists[name] = wasserstein(vals, ref)
            ns[name], dropped[name] = int(vals.size), nd
        floor = sampling_floor(ref, max(ns.values(), default=0), draws=floor_draws) if floor_draws > 0 else math.nan
        rows.append(IndicatorComparison(key, float(np.median(ref)) if ref.size else math.nan, int(ref.size),
                                        ref_dropped, medians, dists, ns, dropped, floor))
    return rows


def format_table(rows: Sequence[IndicatorComparison], baseline: str, candidate: str,
                 max_ratio: float = 0.5, intervals: Mapping[str, tuple[float, float]] | None = None) -> str:
    """A plain-text table: medians, W(dataset, real), the ratio candidate/baseline, pass/fail.

    An indicator passes when ``W(candidate, real) <= max_ratio * W(baseline, real)``.  When
    the rows carry a :func:`sampling_floor`, two last columns show it and whether the target
    ``max_ratio * W(baseline, real)`` lies above it (``measurable``): below the floor no
    dataset, not even one drawn from the real photos' population, can be shown to meet it.
    ``intervals`` (indicator -> (low, high), from :func:`ratio_interval`) adds a column with
    the ratio's bootstrap interval.
    """
    with_floor = any(math.isfinite(r.floor) for r in rows)
    head = ["indicator", "real median", f"{baseline} median", f"{candidate} median",
            f"W({baseline},real)", f"W({candidate},real)", "ratio"] + (["ratio interval"] if intervals else []) + [
            "pass"] + (
        ["W floor", "measurable"] if with_floor else [])
    lines = []
    for r in rows:
        ratio = r.ratio(candidate, baseline)
        ok = math.isfinite(ratio) and ratio <= max_ratio
        lines.append([r.indicator, f"{r.reference_median:.3f}", f"{r.medians[baseline]:.3f}",
                      f"{r.medians[candidate]:.3f}", f"{r.distances[baseline]:.3f}",
                      f"{r.distances[candidate]:.3f}", f"{ratio:.2f}"]
                     + ([_interval_text(intervals.get(r.indicator))] if intervals else [])
                     + ["PASS" if ok else "FAIL"]
                     + ([f"{r.floor:.3f}", "yes" if r.measurable(baseline, max_ratio) else "no"]
                        if with_floor else []))
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]

    def fmt(cells: list[str]) -> str:
        return " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [fmt(head), "-+-".join("-" * w for w in widths)] + [fmt(line) for line in lines]
    return "\n".join(out)


def _interval_text(interval: tuple[float, float] | None) -> str:
    return "-" if interval is None else f"{interval[0]:.2f}-{interval[1]:.2f}"


def quantile_table(reference: Sequence[Mapping[str, float]], datasets: Mapping[str, Sequence[Mapping[str, float]]],
                   indicators: Sequence[str] = INDICATORS,
                   quantiles: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 0.9)) -> str:
    """Plain-text quantiles of each indicator, real photos first, then each dataset (nans dropped).

    Where a W is large this shows whether the median is off or the spread (for diagnosis).
    """
    if not all(0.0 <= q <= 1.0 for q in quantiles) or not quantiles:
        raise ValueError(f"quantiles must be a non-empty list of numbers in [0, 1], got {list(quantiles)!r}")
    sources = {"real": reference, **datasets}
    width = max(len(n) for n in sources)
    lines = []
    for key in indicators:
        lines.append(f"{key} (quantiles {', '.join(f'{q:g}' for q in quantiles)})")
        for name, measures in sources.items():
            vals, _ = _values(measures, key)
            cells = np.quantile(vals, quantiles) if vals.size else np.full(len(quantiles), math.nan)
            lines.append(f"  {name:<{width}} " + " ".join(f"{v:8.3f}" for v in cells))
    return "\n".join(lines)
