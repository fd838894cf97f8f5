"""The realistic composition steps of one sample, as the recipe configures them.

Pre-composite steps change the layers (F is harmonised toward B, degraded to B's
resolution or sharpness; B is defocused), so the stored fg/bg/alpha still reproduce the
composite exactly. Post-composite steps (veiling glare, noise, JPEG) change only the
composite I; each is recorded in `meta.json["post_composite"]` with everything needed to
replay it (`replay_post_composite`), so the stored image is still derivable from the
stored layers.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from augment.backdrop import backdrop_contrast_factor, contrast_ratio, scale_contrast
from augment.degrade import (
    NoiseParams,
    add_sensor_noise,
    defocus,
    gaussian_blur,
    jpeg_recompress,
    match_resolution,
    match_sharpness_sigma,
    normals_for_draw,
    sample_noise,
)
from augment.degrade.glare import GlareParams, sample_glare, veiling_glare
from augment.estimate import estimate_noise_floor, estimate_sharpness
from augment.harmonize import harmonize_with_details, sample_harmonization

from .recipe import Recipe
from .rng import seeded_rng

__all__ = ["pre_composite", "post_composite", "replay_post_composite"]

RngFor = Callable[[str], np.random.Generator]
_DEFOCUS_REFERENCE = 1024  # defocus radii in the recipe are px at this long side
_FLOOR_ROW_STEP = 2  # the noise compensation reads F's and B's noise floors on every other row of tiles


def pre_composite(rng_for: RngFor, recipe: Recipe, fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, *,
                  fg_upscale: float, bg_upscale: float) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Harmonise F toward B, match resolution, defocus B or match F's sharpness, calm B.

    fg, bg: uint8 (H, W, 3) canvas layers; alpha: float32 (H, W) in [0, 1], read only.
    fg_upscale / bg_upscale: how much each layer was enlarged to reach the canvas (> 1 means
    it lost resolution). Returns (fg, bg, ops) with every applied step and its parameters.
    """
    ops: list[dict[str, Any]] = []
    h_cfg = recipe.harmonization
    harm = sample_harmonization(rng_for("harmonize"), h_cfg.methods, h_cfg.strength, h_cfg.p)
    if harm.method != "none":
        fg, details = harmonize_with_details(harm, fg, alpha, bg)
        ops.append({"op": "harmonize", "target": "foreground", **harm.to_dict(), **details})

    real = recipe.realism
    if real.resolution_match:
        # Both layers end with the resolution of the more enlarged one.
        worst = max(fg_upscale, bg_upscale, 1.0)
        f_factor, b_factor = worst / max(fg_upscale, 1.0), worst / max(bg_upscale, 1.0)
        if f_factor > 1.01:
            fg = match_resolution(fg, f_factor)
            ops.append({"op": "match_resolution", "target": "foreground", "factor": f_factor})
        if b_factor > 1.01:
            bg = match_resolution(bg, b_factor)
            ops.append({"op": "match_resolution", "target": "background", "factor": b_factor})

    r = rng_for("sharpness")
    u_defocus, u_radius, u_match = r.uniform(size=3)
    if u_defocus < real.defocus.p:
        lo, hi = real.defocus.radius
        radius = (lo + (hi - lo) * u_radius) * max(bg.shape[:2]) / _DEFOCUS_REFERENCE
        bg = defocus(bg, radius)
        ops.append({"op": "defocus", "target": "background", "radius_px": radius})
    elif u_match < real.sharpness_match_p:
        target = estimate_sharpness(bg)
        if math.isfinite(target) and target > 0:
            sigma = match_sharpness_sigma(fg, alpha, target)
            if sigma > 0.05:
                fg = gaussian_blur(fg, sigma)
                ops.append({"op": "match_sharpness", "target": "foreground", "sigma": sigma,
                            "target_sharpness": target})

    r = rng_for("backdrop")
    u_apply, u_ratio = r.uniform(size=2)
    if u_apply < real.backdrop.p:
        lo, hi = real.backdrop.ratio
        target = lo + (hi - lo) * u_ratio
        ratio = contrast_ratio(fg, alpha, bg)
        factor = backdrop_contrast_factor(ratio, target, real.backdrop.min_factor)
        if factor < 0.99:
            bg = scale_contrast(bg, alpha, factor)
            ops.append({"op": "backdrop_contrast", "target": "background", "factor": factor,
                        "ratio": ratio, "target_ratio": target})
    return fg, bg, ops


def _noise_compensation(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, limit: float) -> tuple[float, str]:
    """Noise std to add to the cleaner layer's region so F and B carry the same noise."""
    # every other row of tiles: hundreds of tiles still, at half the cost
    sigma_f = estimate_noise_floor(fg, alpha > 0.95, row_step=_FLOOR_ROW_STEP)
    sigma_b = estimate_noise_floor(bg, alpha < 0.05, row_step=_FLOOR_ROW_STEP)
    if not (math.isfinite(sigma_f) and math.isfinite(sigma_b)):
        return 0.0, "none"
    extra = math.sqrt(abs(sigma_b**2 - sigma_f**2))
    target = "foreground" if sigma_b > sigma_f else "background"
    return min(extra, limit), target


def _apply_noise(image: np.ndarray, alpha: np.ndarray, op: dict[str, Any]) -> np.ndarray:
    rng = seeded_rng(op["seed"])
    params = NoiseParams.from_dict(op["params"])
    extra = op.get("compensation_sigma", 0.0)
    if extra > 0:
        weight = alpha if op["compensation_target"] == "foreground" else 1.0 - alpha
    if extra > 0 and params.draw >= 2:  # the compensation's variance added to the sensor noise's
        return add_sensor_noise(params, image, rng, extra_std=weight * np.float32(extra / 255.0))
    if extra > 0:  # draw 1 (recorded before draw 2): the compensation, rounded, then the sensor noise
        noise = normals_for_draw(rng, image.shape, params.draw)
        noise *= np.float32(extra) * weight[..., None]
        noise += image
        np.rint(noise, out=noise)
        np.clip(noise, 0, 255, out=noise)
        image = noise.astype(np.uint8)
    return add_sensor_noise(params, image, rng)


def post_composite(rng_for: RngFor, recipe: Recipe, image: np.ndarray, alpha: np.ndarray, fg: np.ndarray,
                   bg: np.ndarray) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Veiling glare, noise (with optional F/B noise-level compensation) and JPEG
    re-compression of I only."""
    ops: list[dict[str, Any]] = []
    g_cfg = recipe.realism.glare
    if g_cfg.p > 0:  # (off: no draw, so recipes without glare keep their bytes)
        glare = sample_glare(rng_for("glare"), g_cfg.strength, g_cfg.radius, g_cfg.p)
        if glare.strength > 0:
            image = veiling_glare(image, glare)
            ops.append({"op": "glare", "params": glare.to_dict()})
    n_cfg = recipe.realism.noise
    r = rng_for("noise")
    params = sample_noise(r, n_cfg.sigma, p=n_cfg.p)
    if params.sigma > 0:
        op: dict[str, Any] = {"op": "noise", "params": params.to_dict(), "seed": int(r.integers(2**63))}
        if n_cfg.compensate:
            extra, target = _noise_compensation(fg, bg, alpha, n_cfg.max_compensation)
            if extra > 0.25:
                op.update(compensation_sigma=extra, compensation_target=target)
        image = _apply_noise(image, alpha, op)
        ops.append(op)
    j_cfg = recipe.realism.jpeg
    r = rng_for("jpeg")
    u, q = r.uniform(), int(r.integers(j_cfg.quality[0], j_cfg.quality[1] + 1))
    if u < j_cfg.p:
        image = jpeg_recompress(image, q)
        ops.append({"op": "jpeg", "quality": q})
    return image, ops


def replay_post_composite(image: np.ndarray, alpha: np.ndarray, ops: list[dict[str, Any]]) -> np.ndarray:
    """Re-apply recorded post-composite steps (from meta.json) to a composite.

    image: uint8 (H, W, 3), the composite of the stored layers; alpha: float32 (H, W).
    """
    for op in ops:
        if op["op"] == "glare":
            image = veiling_glare(image, GlareParams(**op["params"]))
        elif op["op"] == "noise":
            image = _apply_noise(image, alpha, op)
        elif op["op"] == "jpeg":
            image = jpeg_recompress(image, op["quality"])
        else:
            raise ValueError(f"unknown post-composite step {op['op']!r}")
    return image
