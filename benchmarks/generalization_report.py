"""The report of benchmarks/generalization.py: means, paired per-seed changes with their
confidence interval, per-photo changes, and whether a detector's AUC ranks the variants."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from generalization_eval import SPLIT_KEYS, error_keys
from synth.critic.evaluate import rank_agreement, rank_agreement_p


def _mean_std(xs: list[float]) -> str:
    a = np.asarray(xs, np.float64)
    return f"{a.mean():7.3f} ± {a.std(ddof=1) if len(a) > 1 else 0.0:5.3f}"


#: Two-sided 95 % quantiles of Student's t for 1..10 degrees of freedom.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)


def paired_interval(changes: list[float]) -> tuple[float, float]:
    """95 % confidence interval of the mean of paired per-seed changes (t, n - 1 dof); the
    mean itself twice for one seed."""
    a = np.asarray(changes, np.float64)
    if a.size < 2:
        return float(a.mean()), float(a.mean())
    dof = a.size - 1
    t = _T975[dof - 1] if dof <= len(_T975) else 1.96
    half = t * a.std(ddof=1) / np.sqrt(a.size)
    return float(a.mean() - half), float(a.mean() + half)


def _change_line(variant: str, seeds: list[int], rel: list[float]) -> str:
    """One variant's per-seed changes, their mean and paired 95 % interval, as a report line."""
    cells = "  ".join(f"seed {s}: {100 * r:+6.1f}%" for s, r in zip(seeds, rel))
    lo, hi = paired_interval(rel)
    return f"  {variant:22s} {cells}   mean {100 * np.mean(rel):+6.1f}% [{100 * lo:+.1f}, {100 * hi:+.1f}]"


def _sad_changes(results: dict, variant: str, base: str, seeds: list[int]) -> list[float]:
    """Each seed's relative change of real-photo SAD, ``variant`` against ``base``."""
    return [(results[variant][s]["real"]["sad"] - results[base][s]["real"]["sad"]) / results[base][s]["real"]["sad"]
            for s in seeds]


def _has_per_photo(results: dict, variants: list[str], seeds: list[int]) -> bool:
    """Whether every run recorded its per-photo errors (runs from before that did not)."""
    return all("per_image" in results[v][s]["real"] for v in variants for s in seeds)


def trivial_line(sads: dict[float | str, float] | None) -> list[str]:
    """The line of a test set's SAD with a constant alpha in the unknown region, and with the test
    mask as the alpha where there is one (no model; from ``generalization_eval.trivial_sad``), which
    a model's SAD must be well below to mean anything."""
    if not sads:
        return []
    cells = ", ".join(f"{c:g}: {v:.3f}" for c, v in sads.items() if c != "mask")
    mask = f"; the test mask itself: {sads['mask']:.3f}" if "mask" in sads else ""
    return [f"  {'(no model)':22s} SAD of a constant alpha in the unknown region, {cells}{mask}"]


def report(results: dict, variants: list[str], seeds: list[int], trivial: dict[float | str, float] | None = None,
           folds: dict[str, list[str]] | None = None) -> str:
    """The whole text report; ``folds`` (label -> held-out photos) adds the per-fold table."""
    lines = []
    base = variants[0]
    for metric in ("sad", "mse", "grad"):
        lines.append(f"\n{metric.upper()} (lower is better): real photos | composited validation | gap (real - comp)")
        for v in variants:
            real = [results[v][s]["real"][metric] for s in seeds]
            comp = [results[v][s]["comp"][metric] for s in seeds]
            gap = [r - c for r, c in zip(real, comp)]
            lines.append(f"  {v:22s} real {_mean_std(real)} | comp {_mean_std(comp)} | gap {_mean_std(gap)}")
        if metric == "sad":
            lines.extend(trivial_line(trivial))
            lines.extend(split_lines(results, variants, seeds))
    lines.append(f"\nPaired per-seed change of real-photo SAD against {base} (negative = better), "
                 "mean and 95 % confidence interval over seeds (paired t):")
    for v in variants[1:]:
        rel = _sad_changes(results, v, base, seeds)
        verdict = "PASS" if all(r <= -0.20 for r in rel) else "miss"
        lines.append(f"{_change_line(v, seeds, rel)}  (target <= -20% every seed: {verdict})")
    lines.extend(photo_weighted(results, variants, seeds))
    lines.extend(against_second(results, variants, seeds))
    lines.extend(per_fold(results, variants, seeds, folds or {}))
    lines.extend(per_photo(results, variants, seeds))
    lines.extend(per_photo_split(results, variants, seeds))
    return "\n".join(lines)


def against_second(results: dict, variants: list[str], seeds: list[int]) -> list[str]:
    """With three variants or more, the paired per-seed changes of the third and later against the
    second (usually portrait and its one-step-off variants): the plain SAD change and, where every
    run has per-photo errors, the photo-weighted one. A variant can beat the first variant on every
    seed and still not be clearly better than the second; this says which."""
    if len(variants) < 3:
        return []
    second, rest = variants[1], variants[2:]
    lines = [f"\nPaired per-seed change of real-photo SAD against {second}:"]
    lines += [_change_line(v, seeds, _sad_changes(results, v, second, seeds)) for v in rest]
    return lines + photo_weighted(results, variants[1:], seeds)


def per_fold(results: dict, variants: list[str], seeds: list[int], folds: dict[str, list[str]]) -> list[str]:
    """Lines of each cross-validation fold's mean SAD over its held-out photos (``folds``: label ->
    photo names): the first variant's (mean over seeds), then each other variant's mean change
    against it over seeds and on how many seeds it is lower. Folds often disagree, and one fold's
    gain can carry the whole mean. None for fewer than two folds or runs without per-photo errors."""
    if len(folds) < 2 or not _has_per_photo(results, variants, seeds):
        return []
    head = (f"\nPer fold, the mean SAD of its held-out photos: {variants[0]}'s (mean over seeds), then each "
            "variant's change (lower on how many seeds):")
    return _change_table(results, variants, seeds, folds, head, "fold", 22)


def _change_table(results: dict, variants: list[str], seeds: list[int], groups: dict[str, list[str]],
                  head: str, label: str, label_width: int) -> list[str]:
    """A table with one row per group of real photos (``groups``: row label -> photo names): the
    first variant's mean SAD over the group's photos (mean over seeds), then each other variant's
    mean relative change against it over seeds and on how many seeds it is lower."""
    base = variants[0]

    def group_sad(v: str, s: int, photos: list[str]) -> float:
        return float(np.mean([results[v][s]["real"]["per_image"][p]["sad"] for p in photos]))

    width = max([14, *(len(v) for v in variants[1:])])
    lines = [head, f"  {label:{label_width}s} {base + ' SAD':>14s} " + " ".join(f"{v:>{width}s}" for v in variants[1:])]
    for name, photos in groups.items():
        b = [group_sad(base, s, photos) for s in seeds]
        cells = []
        for v in variants[1:]:
            rel = [group_sad(v, s, photos) / x - 1.0 for s, x in zip(seeds, b)]
            cells.append(f"{100 * np.mean(rel):+7.1f}% ({sum(r < 0 for r in rel)}/{len(rel)})")
        lines.append(f"  {name:{label_width}s} {np.mean(b):14.3f} " + " ".join(f"{c:>{width}s}" for c in cells))
    return lines


def split_lines(results: dict, variants: list[str], seeds: list[int]) -> list[str]:
    """Lines of each variant's real-photo SAD split by the true alpha (mean ± std over seeds of
    :data:`generalization_eval.SPLIT_KEYS`); none when a run was saved without the split."""
    if not all(k in results[v][s]["real"] for v in variants for s in seeds for k in SPLIT_KEYS):
        return []
    lines = ["  real SAD by the true alpha:  where α <= 0.05 (background taken for subject) | mixed | α >= 0.95 "
             "(subject taken for background)"]
    for v in variants:
        cells = [_mean_std([results[v][s]["real"][k] for s in seeds]) for k in SPLIT_KEYS]
        lines.append(f"  {v:22s} " + " | ".join(cells))
    return lines


def per_photo(results: dict, variants: list[str], seeds: list[int]) -> list[str]:
    """Lines of each real photo's SAD change against the first variant (one row per photo: the
    first variant's SAD, then each other variant's mean change over seeds and on how many seeds
    it is lower); none when a run was recorded without per-photo errors."""
    if not _has_per_photo(results, variants, seeds):
        return []
    base = variants[0]
    photos = sorted(results[base][seeds[0]]["real"]["per_image"])
    head = (f"\nReal-photo SAD change against {base} per photo, mean over seeds (lower on how many seeds); "
            f"{base}'s own SAD first:")
    return _change_table(results, variants, seeds, {p: [p] for p in photos}, head, "photo", 10)


def per_photo_split(results: dict, variants: list[str], seeds: list[int]) -> list[str]:
    """Lines of each real photo's SAD split by the true alpha (:data:`generalization_eval.SPLIT_KEYS`):
    the first variant's own three parts, then each other variant's change of each part, means over
    seeds; none unless every run recorded the split per photo. It shows where a photo's change
    lies: background taken for subject, the mixed pixels (hair, fur), or subject taken for background."""
    if not _has_per_photo(results, variants, seeds):
        return []
    entries = [e for v in variants for s in seeds for e in results[v][s]["real"]["per_image"].values()]
    if not set(SPLIT_KEYS) <= set(error_keys(entries)):
        return []
    base = variants[0]
    photos = sorted(results[base][seeds[0]]["real"]["per_image"])

    def part(v: str, p: str, k: str) -> float:
        return float(np.mean([results[v][s]["real"]["per_image"][p][k] for s in seeds]))

    lines = [f"\nPer photo, the SAD by the true alpha, background | mixed | subject: {base}'s own, then each "
             "variant's change (mean over seeds):",
             f"  {'photo':10s} " + " ".join(f"{v:>24s}" for v in variants)]
    for p in photos:
        cells = [" ".join(f"{part(base, p, k):7.3f}" for k in SPLIT_KEYS)]
        cells += [" ".join(f"{part(v, p, k) - part(base, p, k):+7.3f}" for k in SPLIT_KEYS) for v in variants[1:]]
        lines.append(f"  {p:10s} " + " ".join(f"{c:>24s}" for c in cells))
    return lines


def photo_weighted_change(results: dict, variant: str, base: str, seed: int) -> float:
    """A seed's real-photo SAD change against ``base`` with every photo weighing the same: the
    geometric mean over photos of SAD(variant) / SAD(base), minus 1 (the plain change of mean
    SAD is dominated by the photos with the largest unknown regions)."""
    a, b = results[variant][seed]["real"]["per_image"], results[base][seed]["real"]["per_image"]
    logs = [np.log(a[p]["sad"] / b[p]["sad"]) for p in sorted(b)]
    return float(np.expm1(np.mean(logs)))


def photo_weighted(results: dict, variants: list[str], seeds: list[int]) -> list[str]:
    """Lines of :func:`photo_weighted_change` per seed, its mean and paired 95 % interval; none
    when a run was recorded without per-photo errors."""
    if not _has_per_photo(results, variants, seeds):
        return []
    base = variants[0]
    lines = [f"\nThe same with every photo weighing the same (geometric mean over photos of the SAD ratio "
             f"against {base}):"]
    for v in variants[1:]:
        lines.append(_change_line(v, seeds, [photo_weighted_change(results, v, base, s) for s in seeds]))
    return lines


def merge_folds(runs: list[dict]) -> dict:
    """One seed's results over cross-validation folds (each fold's model evaluated on its own
    held-out photos): the per-photo errors of every fold together, the real-photo means over
    all those photos, the composited validation means averaged over folds; one fold as is.
    The ``--also-real`` sets, which every fold's model predicts, are merged by :func:`merge_also`;
    the ``--test-trimaps`` sets every fold measured are pooled as the real photos are."""
    also = merge_also(runs)
    specs = set.intersection(*(set(r.get("trimaps", {})) for r in runs))
    trimaps = {"trimaps": {t: _pool([r["trimaps"][t] for r in runs]) for t in sorted(specs)}} if specs else {}
    if len(runs) == 1:
        return {**runs[0], "also": also, **trimaps}
    comp = {k: float(np.mean([r["comp"][k] for r in runs])) for k in error_keys([r["comp"] for r in runs])}
    return {"real": _pool([r["real"] for r in runs]), "comp": comp, "also": also, **trimaps}


def _pool(parts: list[dict]) -> dict:
    """The errors of held-out photos of several folds (each with ``per_image``) as one set: the
    per-photo errors together and the means over all those photos."""
    if len(parts) == 1:
        return parts[0]
    per = {p: e for part in parts for p, e in part["per_image"].items()}
    if len(per) != sum(len(part["per_image"]) for part in parts):
        raise ValueError("folds share a test photo: a photo must be held out by one fold only")
    return {**{k: float(np.mean([e[k] for e in per.values()])) for k in error_keys(per.values())}, "per_image": per}


def merge_also(runs: list[dict]) -> dict:
    """The ``--also-real`` sets that every run of a seed evaluated (one run per fold, each fold's
    model predicting the same photos): per photo the mean of each error over the runs, the set's
    means over its photos, and each run's own mean SAD under ``"models"``."""
    names = set.intersection(*(set(r.get("also", {})) for r in runs)) if runs else set()
    out = {}
    for name in sorted(names):
        sets = [r["also"][name] for r in runs]
        photos = sorted(sets[0]["per_image"])
        keys = error_keys([x["per_image"][p] for x in sets for p in photos])
        per = {p: {k: float(np.mean([x["per_image"][p][k] for x in sets])) for k in keys} for p in photos}
        out[name] = {**{k: float(np.mean([e[k] for e in per.values()])) for k in keys},
                     "per_image": per, "models": [x["sad"] for x in sets]}
    return out


def also_report(results: dict, variants: list[str], seeds: list[int],
                trivial: dict[str, dict[float | str, float]] | None = None) -> str:
    """The ``--also-real`` sets (photos no step sees, predicted by every fold's model): each
    variant's SAD, the paired per-seed change against the first variant with its 95 % interval,
    and for how many of the models (seeds x folds) it is lower; with three variants or more the
    same for the third and later against the second (as :func:`against_second`); for sets of
    several photos the photo-weighted changes (against the first and, with three variants or more,
    the second) and the per-photo table. ``trivial``: each set's :func:`trivial_line` figures, by
    set name."""
    base = variants[0]
    names = set.intersection(*(set(results[v][s].get("also", {})) for v in variants for s in seeds))
    lines = []
    for name in sorted(names):
        view = {v: {s: {"real": results[v][s]["also"][name]} for s in seeds} for v in variants}
        photos = sorted(view[base][seeds[0]]["real"]["per_image"])
        folds = len(view[base][seeds[0]]["real"]["models"])
        lines.append(f"\nAlso evaluated: {name} ({len(photos)} photo{'s' if len(photos) > 1 else ''}: "
                     f"{', '.join(photos[:6])}{' ...' if len(photos) > 6 else ''}), which no step sees; a seed's "
                     f"errors are the mean over its {folds} fold model{'s' if folds > 1 else ''}:")
        for v in variants:
            lines.append(f"  {v:22s} SAD {_mean_std([view[v][s]['real']['sad'] for s in seeds])}   "
                         f"MSE {_mean_std([view[v][s]['real']['mse'] for s in seeds])}")
        lines.extend(trivial_line((trivial or {}).get(name)))
        groups = [variants, variants[1:]] if len(variants) >= 3 else [variants]  # base first in each
        for group in groups:
            lines.extend(_model_changes(view, group[1:], group[0], seeds))
        if len(photos) > 1:
            for group in groups:
                lines.extend(photo_weighted(view, group, seeds))
            lines.extend(per_photo(view, variants, seeds))
    return "\n".join(["", *lines]) if lines else ""


def trimap_report(results: dict, variants: list[str], seeds: list[int], specs: list[str]) -> str:
    """The ``--test-trimaps`` sets (the held-out photos with trimaps made from the true alpha, one
    band shape each): each variant's SAD, split by the true alpha, and its paired per-seed change
    against the first variant, plain and photo-weighted. The SAD is over each shape's own unknown region, so compare variants
    within a shape, not shapes with each other."""
    lines = []
    for spec in specs:
        if not all(spec in results[v][s].get("trimaps", {}) for v in variants for s in seeds):
            continue
        inner, outer = spec.split(":")
        view = {v: {s: {"real": results[v][s]["trimaps"][spec]} for s in seeds} for v in variants}
        lines.append(f"\nReal photos with trimaps made from the true alpha, the band reaching {inner} px into the "
                     f"subject and {outer} px into the background (in place of the hand-drawn ones):")
        for v in variants:
            lines.append(f"  {v:22s} SAD {_mean_std([view[v][s]['real']['sad'] for s in seeds])}")
        lines.extend(split_lines(view, variants, seeds))
        base = variants[0]
        lines.append(f"  paired per-seed change of SAD against {base} (negative = better):")
        lines += [_change_line(v, seeds, _sad_changes(view, v, base, seeds)) for v in variants[1:]]
        lines.extend(photo_weighted(view, variants, seeds))
    return "\n".join(["", *lines]) if lines else ""


def _model_changes(view: dict, variants: list[str], base: str, seeds: list[int]) -> list[str]:
    """Lines of each of ``variants``' paired per-seed SAD change against ``base`` with its 95 %
    interval, and for how many of the models (seeds x folds) it is lower."""
    lines = [f"  paired per-seed change of SAD against {base} (negative = better):"]
    for v in variants:
        rel = _sad_changes(view, v, base, seeds)
        pairs = [(a, b) for s in seeds for a, b in zip(view[v][s]["real"]["models"], view[base][s]["real"]["models"])]
        lines.append(f"{_change_line(v, seeds, rel)}  (lower for {sum(a < b for a, b in pairs)} of {len(pairs)} models)")
    return lines


def detector_ranking(results: dict, variants: list[str], seeds: list[int], files: list[Path]) -> str:
    """Whether a fresh detector's mean held-out AUC (bench_detectability.py's JSON files; a
    variant measured in several files: the last) ranks the variants as their mean real-photo SAD."""
    auc: dict[str, float] = {}
    for path in files:
        for name, per_seed in json.loads(path.read_text())["results"].items():
            if name in variants:
                auc[name] = float(np.mean([r["auc"] for r in per_seed.values()]))
    sad = {v: float(np.mean([results[v][s]["real"]["sad"] for s in seeds])) for v in variants}
    rho, by_auc, by_sad = rank_agreement(auc, sad)
    return (f"\nDetector AUC against real-photo SAD ({len(by_auc)} variants measured by both; lower is better):\n"
            f"  by AUC: {' < '.join(f'{n} {auc[n]:.3f}' for n in by_auc)}\n"
            f"  by SAD: {' < '.join(f'{n} {sad[n]:.3f}' for n in by_sad)}\n"
            f"  Spearman rank correlation {rho:+.2f} (1: the detector predicts the ranking; exact permutation "
            f"p = {rank_agreement_p(auc, sad):.2f} over {len(by_auc)} variants)")


