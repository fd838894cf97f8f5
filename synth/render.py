"""Rendering one sample: a pure function of (plan, split, index).

Every random step draws from its own generator (`synth.rng.step_rng`: recipe seed, split,
index, step name), so switching one step on or off never changes the draws of the others, and no
sample depends on any other sample, worker or executor.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from augment.aligned import apply_albumentations
from augment.compose import composite, over
from augment.flip import apply_flip, sample_flip
from augment.framing import calmest, framing_busyness
from augment.group_placement import GroupRelation, content_box, group_placement, sample_group_relation
from augment.placement import apply_placement, cut_sides, sample_placement
from augment.resize import CoverCrop, apply_cover_crop, resize_to, sample_cover_crop
from augment.rotate_crop import apply_rotation, expand_for_cuts, sample_rotation
from augment.trimap import sample_band_px
from shards.codec import decode_alpha, decode_rgb, encode_rgb, encode_trimap

from .albu import build_transform
from .critic.guide import guide_sample
from .instances import instance_members
from .plan import BuildPlan, sample_key
from .prepare import PreparedBg, PreparedFg
from .realism_steps import post_composite, pre_composite
from .rng import step_rng
from .sources.imageio import InputError, decode_background, read_bytes
from .stored_layers import alpha_outputs, layer_members, stored_layers
from .stored_targets import stored_target_members

__all__ = ["augment_foreground", "render_sample", "RenderedSample"]


@dataclass(frozen=True)
class RenderedSample:
    key: str
    members: dict[str, bytes]
    meta: dict[str, Any]


def _load_foreground(item: PreparedFg) -> tuple[np.ndarray, np.ndarray]:
    fg = decode_rgb(read_bytes(item.fg_path))
    alpha = decode_alpha(read_bytes(item.alpha_path))
    return fg, alpha


def _load_background(item: PreparedBg, scale: float) -> tuple[np.ndarray, int]:
    """Decode a background; when it will be shrunk by 2x or more, decode it reduced (DCT scaling)."""
    data = read_bytes(item.path)
    if item.file_sha256 is not None and hashlib.sha256(data).hexdigest() != item.file_sha256:
        raise InputError(item.path, "file changed since the build started (content hash differs)")
    reduce = 1
    for r in (8, 4, 2):
        if scale * r <= 1.0 and min(item.hw) // r >= 16:
            reduce = r
            break
    return decode_background(data, item.path, reduce), reduce


def _for_reduced_source(cover: CoverCrop, hw: tuple[int, int]) -> CoverCrop:
    """The same window for a source decoded at reduced size `hw` (scale grows accordingly)."""
    (sh, sw), (nh, nw) = cover.src_hw, hw
    scale = cover.scale * max(sh / nh, sw / nw)
    return dataclasses.replace(cover, src_hw=(nh, nw), scale=scale)


def _augment_foreground(plan: BuildPlan, item: PreparedFg, rng: Callable[[str], np.random.Generator], tag: str,
                        ops: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Load one foreground and augment it (same parameters for F and alpha).

    Returns (F uint8 (h, w, 3), alpha float32 (h, w)) before placement.
    """
    aug = plan.recipe.foreground_augment
    fg, alpha = _load_foreground(item)
    flip = sample_flip(rng(f"{tag}_flip"), p_horizontal=aug.flip_p)
    fg, alpha = apply_flip(flip, fg), apply_flip(flip, alpha)
    ops.append({"op": "flip", "target": tag, **flip.to_dict()})
    r = rng(f"{tag}_rotation")
    if aug.rotation.max_angle > 0 and r.random() < aug.rotation.p:
        rot = sample_rotation(r, aug.rotation.max_angle)
        if plan.recipe.composition.placement.cut_edges == "border":  # crop only where the frame cuts
            rot = expand_for_cuts(rot, alpha, cut_sides(alpha))
        fg, alpha = apply_rotation(rot, fg, "image"), apply_rotation(rot, alpha, "alpha")
        ops.append({"op": "rotate_valid_crop", "target": tag, **rot.to_dict()})
    if aug.albumentations:
        out = apply_albumentations(build_transform(aug.albumentations), rng(f"{tag}_albumentations"),
                                   image=fg, alpha=alpha)
        fg, alpha = out["image"], out["alpha"]
        ops.append({"op": "albumentations", "target": tag, "transforms": [s.model_dump() for s in aug.albumentations]})
    return fg, alpha


def augment_foreground(plan: BuildPlan, item: PreparedFg, rng: Callable[[str], np.random.Generator], tag: str,
                       ops: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Load one foreground and augment it as a still sample does (flip, rotation,
    albumentations; the same parameters for F and alpha), drawing from ``rng(step)``; the
    ops are appended to ``ops``. Returns (F uint8 (h, w, 3), alpha float32 (h, w) in [0, 1])."""
    return _augment_foreground(plan, item, rng, tag, ops)


def _place(plan: BuildPlan, rng: Callable[[str], np.random.Generator], tag: str, fg: np.ndarray,
           alpha: np.ndarray, scale: tuple[float, float], ops: list[dict[str, Any]],
           background: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Place an augmented foreground on the canvas; with a `background` and framing on, on
    the calmest part of it (augment.framing). Returns (F uint8 canvas, alpha float32 canvas,
    how much F was enlarged)."""
    recipe = plan.recipe
    canvas = (recipe.canvas.height, recipe.canvas.width)
    pl, framing = recipe.composition.placement, recipe.composition.framing
    r = rng(f"{tag}_placement")
    # the first candidate is the draw an unframed build makes
    n = framing.candidates if background is not None else 1
    cut = cut_sides(alpha) if pl.cut_edges == "border" else ()
    candidates = [sample_placement(r, fg.shape[:2], canvas, scale=scale, max_outside=pl.max_outside,
                                   anchor=pl.anchor, cut=cut) for _ in range(n)]
    placement = candidates[0]
    if n > 1:
        busyness = framing_busyness(candidates, alpha, background, reach=framing.reach)
        chosen = calmest(busyness)
        placement = candidates[chosen]
        ops.append({"op": "frame", "target": tag, "candidates": n, "reach": framing.reach, "chosen": chosen,
                    "busyness": [round(float(b), 3) if np.isfinite(b) else None for b in busyness]})
    ops.append({"op": "place", "target": tag, **placement.to_dict(), **({"cut": list(cut)} if cut else {})})
    return (apply_placement(placement, fg, canvas, "image"), apply_placement(placement, alpha, canvas, "alpha"),
            placement.scale)


def _fit_background(plan: BuildPlan, item: PreparedBg, rng: Callable[[str], np.random.Generator],
                    ops: list[dict[str, Any]]) -> tuple[np.ndarray, float]:
    """Fit a background to the canvas (cover-crop, or the naive stretch). Returns (B, enlargement)."""
    recipe = plan.recipe
    canvas = (recipe.canvas.height, recipe.canvas.width)
    spec = recipe.composition.background
    if spec.fit == "stretch":
        bg = resize_to(_load_background(item, 1.0)[0], canvas, "image")
        upscale = max(canvas[0] / item.hw[0], canvas[1] / item.hw[1])
        ops.append({"op": "stretch", "target": "background", "src_hw": list(item.hw)})
    else:
        cover = sample_cover_crop(rng("bg_cover"), item.hw, canvas, zoom=spec.zoom)
        upscale = cover.scale
        bg, reduce = _load_background(item, cover.scale)
        if reduce > 1:
            cover = _for_reduced_source(cover, bg.shape[:2])
        bg = apply_cover_crop(cover, bg, "image")
        ops.append({"op": "cover_crop", "target": "background", "decode_reduce": reduce, **cover.to_dict()})
    flip = sample_flip(rng("bg_flip"), p_horizontal=spec.flip_p)
    ops.append({"op": "flip", "target": "background", **flip.to_dict()})
    return apply_flip(flip, bg), upscale


def _extra_foregrounds(plan: BuildPlan, split: str, primary: int, rng: np.random.Generator) -> list[int]:
    """Positions of additional foregrounds for this sample (none unless the recipe asks)."""
    spec = plan.recipe.composition.multi_foreground
    n = len(plan.foregrounds[split])
    u, k = rng.uniform(), int(rng.integers(spec.min_count - 1, spec.max_count))
    if u >= spec.p or n < 2:
        return []
    others = [i for i in range(n) if i != primary]
    return [int(i) for i in rng.choice(others, size=min(k, len(others)), replace=False)]


def _place_in_group(plan: BuildPlan, rng: Callable[[str], np.random.Generator], tag: str, fg: np.ndarray,
                    alpha: np.ndarray, boxes: list[tuple[int, int, int, int]], ops: list[dict[str, Any]]
                    ) -> tuple[np.ndarray, np.ndarray, GroupRelation]:
    """Place a group member relative to one already on the canvas (augment.group_placement).

    ``boxes``: the content boxes of the members placed so far (this one's is appended).
    Returns (F uint8 canvas, alpha float32 canvas, its relation).
    """
    recipe = plan.recipe
    canvas = (recipe.canvas.height, recipe.canvas.width)
    g = recipe.composition.multi_foreground.group
    rel = sample_group_relation(rng(f"{tag}_group"), len(boxes), weights=(g.side, g.behind, g.border),
                                overlap=g.overlap, side_scale=g.side_scale, depth_scale=g.depth_scale,
                                border_scale=g.border_scale, border_outside=g.border_outside)
    cut = cut_sides(alpha) if recipe.composition.placement.cut_edges == "border" else ()
    box = content_box(alpha) or (0, 0, alpha.shape[0], alpha.shape[1])
    placement = group_placement(rel, alpha.shape[:2], box, canvas, boxes[rel.anchor], cut)
    ops.append({"op": "group", "target": tag, **rel.to_dict()})
    ops.append({"op": "place", "target": tag, **placement.to_dict(), **({"cut": list(cut)} if cut else {})})
    fg_c, alpha_c = apply_placement(placement, fg, canvas, "image"), apply_placement(placement, alpha, canvas, "alpha")
    boxes.append(content_box(alpha_c) or boxes[rel.anchor])
    return fg_c, alpha_c, rel


@dataclass
class _Composed:
    """One composition of a sample (the chosen one of a guided build): what the rest of
    :func:`render_sample` stores."""

    bg_index: int
    ops: list[dict[str, Any]]
    extras: list[int]
    own: list[np.ndarray]
    order: list[int]
    relations: dict[int, dict[str, Any]]
    alpha: np.ndarray
    image: np.ndarray
    post_ops: list[dict[str, Any]]
    layers: dict[str, bytes]  # the fg and bg members (none without output.layers)
    levels: np.ndarray | None  # alpha's 8-bit levels (alpha_bits 8), else None


def _compose(plan: BuildPlan, split: str, fg_index: int, bg_index: int, rng: Callable[[str], np.random.Generator],
             fg: np.ndarray, alpha: np.ndarray, fg_ops: list[dict[str, Any]]) -> _Composed:
    """Compose the augmented foreground (``fg``, ``alpha``, its ``fg_ops``) on background
    ``bg_index``, drawing every other step from ``rng(step)``."""
    recipe = plan.recipe
    canvas = (recipe.canvas.height, recipe.canvas.width)
    ops = list(fg_ops)
    bg_item = plan.backgrounds[split][bg_index]
    # the background's ops are listed after the foregrounds' (its own generators: the order
    # changes no draw)
    bg_ops: list[dict[str, Any]] = []
    bg, bg_upscale = _fit_background(plan, bg_item, rng, bg_ops)
    fg_c, alpha_c, fg_upscale = _place(plan, rng, "foreground", fg, alpha, recipe.composition.placement.scale,
                                       ops, background=bg)
    extras = _extra_foregrounds(plan, split, fg_index, rng("multi_foreground"))
    multi = recipe.composition.multi_foreground
    own = [alpha_c]  # each instance's own alpha on the canvas, by id (0: the primary)
    order = [0]  # instance ids front to back
    relations: dict[int, dict[str, Any]] = {}
    if extras:
        layers = [(fg_c, alpha_c)]
        boxes = [content_box(alpha_c) or (0, 0, canvas[0], canvas[1])]
        r = rng("multi_order")
        for k, pos in enumerate(extras):
            tag = f"foreground{k + 2}"
            f, a = _augment_foreground(plan, plan.foregrounds[split][pos], rng, tag, ops)
            if multi.layout == "group":
                f, a, rel = _place_in_group(plan, rng, tag, f, a, boxes, ops)
                relations[k + 1] = rel.to_dict()
                behind = rel.relation == "behind" or (rel.relation == "side" and bool(r.random() < multi.behind_p))
            else:
                f, a, _ = _place(plan, rng, tag, f, a, multi.scale, ops)
                behind = bool(r.random() < multi.behind_p)
            layers.append((f, a)) if behind else layers.insert(0, (f, a))
            order.append(k + 1) if behind else order.insert(0, k + 1)
            own.append(a)
            ops.append({"op": "over", "target": tag, "behind": behind})
        fg_f, alpha_c = over(layers)
        fg_c = np.clip(np.rint(fg_f * 255.0), 0, 255).astype(np.uint8)

    ops.extend(bg_ops)
    fg_c, bg, realism_ops = pre_composite(rng, recipe, fg_c, alpha_c, bg, fg_upscale=fg_upscale,
                                          bg_upscale=bg_upscale)
    ops.extend(realism_ops)

    # Encode the layers first and composite the decoded ones: the stored F and B are exactly
    # the layers the composite was made from (stored_layers; without output.layers, the ones in memory).
    stored = stored_layers(recipe.output, fg_c, bg, alpha_c)
    image = composite(stored.fg, stored.alpha, stored.bg)
    image, post_ops = post_composite(rng, recipe, image, stored.alpha, stored.fg, stored.bg)
    fmt = recipe.output.layer_format
    return _Composed(bg_index, ops, extras, own, order, relations, stored.alpha, image, post_ops,
                     layer_members(stored, lambda stem: f"{stem}.{fmt}"), stored.levels)


def render_sample(plan: BuildPlan, split: str, index: int) -> RenderedSample:
    """Compose sample `index` of `split` and encode its members (see docs/format.md)."""
    recipe = plan.recipe
    seed = recipe.seed
    canvas = (recipe.canvas.height, recipe.canvas.width)

    def rng(step: str) -> np.random.Generator:
        return step_rng(seed, split, index, step)

    fg_index = plan.foreground_index(split, index)
    fg_item = plan.foregrounds[split][fg_index]
    fg_ops: list[dict[str, Any]] = []
    fg, alpha = _augment_foreground(plan, fg_item, rng, "foreground", fg_ops)  # shared by guided candidates
    guided_meta: dict[str, Any] | None = None
    if recipe.realism.guided is None:
        bg_index = plan.background_index(split, fg_index, rng("background"))
        comp = _compose(plan, split, fg_index, bg_index, rng, fg, alpha, fg_ops)
    else:  # candidates composed from keyed generators of their own; the least detectable kept
        comp, guided_meta = guide_sample(
            plan, split, index, fg_index,
            lambda cand_rng, bg: _compose(plan, split, fg_index, bg, cand_rng, fg, alpha, fg_ops),
            lambda c: (c.image, c.alpha, c.bg_index, c.ops))
    ops, extras, alpha_c, image, post_ops = comp.ops, comp.extras, comp.alpha, comp.image, comp.post_ops
    bg_item = plan.backgrounds[split][comp.bg_index]

    band = sample_band_px(rng("trimap"), canvas, recipe.trimap.band, reference=recipe.trimap.reference)
    trimap, alpha_png = alpha_outputs(alpha_c, comp.levels, recipe.output.alpha_bits, band)

    key = sample_key(split, index)
    background: dict[str, Any] = {"id": bg_item.id, "source": bg_item.source, "file": bg_item.name}
    if split in plan.bg_probs:
        background.update(fit_score=float(plan.bg_scores[split][fg_index, comp.bg_index]),
                          probability=float(plan.bg_probs[split][fg_index, comp.bg_index]))
    meta = {
        "key": key,
        "split": split,
        "index": index,
        "seed": seed,
        "recipe_sha256": plan.recipe_sha256,
        "size": list(canvas),
        "foreground": _fg_meta(fg_item),
        "background": background,
        "ops": ops,
        "trimap": {"band_px": band},
        "post_composite": post_ops,
    }
    if guided_meta is not None:
        meta["guided"] = guided_meta
    if extras:
        meta["extra_foregrounds"] = [_fg_meta(plan.foregrounds[split][pos]) for pos in extras]
    out = recipe.output
    instance_bytes: dict[str, bytes] = {}
    if "instances" in out.targets:
        items = [fg_item] + [plan.foregrounds[split][pos] for pos in extras]
        own, order = comp.own, comp.order
        depths = [order.index(k) for k in range(len(own))]
        instance_bytes, records = instance_members(own, depths, [it.id for it in items], alpha_c, out.alpha_bits)
        placed = {op["target"]: {k: v for k, v in op.items() if k not in ("op", "target")}
                  for op in ops if op["op"] == "place"}
        tags = ["foreground"] + [f"foreground{k + 2}" for k in range(len(extras))]
        meta["instances"] = [{"id": rec.id, "depth": rec.depth, "foreground_id": rec.foreground_id,
                              "target": tags[rec.id], "place": placed[tags[rec.id]],
                              **({"group": comp.relations[rec.id]} if rec.id in comp.relations else {})}
                             for rec in records]
    target_bytes, target_meta = stored_target_members(out.targets, alpha_c, trimap, rng)
    if target_meta:
        meta["targets"] = target_meta
    members = {
        f"image.{out.image_format}": encode_rgb(image, out.image_format, out.jpeg_quality, restart_markers=True),
        "alpha.png": alpha_png,
        "trimap.png": encode_trimap(trimap),
        **comp.layers,
        "meta.json": json.dumps(meta, sort_keys=True, separators=(",", ":")).encode(),
        **instance_bytes,
        **target_bytes,
    }
    return RenderedSample(key, members, meta)


def _fg_meta(item: PreparedFg) -> dict[str, Any]:
    return {"id": item.id, "source": item.source, "kind": item.kind, "file": item.name, "estimator": item.estimator}
