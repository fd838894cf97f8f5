"""The mergeable statistics of a set of samples: :class:`Accumulator`.

One accumulator per shard is filled by :func:`~synth.stats.shard_scan.scan_shard`
(``add`` per measured sample, ``flush`` at the end); the collector merges the shards'
accumulators in manifest order and :func:`~synth.stats.summarize.summarize` turns the
total into numbers. Memory: per sample its key, split and 64-bit perceptual hash; per
foreground/background id a few counters; everything else is fixed-size.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .diversity import GuidedAcc
from .mergeable import Moments, ScalarAcc, scalar_acc
from .measure import SampleMeasures
from .ops import OpsAcc, ParamAcc, flatten_params

__all__ = ["Accumulator", "ItemUses", "KNOWN_META_KEYS"]

#: Top-level meta.json keys interpreted here; any other key is summarised generically.
KNOWN_META_KEYS = frozenset({
    "key", "split", "index", "seed", "recipe_sha256", "size", "foreground", "background",
    "ops", "trimap", "post_composite", "instances", "guided",
})
_ITEM_KEYS = frozenset({"id", "source", "file", "kind", "estimator"})
_MAX_EXAMPLES = 5
_MAX_BAD = 1000


def _issue(issues: dict[str, list], kind: str, key: str, n: int = 1) -> None:
    rec = issues.setdefault(kind, [0, []])
    rec[0] += n
    if len(rec[1]) < _MAX_EXAMPLES:
        rec[1].append(key)


@dataclass
class ItemUses:
    """One foreground or background id: display fields and uses per split."""

    info: dict[str, Any]
    by_split: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def use(self, split: str, key: str) -> None:
        self.by_split[split] = self.by_split.get(split, 0) + 1
        ex = self.examples.setdefault(split, [])
        if len(ex) < 3:
            ex.append(key)

    def merge(self, other: "ItemUses") -> None:
        for s, n in other.by_split.items():
            self.by_split[s] = self.by_split.get(s, 0) + n
        for s, keys in other.examples.items():
            ex = self.examples.setdefault(s, [])
            ex.extend(keys[: max(0, 3 - len(ex))])


@dataclass
class Accumulator:
    """Mergeable statistics of a set of samples (one shard, or a whole dataset after merging)."""

    measured: Counter = field(default_factory=Counter)
    bad: list[tuple[str, str, str]] = field(default_factory=list)
    bad_count: int = 0
    sizes: Counter = field(default_factory=Counter)
    image_members: Counter = field(default_factory=Counter)
    alpha_bits: Counter = field(default_factory=Counter)
    member_bytes: dict[str, Moments] = field(default_factory=dict)
    scalars: dict[tuple[str, str], ScalarAcc] = field(default_factory=dict)
    alpha_hist: dict[str, np.ndarray] = field(default_factory=dict)
    trimap_bad_pixels: int = 0
    trimaps_checked: int = 0
    fg: dict[str, ItemUses] = field(default_factory=dict)
    bg: dict[str, ItemUses] = field(default_factory=dict)
    fg_sources: Counter = field(default_factory=Counter)
    bg_sources: Counter = field(default_factory=Counter)
    fg_kinds: Counter = field(default_factory=Counter)
    fg_estimators: Counter = field(default_factory=Counter)
    recipe_sha: Counter = field(default_factory=Counter)
    guided: GuidedAcc = field(default_factory=GuidedAcc)  # a guided build's choices (diversity.guided_summary)
    ops: OpsAcc = field(default_factory=OpsAcc)
    meta_extra: dict[str, ParamAcc] = field(default_factory=dict)
    issues: dict[str, list] = field(default_factory=dict)
    keys: list[np.ndarray] = field(default_factory=list)
    splits: list[np.ndarray] = field(default_factory=list)
    phash: list[np.ndarray] = field(default_factory=list)
    thumbs: list[dict[str, Any]] = field(default_factory=list)
    # per-sample values waiting for flush()
    _pending: dict[tuple[str, str], list[float]] = field(default_factory=dict, repr=False)
    _pending_bytes: dict[str, list[float]] = field(default_factory=dict, repr=False)
    _pending_keys: list[str] = field(default_factory=list, repr=False)
    _pending_splits: list[str] = field(default_factory=list, repr=False)
    _pending_hash: list[int] = field(default_factory=list, repr=False)

    # -------------------------------------------------------------- adding
    def add_bad(self, split: str, key: str, reason: str) -> None:
        self.bad_count += 1
        if len(self.bad) < _MAX_BAD:
            self.bad.append((split, key, reason))

    def add(self, split: str, key: str, m: SampleMeasures) -> None:
        """Fold one measured sample of ``split`` into the statistics."""
        if m.error is not None:
            self.add_bad(split, key, m.error)
            return
        self.measured[split] += 1
        h, w = m.hw  # type: ignore[misc]
        self.sizes[(split, f"{w}x{h}")] += 1
        self.image_members[m.image_member] += 1
        self.alpha_bits[m.alpha_bits] += 1
        for name, nb in m.member_bytes.items():
            self._pending_bytes.setdefault(name, []).append(nb)
        pend = self._pending
        for name, v in m.scalars.items():
            lst = pend.get((split, name))
            if lst is None:
                lst = pend[(split, name)] = []
            lst.append(v)
        for name, values in m.per_instance.items():  # one value per instance
            pend.setdefault((split, name), []).extend(values)
        hist = self.alpha_hist.get(split)
        if hist is None:
            self.alpha_hist[split] = m.alpha_hist.copy()  # type: ignore[union-attr]
        else:
            hist += m.alpha_hist
        if not m.has_trimap:
            _issue(self.issues, "missing_trimap", key)
        elif m.trimap_checked:
            self.trimaps_checked += 1
            if m.trimap_inconsistent:
                _issue(self.issues, "trimap_inconsistent", key)
                self.trimap_bad_pixels += m.trimap_inconsistent
        self._add_meta(split, key, m)
        self._pending_keys.append(key)
        self._pending_splits.append(split)
        self._pending_hash.append(m.phash if m.phash is not None else 0)
        if m.thumbs:
            fg = (m.meta or {}).get("foreground") or {}
            self.thumbs.append({"key": key, "split": split, "fg": fg.get("id"), "fg_file": fg.get("file"),
                                **m.thumbs})

    def _add_meta(self, split: str, key: str, m: SampleMeasures) -> None:
        meta = m.meta or {}
        if meta.get("key") != key:
            _issue(self.issues, "meta_key_mismatch", key)
        if meta.get("split") != split:
            _issue(self.issues, "meta_split_mismatch", key)
        size = meta.get("size")
        if size is not None and list(size) != list(m.hw or ()):
            _issue(self.issues, "meta_size_mismatch", key)
        self.recipe_sha[str(meta.get("recipe_sha256"))] += 1
        for what, items, sources in (("foreground", self.fg, self.fg_sources),
                                     ("background", self.bg, self.bg_sources)):
            rec = meta.get(what)
            if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
                _issue(self.issues, f"meta_missing_{what}_id", key)
                continue
            item = items.get(rec["id"])
            if item is None:
                info = {k: rec.get(k) for k in ("source", "file", "kind", "estimator") if k in rec}
                item = items[rec["id"]] = ItemUses(info)
            item.use(split, key)
            sources[(split, str(rec.get("source")))] += 1
            for k, v in rec.items():  # e.g. a background's fit score: summarised generically
                if k not in _ITEM_KEYS:
                    self._extra(f"{what}.{k}", v)
            if what == "foreground":
                self.fg_kinds[str(rec.get("kind"))] += 1
                self.fg_estimators[str(rec.get("estimator"))] += 1
        trimap = meta.get("trimap")
        if isinstance(trimap, dict):
            for k, v in trimap.items():
                if k == "band_px" and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self._pending.setdefault((split, "trimap.band_px"), []).append(float(v))
                else:
                    self._extra(f"trimap.{k}", v)
        self.ops.add_sample("ops", meta.get("ops"))
        self.guided.add(meta.get("guided"), (meta.get("background") or {}).get("id"), meta.get("ops"))
        self.ops.add_sample("post_composite", meta.get("post_composite"))
        for k, v in meta.items():
            if k not in KNOWN_META_KEYS:
                self._extra(k, v)

    def _extra(self, prefix: str, value: Any) -> None:
        for path, v in flatten_params(value, prefix):
            acc = self.meta_extra.get(path)
            if acc is None:
                acc = self.meta_extra[path] = ParamAcc()
            acc.add(v)

    # -------------------------------------------------------------- flush / merge
    def flush(self) -> None:
        """Move pending per-sample values into the mergeable accumulators."""
        for k, values in self._pending.items():
            acc = self.scalars.get(k)
            if acc is None:
                acc = self.scalars[k] = scalar_acc(k[1])
            acc.add_array(np.asarray(values, dtype=np.float64))
        self._pending = {}
        for name, values in self._pending_bytes.items():
            self.member_bytes.setdefault(name, Moments()).add_array(np.asarray(values, dtype=np.float64))
        self._pending_bytes = {}
        if self._pending_keys:
            self.keys.append(np.array(self._pending_keys, dtype=object))
            self.splits.append(np.array(self._pending_splits, dtype=object))
            self.phash.append(np.array(self._pending_hash, dtype=np.uint64))
            self._pending_keys, self._pending_splits, self._pending_hash = [], [], []
        self.ops.flush()
        for p in self.meta_extra.values():
            p.flush()

    def merge(self, other: "Accumulator") -> None:
        """Add ``other`` (flushed) to this accumulator (flushed)."""
        self.flush()
        other.flush()
        self.measured.update(other.measured)
        self.bad.extend(other.bad[: max(0, _MAX_BAD - len(self.bad))])
        self.bad_count += other.bad_count
        for c in ("sizes", "image_members", "alpha_bits", "fg_sources", "bg_sources", "fg_kinds",
                  "fg_estimators", "recipe_sha"):
            getattr(self, c).update(getattr(other, c))
        for name, mo in other.member_bytes.items():
            self.member_bytes.setdefault(name, Moments()).merge(mo)
        for k, acc in other.scalars.items():
            if k in self.scalars:
                self.scalars[k].merge(acc)
            else:
                self.scalars[k] = acc
        for s, hist in other.alpha_hist.items():
            if s in self.alpha_hist:
                self.alpha_hist[s] = self.alpha_hist[s] + hist
            else:
                self.alpha_hist[s] = hist.copy()
        self.trimap_bad_pixels += other.trimap_bad_pixels
        self.trimaps_checked += other.trimaps_checked
        for mine, theirs in ((self.fg, other.fg), (self.bg, other.bg)):
            for i, item in theirs.items():
                if i in mine:
                    mine[i].merge(item)
                else:
                    mine[i] = item
        self.ops.merge(other.ops)
        self.guided.merge(other.guided)
        for path, p in other.meta_extra.items():
            if path in self.meta_extra:
                self.meta_extra[path].merge(p)
            else:
                self.meta_extra[path] = p
        for kind, (n, ex) in other.issues.items():
            rec = self.issues.setdefault(kind, [0, []])
            rec[0] += n
            rec[1].extend(ex[: max(0, _MAX_EXAMPLES - len(rec[1]))])
        self.keys.extend(other.keys)
        self.splits.extend(other.splits)
        self.phash.extend(other.phash)
        self.thumbs.extend(other.thumbs)
