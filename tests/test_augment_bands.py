"""augment.bands: the band along the alpha boundary and the busyness measured in it."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import distance_transform_edt

from augment.bands import boundary_bands, busyness
from augment.mismatch import realism_mismatch

from realism_images import soft_disc


def test_boundary_bands_and_small_images():
    alpha = soft_disc()
    fg_ring, bg_ring = boundary_bands(alpha, band_px=10, margin_px=3)
    assert not (fg_ring & bg_ring).any()
    assert np.all(alpha[fg_ring] >= 0.95) and np.all(alpha[bg_ring] <= 0.05)
    tiny = realism_mismatch(np.zeros((12, 12, 3), np.uint8), np.zeros((12, 12), np.float32))
    assert np.isnan(tiny["noise_log_ratio"]) and tiny["fg_pixels"] == 0
    with pytest.raises(ValueError, match="alpha must have shape"):
        realism_mismatch(np.zeros((12, 12, 3), np.uint8), np.zeros((12, 13), np.float32))


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
