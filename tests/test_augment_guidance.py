"""augment.guidance: coarse masks from an alpha, drawn and applied separately; their quality
measures against reference computations."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.guidance import (
    Guidance,
    GuidanceSpec,
    apply_guidance,
    boundary_fscore,
    mask_iou,
    octagon_parts,
    sample_guidance,
)


def _disc(h: int, w: int, r: float, soft: float = 3.0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.clip((r - np.hypot(yy - h / 2, xx - w / 2)) / soft + 0.5, 0, 1).astype(np.float32)


def _plain(threshold: float = 0.5, **kw) -> Guidance:
    base = dict(threshold=threshold, thin=0, morph=0, holes=(), blobs=(), lowres=1, soft=False, box=None)
    return Guidance(**{**base, **kw})


def _octagon_kernel(r: int) -> np.ndarray:
    """The octagon of inradius r written out offset by offset (independent of the square +
    crosses the module composes)."""
    s, d = octagon_parts(r)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return ((np.maximum(abs(yy), abs(xx)) <= s + d) & (abs(yy) + abs(xx) <= 2 * s + d)).astype(np.uint8)


@pytest.mark.parametrize("r", [1, 2, 4, 9, 15])
def test_plain_mask_is_the_thresholded_alpha_and_morph_is_octagon_morphology(r):
    a = _disc(96, 112, 28)
    assert np.array_equal(apply_guidance(_plain(0.3), a), (a > 0.3).astype(np.float32))
    k = _octagon_kernel(r)
    s, d = octagon_parts(r)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    dist = np.hypot(yy, xx)  # a disc's stand-in: between the disc of radius r and its circumscribed one
    assert s + d == r and bool(k[dist <= r].all()) and not k[dist > r / np.cos(np.pi / 8) + 1].any()
    m = (a > 0.5).astype(np.uint8)
    assert np.array_equal(apply_guidance(_plain(morph=r), a), cv2.dilate(m, k).astype(np.float32))
    assert np.array_equal(apply_guidance(_plain(morph=-r), a), cv2.erode(m, k).astype(np.float32))
    opened = cv2.morphologyEx(m, cv2.MORPH_OPEN, k)
    assert np.array_equal(apply_guidance(_plain(thin=r), a), opened.astype(np.float32))


def test_thin_parts_go_and_the_body_stays():
    a = _disc(96, 96, 30)
    a[:, 47:49] = 1.0  # a 2-px strand through the whole frame
    m = apply_guidance(_plain(thin=3), a)
    assert m[5, 48] == 0 and m[90, 48] == 0 and m[48, 48] == 1


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(16, 96), w=st.integers(16, 96))
def test_masks_are_a_pure_function_of_the_rng_and_stay_in_range(seed, h, w):
    a = _disc(h, w, min(h, w) / 3)
    p = sample_guidance(np.random.default_rng(seed), a)
    assert p == sample_guidance(np.random.default_rng(seed), a)
    assert Guidance.from_dict(p.to_dict()) == p
    m = apply_guidance(p, a)
    assert m.shape == (h, w) and m.dtype == np.float32 and 0.0 <= m.min() and m.max() <= 1.0
    if not p.soft:
        assert set(np.unique(m).tolist()) <= {0.0, 1.0}
    inside = a > p.threshold
    assert all(inside[cy, cx] for cy, cx, *_ in p.holes) and not any(inside[cy, cx] for cy, cx, *_ in p.blobs)
    assert np.array_equal(m, apply_guidance(p, a))


@settings(max_examples=30, deadline=None)
@given(r=st.integers(1, 6), t=st.floats(0.05, 0.95))
def test_dilation_only_adds_and_erosion_only_removes(r, t):
    a = _disc(60, 70, 18, soft=6)
    base = apply_guidance(_plain(t), a)
    assert bool((apply_guidance(_plain(t, morph=r), a) >= base).all())
    assert bool((apply_guidance(_plain(t, morph=-r), a) <= base).all())


def test_holes_blobs_lowres_and_box():
    a = _disc(64, 64, 24)
    holed = apply_guidance(_plain(holes=((32, 32, 5, 5, 0),)), a)
    assert holed[32, 32] == 0 and holed[32, 20] == 1
    blob = apply_guidance(_plain(blobs=((4, 4, 3, 3, 0),)), a)
    assert blob[4, 4] == 1 and blob[4, 60] == 0
    low = apply_guidance(_plain(lowres=8), a)
    small = cv2.resize((a > 0.5).astype(np.float32), (8, 8), interpolation=cv2.INTER_AREA)
    assert np.array_equal(low, (cv2.resize(small, (64, 64), interpolation=cv2.INTER_LINEAR) > 0.5).astype(np.float32))
    soft = apply_guidance(_plain(lowres=8, soft=True), a)
    assert 0 < np.count_nonzero((soft > 0) & (soft < 1))
    box = apply_guidance(_plain(box=(0.0, 0.0, 0.0, 0.0)), a)
    ys, xs = np.nonzero(a > 0.5)
    want = np.zeros_like(a)
    want[ys.min():ys.max() + 1, xs.min():xs.max() + 1] = 1
    assert np.array_equal(box, want)
    assert apply_guidance(_plain(box=(0.1, 0.1, 0.1, 0.1)), np.zeros((8, 8), np.float32)).sum() == 0


def test_quality_measures():
    a = _disc(80, 80, 25)
    m = (a > 0.5).astype(np.float32)
    assert mask_iou(m, a) == 1.0 and boundary_fscore(m, a) == 1.0
    assert mask_iou(np.zeros_like(m), a) == 0.0 and boundary_fscore(np.zeros_like(m), a) == 0.0
    assert mask_iou(np.zeros_like(m), np.zeros_like(a)) == 1.0
    shifted = np.roll(m, 2, axis=1)
    inter, union = np.count_nonzero((shifted > 0.5) & (m > 0.5)), np.count_nonzero((shifted > 0.5) | (m > 0.5))
    assert mask_iou(shifted, a) == pytest.approx(inter / union)
    assert boundary_fscore(shifted, a, tolerance=2) == 1.0 and boundary_fscore(np.roll(m, 6, axis=1), a, 2) < 0.6


def test_spec_is_validated():
    for bad in ({"threshold": (0.9, 0.1)}, {"holes_p": 1.5}, {"lowres": ()}, {"morph": (-0.9, 0.0)}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            GuidanceSpec(**bad)


def _reference_boundary_fscore(mask: np.ndarray, alpha: np.ndarray, tolerance: int, threshold: float) -> float:
    """The boundary F-score written plainly: bool boundaries, dilations over the whole image."""
    def boundary(b: np.ndarray) -> np.ndarray:
        m = b.astype(np.uint8)
        return (m - cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)),
                              borderType=cv2.BORDER_REPLICATE)) > 0
    pb, gb = boundary(mask > 0.5), boundary(alpha > threshold)
    if not pb.any() and not gb.any():
        return 1.0
    if not pb.any() or not gb.any():
        return 0.0
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tolerance + 1, 2 * tolerance + 1))
    precision = np.count_nonzero(pb & (cv2.dilate(gb.astype(np.uint8), disc) > 0)) / np.count_nonzero(pb)
    recall = np.count_nonzero(gb & (cv2.dilate(pb.astype(np.uint8), disc) > 0)) / np.count_nonzero(gb)
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


def _blobby_alpha(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    a = (rng.random((h, w)) < rng.random()).astype(np.float32)
    return np.ascontiguousarray(cv2.GaussianBlur(a, (0, 0), float(rng.uniform(0.3, 5.0))).astype(np.float32))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 90), w=st.integers(1, 90),
       tolerance=st.integers(1, 7), threshold=st.floats(0.0, 1.0))
def test_boundary_fscore_equals_whole_image_dilations(seed, h, w, tolerance, threshold):
    """Dilating only over the box of both boundaries (and counting on 0/1 uint8) changes no count."""
    rng = np.random.default_rng(seed)
    a, m = _blobby_alpha(rng, h, w), _blobby_alpha(rng, h, w)
    assert boundary_fscore(m, a, tolerance, threshold) == _reference_boundary_fscore(m, a, tolerance, threshold)
    assert boundary_fscore(m, a) == _reference_boundary_fscore(m, a, max(1, round(0.008 * float(np.hypot(h, w)))), 0.5)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 90), w=st.integers(1, 90), lowres=st.sampled_from([1, 2, 3, 8]),
       soft=st.booleans())
def test_low_resolution_masks_threshold_as_numpy_does(seed, h, w, lowres, soft):
    """The mask's thresholds taken by OpenCV (in float32) are numpy's ``>`` on the same values:
    the plain steps written out with numpy comparisons give the same mask, bit for bit."""
    rng = np.random.default_rng(seed)
    a = _blobby_alpha(rng, h, w)
    if rng.random() < 0.3:  # alphas sitting exactly on float32 thresholds
        a = (np.round(a * 4) / 4).astype(np.float32)
    t = float(rng.choice([0.25, 0.5, float(rng.uniform(0.0, 1.0))]))
    got = apply_guidance(_plain(t, lowres=lowres, soft=soft), a)
    want = (a > t).astype(np.float32)
    if lowres > 1:
        small = cv2.resize(want, (max(1, w // lowres), max(1, h // lowres)), interpolation=cv2.INTER_AREA)
        up = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        want = np.clip(up, 0.0, 1.0) if soft else (up > 0.5).astype(np.float32)
    assert got.dtype == np.float32 and np.array_equal(got, want)
