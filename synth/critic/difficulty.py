"""How hard a composite is to matte at the subject's boundary, for the guided build's difficulty guard.

A detector can be satisfied by easy composites: a calm, defocused backdrop that stands well
apart from the subject hides the seam and is also the easiest thing to matte (docs/critic.md,
"What guidance and tuning did to a model"). With ``realism.guided.keep_difficulty`` a candidate
may only win if it is no easier than candidate 0 (what the unguided recipe draws) on both of
two measures, taken from the composite alone at the detector's canvas size:

- **contrast**: mean |L_in − L_out| along the outline (the mixed pixels, or a hard edge's
  pixels), where L_in / L_out are the local means
  of CIELAB lightness on the subject's side (alpha >= 0.95) and the background's side
  (alpha <= 0.05) within a window of a few percent of the long side. Lower is harder.
- **texture**: mean |Laplacian of L| in the background's ring just outside the outline (off
  the mixed pixels). Higher is harder: a defocused backdrop has little.

Pure functions of the pixels: a guided build stays byte-identical on any number of workers.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from augment.bands import BG_THRESHOLD, FG_THRESHOLD, boundary_bands
from augment.colour import to_lab

__all__ = ["boundary_difficulty", "no_easier"]

_MIN_PIXELS = 16  # fewer outline or ring pixels than this: not measurable (NaN)


def boundary_difficulty(image: np.ndarray, alpha: np.ndarray, long_side: int = 384,
                        reach: float = 0.03) -> tuple[float, float]:
    """(contrast, texture) of a composite at its subject's boundary (module docstring).

    image: uint8 (H, W, 3) RGB; alpha: float32 (H, W) in [0, 1]. Measured after an area shrink
    to ``long_side`` (never enlarged); ``reach`` is the local window's half side and the ring's
    width as a fraction of the measured long side. Each value is NaN when the outline or the
    ring has under 16 pixels (no boundary in the picture).
    """
    h, w = alpha.shape
    scale = min(1.0, long_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    light = to_lab(image)[..., 0]
    r = max(2, round(reach * max(alpha.shape)))
    inside = (alpha >= FG_THRESHOLD).astype(np.float32)
    outside = (alpha <= BG_THRESHOLD).astype(np.float32)
    # the outline: the mixed pixels, and a hard edge's pixels (both sides within one pixel)
    near_in = cv2.dilate(inside, np.ones((3, 3), np.uint8)) > 0
    near_out = cv2.dilate(outside, np.ones((3, 3), np.uint8)) > 0
    outline = (near_in & near_out) | ((alpha > BG_THRESHOLD) & (alpha < FG_THRESHOLD))
    contrast = float("nan")
    if outline.sum() >= _MIN_PIXELS:
        k = (2 * r + 1, 2 * r + 1)
        n_in, n_out = cv2.blur(inside, k), cv2.blur(outside, k)
        s_in, s_out = cv2.blur(light * inside, k), cv2.blur(light * outside, k)
        ok = outline & (n_in > 0) & (n_out > 0)
        if ok.sum() >= _MIN_PIXELS:
            contrast = float(np.mean(np.abs(s_in[ok] / n_in[ok] - s_out[ok] / n_out[ok]), dtype=np.float64))
    _, ring = boundary_bands(alpha, band_px=float(r), margin_px=1.0)
    texture = float("nan")
    if ring.sum() >= _MIN_PIXELS:
        texture = float(np.mean(np.abs(cv2.Laplacian(light, cv2.CV_32F))[ring], dtype=np.float64))
    return contrast, texture


def no_easier(candidate: tuple[float, float], reference: tuple[float, float]) -> bool:
    """Whether a candidate's (contrast, texture) is no easier than the reference's: contrast
    not higher and texture not lower. False when the candidate's are not measurable; True on
    a measure the reference could not take."""
    (c, t), (c0, t0) = candidate, reference
    if not (math.isfinite(c) and math.isfinite(t)):
        return False
    return (not math.isfinite(c0) or c <= c0) and (not math.isfinite(t0) or t >= t0)
