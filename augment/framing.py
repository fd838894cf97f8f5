"""Framing: which part of the background the subject stands against.

A photographer puts the subject against a calm part of the scene: a strong edge, a
lamp or another person cut by the subject's outline makes a confusing picture, and
for a matting model an ambiguous one (which side of that edge is the subject?).  A
composite that drops the subject at a uniformly random position does this often.
:func:`augment.bands.busyness` measures the luminance contrast of the background in a band
just outside the subject's outline; a caller samples a few placements and keeps the
calmest (:func:`calmest`), which leaves every position possible but favours the ones
a camera would frame.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from augment.bands import busyness
from augment.checks import check_array, check_rgb
from augment.colour import to_lab
from augment.placement import Placement, apply_placement

__all__ = ["calmest", "framing_busyness"]


def framing_busyness(
    placements: Sequence[Placement],
    alpha: np.ndarray,
    background: np.ndarray,
    *,
    reach: float = 0.04,
    side: int = 160,
) -> np.ndarray:
    """:func:`augment.bands.busyness` (outside the outline) for each candidate placement of one foreground.

    Everything is measured on copies shrunk to a ``side`` px long side (area average):
    what matters is contrast at the scale of the subject, and each candidate costs
    well under a millisecond.

    Args:
        placements: candidates from :func:`augment.placement.sample_placement`, all for
            ``alpha`` and the background's canvas.
        alpha: ``float32 (h, w)`` in ``[0, 1]``, the foreground's alpha before placement.
        background: ``uint8 (H, W, 3)`` RGB, the background fitted to the canvas.
        reach: band width as a fraction of the canvas's long side, in ``(0, 0.5]``.
        side: long side of the working copies, px.
    Returns:
        ``float64 (len(placements),)``, L std per candidate (``nan``: not measurable).
    """
    if not placements:
        raise ValueError("placements must not be empty")
    check_rgb(background, "background")
    if not 0 < reach <= 0.5:
        raise ValueError(f"reach must be in (0, 0.5], got {reach!r}")
    if side < 16:
        raise ValueError(f"side must be >= 16, got {side!r}")
    check_array(alpha)
    canvas = background.shape[:2]
    for p in placements:
        if tuple(p.canvas_hw) != canvas or tuple(p.src_hw) != alpha.shape[:2]:
            raise ValueError(f"placement for {p.src_hw} on {p.canvas_hw} does not fit alpha {alpha.shape[:2]} "
                             f"on background {canvas}")
    f = min(1.0, side / max(canvas))
    small_hw = (max(1, round(canvas[0] * f)), max(1, round(canvas[1] * f)))
    small = cv2.resize(background, small_hw[::-1], interpolation=cv2.INTER_AREA)
    lightness = to_lab(small)[..., 0]
    reach_px = max(reach * max(small_hw), 1.0)
    out = np.empty(len(placements), np.float64)
    for i, p in enumerate(placements):
        size = (max(1, round(p.size_hw[0] * f)), max(1, round(p.size_hw[1] * f)))
        shrunk = Placement(src_hw=p.src_hw, canvas_hw=small_hw, scale=p.scale * f, size_hw=size,
                           top=math.floor(p.top * f), left=math.floor(p.left * f))
        out[i] = busyness(lightness, apply_placement(shrunk, alpha, small_hw, "alpha"), reach_px)
    return out


def calmest(busyness: np.ndarray) -> int:
    """Index of the calmest candidate (lowest busyness; ``nan`` counts as worst, ties go to
    the earliest, so the first candidate wins when nothing can be measured)."""
    b = np.asarray(busyness, np.float64)
    if b.ndim != 1 or b.size == 0:
        raise ValueError(f"busyness must be a non-empty 1-D array, got shape {b.shape}")
    return int(np.argmin(np.where(np.isfinite(b), b, np.inf))) if np.isfinite(b).any() else 0
