"""augment.targets and augment.resize: interpolation per kind, aspect-preserving resize, cover crop."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.resize import (
    area_shrink,
    shrink_long_side,
    CoverCrop,
    apply_cover_crop,
    resize_by_scale,
    resize_long_side,
    resize_short_side,
    resize_to,
    sample_cover_crop,
    scaled_hw,
)
from augment.checks import check_kind
from augment.targets import interpolation


def test_interpolation_per_kind():
    assert interpolation("image", shrinking=True) == cv2.INTER_AREA
    assert interpolation("alpha", shrinking=True) == cv2.INTER_AREA
    assert interpolation("image", shrinking=False) == cv2.INTER_LINEAR
    assert interpolation("alpha", shrinking=False) == cv2.INTER_LINEAR
    assert interpolation("trimap", shrinking=True) == cv2.INTER_NEAREST
    assert interpolation("trimap", shrinking=False) == cv2.INTER_NEAREST
    assert check_kind("alpha") == "alpha"
    with pytest.raises(ValueError, match=r"kind must be one of \('image', 'alpha', 'trimap'\), got 'mask'"):
        interpolation("mask", shrinking=True)  # type: ignore[arg-type]


def _smooth_image(rng: np.random.Generator, hw: tuple[int, int], sigma: float = 8.0) -> np.ndarray:
    img = cv2.GaussianBlur(rng.random((*hw, 3), dtype=np.float32), (0, 0), sigma)
    return cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def _area_weights(n: int, out_n: int) -> np.ndarray:
    """Exact area-resampling matrix (out_n, n): output pixel i averages [i·n/out_n, (i+1)·n/out_n]."""
    edges = np.arange(out_n + 1) * (n / out_n)
    lo, hi = edges[:-1, None], edges[1:, None]
    k = np.arange(n)[None, :]
    overlap = np.clip(np.minimum(hi, k + 1) - np.maximum(lo, k), 0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("scale", [0.37, 0.5, 0.93, 1.7])
def test_resize_by_scale_matches_reference(scale):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (61, 83, 3), dtype=np.uint8)
    alpha = rng.random((61, 83), dtype=np.float32)
    trimap = rng.choice(np.array([0, 128, 255], np.uint8), size=(61, 83))
    h, w = scaled_hw((61, 83), scale)
    smooth = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    np.testing.assert_array_equal(resize_by_scale(img, scale, "image"), cv2.resize(img, (w, h), interpolation=smooth))
    out_a = resize_by_scale(alpha, scale, "alpha")
    assert out_a.dtype == np.float32 and 0 <= out_a.min() and out_a.max() <= 1
    if scale < 1:  # exact area average (OpenCV's own weights are off by up to ~4e-3)
        ref = _area_weights(61, h) @ alpha.astype(np.float64) @ _area_weights(83, w).T
        np.testing.assert_allclose(out_a, ref, atol=1e-3)
        ones = resize_by_scale(np.ones((61, 83), np.float32), scale, "alpha")
        np.testing.assert_allclose(ones, 1.0, atol=1e-6)
    else:
        np.testing.assert_array_equal(out_a, cv2.resize(alpha, (w, h), interpolation=smooth))
    out_t = resize_by_scale(trimap, scale, "trimap")
    np.testing.assert_array_equal(out_t, cv2.resize(trimap, (w, h), interpolation=cv2.INTER_NEAREST_EXACT))
    assert set(np.unique(out_t)) <= {0, 128, 255}


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 400), w=st.integers(1, 400), scale=st.floats(0.05, 0.999))
def test_alpha_area_shrink_keeps_definite_values(h, w, scale):
    """A definite alpha (0 or 1) stays exactly definite at 8 bits after shrinking."""
    alpha = np.zeros((h, w), np.float32)
    alpha[:, : w // 2] = 1.0
    out = resize_by_scale(alpha, scale, "alpha")
    assert out.max() <= 1.0 and out.min() >= 0.0
    full = resize_by_scale(np.ones((h, w), np.float32), scale, "alpha")
    assert np.abs(full - 1.0).max() <= 1e-5


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 300), w=st.integers(1, 300), scale=st.floats(0.02, 4.0))
def test_resize_by_scale_preserves_aspect(h, w, scale):
    out = resize_by_scale(np.zeros((h, w), np.uint8), scale, "image")
    oh, ow = out.shape
    assert (oh, ow) == scaled_hw((h, w), scale)
    for n, o in ((h, oh), (w, ow)):  # each side is the exact scaled side, rounded
        assert o == 1 or abs(o - n * scale) <= 0.5 + 1e-9


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 300), w=st.integers(1, 300), side=st.integers(1, 200))
def test_resize_long_and_short_side(h, w, side):
    img = np.zeros((h, w, 1), np.uint8)
    long_ = resize_long_side(img, side, "image")
    assert long_.ndim == 3 and max(long_.shape[:2]) == side
    for n, o in zip((h, w), long_.shape[:2]):  # the other side: the same scale, rounded
        assert o == 1 or abs(o - n * side / max(h, w)) <= 0.5 + 1e-9
    short = resize_short_side(img, side, "trimap")
    assert min(short.shape[:2]) == side


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 300), w=st.integers(1, 300), side=st.integers(1, 200), seed=st.integers(0, 2**16))
def test_shrink_long_side_area_averages_down_and_never_enlarges(h, w, side, seed):
    img = np.random.default_rng(seed).uniform(0, 1, (h, w)).astype(np.float32)
    out = shrink_long_side(img, side)
    if max(h, w) <= side:
        assert out is img
        return
    assert max(out.shape) == side
    assert out.shape == cv2.resize(img, out.shape[::-1], interpolation=cv2.INTER_AREA).shape
    assert np.array_equal(out, cv2.resize(img, out.shape[::-1], interpolation=cv2.INTER_AREA))
    assert abs(float(out.mean()) - float(img.mean())) < 0.05  # an average: the mean is kept


@settings(max_examples=40, deadline=None)
@given(k=st.sampled_from([1, 2, 4, 8]), bh=st.integers(3, 40), bw=st.integers(3, 40), factor=st.floats(1.0, 9.0),
       channels=st.sampled_from([0, 3]), uint8=st.booleans(), seed=st.integers(0, 2**16))
def test_area_shrink_is_block_means_then_inter_area(k, bh, bw, factor, channels, uint8, seed):
    """Sides divisible by k: the k' x k' block means (k' the largest power of two dividing both
    sides whose blocks still leave the target size), then INTER_AREA, compared with numpy's means;
    uint8 images in float32 throughout, rounded once at the end."""
    h, w = bh * k, bw * k
    shape = (h, w, channels) if channels else (h, w)
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, shape, dtype=np.uint8) if uint8 else rng.uniform(0, 1, shape).astype(np.float32)
    size = (max(1, round(w / factor)), max(1, round(h / factor)))
    out = area_shrink(img, size)
    assert out.shape[:2] == (size[1], size[0])
    kk = 1
    while w % (2 * kk) == 0 and h % (2 * kk) == 0 and w // (2 * kk) >= size[0] and h // (2 * kk) >= size[1]:
        kk *= 2
    blocks = img.reshape(h // kk, kk, w // kk, kk, *shape[2:]).mean(axis=(1, 3), dtype=np.float64).astype(np.float32)
    want = cv2.resize(blocks, size, interpolation=cv2.INTER_AREA)
    assert out.dtype == img.dtype
    if uint8:  # rounded once, to the nearest level (float32 sums in another order: a hair of slack)
        assert np.abs(out.astype(np.float64) - want).max() <= 0.5 + 1e-3
    else:  # block means: float32 sums in another order
        np.testing.assert_allclose(out, want, rtol=0, atol=2e-6)
    scale = 255.0 if uint8 else 1.0
    assert abs(float(out.mean()) - float(img.mean())) < 0.02 * scale


def test_area_shrink_is_inter_area_when_no_block_step_applies():
    img = np.random.default_rng(1).integers(0, 256, (300, 301, 3), dtype=np.uint8)  # odd width: no block step
    np.testing.assert_array_equal(area_shrink(img, (97, 75)), cv2.resize(img, (97, 75), interpolation=cv2.INTER_AREA))
    even = img[:, :300]
    np.testing.assert_array_equal(area_shrink(even, (200, 200)), cv2.resize(even, (200, 200), interpolation=cv2.INTER_AREA))


def test_resize_no_op_returns_input_and_errors():
    img = np.zeros((10, 20, 3), np.uint8)
    assert resize_by_scale(img, 1.0, "image") is img
    assert resize_to(img, (10, 20), "image") is img
    assert resize_to(np.zeros((4, 4, 1), np.float32), (8, 8), "alpha").shape == (8, 8, 1)
    with pytest.raises(ValueError, match="scale must be a finite number > 0, got -1.0"):
        resize_by_scale(img, -1.0, "image")
    with pytest.raises(ValueError, match="long_side must be a positive integer"):
        resize_long_side(img, 0, "image")
    with pytest.raises(ValueError, match=r"shape \(H, W\) or \(H, W, C\)"):
        resize_by_scale(np.zeros(5), 2.0, "image")


# --------------------------------------------------------------------------- cover crop

@settings(max_examples=80, deadline=None)
@given(
    src=st.tuples(st.integers(1, 300), st.integers(1, 300)),
    dst=st.tuples(st.integers(1, 120), st.integers(1, 120)),
    zoom_hi=st.floats(1.0, 2.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_cover_crop_exact_size_and_coverage(src, dst, zoom_hi, seed):
    p = sample_cover_crop(np.random.default_rng(seed), src, dst, zoom=(1.0, zoom_hi))
    assert p == sample_cover_crop(np.random.default_rng(seed), src, dst, zoom=(1.0, zoom_hi))
    base = max(dst[0] / src[0], dst[1] / src[1])
    assert base * (1 - 1e-12) <= p.scale <= base * zoom_hi * (1 + 1e-12)
    assert 0 <= p.top and p.top + dst[0] <= src[0] * p.scale + 1e-6
    assert 0 <= p.left and p.left + dst[1] <= src[1] * p.scale + 1e-6
    img = np.zeros((*src, 3), np.uint8)
    for kind, arr in (("image", img), ("alpha", np.ones(src, np.float32)), ("trimap", np.full(src, 255, np.uint8))):
        out = apply_cover_crop(p, arr, kind)
        assert out.shape[:2] == dst and out.dtype == arr.dtype
    ones = apply_cover_crop(p, np.ones(src, np.float32), "alpha")
    assert 1.0 - 1e-5 <= ones.min() and ones.max() <= 1.0  # float32 sums over big cells


@settings(max_examples=40, deadline=None)
@given(
    src=st.tuples(st.integers(40, 300), st.integers(40, 300)),
    dst=st.tuples(st.integers(8, 100), st.integers(8, 100)),
    zoom_hi=st.floats(1.0, 3.0),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["image", "trimap"]),
)
def test_cover_crop_same_scale_on_both_axes(src, dst, zoom_hi, seed, kind):
    """Resample coordinate ramps: each output pixel's source position is the window's exact
    position (top + i + 0.5) / s − 0.5 (same s on both axes: no stretching), to within half
    a source pixel (one when OpenCV copies instead of resampling at s ~ 1), for the smooth
    and the nearest kinds."""
    p = sample_cover_crop(np.random.default_rng(seed), src, dst, zoom=(1.0, zoom_hi))
    s = p.scale
    ys, xs = np.mgrid[0 : src[0], 0 : src[1]].astype(np.float32)
    out_x = apply_cover_crop(p, xs, kind)
    out_y = apply_cover_crop(p, ys, kind)
    exact_x = np.clip((p.left + np.arange(dst[1]) + 0.5) / s - 0.5, 0, src[1] - 1)
    exact_y = np.clip((p.top + np.arange(dst[0]) + 0.5) / s - 0.5, 0, src[0] - 1)
    # + OpenCV's INTER_AREA weight error (~3e-4 relative) + nearest-neighbour rounding
    # OpenCV copies a crop of n >= dst / s rows when round(n * s) == n, i.e. n·|1 − s| < 0.5
    copies = abs(1 - s) * min(dst) / s < 0.5
    slack = (1.0 if copies else 0.5) + 1e-3 + 5e-4 * max(src) + (0.5 if kind == "trimap" else 0.0)
    assert np.abs(out_x - exact_x[None, :]).max() <= slack
    assert np.abs(out_y - exact_y[:, None]).max() <= slack


@pytest.mark.parametrize("scale", [0.23, 0.5, 0.77, 1.6, 3.3])
def test_cover_crop_matches_full_resize_then_crop(scale):
    rng = np.random.default_rng(5)
    src = _smooth_image(rng, (300, 400), sigma=12.0)
    dh, dw = int(300 * scale * 0.5), int(400 * scale * 0.6)
    flag = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    full = cv2.resize(src, None, fx=scale, fy=scale, interpolation=flag)
    # Window at the origin: identical to resizing the whole image and cropping.
    at_origin = CoverCrop(src_hw=(300, 400), dst_hw=(dh, dw), scale=scale, top=0, left=0)
    np.testing.assert_array_equal(apply_cover_crop(at_origin, src, "image"), full[:dh, :dw])
    # Elsewhere: equal up to a sub-pixel shift of the window (smooth image: small differences).
    for top, left in ((7, 3), (full.shape[0] - dh, full.shape[1] - dw), (11, full.shape[1] - dw)):
        p = CoverCrop(src_hw=(300, 400), dst_hw=(dh, dw), scale=scale, top=top, left=left)
        diff = np.abs(apply_cover_crop(p, src, "image").astype(int) - full[top : top + dh, left : left + dw])
        assert diff.mean() < 1.0 and diff.max() <= 6


def test_cover_crop_scale_one_is_a_view_and_params_roundtrip():
    rng = np.random.default_rng(6)
    img = rng.integers(0, 256, (50, 40, 3), dtype=np.uint8)
    p = sample_cover_crop(rng, (50, 40), (30, 40))
    assert p.scale == 1.0
    out = apply_cover_crop(p, img, "image")
    np.testing.assert_array_equal(out, img[p.top : p.top + 30])
    d = json.loads(json.dumps(p.to_dict()))
    assert d["src_hw"] == [50, 40] and CoverCrop.from_dict(d) == p
    up = sample_cover_crop(rng, (10, 20), (40, 40))
    assert up.scale == pytest.approx(4.0)  # > 1: the background was upscaled


def test_cover_crop_errors():
    rng = np.random.default_rng(7)
    with pytest.raises(ValueError, match=r"zoom must satisfy 1 <= low <= high"):
        sample_cover_crop(rng, (100, 100), (50, 50), zoom=(0.5, 1.0))
    with pytest.raises(ValueError, match="src_hw must be positive integers"):
        sample_cover_crop(rng, (0, 100), (50, 50))
    p = sample_cover_crop(rng, (100, 100), (50, 50))
    with pytest.raises(ValueError, match=r"array has height/width \(90, 100\) but the CoverCrop was sampled for"):
        apply_cover_crop(p, np.zeros((90, 100), np.uint8), "image")
    bad = CoverCrop(src_hw=(100, 100), dst_hw=(50, 50), scale=0.5, top=10, left=0)
    with pytest.raises(ValueError, match="does not fit"):
        apply_cover_crop(bad, np.zeros((100, 100), np.uint8), "image")
