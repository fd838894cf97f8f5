"""augment.trimap: trimap invariants, band erosion, band width sampling."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from augment.trimap import _edge, alpha_to_uint8, make_trimap, sample_band_px


def _blob_alpha(seed: int, hw: tuple[int, int]) -> np.ndarray:
    """Soft-edged blobs with exact 0 and 1 regions, float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random(hw, dtype=np.float32), (0, 0), max(1.0, min(hw) / 8))
    lo, hi = np.quantile(noise, [0.35, 0.65])
    return np.clip((noise - lo) / max(hi - lo, 1e-6), 0.0, 1.0).astype(np.float32)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 80), w=st.integers(1, 80), band=st.integers(0, 12))
def test_trimap_invariants(seed, h, w, band):
    alpha = _blob_alpha(seed, (h, w))
    a8 = alpha_to_uint8(alpha)
    trimap = make_trimap(alpha, band)
    assert trimap.dtype == np.uint8 and trimap.shape == (h, w)
    assert set(np.unique(trimap)) <= {0, 128, 255}
    assert np.all(trimap[(a8 > 0) & (a8 < 255)] == 128)  # every soft pixel is unknown
    assert np.all(a8[trimap == 255] == 255) and np.all(a8[trimap == 0] == 0)
    if band == 0:
        expected = np.where(a8 == 255, 255, np.where(a8 == 0, 0, 128))
        np.testing.assert_array_equal(trimap, expected)
    else:  # a wider band only grows the unknown region
        assert np.all((make_trimap(alpha, band + 3) == 128)[trimap == 128])
    np.testing.assert_array_equal(make_trimap(a8, band), trimap)  # uint8 alpha: same result


@pytest.mark.parametrize("band", [1, 2, 5, 13])
def test_band_is_euclidean_erosion(band):
    """Definite regions of a soft-edged matte shrink by a disc of radius `band` (exact
    Euclidean erosion, up to a few boundary pixels), like cv2.erode with an elliptical kernel."""
    alpha = np.zeros((160, 200), np.float32)
    cv2.circle(alpha, (100, 80), 50, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 1.5)  # a soft edge: no 0 pixel touches a 255 one
    alpha[alpha > 0.999] = 1.0
    alpha[alpha < 0.001] = 0.0
    alpha[10:40, 10:190] = 0.5
    trimap = make_trimap(alpha, band)
    fg = alpha == 1
    exact_fg = ndimage.distance_transform_edt(fg) > band
    assert np.count_nonzero((trimap == 255) != exact_fg) <= 0.02 * np.count_nonzero(exact_fg) + 4
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    ellipse_fg = cv2.erode(fg.astype(np.uint8), kernel).astype(bool)
    assert np.count_nonzero((trimap == 255) != ellipse_fg) <= 0.04 * np.count_nonzero(ellipse_fg) + 4
    exact_bg = ndimage.distance_transform_edt(alpha == 0) > band
    assert np.count_nonzero((trimap == 0) != exact_bg) <= 0.01 * np.count_nonzero(exact_bg) + 4


@pytest.mark.parametrize("band", [1, 3, 8])
def test_hard_steps_match_two_sided_erosion_within_a_pixel(band):
    """A binary matte (0 next to 255, no soft pixels): the unknown band is the definite
    regions' Euclidean erosion by `band`, to within one pixel, and covers every step."""
    alpha = np.zeros((120, 150), np.float32)
    cv2.rectangle(alpha, (30, 20), (110, 90), 1.0, -1)
    cv2.circle(alpha, (120, 100), 18, 1.0, -1)
    trimap = make_trimap(alpha, band)
    fg, bg = alpha == 1, alpha == 0
    d_fg, d_bg = ndimage.distance_transform_edt(fg), ndimage.distance_transform_edt(bg)
    unknown = trimap == 128
    assert np.all(unknown[(fg & (d_fg <= band)) | (bg & (d_bg <= band))])  # at least the erosion
    assert not np.any(unknown[(fg & (d_fg > band + 1.5)) | (bg & (d_bg > band + 1.5))])  # at most a px more
    step = (fg & ndimage.binary_dilation(bg, np.ones((3, 3)))) | (bg & ndimage.binary_dilation(fg, np.ones((3, 3))))
    assert np.all(unknown[step])


def test_image_border_does_not_erode():
    alpha = np.ones((30, 40), np.float32)
    assert np.all(make_trimap(alpha, 5) == 255)
    assert np.all(make_trimap(np.zeros((30, 40), np.float32), 5) == 0)


def test_make_trimap_errors():
    with pytest.raises(ValueError, match="band_px must be an integer >= 0"):
        make_trimap(np.zeros((4, 4), np.float32), -1)
    with pytest.raises(ValueError, match=r"alpha must be a non-empty 2-D array"):
        make_trimap(np.zeros((4, 4, 3), np.float32), 1)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        make_trimap(np.full((4, 4), 2.0, np.float32), 1)


def test_sample_band_px():
    rng = np.random.default_rng(0)
    at_ref = [sample_band_px(rng, (480, 640)) for _ in range(2000)]
    assert min(at_ref) == 1 and max(at_ref) == 29 and len(set(at_ref)) == 29  # uniform integers 1..29
    big = [sample_band_px(np.random.default_rng(i), (1280, 960), (10, 10)) for i in range(5)]
    assert big == [20] * 5  # scaled by 1280 / 640
    assert sample_band_px(np.random.default_rng(1), (64, 64), (1, 3)) == 1  # at least 1
    assert sample_band_px(np.random.default_rng(7), (300, 500), reference=500) == sample_band_px(
        np.random.default_rng(7), (300, 500), reference=500
    )
    with pytest.raises(ValueError, match="band must satisfy 0 <= low <= high"):
        sample_band_px(rng, (10, 10), (5, 2))
    with pytest.raises(ValueError, match="image_hw must be positive integers"):
        sample_band_px(rng, (0, 10))


@settings(max_examples=80, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 40), w=st.integers(1, 40),
       kind=st.sampled_from(["binary", "soft", "levels"]))
def test_edge_is_the_soft_pixels_and_both_sides_of_every_hard_step(seed, h, w, kind):
    """The band's seed set against its definition, written with scipy: 0 < a < 255, and the 0
    and 255 pixels with a pixel of the other value among their 8 neighbours (inside the image)."""
    rng = np.random.default_rng(seed)
    a = (rng.random((h, w)) < rng.random()).astype(np.float32)
    if kind == "soft":
        a = cv2.GaussianBlur(a, (0, 0), float(rng.uniform(0.3, 3.0)))
        a[a > 0.9], a[a < 0.1] = 1.0, 0.0
    a8 = np.rint(a * 255).astype(np.uint8)
    if kind == "levels":  # definite pixels next to levels one step from the other definite value
        a8 = rng.choice(np.array([0, 1, 2, 128, 253, 254, 255], np.uint8), size=(h, w),
                        p=[0.3, 0.05, 0.05, 0.05, 0.05, 0.2, 0.3])
    fg, bg, eight = a8 == 255, a8 == 0, np.ones((3, 3), bool)
    want = ((a8 > 0) & (a8 < 255)) | (fg & ndimage.binary_dilation(bg, eight)) | (bg & ndimage.binary_dilation(fg, eight))
    np.testing.assert_array_equal(_edge(a8), np.where(want, 255, 0).astype(np.uint8))


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 70), w=st.integers(1, 70),
       inner=st.integers(0, 10), outer=st.integers(0, 10))
def test_two_sided_band_reaches_each_side_by_its_own_width(seed, h, w, inner, outer):
    """Against a whole-image distance to the edge (scipy's exact EDT within a pixel of the
    5x5 chamfer): subject pixels are unknown up to `inner` from the edge, background pixels up
    to `outer`; equal widths are the one-band trimap."""
    alpha = _blob_alpha(seed, (h, w))
    a8 = alpha_to_uint8(alpha)
    got = make_trimap(alpha, inner, outer)
    assert set(np.unique(got)) <= {0, 128, 255} and np.all(got[(a8 > 0) & (a8 < 255)] == 128)
    assert np.all(a8[got == 255] == 255) and np.all(a8[got == 0] == 0)
    np.testing.assert_array_equal(make_trimap(alpha, inner, inner), make_trimap(alpha, inner))
    # each side as the one-band trimap of that side's width, on that side's pixels
    for side, width in ((255, inner), (0, outer)):
        one = make_trimap(alpha, width)
        np.testing.assert_array_equal(got[a8 == side], one[a8 == side])


def test_two_sided_band_on_a_disc_spans_inner_inside_and_outer_outside():
    alpha = np.zeros((200, 200), np.float32)
    cv2.circle(alpha, (100, 100), 60, 1.0, -1)  # a hard edge at radius ~60
    yy, xx = np.mgrid[0:200, 0:200]
    r = np.hypot(yy - 100, xx - 100)
    unknown = make_trimap(alpha, 4, 15) == 128
    assert unknown[(r > 61 + 1) & (r < 60 + 14)].all() and unknown[(r < 60 - 1) & (r > 60 - 3)].all()
    assert not unknown[(r > 60 + 17) | (r < 60 - 6)].any()
    assert abs(r[unknown].min() - (60 - 4.5)) < 1.5 and abs(r[unknown].max() - (60 + 15.5)) < 1.5


def test_two_sided_band_errors():
    with pytest.raises(ValueError, match="outer_px"):
        make_trimap(np.zeros((4, 4), np.float32), 2, -1)
    with pytest.raises(ValueError, match="outer_px"):
        make_trimap(np.zeros((4, 4), np.float32), 2, 1.5)
