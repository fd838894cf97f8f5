"""Targets a build can store besides the layers, for readers other than this project's loader
(``output.targets``: ``guidance``, ``semantic``, ``detail``; docs/format.md).

The loader makes these afresh every epoch from its crop; stored, they are made once from the
sample's canvas: ``guidance.png`` a coarse mask (:mod:`augment.guidance`, drawn from the
sample's own generator, 8-bit, 255 = inside), ``semantic.png`` the three classes of the stored
trimap (0 background, 1 transition, 2 foreground), ``detail.png`` its transition band (255).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from augment.guidance import apply_guidance, sample_guidance
from augment.trimap_free import detail_band, semantic_classes
from shards.codec import encode_alpha_levels

__all__ = ["STORED_TARGETS", "stored_target_members"]

#: The targets this module stores (``instances`` are stored by :mod:`synth.instances`).
STORED_TARGETS = ("guidance", "semantic", "detail")


def stored_target_members(targets: Iterable[str], alpha: np.ndarray, trimap: np.ndarray,
                          rng: Callable[[str], np.random.Generator]) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The members of the requested stored targets and what ``meta.json`` records of them.

    ``alpha``: the stored alpha, ``float32 (H, W)`` in [0, 1]; ``trimap``: the stored trimap,
    ``uint8 (H, W)``; ``rng(step)``: the sample's keyed generators (``"guidance"`` is drawn).
    """
    wanted = [t for t in STORED_TARGETS if t in set(targets)]
    members: dict[str, bytes] = {}
    meta: dict[str, Any] = {}
    if "guidance" in wanted:
        alpha = np.ascontiguousarray(alpha)
        params = sample_guidance(rng("guidance"), alpha)
        mask = apply_guidance(params, alpha)
        members["guidance.png"] = encode_alpha_levels(np.rint(mask * 255.0).astype(np.uint8))
        meta["guidance"] = params.to_dict()
    if "semantic" in wanted:
        members["semantic.png"] = encode_alpha_levels(semantic_classes(trimap))
    if "detail" in wanted:
        members["detail.png"] = encode_alpha_levels((detail_band(trimap) * 255).astype(np.uint8))
    return members, meta
