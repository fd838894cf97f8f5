"""The build plan: which foregrounds and backgrounds each split uses, and the shard layout.

The plan is computed once in the driver from the prepared items and is everything a worker
needs to render any shard: a shard is a pure function of (plan, shard spec). Splits are
assigned by foreground identity (content hash), so no foreground appears in two splits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .bg_assignment import assignment_matrix, draw_background, fit_scores
from .bg_descriptors import BgDescriptor, FgDescriptor
from .prepare import PreparedBg, PreparedFg
from .recipe import Recipe, SplitSpec
from .rng import cycle_rng, keyed_rank

__all__ = ["ShardSpec", "BuildPlan", "assign_by_fraction", "make_plan", "sample_key", "split_counts"]


def sample_key(split: str, index: int) -> str:
    """WebDataset key of a sample: no dots, sortable, unique in the dataset."""
    return f"{split}_{index:08d}"


def split_counts(n: int, splits: list[SplitSpec]) -> list[int]:
    """Items per split by largest remainder; every split that wants samples gets at least one."""
    exact = [s.fraction * n for s in splits]
    counts = [math.floor(x) for x in exact]
    budget = min(n, round(sum(exact)))
    order = sorted(range(len(splits)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order:
        if sum(counts) >= budget:
            break
        counts[i] += 1
    for i, s in enumerate(splits):  # a split asking for samples must not be left empty
        if s.samples > 0 and counts[i] == 0:
            donor = max(range(len(splits)), key=lambda j: counts[j])
            if counts[donor] > 1:
                counts[donor] -= 1
                counts[i] = 1
    return counts


def assign_by_fraction(ids: list[str], splits: list[SplitSpec], seed: int, salt: str) -> dict[str, list[str]]:
    """Partition ids into splits by fraction, in an order that is a pure function of (seed, id).

    Sorting by a keyed hash makes the assignment independent of listing order; ids beyond the
    fractions' sum are left out. Returns split name -> sorted ids.
    """
    ranked = sorted(set(ids), key=lambda i: keyed_rank(salt, seed, i))
    out: dict[str, list[str]] = {}
    start = 0
    for spec, count in zip(splits, split_counts(len(ranked), splits)):
        out[spec.name] = sorted(ranked[start:start + count])
        start += count
    return out


@dataclass(frozen=True)
class ShardSpec:
    """Samples [first, first + count) of `split`, written as `{split}-{index:06d}.tar`."""

    split: str
    index: int
    first: int
    count: int

    @property
    def filename(self) -> str:
        return f"{self.split}-{self.index:06d}.tar"


@dataclass(frozen=True)
class BuildPlan:
    """Everything needed to render any sample: recipe, prepared items per split, shard layout."""

    recipe: Recipe
    recipe_sha256: str
    foregrounds: dict[str, tuple[PreparedFg, ...]]
    backgrounds: dict[str, tuple[PreparedBg, ...]]
    samples: dict[str, int]
    shards: tuple[ShardSpec, ...]
    # Context-aware background choice: per split, (n_fg, n_bg) fit scores and row-stochastic
    # probabilities (absent in `random` mode).
    bg_scores: dict[str, np.ndarray] = field(default_factory=dict)
    bg_probs: dict[str, np.ndarray] = field(default_factory=dict)

    def shards_of(self, split: str) -> list[ShardSpec]:
        return [s for s in self.shards if s.split == split]

    def foreground_index(self, split: str, index: int) -> int:
        """Position (in `foregrounds[split]`) of sample `index`'s foreground: every foreground
        once per cycle, cycles freshly shuffled. Balanced reuse (counts differ by at most one)
        and still a pure function of the index."""
        n = len(self.foregrounds[split])
        cycle, pos = divmod(index, n)
        perm = cycle_rng(self.recipe.seed, split, cycle).permutation(n)
        return int(perm[pos])

    def foreground_for(self, split: str, index: int) -> PreparedFg:
        return self.foregrounds[split][self.foreground_index(split, index)]

    def background_index(self, split: str, fg_index: int, rng: np.random.Generator) -> int:
        """Draw a background position for foreground `fg_index` of `split` with `rng`."""
        probs = self.bg_probs.get(split)
        if probs is None:
            return int(rng.integers(len(self.backgrounds[split])))
        return draw_background(rng, probs[fg_index])


def make_plan(recipe: Recipe, recipe_sha: str, fgs: list[PreparedFg], bgs: list[PreparedBg],
              limit: int | None = None, samples_per_shard: int | None = None) -> BuildPlan:
    """Assign items to splits and lay out shards. Raises ValueError when a split has no items."""
    fg_by_id = {f.id: f for f in fgs}  # duplicates (same content twice) collapse to one item
    bg_by_id = {b.id: b for b in bgs}
    fg_split = assign_by_fraction(list(fg_by_id), recipe.splits, recipe.seed, "fg")
    if recipe.background_split == "disjoint":
        bg_split = assign_by_fraction(list(bg_by_id), recipe.splits, recipe.seed, "bg")
    else:
        shared = sorted(bg_by_id)
        bg_split = {s.name: shared for s in recipe.splits}

    per_shard = samples_per_shard or recipe.output.samples_per_shard
    foregrounds, backgrounds, samples, shards = {}, {}, {}, []
    for spec in recipe.splits:
        n = spec.samples if limit is None else min(spec.samples, limit)
        samples[spec.name] = n
        foregrounds[spec.name] = tuple(fg_by_id[i] for i in fg_split[spec.name])
        backgrounds[spec.name] = tuple(bg_by_id[i] for i in bg_split[spec.name])
        if n == 0:
            continue
        if not foregrounds[spec.name]:
            raise ValueError(f"split {spec.name!r}: no foregrounds assigned ({len(fg_by_id)} usable in total); "
                             "add foregrounds or change the split fractions")
        if not backgrounds[spec.name]:
            raise ValueError(f"split {spec.name!r}: no backgrounds assigned ({len(bg_by_id)} usable in total)")
        for k, first in enumerate(range(0, n, per_shard)):
            shards.append(ShardSpec(spec.name, k, first, min(per_shard, n - first)))
    bg_scores, bg_probs = {}, {}
    choice = recipe.composition.background_choice
    if choice.mode == "context":
        canvas = (recipe.canvas.height, recipe.canvas.width)
        for split, n in samples.items():
            if n == 0:
                continue
            scores = context_scores(foregrounds[split], backgrounds[split], canvas, choice.weights.model_dump())
            bg_scores[split] = scores
            bg_probs[split] = assignment_matrix(scores, choice.temperature, choice.balance,
                                                max_share=choice.max_share)
    return BuildPlan(recipe, recipe_sha, foregrounds, backgrounds, samples, tuple(shards), bg_scores, bg_probs)


def context_scores(fgs: tuple[PreparedFg, ...], bgs: tuple[PreparedBg, ...], canvas_hw: tuple[int, int],
                   weights: dict[str, float] | None = None) -> np.ndarray:
    """(n_fg, n_bg) fit scores from the cached descriptors (higher fits better).

    `weights` maps fit-score terms (light, contrast, colour, temperature, illuminant, clutter,
    resolution) to their weights; missing ones keep `fit_scores`' defaults.
    """
    kwargs = {f"w_{name}": value for name, value in (weights or {}).items()}
    missing = [i.name for i in (*fgs, *bgs) if i.descriptor is None]
    if missing:
        raise ValueError(f"no descriptor for {missing[0]} (prepared without one); clear the cache and rebuild")
    bg_descs = [BgDescriptor(**b.descriptor) for b in bgs]
    return np.stack([fit_scores(FgDescriptor(**f.descriptor), bg_descs, canvas_hw, **kwargs) for f in fgs])
