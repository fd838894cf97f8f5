"""Backdrop contrast: a background as calm, next to its subject, as real photos show it.

Behind a photographed subject the scene is out of focus, usually less lit than the
subject and veiled by the lens's flare, so its contrast is lower than the subject's.
:func:`contrast_ratio` compares the two where a viewer (or a matting model) does, in
bands along the outline: in real portraits the backdrop's lightness std there is mostly
below the subject's.  Everyday photos used as backgrounds were shot with their own subject
in focus and lit, and keep their contrast, so composited unchanged they give higher ratios
(measured figures: docs/results.md).  Defocus alone does not close that gap: it takes out fine detail, not the large light/dark structure of a scene.
:func:`backdrop_contrast_factor` says by how much to lower the background's contrast so
that the ratio meets a target; :func:`scale_contrast` applies it to the lightness (CIELAB
L about the visible background's mean; a and b, the colours, are kept).  The alpha and
the foreground are untouched.
"""
from __future__ import annotations

import math

import numpy as np

from augment.bands import busyness
from augment.checks import check_alpha, check_rgb
from augment.colour import from_lab, subsample_weighted, to_lab, weighted_mean
from augment.resize import shrink_long_side

__all__ = ["backdrop_contrast_factor", "contrast_ratio", "scale_contrast"]

_SIDE = 160  # statistics on copies shrunk to this long side: contrast at the scale of the subject


def contrast_ratio(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, *, reach: float = 0.04,
                   side: int = _SIDE) -> float:
    """Lightness std of the background just outside the subject over the subject's just inside.

    Both on bands ``reach`` (a fraction of the canvas's long side) wide along the outline:
    ``alpha <= 0.05`` outside, ``alpha >= 0.95`` inside, where a viewer (or a matting
    model) compares the two.  CIELAB L, on copies shrunk to a ``side`` px long side.

    Args:
        fg, bg: ``uint8 (H, W, 3)`` RGB canvas layers.
        alpha: ``float32 (H, W)`` in ``[0, 1]``.
        reach: band width, in ``(0, 0.5]``.
    Returns:
        The ratio (> 0); ``nan`` when either band holds under 16 pixels or the subject's
        band is flat (std under 0.5 L).
    """
    check_rgb(fg, "fg")
    check_rgb(bg, "bg")
    if fg.shape != bg.shape:
        raise ValueError(f"fg {fg.shape} and bg {bg.shape} must share (H, W)")
    check_alpha(alpha, fg.shape[:2])
    if not 0.0 < reach <= 0.5:
        raise ValueError(f"reach must be in (0, 0.5], got {reach!r}")
    a = shrink_long_side(alpha, side, box_first=True)
    reach_px = max(reach * max(a.shape), 1.0)
    sd_b = busyness(to_lab(shrink_long_side(bg, side, box_first=True))[..., 0], a, reach_px)
    sd_f = busyness(to_lab(shrink_long_side(fg, side, box_first=True))[..., 0], a, reach_px, inside=True)
    if not (math.isfinite(sd_b) and math.isfinite(sd_f)) or sd_f < 0.5:
        return math.nan
    return sd_b / sd_f


def backdrop_contrast_factor(ratio: float, target: float, min_factor: float = 0.0) -> float:
    """Gain on the background's contrast that brings ``ratio`` down to ``target``.

    Never above 1: a background already calmer than the target keeps its contrast; never
    below ``min_factor`` (a stronger reduction looks like fog).

    Args:
        ratio: current background/subject contrast ratio (:func:`contrast_ratio`);
            ``nan`` gives 1.
        target: wanted ratio, > 0.
        min_factor: in ``[0, 1]``.
    Returns:
        The factor in ``(0, 1]``.
    """
    if not target > 0:
        raise ValueError(f"target must be > 0, got {target!r}")
    if not 0.0 <= min_factor <= 1.0:
        raise ValueError(f"min_factor must be in [0, 1], got {min_factor!r}")
    if not (math.isfinite(ratio) and ratio > target):
        return 1.0
    return max(target / ratio, min_factor)


def scale_contrast(bg: np.ndarray, alpha: np.ndarray, factor: float) -> np.ndarray:
    """Scale the background's lightness deviations from its visible mean by ``factor``.

    ``L' = m + factor (L - m)`` in CIELAB, with ``m`` the ``(1 - alpha)``-weighted mean L
    (the mean light of what shows); a and b (the colours) are kept.

    Args:
        bg: ``uint8 (H, W, 3)`` RGB.
        alpha: ``float32 (H, W)`` in ``[0, 1]``, the subject on the same canvas.
        factor: in ``(0, 1]``; 1 returns a copy.
    Returns:
        ``uint8 (H, W, 3)``.
    """
    check_rgb(bg, "bg")
    check_alpha(alpha, bg.shape[:2])
    if not (0.0 < factor <= 1.0):
        raise ValueError(f"factor must be in (0, 1], got {factor!r}")
    if factor == 1.0:
        return bg.copy()
    lab = to_lab(bg)
    weight = 1.0 - alpha
    if not float(weight.sum()) > 0:
        weight = None  # the subject covers everything: the whole layer's mean
    mean = weighted_mean(*subsample_weighted(lab, weight))
    lightness = lab[..., 0]
    lightness *= np.float32(factor)
    lightness += np.float32((1.0 - factor) * mean[0])
    return from_lab(lab)
