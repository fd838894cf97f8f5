"""augment.framing: the background's busyness around a placed subject, and the calmest placement."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import distance_transform_edt

from augment.bands import busyness
from augment.framing import calmest, framing_busyness
from augment.placement import Placement, apply_placement, sample_placement


def _disc(hw: tuple[int, int], centre: tuple[int, int], radius: float) -> np.ndarray:
    yy, xx = np.mgrid[: hw[0], : hw[1]]
    return (((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) <= radius**2).astype(np.float32)


def test_busyness_is_the_std_of_the_band_outside_the_subject():
    rng = np.random.default_rng(0)
    lightness = rng.uniform(0, 100, (64, 80)).astype(np.float32)
    alpha = _disc((64, 80), (30, 40), 12.0)
    reach = 5.0
    # reference band with the exact Euclidean distance; OpenCV's 3x3 distance is within
    # a few percent of it, so the band differs only in pixels right at its outer edge
    dist = distance_transform_edt(alpha <= 0.05)
    exact = lightness[(alpha <= 0.05) & (dist <= reach)].std()
    assert busyness(lightness, alpha, reach) == pytest.approx(exact, rel=0.03)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), shift=st.floats(-50, 50), gain=st.floats(0.2, 3.0))
def test_busyness_ignores_the_subject_and_what_lies_beyond_reach(seed, shift, gain):
    rng = np.random.default_rng(seed)
    lightness = rng.uniform(0, 100, (48, 48)).astype(np.float32)
    alpha = _disc((48, 48), (24, 24), 9.0)
    base = busyness(lightness, alpha, 4.0)
    far = distance_transform_edt(alpha <= 0.05) > 7.0
    changed = lightness.copy()
    changed[far] = rng.uniform(0, 100, int(far.sum()))
    changed[alpha > 0.5] = 0.0  # under the subject: not background
    assert busyness(changed, alpha, 4.0) == pytest.approx(base, rel=1e-5)
    # a std: blind to an offset, proportional to a gain
    assert busyness(lightness + np.float32(shift), alpha, 4.0) == pytest.approx(base, rel=1e-3, abs=1e-3)
    assert busyness(lightness * np.float32(gain), alpha, 4.0) == pytest.approx(base * gain, rel=1e-3)


def test_busyness_of_a_flat_background_is_zero_and_nan_without_a_band():
    alpha = _disc((40, 40), (20, 20), 8.0)
    assert busyness(np.full((40, 40), 37.0, np.float32), alpha, 3.0) == 0.0
    assert np.isnan(busyness(np.zeros((40, 40), np.float32), np.ones((40, 40), np.float32), 3.0))
    assert np.isnan(busyness(np.zeros((40, 40), np.float32), np.zeros((40, 40), np.float32), 3.0))
    with pytest.raises(ValueError, match="reach_px"):
        busyness(np.zeros((40, 40), np.float32), alpha, 0.0)
    with pytest.raises(ValueError, match="same"):
        busyness(np.zeros((40, 41), np.float32), alpha, 3.0)


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
