"""Rendering one sample: a pure function of (plan, split, index).

Every random step draws from its own generator derived from (recipe seed, split, index,
step name), so switching one step on or off never changes the draws of the others, and no
sample depends on any other sample, worker or executor.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from augment.compose import composite
from augment.flip import apply_flip, sample_flip
from augment.placement import apply_placement, sample_placement
from augment.resize import CoverCrop, apply_cover_crop, sample_cover_crop
from augment.rotate_crop import apply_rotation, sample_rotation
from augment.trimap import make_trimap, sample_band_px
from shards.codec import decode_alpha, decode_rgb, encode_alpha, encode_rgb, encode_trimap

from .plan import BuildPlan, sample_key, split_code
from .prepare import PreparedBg, PreparedFg
from .sources.imageio import InputError, decode_background, read_bytes

__all__ = ["render_sample", "RenderedSample", "step_rng"]


@dataclass(frozen=True)
class RenderedSample:
    key: str
    members: dict[str, bytes]
    meta: dict[str, Any]


def step_rng(seed: int, split: str, index: int, step: str) -> np.random.Generator:
    """The generator for one random step of one sample (independent across steps)."""
    step_code = int.from_bytes(hashlib.sha256(step.encode()).digest()[:4], "little")
    return np.random.default_rng([seed, split_code(split), index, step_code])


def _choose_background(plan: BuildPlan, split: str, rng: np.random.Generator) -> PreparedBg:
    pool = plan.backgrounds[split]
    return pool[int(rng.integers(len(pool)))]


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


def render_sample(plan: BuildPlan, split: str, index: int) -> RenderedSample:
    """Compose sample `index` of `split` and encode its members (see DESIGN.md, sample format)."""
    recipe = plan.recipe
    seed = recipe.seed
    canvas = (recipe.canvas.height, recipe.canvas.width)
    ops: list[dict[str, Any]] = []

    def rng(step: str) -> np.random.Generator:
        return step_rng(seed, split, index, step)

    fg_item = plan.foreground_for(split, index)
    bg_item = _choose_background(plan, split, rng("background"))
    fg, alpha = _load_foreground(fg_item)

    # Foreground augmentation: the same parameters for F and alpha.
    aug = recipe.foreground_augment
    flip = sample_flip(rng("fg_flip"), p_horizontal=aug.flip_p)
    fg, alpha = apply_flip(flip, fg), apply_flip(flip, alpha)
    ops.append({"op": "flip", "target": "foreground", **flip.to_dict()})
    r = rng("fg_rotation")
    if aug.rotation.max_angle > 0 and r.random() < aug.rotation.p:
        rot = sample_rotation(r, aug.rotation.max_angle)
        fg, alpha = apply_rotation(rot, fg, "image"), apply_rotation(rot, alpha, "alpha")
        ops.append({"op": "rotate_valid_crop", "target": "foreground", **rot.to_dict()})
    if aug.albumentations:
        from augment.aligned import apply_albumentations

        from .albu import build_transform

        out = apply_albumentations(build_transform(aug.albumentations), rng("fg_albumentations"), image=fg, alpha=alpha)
        fg, alpha = out["image"], out["alpha"]
        ops.append({"op": "albumentations", "target": "foreground",
                    "transforms": [s.model_dump() for s in aug.albumentations]})

    # Placement on the canvas.
    pl = recipe.composition.placement
    placement = sample_placement(rng("placement"), fg.shape[:2], canvas, scale=pl.scale,
                                 max_outside=pl.max_outside, anchor=pl.anchor)
    fg_c = apply_placement(placement, fg, canvas, "image")
    alpha_c = apply_placement(placement, alpha, canvas, "alpha")
    ops.append({"op": "place", "target": "foreground", **placement.to_dict()})

    # Background: scale to cover (never stretched), crop, flip.
    bgs = recipe.composition.background
    cover = sample_cover_crop(rng("bg_cover"), bg_item.hw, canvas, zoom=bgs.zoom)
    bg, reduce = _load_background(bg_item, cover.scale)
    if reduce > 1:
        cover = _for_reduced_source(cover, bg.shape[:2])
    bg = apply_cover_crop(cover, bg, "image")
    ops.append({"op": "cover_crop", "target": "background", "decode_reduce": reduce, **cover.to_dict()})
    bg_flip = sample_flip(rng("bg_flip"), p_horizontal=bgs.flip_p)
    bg = apply_flip(bg_flip, bg)
    ops.append({"op": "flip", "target": "background", **bg_flip.to_dict()})

    # Encode the layers first and composite the decoded ones: the stored F and B are exactly
    # the layers the composite was made from.
    out = recipe.output
    fg_bytes = encode_rgb(fg_c, out.layer_format, out.jpeg_quality)
    bg_bytes = encode_rgb(bg, out.layer_format, out.jpeg_quality)
    if out.layer_format == "jpg":
        fg_c, bg = decode_rgb(fg_bytes), decode_rgb(bg_bytes)
    if out.alpha_bits == 8:
        alpha_c = np.rint(alpha_c * 255.0).astype(np.float32) / 255.0
    image = composite(fg_c, alpha_c, bg)

    band = sample_band_px(rng("trimap"), canvas, recipe.trimap.band, reference=recipe.trimap.reference)
    trimap = make_trimap(alpha_c, band)

    key = sample_key(split, index)
    meta = {
        "key": key,
        "split": split,
        "index": index,
        "seed": seed,
        "recipe_sha256": plan.recipe_sha256,
        "size": list(canvas),
        "foreground": {"id": fg_item.id, "source": fg_item.source, "kind": fg_item.kind, "file": fg_item.name,
                       "estimator": fg_item.estimator},
        "background": {"id": bg_item.id, "source": bg_item.source, "file": bg_item.name},
        "ops": ops,
        "trimap": {"band_px": band},
        "post_composite": [],
    }
    members = {
        f"image.{out.image_format}": encode_rgb(image, out.image_format, out.jpeg_quality),
        "alpha.png": encode_alpha(alpha_c, out.alpha_bits),
        "trimap.png": encode_trimap(trimap),
        f"fg.{out.layer_format}": fg_bytes,
        f"bg.{out.layer_format}": bg_bytes,
        "meta.json": json.dumps(meta, sort_keys=True, separators=(",", ":")).encode(),
    }
    return RenderedSample(key, members, meta)
