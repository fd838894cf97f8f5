"""Rendering a clip: one sample of ``frames`` frames, each frame a pure function of
(plan, split, clip, frame).

Per clip (:mod:`synth.video.scene`): the foreground and its placement and motion, the
background and its camera, the shutter, the realism decisions. Per frame: the layers at the
frame's poses with motion blur over the exposure (:mod:`synth.video.layers`), the still
build's pre-composite realism steps with the clip's decisions (its generators are the
clip's, so every frame draws the same harmonisation, defocus and sharpness choices) plus a
slow light drift, the composite of the stored layers, then sensor noise (a fixed pattern per
clip plus a fresh part drawn from (seed, split, clip, frame)) and JPEG. Members follow
docs/format.md ("Clip members"); per-frame ops go to ``meta.json["frame_ops"]``.

Two switches express the naive composite (recipes/video_naive.yaml): ``video.decisions: frame``
draws the pre-composite choices from (seed, split, clip, frame) instead of the clip, and
``video.noise_layer: foreground`` adds the fresh noise to the subject's layer only (stored in
``fg_t``; no noise on the composite).
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import cv2
import numpy as np

from augment.colour import linear_to_srgb, srgb_to_linear
from augment.compose import composite
from augment.degrade import add_sensor_noise
from shards.clip_names import frame_member
from shards.codec import encode_rgb, encode_trimap

from ..plan import BuildPlan, sample_key
from ..realism_steps import pre_composite
from ..render import RenderedSample
from ..rng import frame_rng
from ..stored_layers import alpha_outputs, layer_members, stored_layers
from .camera import camera_matrix
from .layers import blur_vector, camera_layer, subject_layers
from .motion import Pose, motion_pose, pose_matrix
from .noise import add_fixed_pattern, fixed_pattern_field, replay_clip_post, split_noise
from .scene import Scene, make_scene

__all__ = ["light_drift_gains", "render_clip", "render_frames"]

_LEVELS = np.arange(256, dtype=np.uint8)


def _pose(scene: Scene, t: float) -> Pose:
    """The subject's pose at ``t``, with the camera's shake (which moves the whole picture)."""
    pose = motion_pose(scene.motion, t)
    if scene.camera.still:
        return pose
    sx, sy = scene.camera.shake_x.at(t), scene.camera.shake_y.at(t)
    return Pose(pose.dx - sx, pose.dy - sy, pose.log_scale, pose.angle)


def _exposure(scene: Scene, t: int, matrix_at, point: tuple[float, float]) -> tuple[np.ndarray, tuple[float, float]]:
    """Frame ``t``'s affine (at the middle of the exposure) and how far ``point`` moves while
    the shutter is open (px; (0, 0) with motion blur off)."""
    half = scene.shutter / 2
    if scene.shutter <= 0:
        return matrix_at(float(t)), (0.0, 0.0)
    return matrix_at(float(t)), blur_vector(matrix_at(t - half), matrix_at(t + half), point)


def light_drift_gains(scene: Scene, t: int) -> np.ndarray:
    """The slow light drift on the subject at frame ``t``: linear-light gains (3,) float64,
    ``exp(drift * (sin(w t + p) + c_k sin(w2 t + p2)))`` with a period of 40-160 frames and a
    small colour part ``c_k``, 1 at every frame with ``video.drift: 0``."""
    drift = scene.plan.recipe.video.drift  # type: ignore[union-attr]
    r = scene.rng_for("light_drift")
    periods, phases, chroma = r.uniform(40, 160, 2), r.uniform(0, 2 * math.pi, 2), r.uniform(-0.3, 0.3, 3)
    w = 2 * math.pi / periods
    base = math.sin(w[0] * t + phases[0]) - math.sin(phases[0])
    tint = math.sin(w[1] * t + phases[1]) - math.sin(phases[1])
    return np.exp(drift * (base + chroma * tint))


def _apply_gains(fg: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """F with linear-light gains per channel (a lookup table per channel)."""
    lin = srgb_to_linear(_LEVELS).astype(np.float32)
    lut = np.stack([linear_to_srgb(np.clip(lin * np.float32(g), 0.0, 1.0)) for g in gains], axis=-1)
    return cv2.LUT(np.ascontiguousarray(fg), lut.reshape(1, 256, 3))


def _frame_layers(scene: Scene, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Frame ``t``'s F, alpha and B on the canvas before the realism steps, and its record."""
    recipe = scene.plan.recipe
    canvas = (recipe.canvas.height, recipe.canvas.width)
    fg, alpha = scene.fg_frame(t)
    pl = scene.placement
    h, w = pl.size_hw
    centre = (pl.left + w / 2.0, pl.top + h / 2.0)
    fg_m, fg_blur = _exposure(scene, t, lambda tau: pose_matrix(_pose(scene, tau), centre, (pl.left, pl.top)),
                              (w / 2.0, h / 2.0))
    fg_c, alpha_c = subject_layers(fg, alpha, fg_m, canvas, fg_blur)
    # the subject's own motion (the camera's shake, which moves it too, is in "camera")
    record: dict[str, Any] = {"t": t, "pose": motion_pose(scene.motion, float(t)).to_list(),
                              "blur": {"foreground": [round(v, 4) for v in fg_blur]}}
    if scene.bg_cover is not None:
        bg = scene.bg_clip_frame(t)
        record["background_frame"] = scene.bg_frame_index(t)
    else:
        # the photo's content moves on the canvas by the inverse of the camera's motion
        bg_m, bg_blur = _exposure(scene, t, lambda tau: cv2.invertAffineTransform(
            camera_matrix(scene.camera, tau, canvas, scene.centre)), tuple(scene.centre))
        bg_m = camera_matrix(scene.camera, float(t), canvas, scene.centre)
        bg = camera_layer(scene.photo, bg_m, canvas, bg_blur)  # type: ignore[arg-type]
        record["camera"] = [round(v, 6) for v in scene.camera.state(float(t))]
        record["blur"]["background"] = [round(v, 4) for v in bg_blur]
    if scene.fg is None:
        record["source_frame"] = scene.source_frame(t)
    return fg_c, alpha_c, bg, record


def _post(scene: Scene, t: int, image: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Sensor noise (a fresh part drawn for frame ``t``, then the clip's fixed pattern) and
    JPEG, recorded so that :func:`synth.video.noise.replay_clip_post` replays them."""
    ops: list[dict[str, Any]] = []
    if scene.noise.sigma > 0 and scene.plan.recipe.video.noise_layer == "composite":  # type: ignore[union-attr]
        fresh, fixed = split_noise(scene.noise, scene.plan.recipe.video.fixed_pattern)  # type: ignore[union-attr]
        seed = int(frame_rng(scene.plan.recipe.seed, scene.split, scene.index, t, "noise").integers(2**63))
        if fresh.sigma > 0 or fresh.denoise != "none":
            op: dict[str, Any] = {"op": "noise", "params": fresh.to_dict(), "seed": seed}
            image = replay_clip_post(image, alpha, [op])
            ops.append(op)
        if fixed.sigma > 0:
            if scene.noise_field is None:
                scene.noise_field = fixed_pattern_field(fixed, scene.noise_seed, image.shape[:2])
            image = add_fixed_pattern(image, fixed, scene.noise_field)
            ops.append({"op": "fixed_pattern_noise", "params": fixed.to_dict(), "seed": scene.noise_seed})
    if scene.jpeg_quality is not None:
        ops.append({"op": "jpeg", "quality": scene.jpeg_quality})
        image = replay_clip_post(image, alpha, ops[-1:])
    return image, ops


def _render_frame(scene: Scene, t: int) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Frame ``t``'s members (``image_{t:03d}.jpg`` ...) and its record for meta.json."""
    recipe = scene.plan.recipe
    video = recipe.video
    fg_c, alpha_c, bg, record = _frame_layers(scene, t)
    def frame_rng_for(step: str) -> np.random.Generator:
        return frame_rng(recipe.seed, scene.split, scene.index, t, step)

    rng_for = frame_rng_for if video.decisions == "frame" else scene.rng_for  # type: ignore[union-attr]
    fg_c, bg, ops = pre_composite(rng_for, recipe, fg_c, alpha_c, bg, fg_upscale=scene.placement.scale,
                                  bg_upscale=scene.bg_upscale)
    if video.drift > 0:  # type: ignore[union-attr]
        gains = light_drift_gains(scene, t)
        fg_c = _apply_gains(fg_c, gains)
        ops.append({"op": "light_drift", "target": "foreground", "gains": [round(float(g), 6) for g in gains]})
    if video.noise_layer == "foreground" and scene.noise.sigma > 0:  # type: ignore[union-attr]
        # a filmed subject's own noise, new every frame, on its layer only (the background's stays frozen)
        seed = int(frame_rng(recipe.seed, scene.split, scene.index, t, "noise").integers(2**63))
        fg_c = add_sensor_noise(scene.noise, fg_c, seed)
        ops.append({"op": "noise", "target": "foreground", "params": scene.noise.to_dict(), "seed": seed})
    out = recipe.output
    stored = stored_layers(out, fg_c, bg, alpha_c)
    image, post_ops = _post(scene, t, composite(stored.fg, stored.alpha, stored.bg), stored.alpha)
    trimap, alpha_png = alpha_outputs(stored.alpha, stored.levels, out.alpha_bits, scene.band_px)
    record.update(ops=ops, post_composite=post_ops)
    members = {
        frame_member("image", t, out.image_format): encode_rgb(image, out.image_format, out.jpeg_quality,
                                                               restart_markers=True),
        frame_member("alpha", t, "png"): alpha_png,
        frame_member("trimap", t, "png"): encode_trimap(trimap),
        **layer_members(stored, lambda stem: frame_member(stem, t, out.layer_format)),
    }
    return members, record


def render_frames(plan: BuildPlan, split: str, index: int, frames: Iterable[int]) -> dict[int, dict[str, bytes]]:
    """Only the given frames of clip ``index`` of ``split`` (their members by frame), each
    byte-identical to the same frame of :func:`render_clip`."""
    scene = make_scene(plan, split, index)
    return {t: _render_frame(scene, t)[0] for t in frames}


def _source_meta(item, fg: bool) -> dict[str, Any]:
    meta = {"id": item.id, "source": item.source, "file": item.name}
    if fg:
        meta.update(kind=item.kind, estimator=item.estimator)
    return meta


def render_clip(plan: BuildPlan, split: str, index: int) -> RenderedSample:
    """Compose clip ``index`` of ``split`` and encode its members: ``clip.json``,
    ``meta.json`` and per frame image, alpha, trimap, fg and bg (docs/format.md)."""
    recipe = plan.recipe
    video = recipe.video
    if video is None:
        raise ValueError("render_clip: the recipe has no video section")
    scene = make_scene(plan, split, index)
    canvas = [recipe.canvas.height, recipe.canvas.width]
    key = sample_key(split, index)
    members: dict[str, bytes] = {}
    records = []
    for t in range(video.frames):
        frame_members, record = _render_frame(scene, t)
        members.update(frame_members)
        records.append(record)
    background = _source_meta(scene.bg_item, fg=False)
    if split in plan.bg_probs:
        background.update(fit_score=float(plan.bg_scores[split][scene.fg_index, scene.bg_index]),
                          probability=float(plan.bg_probs[split][scene.fg_index, scene.bg_index]))
    clip = {"frames": video.frames, "fps": video.fps, "key": key, "size": canvas, "shutter": round(scene.shutter, 6),
            "motion": scene.motion.kind, "camera": "still" if scene.camera.still else "moving",
            "foreground": scene.fg_item.name, "background": scene.bg_item.name,
            "clip": {"foreground": scene.fg_start if scene.fg is None else None,
                     "background": scene.bg_start if scene.bg_cover is not None else None,
                     "stride": video.source_stride}}
    meta = {"key": key, "split": split, "index": index, "seed": recipe.seed, "recipe_sha256": plan.recipe_sha256,
            "size": canvas, "frames": video.frames, "fps": video.fps, "foreground": _source_meta(scene.fg_item, True),
            "background": background, "ops": scene.ops, "motion": scene.motion.to_dict(),
            "camera": scene.camera.to_dict(), "shutter": scene.shutter, "trimap": {"band_px": scene.band_px},
            "noise": {"params": scene.noise.to_dict(), "fixed_pattern_seed": scene.noise_seed,
                      "fixed_share": video.fixed_pattern},
            "frame_ops": records}
    members["clip.json"] = json.dumps(clip, sort_keys=True, separators=(",", ":")).encode()
    members["meta.json"] = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    return RenderedSample(key, members, meta)
