"""augment.backdrop: the background's contrast next to the subject, and lowering it."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import distance_transform_edt

from augment.backdrop import backdrop_contrast_factor, contrast_ratio, scale_contrast
from augment.colour import to_lab


def _disc(hw: tuple[int, int], centre: tuple[int, int], radius: float) -> np.ndarray:
    yy, xx = np.mgrid[: hw[0], : hw[1]]
    return (((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) <= radius**2).astype(np.float32)


def _grey(levels: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(levels, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def test_contrast_ratio_is_the_std_of_the_band_outside_over_the_band_inside():
    rng = np.random.default_rng(0)
    fg = _grey(rng.uniform(40, 220, (120, 150)))
    bg = _grey(rng.uniform(90, 160, (120, 150)))
    alpha = _disc((120, 150), (60, 75), 35.0)
    reach = 0.05  # of the long side: 7.5 px; the layers are under 160 px, so no shrinking
    # reference bands with the exact Euclidean distance (OpenCV's 3x3 one is within a few %)
    out = (alpha <= 0.05) & (distance_transform_edt(alpha <= 0.05) <= 7.5)
    inside = (alpha >= 0.95) & (distance_transform_edt(alpha >= 0.95) <= 7.5)
    expected = to_lab(bg)[..., 0][out].std() / to_lab(fg)[..., 0][inside].std()
    assert contrast_ratio(fg, alpha, bg, reach=reach) == pytest.approx(expected, rel=0.03)
    # what lies beyond reach, on either side, does not count
    far_fg, far_bg = fg.copy(), bg.copy()
    far_fg[distance_transform_edt(alpha >= 0.95) > 10] = 0
    far_bg[distance_transform_edt(alpha <= 0.05) > 10] = 255
    assert contrast_ratio(far_fg, alpha, far_bg, reach=reach) == pytest.approx(
        contrast_ratio(fg, alpha, bg, reach=reach), rel=1e-6)


def test_contrast_ratio_is_nan_without_bands_or_subject_contrast():
    rng = np.random.default_rng(1)
    img = _grey(rng.uniform(0, 255, (64, 64)))
    disc = _disc((64, 64), (32, 32), 20.0)
    assert np.isnan(contrast_ratio(img, np.ones((64, 64), np.float32), img))  # no background
    assert np.isnan(contrast_ratio(img, np.zeros((64, 64), np.float32), img))  # no subject
    assert np.isnan(contrast_ratio(np.full_like(img, 128), disc, img))  # a flat subject
    with pytest.raises(ValueError, match="reach"):
        contrast_ratio(img, disc, img, reach=0.0)
    with pytest.raises(ValueError, match="share"):
        contrast_ratio(img, disc[:60], img)
    with pytest.raises(ValueError, match="uint8"):
        contrast_ratio(img.astype(np.float32), disc, img)


@settings(max_examples=25, deadline=None)
@given(ratio=st.floats(0.01, 10.0), target=st.floats(0.05, 4.0))
def test_the_factor_only_ever_lowers_contrast_and_reaches_the_target(ratio, target):
    k = backdrop_contrast_factor(ratio, target)
    assert 0.0 < k <= 1.0
    if ratio > target:
        assert ratio * k == pytest.approx(target, rel=1e-9)
    else:
        assert k == 1.0


def test_factor_of_an_unmeasurable_ratio_is_one_and_target_must_be_positive():
    assert backdrop_contrast_factor(float("nan"), 0.8) == 1.0
    with pytest.raises(ValueError, match="target"):
        backdrop_contrast_factor(2.0, 0.0)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), factor=st.floats(0.2, 1.0))
def test_scale_contrast_scales_the_lightness_spread_and_keeps_mean_light_and_colours(seed, factor):
    rng = np.random.default_rng(seed)
    # a smooth colourful background, away from the ends of the gamut so nothing clips
    small = rng.uniform(60, 190, (6, 8, 3)).astype(np.float32)
    bg = cv2.resize(small, (80, 60), interpolation=cv2.INTER_CUBIC).clip(40, 210).astype(np.uint8)
    alpha = _disc((60, 80), (30, 40), 14.0)
    out = scale_contrast(bg, alpha, factor)
    lab_in, lab_out = to_lab(bg), to_lab(out)
    visible = alpha < 0.5
    # L's spread scales by the factor (uint8 rounding: within half a level)
    assert lab_out[..., 0][visible].std() == pytest.approx(factor * lab_in[..., 0][visible].std(), abs=0.5)
    # the visible mean light is kept; a and b (the colours) barely move
    assert lab_out[..., 0][visible].mean() == pytest.approx(lab_in[..., 0][visible].mean(), abs=0.6)
    assert np.abs(lab_out[..., 1:] - lab_in[..., 1:]).mean() < 1.5


def test_scale_contrast_brings_the_measured_ratio_to_the_target():
    rng = np.random.default_rng(3)
    fg = _grey(rng.uniform(90, 170, (100, 100)))
    bg = cv2.resize(rng.uniform(20, 235, (10, 10, 3)).astype(np.float32), (100, 100),
                    interpolation=cv2.INTER_NEAREST).astype(np.uint8)
    alpha = _disc((100, 100), (50, 50), 25.0)
    ratio = contrast_ratio(fg, alpha, bg)
    assert ratio > 1.0  # a busy backdrop next to a calmer subject
    calmer = scale_contrast(bg, alpha, backdrop_contrast_factor(ratio, 0.7))
    assert contrast_ratio(fg, alpha, calmer) == pytest.approx(0.7, rel=0.05)
    assert np.array_equal(scale_contrast(bg, alpha, 1.0), bg)
    with pytest.raises(ValueError, match="factor"):
        scale_contrast(bg, alpha, 1.5)
