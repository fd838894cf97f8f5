"""Sensor noise of a clip: a fresh part drawn every frame and a fixed pattern per clip.

A camera's noise is mostly new in every frame (photon and read noise), with a part that
stays put (fixed-pattern noise: pixel-to-pixel gain and offset differences). The fresh part
is the still build's noise step (``augment.degrade.add_sensor_noise``, recorded as a
``noise`` op with a per-frame seed). The fixed part has the same model (signal-dependent
std, luminance/chroma mix, grain) and a unit field drawn once per clip from the clip's seed
(:func:`fixed_pattern_field`, itself made by ``add_sensor_noise`` on a flat grey), so it costs
one field per clip, not one draw per frame; it is recorded as a ``fixed_pattern_noise`` op
and replayed by :func:`replay_clip_post`.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from augment.degrade import NoiseParams, add_sensor_noise

from ..realism_steps import replay_post_composite

__all__ = ["add_fixed_pattern", "fixed_pattern_field", "replay_clip_post", "split_noise"]


def split_noise(params: NoiseParams, fixed_share: float) -> tuple[NoiseParams, NoiseParams]:
    """(fresh part, fixed-pattern part) of a clip's noise: variances ``1 - share`` and
    ``share`` of ``params.sigma**2``; the denoising stays with the fresh part (applied first)."""
    fresh = replace(params, sigma=params.sigma * math.sqrt(1.0 - fixed_share))
    fixed = replace(params, sigma=params.sigma * math.sqrt(fixed_share), denoise="none", denoise_strength=0.0)
    return fresh, fixed


def fixed_pattern_field(params: NoiseParams, seed: int, hw: tuple[int, int]) -> np.ndarray:
    """The clip's unit fixed-pattern field, float32 (H, W, 3), std 1: the luminance/chroma
    mix and grain of ``params``, drawn from ``seed`` (the same for every frame of the clip)."""
    unit = NoiseParams(sigma=1.0, shot_fraction=0.0, chroma=params.chroma, grain_px=params.grain_px)
    grey = np.full((*hw, 3), 0.5, np.float32)
    # one level of noise with no shot part on a flat grey (float: nothing clipped) is the field / 255
    field = add_sensor_noise(unit, grey, int(seed))
    field -= np.float32(0.5)
    field *= np.float32(255.0)
    return field


def add_fixed_pattern(image: np.ndarray, params: NoiseParams, field: np.ndarray) -> np.ndarray:
    """``image`` (uint8 (H, W, 3)) plus the fixed pattern ``field`` (from
    :func:`fixed_pattern_field`) scaled like sensor noise: std ``sigma * sqrt((1 - f) + 2 f x)``
    levels with ``x`` the intensity in [0, 1]."""
    if params.sigma <= 0:
        return image.copy()
    x = image.astype(np.float32) * np.float32(1.0 / 255.0)
    f = params.shot_fraction
    std = np.clip(x, 0.0, 1.0) * np.float32(2.0 * f)
    std += np.float32(1.0 - f)
    np.sqrt(std, out=std)
    std *= np.float32(params.sigma)
    std *= field
    std += image
    return np.clip(np.rint(std), 0, 255).astype(np.uint8)


def replay_clip_post(image: np.ndarray, alpha: np.ndarray, ops: list[dict[str, Any]]) -> np.ndarray:
    """Re-apply a frame's recorded post-composite steps (meta.json ``frame_ops[t]
    ["post_composite"]``): ``fixed_pattern_noise`` here, the still steps by
    :func:`synth.realism_steps.replay_post_composite`. image: uint8 (H, W, 3); alpha: float32 (H, W)."""
    for op in ops:
        if op["op"] == "fixed_pattern_noise":
            params = NoiseParams.from_dict(op["params"])
            image = add_fixed_pattern(image, params, fixed_pattern_field(params, op["seed"], image.shape[:2]))
        else:
            image = replay_post_composite(image, alpha, [op])
    return image
