"""A clip's scene: everything drawn and decoded once per clip, before any frame is rendered.

The foreground (a still, augmented and resized once; or a clip, read frame by frame), its
placement and motion, the background (a still photo resized once for the camera, or a
clip with one cover crop) and its camera, the shutter, the trimap band, the noise and
JPEG decisions. Every draw comes from :func:`synth.rng.clip_rng` (seed, split, clip, step),
so a scene, and with it any frame, is a pure function of (plan, split, clip).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from augment.degrade import NoiseParams, sample_noise
from augment.flip import Flip, apply_flip, sample_flip
from augment.placement import Placement, cut_sides, sample_placement
from augment.resize import CoverCrop, apply_cover_crop, resize_to, sample_cover_crop
from augment.trimap import sample_band_px

from ..plan import BuildPlan
from ..prepare import PreparedBg, PreparedFg
from ..render import augment_foreground
from ..rng import clip_rng
from ..sources.imageio import decode_alpha, decode_background, decode_rgb, read_bytes
from .camera import CameraParams, camera_extent, sample_camera
from .motion import MotionParams, sample_motion
from .sources import PreparedClipBg, PreparedClipFg, needed_frames

__all__ = ["Scene", "make_scene"]

RngFor = Callable[[str], np.random.Generator]


@dataclass
class Scene:
    """One clip's per-clip state (see the module docstring). Layers are canvas-ready:
    ``fg`` / ``alpha`` resized to the placement (stills), ``photo`` resized for the camera."""

    plan: BuildPlan
    split: str
    index: int
    rng_for: RngFor
    fg_item: PreparedFg
    bg_item: PreparedBg
    bg_index: int
    fg_index: int
    placement: Placement
    motion: MotionParams
    camera: CameraParams
    shutter: float
    band_px: int
    noise: NoiseParams
    noise_seed: int
    jpeg_quality: int | None
    fg_flip: Flip
    fg_start: int = 0  # first source frame of a foreground clip
    bg_start: int = 0
    fg: np.ndarray | None = None  # still: uint8 (h, w, 3) at the placement's size
    alpha: np.ndarray | None = None  # still: float32 (h, w)
    photo: np.ndarray | None = None  # still background: uint8, covers the camera's extent
    centre: tuple[float, float] = (0.0, 0.0)  # the camera window's centre in `photo` (x, y)
    bg_cover: CoverCrop | None = None  # background clip: its cover crop
    bg_flip: Flip | None = None
    bg_upscale: float = 1.0
    ops: list[dict[str, Any]] = field(default_factory=list)
    noise_field: np.ndarray | None = None  # the fixed-pattern unit field, made at the first frame

    @property
    def frames(self) -> int:
        return self.plan.recipe.video.frames  # type: ignore[union-attr]

    def fg_frame(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame ``t``'s foreground layers at the placement's size: (F uint8 (h, w, 3), alpha
        float32 (h, w)); a clip's frame is read, flipped and resized here."""
        if self.fg is not None and self.alpha is not None:
            return self.fg, self.alpha
        fg, alpha = read_clip_frame(self.fg_item, self.source_frame(t), self.plan.recipe.composition.fg_estimation)
        fg, alpha = apply_flip(self.fg_flip, cast(np.ndarray, fg)), apply_flip(self.fg_flip, alpha)
        return resize_to(fg, self.placement.size_hw, "image"), resize_to(alpha, self.placement.size_hw, "alpha")

    def source_frame(self, t: int) -> int:
        return self.fg_start + t * self.plan.recipe.video.source_stride  # type: ignore[union-attr]

    def bg_frame_index(self, t: int) -> int:
        return self.bg_start + t * self.plan.recipe.video.source_stride  # type: ignore[union-attr]

    def bg_clip_frame(self, t: int) -> np.ndarray:
        """A background clip's frame ``t`` on the canvas (cover crop and flip of the clip)."""
        path = self.bg_item.frames[self.bg_frame_index(t)]  # type: ignore[attr-defined]
        image = decode_background(read_bytes(path), path)
        return apply_flip(self.bg_flip, apply_cover_crop(self.bg_cover, image, "image"))  # type: ignore[arg-type]


def read_clip_frame(item: PreparedFg, k: int, estimator: str | None) -> tuple[np.ndarray | None, np.ndarray]:
    """Source frame ``k`` of a foreground clip: (F uint8 (H, W, 3), alpha float32 (H, W));
    F estimated from the photo for ``image_alpha_clips``; ``estimator=None``: the alpha only
    (F is None)."""
    colour, matte = item.frames[k]  # type: ignore[attr-defined]
    alpha = decode_alpha(read_bytes(matte), matte)
    if estimator is None:
        return None, alpha
    image = decode_rgb(read_bytes(colour), colour)
    if item.kind == "image_alpha_clips":
        from ..fg_estimation import estimate_foreground

        image = estimate_foreground(image, alpha, method=estimator)
    return image, alpha


def _still_background(scene_rng: RngFor, plan: BuildPlan, item: PreparedBg, camera: CameraParams
                      ) -> tuple[np.ndarray, tuple[float, float], float, list[dict[str, Any]]]:
    """The photo resized so that the camera's whole path stays inside it, the window's centre
    (x, y; an integer shift from the canvas centre) and the enlargement."""
    recipe = plan.recipe
    canvas = (recipe.canvas.height, recipe.canvas.width)
    spec = recipe.composition.background
    ex, ey = camera_extent(camera, recipe.video.frames, canvas)  # type: ignore[union-attr]
    ex, ey = ex + 2.0, ey + 2.0
    bh, bw = item.hw
    zoom = float(scene_rng("bg_zoom").uniform(*spec.zoom))
    scale = max(2 * ey / bh, 2 * ex / bw) * zoom
    reduce = next((r for r in (8, 4, 2) if scale * r <= 1.0 and min(item.hw) // r >= 16), 1)
    photo = decode_background(read_bytes(item.path), item.path, reduce)
    target = (max(math.ceil(2 * ey), round(bh * scale)), max(math.ceil(2 * ex), round(bw * scale)))
    photo = resize_to(photo, target, "image")
    flip = sample_flip(scene_rng("bg_flip"), p_horizontal=spec.flip_p)
    photo = apply_flip(flip, photo)
    r = scene_rng("bg_window")
    p0x, p0y = canvas[1] / 2.0, canvas[0] / 2.0
    kx = (math.ceil(ex - p0x), math.floor(target[1] - ex - p0x))
    ky = (math.ceil(ey - p0y), math.floor(target[0] - ey - p0y))
    ox = int(r.integers(kx[0], max(kx) + 1))
    oy = int(r.integers(ky[0], max(ky) + 1))
    ops = [{"op": "camera_photo", "target": "background", "src_hw": list(item.hw), "decode_reduce": reduce,
            "scale": scale, "size_hw": list(target), "centre": [p0x + ox, p0y + oy]},
           {"op": "flip", "target": "background", **flip.to_dict()}]
    return photo, (p0x + ox, p0y + oy), scale, ops


def make_scene(plan: BuildPlan, split: str, index: int) -> Scene:
    """Draw and decode clip ``index`` of ``split``'s per-clip state (see the module docstring)."""
    recipe = plan.recipe
    video = recipe.video
    if video is None:
        raise ValueError("make_scene: the recipe has no video section")
    canvas = (recipe.canvas.height, recipe.canvas.width)

    def rng_for(step: str) -> np.random.Generator:
        return clip_rng(recipe.seed, split, index, step)

    fg_index = plan.foreground_index(split, index)
    fg_item = plan.foregrounds[split][fg_index]
    bg_index = plan.background_index(split, fg_index, rng_for("background"))
    bg_item = plan.backgrounds[split][bg_index]
    ops: list[dict[str, Any]] = []
    pl = recipe.composition.placement
    is_clip = isinstance(fg_item, PreparedClipFg)
    fg_start = 0
    flip = sample_flip(rng_for("foreground_flip"), p_horizontal=recipe.foreground_augment.flip_p)
    if is_clip:
        fg_start = int(rng_for("foreground_start").integers(0, len(fg_item.frames) - needed_frames(recipe) + 1))
        mid = fg_start + (video.frames // 2) * video.source_stride
        _, ref_alpha = read_clip_frame(fg_item, mid, None)
        ref_alpha = apply_flip(flip, ref_alpha)
        fg = alpha = None
        ops.append({"op": "flip", "target": "foreground", **flip.to_dict()})
    else:
        fg, alpha = augment_foreground(plan, fg_item, rng_for, "foreground", ops)
        ref_alpha = alpha
    cut = cut_sides(ref_alpha) if pl.cut_edges == "border" else ()
    placement = sample_placement(rng_for("foreground_placement"), ref_alpha.shape[:2], canvas, scale=pl.scale,
                                 max_outside=pl.max_outside, anchor=pl.anchor, cut=cut)
    ops.append({"op": "place", "target": "foreground", **placement.to_dict(), **({"cut": list(cut)} if cut else {})})
    if fg is not None and alpha is not None:
        fg, alpha = resize_to(fg, placement.size_hw, "image"), resize_to(alpha, placement.size_hw, "alpha")
    h, w = placement.size_hw
    box = (placement.top, placement.left, placement.top + h, placement.left + w)
    m = video.motion
    motion = sample_motion(rng_for("motion"), frames=video.frames, canvas=canvas, box=box, max_speed=m.max_speed,
                           max_accel=m.max_accel, max_scale_rate=m.max_scale_rate,
                           max_rotation_speed=m.max_rotation_speed, enter_exit_p=m.enter_exit_p, still_p=m.still_p,
                           amount=m.clip_scale if is_clip else 1.0)
    shutter = float(rng_for("shutter").uniform(*video.motion_blur.shutter))
    band = sample_band_px(rng_for("trimap"), canvas, recipe.trimap.band, reference=recipe.trimap.reference)
    r = rng_for("noise")
    noise = sample_noise(r, recipe.realism.noise.sigma, p=recipe.realism.noise.p)
    noise_seed = int(r.integers(2**63))
    j = recipe.realism.jpeg
    r = rng_for("jpeg")
    u, q = r.uniform(), int(r.integers(j.quality[0], j.quality[1] + 1))
    scene = Scene(plan, split, index, rng_for, fg_item, bg_item, bg_index, fg_index, placement, motion, CameraParams(),
                  shutter, band, noise, noise_seed, q if u < j.p else None, flip, fg_start=fg_start, fg=fg,
                  alpha=alpha, ops=ops)
    if isinstance(bg_item, PreparedClipBg):
        scene.bg_start = int(rng_for("background_start").integers(0, len(bg_item.frames) - needed_frames(recipe) + 1))
        scene.bg_cover = sample_cover_crop(rng_for("bg_cover"), bg_item.hw, canvas, zoom=recipe.composition.background.zoom)
        scene.bg_flip = sample_flip(rng_for("bg_flip"), p_horizontal=recipe.composition.background.flip_p)
        scene.bg_upscale = scene.bg_cover.scale
        ops += [{"op": "cover_crop", "target": "background", **scene.bg_cover.to_dict()},
                {"op": "flip", "target": "background", **scene.bg_flip.to_dict()}]
    else:
        c = video.camera
        scene.camera = sample_camera(rng_for("camera"), frames=video.frames, canvas=canvas, max_pan=c.max_pan,
                                     max_zoom_rate=c.max_zoom_rate, max_roll=c.max_roll, shake_px=c.shake_px,
                                     still_p=c.still_p)
        scene.photo, scene.centre, scene.bg_upscale, bg_ops = _still_background(rng_for, plan, bg_item, scene.camera)
        ops += bg_ops
    return scene

