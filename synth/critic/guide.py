"""Composition guided by the composite detector: K candidates per sample, the least detectable kept.

A guided recipe (``realism.guided``, synth.recipe.realism.GuidedSpec) composes every sample
``candidates`` times. Candidate ``k`` draws the steps of the choices in ``redraw`` (default
all of :data:`GUIDED_STEPS`: background, its crop and flip, the subject's placement,
harmonisation, defocus / sharpness, backdrop, noise) from :func:`synth.rng.candidate_rng`
(candidate 0: the sample's own generators, what the unguided recipe draws) and every other
step (foreground choice, flip, rotation, extra subjects, JPEG, trimap) from the sample's own
generators, so all candidates share the subject and its pose. Each candidate's composite is
scored by the pinned detector (synth.critic.score: mean logit of a few boundary patches at the
detector's resolution, one torch thread) and the lowest score wins (ties: the lowest index).
Nothing here depends on another sample: the choice is a pure function of (plan, split, index),
so a guided build is byte-identical on any number of workers.

The diversity guard: a ``diversity.min_share`` fraction of the samples has its background
pinned by a balanced keyed cycle (synth.bg_assignment.pinned_background), the others draw
each candidate's background from the planned assignment (their foreground's row).

The difficulty guard (``keep_difficulty``): a detector is satisfied by easy composites, so
with it only candidates no easier to matte than candidate 0 (synth.critic.difficulty: boundary
contrast not higher, background texture not lower) may win; candidate 0 always may.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from synth.bg_assignment import pinned_background
from synth.critic.difficulty import boundary_difficulty, no_easier
from synth.rng import candidate_rng, step_rng

__all__ = ["CHOICE_STEPS", "GUIDED_STEPS", "candidate_steps", "guide_sample", "redrawn_steps"]

#: The generator steps behind each choice of ``realism.guided.redraw`` (GUIDED_CHOICES).
CHOICE_STEPS: dict[str, frozenset[str]] = {
    "background": frozenset({"background", "bg_cover", "bg_flip"}),
    "placement": frozenset({"foreground_placement"}),
    "harmonize": frozenset({"harmonize"}),
    "defocus": frozenset({"sharpness"}),
    "backdrop": frozenset({"backdrop"}),
    "noise": frozenset({"noise"}),
}
#: The steps a candidate draws afresh by default (every choice); every other step is the sample's own.
GUIDED_STEPS = frozenset().union(*CHOICE_STEPS.values())

C = TypeVar("C")
RngFor = Callable[[str], np.random.Generator]


def redrawn_steps(choices: tuple[str, ...]) -> frozenset[str]:
    """The generator steps of ``realism.guided.redraw`` ``choices`` (:data:`CHOICE_STEPS`)."""
    return frozenset().union(*(CHOICE_STEPS[c] for c in choices))


def candidate_steps(seed: int, split: str, index: int, k: int, steps: frozenset[str] = GUIDED_STEPS) -> RngFor:
    """``rng(step)`` of candidate ``k``: :func:`synth.rng.candidate_rng` for ``steps`` (default
    :data:`GUIDED_STEPS`), the sample's own :func:`synth.rng.step_rng` otherwise (candidate 0:
    always its own)."""
    def rng(step: str) -> np.random.Generator:
        if step in steps:
            return candidate_rng(seed, split, index, step, k)
        return step_rng(seed, split, index, step)

    return rng


def _place(ops: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The subject's placement from a candidate's ops: scale and centre (y, x) as canvas fractions."""
    for op in ops:
        if op.get("op") == "place" and op.get("target") == "foreground":
            (h, w), (ch, cw) = op["size_hw"], op["canvas_hw"]
            return {"scale": round(float(op["scale"]), 4),
                    "centre": [round((op["top"] + h / 2) / ch, 4), round((op["left"] + w / 2) / cw, 4)]}
    return None


def _round(x: float) -> float | None:
    return round(x, 3) if math.isfinite(x) else None


def guide_sample(plan: Any, split: str, index: int, fg_index: int, compose: Callable[[RngFor, int], C],
                 view: Callable[[C], tuple[np.ndarray, np.ndarray, int, list[dict[str, Any]]]]
                 ) -> tuple[C, dict[str, Any]]:
    """Compose sample ``index`` of ``split`` as the recipe's ``realism.guided`` asks.

    ``compose(rng, bg_index)`` composes one candidate on background ``bg_index`` drawing from
    ``rng(step)``; ``view(c)`` gives its (composite uint8 (H, W, 3), alpha float32 (H, W),
    background index, ops). Returns (the chosen candidate, the ``meta.json["guided"]`` record:
    weights' sha256, candidates, chosen index, its score, every candidate's score and background,
    whether the background was pinned, and what the unguided recipe would have drawn; with
    ``keep_difficulty`` also every candidate's (contrast, texture) and whether it could win).
    """
    from .score import load_critic, score_composite

    recipe = plan.recipe
    spec = recipe.realism.guided
    seed = recipe.seed
    critic = load_critic(spec.weights, spec.sha256)
    backgrounds = plan.backgrounds[split]
    pinned = pinned_background(seed, split, index, len(backgrounds), spec.diversity.min_share)
    planned_bg = plan.background_index(split, fg_index, step_rng(seed, split, index, "background"))
    scores: list[float | None] = []
    bg_ids: list[str] = []
    best: tuple[float, int, C] | None = None
    first: C | None = None
    planned_place = None
    steps = redrawn_steps(spec.redraw)
    difficulty: list[tuple[float, float]] = []
    eligible: list[bool] = []
    for k in range(spec.candidates):
        rng = candidate_steps(seed, split, index, k, steps)
        bg = pinned if pinned is not None else plan.background_index(split, fg_index, rng("background"))
        cand = compose(rng, bg)
        image, alpha, bg_index, ops = view(cand)
        raw = score_composite(critic, image, alpha, step_rng(seed, split, index, "guided_patches"), spec.patches)
        score = round(raw, 4) if math.isfinite(raw) else None
        scores.append(score)
        bg_ids.append(backgrounds[bg_index].id)
        if k == 0:
            first, planned_place = cand, _place(ops)
        if spec.keep_difficulty:
            difficulty.append(boundary_difficulty(image, alpha, critic.canvas))
            eligible.append(k == 0 or no_easier(difficulty[k], difficulty[0]))
            if not eligible[k]:
                continue
        if score is not None and (best is None or score < best[0]):
            best = (score, k, cand)
    chosen, cand = (best[1], best[2]) if best is not None else (0, first)
    record = {
        "weights_sha256": critic.sha256,
        "candidates": spec.candidates,
        "chosen": chosen,
        "score": scores[chosen],
        "scores": scores,
        "backgrounds": bg_ids,
        "pinned": pinned is not None,
        "planned": {"background": backgrounds[planned_bg].id, "place": planned_place},
    }
    if steps != GUIDED_STEPS:  # only when some choices stay the sample's own (older builds' bytes kept)
        record["redraw"] = list(spec.redraw)
    if spec.keep_difficulty:  # likewise only when on
        record["difficulty"] = [[_round(c), _round(t)] for c, t in difficulty]
        record["eligible"] = eligible
    return cand, record
