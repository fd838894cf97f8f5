"""Synthetic images for background-choice tests: plain walls, clutter, lit scenes, a matted subject."""
from __future__ import annotations

import cv2
import numpy as np


def wall(rgb, size=(200, 240), seed=0):
    """A smooth, gently lit wall of colour `rgb` with faint noise."""
    rng = np.random.default_rng(seed)
    h, w = size
    ramp = np.linspace(-8, 8, w, dtype=np.float32)[None, :, None]
    img = np.asarray(rgb, np.float32)[None, None, :] + ramp + rng.normal(0, 1.0, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def cluttered_wall(rgb, size=(200, 240), seed=0):
    """Many small high-contrast objects whose colours average to `rgb`."""
    rng = np.random.default_rng(seed)
    h, w = size
    img = np.asarray(wall(rgb, size, seed), np.float32)
    for _ in range(120):
        d = rng.uniform(-70, 70) + rng.uniform(-15, 15, 3)  # mostly luminance contrast
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        s = int(rng.integers(3, 14))
        for sign in (1, -1):  # pairs of opposite colour offsets keep the mean
            xx = min(w - 1, x + (0 if sign > 0 else 2 * s))
            cv2.rectangle(img, (xx, y), (xx + s, y + s), tuple(float(v) for v in np.asarray(rgb) + sign * d), -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def fg_on_matte(rgb, size=(160, 120)):
    h, w = size
    fg = wall(rgb, size, seed=9)
    alpha = np.zeros((h, w), np.float32)
    cv2.ellipse(alpha, (w // 2, h // 2), (w // 3, h // 3), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 2)
    fg[alpha == 0] = (0, 255, 0)  # garbage outside the matte must not count
    return fg, alpha


def lit_scene(albedo, gain, size=(200, 240), seed=0):
    """A scene lit by a coloured light: sRGB uint8 of ``(0.6 albedo + 0.35 texture) * gain * 0.8``.

    The reflectance is a flat colour `albedo` (linear, in [0, 1]) plus an achromatic smooth
    texture, so its edges are grey and its mean colour is `albedo`'s; `gain` is the light.
    """
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.uniform(0, 1, size).astype(np.float32), (0, 0), 3)
    tex = (tex - tex.min()) / (tex.max() - tex.min())
    lin = (0.6 * np.asarray(albedo)[None, None, :] + 0.35 * tex[..., None]) * np.asarray(gain) * 0.8
    lin = np.clip(lin, 0, 1)
    srgb = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.clip(srgb * 255 + 0.5, 0, 255).astype(np.uint8)


def chroma(gain):
    return np.log(gain[0] / gain[1]), np.log(gain[2] / gain[1])


WARM_DARK, WARM_BRIGHT = (110, 70, 40), (235, 200, 160)
COOL_DARK, COOL_BRIGHT = (35, 60, 105), (170, 205, 240)
NEUTRAL = (128, 128, 128)
