"""From merged accumulators to the JSON-able statistics dict, with warnings.

The dict is the single source of every number: the HTML report and the comparison
are rendered from it (plus contact-sheet thumbnails), and ``--json`` writes it as is.
Non-finite floats are written as ``null``. Top-level keys:

- ``dataset``, ``options``, ``timing``;
- ``counts`` (manifest samples per split, read, measured, bad), ``shards`` (one row per
  manifest shard: samples/bytes read, ``sha256_ok``, error), ``integrity``,
  ``bad_samples``, ``sizes``, ``image_members``, ``alpha_bits``, ``member_bytes``;
- ``diversity.{foreground,background}``: ``all`` and ``by_split`` usage summaries
  (:func:`~synth.stats.diversity.usage_summary`: distinct, min/median/max, Gini,
  normalised entropy, top and overused items), ``sources``, full ``counts`` and
  ``counts_by_split`` (item id -> uses), ``names``;
- ``alpha`` (``coverage``, ``unknown_share`` per sample; the 256-bin ``histogram`` of
  alpha over all pixels, ``pixel_shares``), ``trimap`` (``band_px`` from meta.json;
  ``unknown_share`` and consistency when trimaps are checked), ``colour`` (F and B
  regions of the composite), ``realism`` (``measures``: the mismatch measures), ``temporal``
  (``measures``: a clip dataset's temporal F/B indicators, :mod:`synth.stats.temporal`; empty
  for stills; a clip's other statistics are its middle frame's);
  every per-sample scalar has n/mean/std/min/max, approximate p05/p50/p95, a fixed-bin
  ``hist`` and ``by_split`` summaries;
- ``instances`` (samples with and without instance members; instances per sample, overlap
  share, occlusion and cut-by-frame shares per instance; :mod:`synth.stats.instances`);
- ``guidance`` (IoU and boundary F-score of the guidance masks against the alpha, and the share
  of stored ones; :mod:`synth.stats.guidance`);
- ``ops`` (one entry per stage/op/target: count, samples, rate, parameter summaries),
  ``meta_extra`` (any other meta.json field, summarised generically);
- ``leakage`` (foregrounds and backgrounds in several splits, near-duplicate composite
  pairs across splits), ``issues`` (meta/trimap inconsistencies with example keys);
- ``warnings``: ``[{level: error|warning|info, kind, message, details?}]``, errors first.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from shards.manifest import Manifest

from .mergeable import ScalarAcc, scalar_acc
from .accumulator import Accumulator
from .diversity import guided_summary, usage_summary
from .leakage import near_duplicate_pairs, shared_items
from .measure import ANALYSIS_SIDE, REALISM_IMPL
from .options import StatsOptions
from .shard_scan import ShardResult
from .temporal import TEMPORAL_BAND_PX, TEMPORAL_IMPL

__all__ = ["summarize", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1
_ISSUE_TEXT = {
    "missing_trimap": "samples without trimap.png",
    "trimap_inconsistent": "samples whose trimap disagrees with the alpha (unknown alpha outside the 128 band, "
                           "or definite trimap regions that contradict the alpha)",
    "meta_key_mismatch": "samples whose meta.json key differs from the tar key",
    "meta_split_mismatch": "samples whose meta.json split differs from their shard's split",
    "meta_size_mismatch": "samples whose meta.json size differs from the decoded image",
    "meta_missing_foreground_id": "samples without a foreground id in meta.json",
    "meta_missing_background_id": "samples without a background id in meta.json",
}


def _clean(x: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, non-finite floats to None, tuple keys to strings."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        f = float(x)
        return f if math.isfinite(f) else None
    return x


def _scalars(acc: Accumulator, prefix: str, splits: list[str]) -> dict[str, Any]:
    """Summaries of the scalars named ``prefix.*``: all splits merged, and per split."""
    names = []
    for (_, name) in acc.scalars:
        if name.startswith(prefix + ".") and name not in names:
            names.append(name)
    out: dict[str, Any] = {}
    for name in names:
        merged: ScalarAcc = scalar_acc(name)
        by_split = {}
        for s in splits:
            part = acc.scalars.get((s, name))
            if part is not None:
                merged.merge(part)
                by_split[s] = part.summary(with_hist=False)
        summ = merged.summary()
        summ["by_split"] = by_split
        out[name[len(prefix) + 1:]] = summ
    return out


def _warn(out: list, level: str, kind: str, message: str, **details: Any) -> None:
    out.append({"level": level, "kind": kind, "message": message, **({"details": details} if details else {})})


def _short(i: str) -> str:
    return i[:12]


def _diversity(items: dict, sources: Any, splits: list[str], pool: dict | None, opts: StatsOptions,
               name_keys: tuple[str, ...]) -> dict[str, Any]:
    names = {}
    for i, it in items.items():
        label = "/".join(str(it.info[k]) for k in name_keys if it.info.get(k) is not None)
        names[i] = label or None
    counts = {i: sum(it.by_split.values()) for i, it in items.items()}
    by_split = {}
    counts_by_split = {}
    for s in splits:
        c = {i: it.by_split[s] for i, it in items.items() if it.by_split.get(s)}
        counts_by_split[s] = dict(sorted(c.items()))
        summ = usage_summary(c, overuse_factor=opts.overuse_factor, names=names)
        if pool and s in pool:
            summ["pool"] = pool[s]
            summ["unused"] = max(0, int(pool[s]) - summ["distinct"])
        by_split[s] = summ
    src: dict[str, dict[str, int]] = {}
    for (s, name), n in sorted(sources.items()):
        src.setdefault(name, {})[s] = n
    items_per_source: dict[str, int] = {}
    for it in items.values():
        name = str(it.info.get("source"))
        items_per_source[name] = items_per_source.get(name, 0) + 1
    return {
        "all": usage_summary(counts, overuse_factor=opts.overuse_factor, names=names),
        "by_split": by_split,
        "sources": {name: {"samples": sum(v.values()), "by_split": v, "items": items_per_source.get(name, 0),
                           "uses_per_item": sum(v.values()) / max(1, items_per_source.get(name, 0))}
                    for name, v in src.items()},
        "distinct_sources": len(src),
        "counts": dict(sorted(counts.items())),
        "counts_by_split": counts_by_split,
        "names": dict(sorted((i, n) for i, n in names.items() if n)),
    }


def summarize(acc: Accumulator, results: list[ShardResult], manifest: Manifest, manifest_loc: str,
              opts: StatsOptions, *, skipped_shards: list[str], unlisted: list[str],
              seconds: float) -> dict[str, Any]:
    """The statistics dict (see the module docstring); ``acc`` is the merged, flushed accumulator."""
    acc.flush()
    warnings: list[dict[str, Any]] = []
    manifest_splits = dict(manifest.splits)
    splits = list(manifest_splits) + sorted({s.split for s in manifest.shards} - set(manifest_splits))
    measured = sum(acc.measured.values())
    total = sum(s.samples for s in manifest.shards)

    # ---------------------------------------------------------------- shards and integrity
    by_path = {r.path: r for r in results}
    shards = []
    problems = []
    checked = ok = 0
    read_by_split: dict[str, int] = {}
    for e in manifest.shards:
        r = by_path.get(e.path)
        row: dict[str, Any] = {"path": e.path, "split": e.split, "samples": e.samples, "bytes": e.bytes,
                               "first_index": e.first_index, "samples_read": None, "bytes_read": None,
                               "sha256_ok": None, "error": None}
        if r is not None:
            row.update(samples_read=r.samples_read, bytes_read=r.bytes_read if r.complete else None,
                       error=r.error)
            read_by_split[e.split] = read_by_split.get(e.split, 0) + r.samples_read
            bad = []
            if r.error:
                bad.append(r.error)
            if r.complete:
                if r.samples_read != e.samples:
                    bad.append(f"{r.samples_read} samples, manifest says {e.samples}")
                if r.bytes_read != e.bytes:
                    bad.append(f"{r.bytes_read} bytes, manifest says {e.bytes}")
                if r.sha256 is not None:
                    row["sha256_ok"] = r.sha256 == e.sha256
                    if r.sha256 != e.sha256:
                        bad.append(f"sha256 {r.sha256[:16]}... differs from the manifest's {e.sha256[:16]}...")
            if r.complete or r.error:
                checked += 1
                ok += not bad
            for b in bad:
                problems.append({"path": e.path, "problem": b})
        shards.append(row)
    if total == 0:
        _warn(warnings, "warning", "empty", "the manifest lists no samples")
    if problems:
        paths = sorted({p["path"] for p in problems})
        _warn(warnings, "error", "corrupt_shards",
              f"{len(paths)} shard(s) are damaged or differ from the manifest: {', '.join(paths[:5])}"
              + (" ..." if len(paths) > 5 else ""), problems=problems[:50])
    if unlisted:
        _warn(warnings, "info", "unlisted_files",
              f"{len(unlisted)} shard-like file(s) in the folder are not in the manifest: {', '.join(unlisted[:5])}",
              files=unlisted[:50])
    if acc.bad_count:
        _warn(warnings, "error", "bad_samples", f"{acc.bad_count} sample(s) could not be read or decoded",
              examples=[{"split": s, "key": k, "reason": r} for s, k, r in acc.bad[:10]])
    if opts.sample is not None and measured + acc.bad_count < total:
        _warn(warnings, "info", "sampled",
              f"statistics from {measured + acc.bad_count} of {total} samples (--sample {opts.sample}); "
              f"{len(skipped_shards)} shard(s) not opened and not verified")
    if manifest.skipped:
        _warn(warnings, "info", "skipped_inputs",
              f"the build skipped {len(manifest.skipped)} input(s) (see the manifest's 'skipped')",
              examples=[s.model_dump() for s in manifest.skipped[:10]])

    # ---------------------------------------------------------------- meta consistency
    for kind, (n, examples) in acc.issues.items():
        level = "warning" if kind != "missing_trimap" else "info"
        _warn(warnings, level, kind, f"{n} {_ISSUE_TEXT.get(kind, kind)}", examples=examples)
    other_recipes = {h: n for h, n in acc.recipe_sha.items() if h != manifest.recipe_sha256}
    if other_recipes:
        _warn(warnings, "warning", "recipe_mismatch",
              f"{sum(other_recipes.values())} sample(s) were built from another recipe than the manifest's",
              recipes=other_recipes)

    # ---------------------------------------------------------------- diversity
    extra = manifest.extra or {}
    fg_div = _diversity(acc.fg, acc.fg_sources, splits, extra.get("foregrounds"), opts, ("source", "file"))
    bg_div = _diversity(acc.bg, acc.bg_sources, splits, extra.get("backgrounds"), opts, ("source", "file"))
    fg_div["kinds"] = dict(acc.fg_kinds)
    fg_div["estimators"] = dict(acc.fg_estimators)
    for what, div in (("foreground", fg_div), ("background", bg_div)):
        # within each split: a small split reuses its few items more, and that is no imbalance
        for split, a in div["by_split"].items():
            if a["distinct"] and a["max"] >= opts.overuse_min_uses and a["max"] > opts.overuse_factor * a["median"]:
                top = a["top"][0]
                _warn(warnings, "warning", f"overused_{what}",
                      f"{split}: a {what} is used far more than the split's others: "
                      f"{top['name'] or _short(top['id'])} {top['uses']}x vs median {a['median']:g} "
                      f"(> {opts.overuse_factor:g}x the median)", split=split, overused=a["overused"])

        srcs = div["sources"]
        if len(srcs) >= 2:  # a source whose items are reused far more than the other sources' items
            for name, v in srcs.items():
                med = float(np.median([o["uses_per_item"] for k, o in srcs.items() if k != name]))
                if v["uses_per_item"] > opts.overuse_factor * med and v["samples"] >= opts.overuse_min_uses:
                    _warn(warnings, "warning", f"overused_{what}_source",
                          f"{what} source {name!r} is reused far more than the others: {v['uses_per_item']:.1f} "
                          f"uses per item vs {med:.1f} (median of the other sources)", source=name)

    # ---------------------------------------------------------------- leakage
    fg_shared = shared_items({i: it.by_split for i, it in acc.fg.items()})
    for rec in fg_shared:
        it = acc.fg[rec["id"]]
        rec["name"] = fg_div["names"].get(rec["id"])
        rec["examples"] = {s: it.examples.get(s, []) for s in rec["splits"]}
    bg_shared = shared_items({i: it.by_split for i, it in acc.bg.items()})
    bg_policy = (manifest.recipe or {}).get("background_split")
    if fg_shared:
        ex = "; ".join(f"{r['name'] or _short(r['id'])} in {'+'.join(r['splits'])}" for r in fg_shared[:5])
        _warn(warnings, "error", "foreground_leak",
              f"{len(fg_shared)} foreground(s) appear in more than one split: {ex}",
              foregrounds=fg_shared[:50])
    if bg_shared:
        level = "warning" if bg_policy == "disjoint" else "info"
        _warn(warnings, level, "background_shared",
              f"{len(bg_shared)} background(s) appear in more than one split"
              + (" although the recipe asks for disjoint backgrounds" if bg_policy == "disjoint"
                 else f" (recipe background_split: {bg_policy or 'unknown'})"))
    keys = np.concatenate(acc.keys) if acc.keys else np.zeros(0, object)
    ksplits = np.concatenate(acc.splits) if acc.splits else np.zeros(0, object)
    hashes = np.concatenate(acc.phash) if acc.phash else np.zeros(0, np.uint64)
    split_ids = {s: i for i, s in enumerate(splits)}
    groups = np.array([split_ids.setdefault(s, len(split_ids)) for s in ksplits], dtype=np.int64)
    n_pairs, pairs = near_duplicate_pairs(hashes, groups, opts.phash_distance, limit=1000)
    pair_recs = [{"a": str(keys[i]), "a_split": str(ksplits[i]), "b": str(keys[j]), "b_split": str(ksplits[j]),
                  "distance": d} for i, j, d in pairs]
    if n_pairs:
        ex = "; ".join(f"{p['a']} ~ {p['b']} ({p['distance']} bits)" for p in pair_recs[:5])
        _warn(warnings, "error", "near_duplicates",
              f"{n_pairs} near-duplicate composite pair(s) across splits (perceptual hash within "
              f"{opts.phash_distance} bits): {ex}", pairs=pair_recs[:50])

    # ---------------------------------------------------------------- pixels
    alpha_hist = np.zeros(256, np.int64)
    for h in acc.alpha_hist.values():
        alpha_hist += h
    alpha = _scalars(acc, "alpha", splits)
    alpha["histogram"] = alpha_hist.tolist()
    alpha["histogram_by_split"] = {s: acc.alpha_hist[s].tolist() for s in splits if s in acc.alpha_hist}
    px = int(alpha_hist.sum())
    alpha["pixels"] = px
    alpha["pixel_shares"] = {
        "transparent": alpha_hist[0] / px if px else None,
        "unknown": alpha_hist[1:255].sum() / px if px else None,
        "opaque": alpha_hist[255] / px if px else None,
    }
    trimap = _scalars(acc, "trimap", splits)
    trimap["checked_samples"] = acc.trimaps_checked
    trimap["inconsistent_samples"] = acc.issues.get("trimap_inconsistent", [0])[0]
    trimap["inconsistent_pixels"] = acc.trimap_bad_pixels

    data = {
        "version": SCHEMA_VERSION,
        "dataset": {
            "path": manifest_loc.rsplit("/", 1)[0] if manifest_loc.endswith("manifest.json") else manifest_loc,
            "manifest": manifest_loc,
            "name": (manifest.recipe or {}).get("name"),
            "recipe_sha256": manifest.recipe_sha256,
            "background_split": bg_policy,
        },
        "options": {k: getattr(opts, k) for k in ("sample", "window", "check_trimaps", "contact", "seed", "verify",
                                                  "phash_distance", "overuse_factor", "overuse_min_uses")},
        "counts": {
            "samples": total,
            "splits": manifest_splits,
            "shards": len(manifest.shards),
            "read": sum(read_by_split.values()),
            "read_by_split": read_by_split,
            "measured": measured,
            "measured_by_split": dict(acc.measured),
            "bad": acc.bad_count,
            "sampled": opts.sample is not None and measured + acc.bad_count < total,
        },
        "shards": shards,
        "integrity": {"checked": checked, "ok": ok, "not_checked": len(manifest.shards) - checked,
                      "problems": problems, "unlisted_files": unlisted},
        "bad_samples": [{"split": s, "key": k, "reason": r} for s, k, r in acc.bad],
        "sizes": _count_sizes(acc),
        "image_members": dict(acc.image_members),
        "alpha_bits": {str(k): v for k, v in acc.alpha_bits.items()},
        "member_bytes": {k: v.summary() for k, v in acc.member_bytes.items()},
        "diversity": {"foreground": fg_div, "background": bg_div, "guided": guided_summary(acc.guided)},
        "alpha": alpha,
        "trimap": trimap,
        "colour": _scalars(acc, "colour", splits),
        "realism": {"implementation": REALISM_IMPL, "analysis_side": ANALYSIS_SIDE, "window": opts.window,
                    "measures": _scalars(acc, "realism", splits)},
        "temporal": {"implementation": TEMPORAL_IMPL, "band_px_at_800": TEMPORAL_BAND_PX,
                     "measures": _scalars(acc, "temporal", splits)},
        "instances": _instances(acc, splits, measured),
        "guidance": _scalars(acc, "guidance", splits),
        "ops": acc.ops.summary(measured),
        "ops_malformed": acc.ops.malformed,
        "meta_extra": {k: p.summary() for k, p in acc.meta_extra.items()},
        "leakage": {
            "foreground": {"shared": len(fg_shared), "items": fg_shared},
            "background": {"shared": len(bg_shared), "policy": bg_policy, "items": bg_shared[:1000]},
            "near_duplicates": {"max_distance": opts.phash_distance, "pairs": n_pairs, "items": pair_recs},
        },
        "issues": {k: {"count": n, "examples": ex} for k, (n, ex) in acc.issues.items()},
        "warnings": sorted(warnings, key=lambda w: {"error": 0, "warning": 1, "info": 2}[w["level"]]),
        "timing": {"seconds": seconds, "samples_per_s": (measured + acc.bad_count) / seconds if seconds else None},
    }
    return _clean(data)


def _instances(acc: Accumulator, splits: list[str], measured: int) -> dict[str, Any]:
    """``samples`` with instance members and ``samples_without``; per sample ``count`` (its
    ``hist`` has one bin per count) and ``overlap_share``; per instance ``occlusion``, ``cut``
    (mean: the share cut by the frame) and ``cut_<side>`` (synth.stats.instances)."""
    out = _scalars(acc, "instances", splits)
    with_instances = int((out.get("count") or {}).get("n") or 0)
    return {"samples": with_instances, "samples_without": measured - with_instances, **out}


def _count_sizes(acc: Accumulator) -> dict[str, Any]:
    out: dict[str, int] = {}
    by_split: dict[str, dict[str, int]] = {}
    for (s, size), n in acc.sizes.items():
        out[size] = out.get(size, 0) + n
        by_split.setdefault(s, {})[size] = n
    return {"all": dict(sorted(out.items(), key=lambda kv: -kv[1])), "by_split": by_split}
