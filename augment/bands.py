"""The band along the alpha boundary, and the one measure of the background's busyness there.

Every measure of how a subject sits on its background looks at thin bands on either
side of the outline: the foreground side (``alpha >= 0.95``) and the background side
(``alpha <= 0.05``).  :func:`distance_band` is that band; :func:`boundary_bands` gives both
sides (the realism measures, :mod:`augment.mismatch`); :func:`busyness` is the lightness
std in one side's band (framing picks the calmest placement with it, backdrop compares the
background's to the subject's).  Alpha is ``float32 (H, W)`` in ``[0, 1]``; bands are bool
``(H, W)``.
"""
from __future__ import annotations

import math

import cv2
import numpy as np


__all__ = ["BG_THRESHOLD", "FG_THRESHOLD", "boundary_bands", "busyness", "distance_band", "subject_box"]

FG_THRESHOLD = 0.95  # alpha at or above: the subject's side of the boundary
BG_THRESHOLD = 0.05  # alpha at or below: the background's side
_MIN_BAND = 16  # fewer band pixels than this: busyness not measurable


def distance_band(mask: np.ndarray, width_px: float, margin_px: float | None = None) -> np.ndarray:
    """Pixels of ``mask`` near the nearest pixel outside it (OpenCV's 3x3 L2 distance).

    Args:
        mask: bool-like ``(H, W)``.
        width_px: > 0.
        margin_px: None: every mask pixel at distance ``<= width_px`` (a band that touches
            the boundary); a number >= 0: distances in ``[max(margin_px, 1), margin_px +
            width_px]`` (a ring kept ``margin_px`` off the boundary, e.g. off 3x3 filters'
            reach into mixed pixels).
    Returns:
        bool ``(H, W)``.
    """
    inside = np.asarray(mask).astype(np.uint8)
    # distanceTransform measures the distance to the nearest zero pixel
    dist = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    if margin_px is None:
        return (inside > 0) & (dist <= np.float32(width_px))
    return (dist >= np.float32(max(margin_px, 1.0))) & (dist <= np.float32(margin_px + width_px))


def boundary_bands(
    alpha: np.ndarray,
    band_px: float = 24.0,
    margin_px: float = 3.0,
    fg_threshold: float = FG_THRESHOLD,
    bg_threshold: float = BG_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray]:
    """Foreground and background rings along the alpha boundary.

    The foreground ring holds pixels with ``alpha >= fg_threshold`` at a distance in
    ``[max(margin_px, 1), margin_px + band_px]`` from the nearest pixel below the threshold;
    the background ring likewise with ``alpha <= bg_threshold`` measured from the nearest
    pixel above it.  The margin keeps the 3x3 filters of the measurements off the mixed
    pixels.

    Args:
        alpha: ``float32 (H, W)`` in ``[0, 1]``.
    Returns:
        ``(fg_ring, bg_ring)``, bool ``(H, W)`` each.
    """
    if not (band_px > 0 and margin_px >= 0):
        raise ValueError(f"band_px must be > 0 and margin_px >= 0, got {band_px!r}, {margin_px!r}")
    if not (0.0 <= bg_threshold < fg_threshold <= 1.0):
        raise ValueError(
            f"thresholds must satisfy 0 <= bg_threshold < fg_threshold <= 1, got {bg_threshold!r}, {fg_threshold!r}"
        )
    return (distance_band(alpha >= fg_threshold, band_px, margin_px),
            distance_band(alpha <= bg_threshold, band_px, margin_px))


def busyness(lightness: np.ndarray, alpha: np.ndarray, reach_px: float, *, inside: bool = False) -> float:
    """Std of ``lightness`` in the band ``reach_px`` wide along the subject's outline.

    Outside (``alpha <= 0.05``, the background just around the subject) by default;
    ``inside=True``: the subject's side (``alpha >= 0.95``).

    Args:
        lightness: ``float32 (H, W)``, e.g. CIELAB L (0..100).
        alpha: ``float32 (H, W)`` in ``[0, 1]``, the subject on the same canvas.
        reach_px: band width, px, > 0.
    Returns:
        The std in ``lightness`` units; ``nan`` when the band holds fewer than 16 pixels
        (no subject, or a subject covering nearly all of the canvas).
    """
    if lightness.shape != alpha.shape or lightness.ndim != 2:
        raise ValueError(f"lightness {lightness.shape} and alpha {alpha.shape} must be the same (H, W)")
    if not reach_px > 0:
        raise ValueError(f"reach_px must be > 0, got {reach_px!r}")
    side = alpha >= FG_THRESHOLD if inside else alpha <= BG_THRESHOLD
    if side.all():
        return math.nan  # no boundary on the canvas
    band = distance_band(side, reach_px)
    if np.count_nonzero(band) < _MIN_BAND:
        return math.nan
    return float(lightness[band].std())


def subject_box(alpha: np.ndarray) -> tuple[slice, slice]:
    """Bounding box (rows, columns) of ``alpha > 0``; ValueError when there is no foreground."""
    rows = np.flatnonzero(np.any(alpha > 0, axis=1))
    if rows.size == 0:
        raise ValueError("alpha has no foreground pixels (all zero): nothing to harmonise")
    cols = np.flatnonzero(np.any(alpha[rows[0] : rows[-1] + 1] > 0, axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)
