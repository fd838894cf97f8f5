"""Side-by-side comparison of datasets (e.g. a naive build vs a realism-matched one)."""
from __future__ import annotations

from typing import Any, Sequence

from .collect import DatasetStats

__all__ = ["compare_stats", "COMPARED_METRICS", "unique_labels"]

#: (name, path in the statistics dict) of the headline numbers put side by side.
COMPARED_METRICS: tuple[tuple[str, str], ...] = (
    ("samples", "counts/samples"),
    ("measured", "counts/measured"),
    ("warnings (error)", "#errors"),
    ("foreground distinct", "diversity/foreground/all/distinct"),
    ("foreground max uses", "diversity/foreground/all/max"),
    ("foreground max/median", "diversity/foreground/all/max_over_median"),
    ("foreground gini", "diversity/foreground/all/gini"),
    ("foreground entropy (normalised)", "diversity/foreground/all/entropy_norm"),
    ("background distinct", "diversity/background/all/distinct"),
    ("background max uses", "diversity/background/all/max"),
    ("background max/median", "diversity/background/all/max_over_median"),
    ("background gini", "diversity/background/all/gini"),
    ("background entropy (normalised)", "diversity/background/all/entropy_norm"),
    ("foregrounds in 2+ splits", "leakage/foreground/shared"),
    ("near-duplicate pairs across splits", "leakage/near_duplicates/pairs"),
    ("alpha coverage mean", "alpha/coverage/mean"),
    ("unknown share mean", "alpha/unknown_share/mean"),
    ("trimap band px mean", "trimap/band_px/mean"),
    ("F-B luma difference mean", "colour/luma_diff/mean"),
    ("noise log ratio median", "realism/measures/noise_log_ratio/p50"),
    ("sharpness log ratio median", "realism/measures/sharpness_log_ratio/p50"),
    ("LAB distance F-B median", "realism/measures/lab_mean_dist/p50"),
    ("luma difference near edge median", "realism/measures/luma_mean_diff/p50"),
    ("chroma distance median", "realism/measures/chroma_mean_dist/p50"),
    ("contrast log ratio median", "realism/measures/lab_std_log_ratio/p50"),
    ("colour spill median", "realism/measures/spill_residual/p50"),
    ("straight cut inside the picture p95", "realism/measures/straight_cut/p95"),
    ("clips: still background share mean", "temporal/measures/still_background/mean"),
    ("clips: noise change log ratio mean", "temporal/measures/noise_change_log_ratio/mean"),
    ("clips: blur vs motion gap mean", "temporal/measures/blur_motion_gap/mean"),
    ("clips: colour flicker F vs B mean", "temporal/measures/colour_flicker/mean"),
)


def _get(d: dict[str, Any], path: str) -> Any:
    if path == "#errors":
        return sum(1 for w in d.get("warnings", []) if w["level"] == "error")
    for part in path.split("/"):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def unique_labels(labels: Sequence[str]) -> list[str]:
    """The labels, made unique by appending ``#2``, ``#3`` ... to repeats."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        n = seen.get(label, 0) + 1
        seen[label] = n
        out.append(label if n == 1 else f"{label}#{n}")
    return out


def compare_stats(stats: Sequence[DatasetStats]) -> dict[str, Any]:
    """``{"datasets": {label: data}, "comparison": {metric: {label: value}}, "ops": {...}}``.

    ``comparison`` holds the headline numbers of :data:`COMPARED_METRICS`; ``ops``
    maps each operation (``stage/op/target``) to its rate per dataset (``None`` when
    a dataset never records it). Labels are made unique first.
    """
    if len(stats) < 2:
        raise ValueError(f"compare_stats: need at least two datasets, got {len(stats)}")
    labels = unique_labels([s.label for s in stats])
    comparison = {name: {lab: _get(s.data, path) for lab, s in zip(labels, stats)} for name, path in COMPARED_METRICS}
    ops: dict[str, dict[str, Any]] = {}
    for lab, s in zip(labels, stats):
        for op in s.data.get("ops", []):
            k = f"{op['stage']}/{op['op']}/{op['target'] or ''}"
            ops.setdefault(k, {}).update({lab: op["rate"]})
    for k in ops:
        for lab in labels:
            ops[k].setdefault(lab, None)
    return {"datasets": {lab: s.data for lab, s in zip(labels, stats)}, "comparison": comparison, "ops": ops}
