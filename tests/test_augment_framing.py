"""augment.framing: the background's busyness around a placed subject, and the calmest placement."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from augment.bands import busyness
from augment.framing import calmest, framing_busyness
from augment.placement import Placement, apply_placement, sample_placement


def _disc(hw: tuple[int, int], centre: tuple[int, int], radius: float) -> np.ndarray:
    yy, xx = np.mgrid[: hw[0], : hw[1]]
    return (((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) <= radius**2).astype(np.float32)


def _half_busy_background(hw: tuple[int, int]) -> np.ndarray:
    """Left half a black/white checkerboard (busy), right half flat grey (calm)."""
    yy, xx = np.mgrid[: hw[0], : hw[1]]
    board = np.where(((yy // 8) + (xx // 8)) % 2 == 0, 255, 0).astype(np.uint8)
    grey = np.where(xx < hw[1] // 2, board, 128).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def test_the_calm_side_of_the_background_is_chosen():
    canvas = (256, 256)
    bg = _half_busy_background(canvas)
    alpha = _disc((80, 60), (40, 30), 28.0)
    left = Placement(src_hw=(80, 60), canvas_hw=canvas, scale=1.0, size_hw=(80, 60), top=100, left=20)
    right = Placement(src_hw=(80, 60), canvas_hw=canvas, scale=1.0, size_hw=(80, 60), top=100, left=170)
    busy = framing_busyness([left, right], alpha, bg, reach=0.04)
    assert busy[1] < 1.0 < 20.0 < busy[0]  # flat grey around the right one, the board around the left one
    assert calmest(busy) == 1
    # the measurement at full resolution agrees on the order
    light = cv2.cvtColor(bg.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)[..., 0]
    full = [busyness(light, apply_placement(p, alpha, canvas, "alpha"), 0.04 * 256) for p in (left, right)]
    assert full[1] < 1.0 < 20.0 < full[0]


def test_sampled_candidates_and_errors():
    canvas = (200, 300)
    bg = _half_busy_background(canvas)
    alpha = _disc((120, 90), (60, 45), 40.0)
    rng = np.random.default_rng(3)
    cands = [sample_placement(rng, alpha.shape, canvas, scale=(0.4, 0.6)) for _ in range(6)]
    busy = framing_busyness(cands, alpha, bg)
    assert busy.shape == (6,) and np.isfinite(busy).all()
    # the one kept is as calm as any candidate
    assert busy[calmest(busy)] == busy.min()
    with pytest.raises(ValueError, match="does not fit"):
        framing_busyness(cands, alpha[:100], bg)
    with pytest.raises(ValueError, match="empty"):
        framing_busyness([], alpha, bg)
    with pytest.raises(ValueError, match="reach"):
        framing_busyness(cands, alpha, bg, reach=0.0)


def test_calmest_prefers_measurable_and_earliest():
    assert calmest(np.array([3.0, np.nan, 1.0, 1.0])) == 2
    assert calmest(np.array([np.nan, np.nan])) == 0
    with pytest.raises(ValueError):
        calmest(np.array([]))
