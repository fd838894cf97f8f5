"""The guided build's difficulty measure (synth.critic.difficulty): contrast and texture at
the subject's boundary, against plain numpy references and on composites built to differ
in one of them; the no-easier rule."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.colour import to_lab
from synth.critic.difficulty import boundary_difficulty, no_easier


def _disc(n: int = 128, r: int = 36) -> np.ndarray:
    yy, xx = np.mgrid[:n, :n]
    return (np.hypot(yy - n / 2, xx - n / 2) <= r).astype(np.float32)


def _composite(alpha: np.ndarray, fg: np.ndarray, bg: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    return np.clip(a * fg + (1 - a) * bg + 0.5, 0, 255).astype(np.uint8)


def _flat(n: int, level: float) -> np.ndarray:
    return np.full((n, n, 3), level, np.float32)


def test_contrast_is_the_lightness_step_across_a_flat_edge():
    """Flat subject on a flat background: the contrast is |L(F) − L(B)| exactly (the local
    means of each side are the sides' own lightness), and a flat background has no texture."""
    alpha = _disc()
    image = _composite(alpha, _flat(128, 200), _flat(128, 60))
    contrast, texture = boundary_difficulty(image, alpha, long_side=128)
    l_f = float(to_lab(np.full((1, 1, 3), 200, np.uint8))[0, 0, 0])
    l_b = float(to_lab(np.full((1, 1, 3), 60, np.uint8))[0, 0, 0])
    assert contrast == pytest.approx(abs(l_f - l_b), abs=1e-3)
    assert texture == pytest.approx(0.0, abs=1e-4)


def test_texture_is_the_mean_laplacian_in_the_background_ring_numpy_reference():
    """Texture against a plain numpy Laplacian over the ring the docstring names: alpha <= 0.05,
    distance to the subject in [1, r + 1] px (r = 3 % of the long side)."""
    rng = np.random.default_rng(0)
    alpha = _disc()
    bg = rng.uniform(0, 255, (128, 128, 3)).astype(np.float32)
    image = _composite(alpha, _flat(128, 128), bg)
    _, texture = boundary_difficulty(image, alpha, long_side=128)
    light = to_lab(image)[..., 0].astype(np.float64)
    pad = np.pad(light, 1, mode="reflect")  # OpenCV's default border: reflect-101
    lap = pad[:-2, 1:-1] + pad[2:, 1:-1] + pad[1:-1, :-2] + pad[1:-1, 2:] - 4 * light
    outside = alpha <= 0.05
    dist = cv2.distanceTransform(outside.astype(np.uint8), cv2.DIST_L2, 3)
    r = round(0.03 * 128)
    ring = outside & (dist >= 1) & (dist <= 1 + r)
    assert texture == pytest.approx(float(np.abs(lap[ring]).mean()), rel=1e-5)


def test_defocused_background_is_easier_and_so_is_more_contrast():
    rng = np.random.default_rng(1)
    alpha = cv2.GaussianBlur(_disc(256, 70), (5, 5), 1.0)
    bg = rng.uniform(40, 220, (256, 256, 3)).astype(np.float32)
    sharp = _composite(alpha, _flat(256, 80), bg)
    blurred = _composite(alpha, _flat(256, 80), cv2.GaussianBlur(bg, (0, 0), 6))
    d_sharp = boundary_difficulty(sharp, alpha, long_side=256)
    d_blur = boundary_difficulty(blurred, alpha, long_side=256)
    assert d_blur[1] < 0.25 * d_sharp[1]
    assert d_blur[0] == pytest.approx(d_sharp[0], rel=0.1)  # about the same mean step across the edge
    assert not no_easier(d_blur, d_sharp)  # a defocused backdrop may not replace a sharp one
    bright = _composite(alpha, _flat(256, 250), cv2.GaussianBlur(bg, (0, 0), 6))
    assert boundary_difficulty(bright, alpha, long_side=256)[0] > d_blur[0] + 5
    assert not no_easier(boundary_difficulty(bright, alpha, long_side=256), d_blur)


def test_shrink_measures_the_same_picture_at_the_detector_size():
    """A 4x larger picture of the same scene gives nearly the same measures after the shrink."""
    rng = np.random.default_rng(2)
    alpha = _disc(96, 28)
    bg = cv2.GaussianBlur(rng.uniform(0, 255, (96, 96, 3)).astype(np.float32), (0, 0), 1.5)
    small = _composite(alpha, _flat(96, 180), bg)
    big_alpha = cv2.resize(alpha, (384, 384), interpolation=cv2.INTER_NEAREST)
    big = cv2.resize(small, (384, 384), interpolation=cv2.INTER_NEAREST)
    a, b = boundary_difficulty(small, alpha, 96), boundary_difficulty(big, big_alpha, 96)
    assert a == pytest.approx(b, rel=1e-3, abs=1e-3)


def test_no_boundary_is_not_measurable_and_never_eligible():
    empty = np.zeros((64, 64), np.float32)
    c, t = boundary_difficulty(np.zeros((64, 64, 3), np.uint8), empty)
    assert math.isnan(c) and math.isnan(t)
    assert not no_easier((c, t), (10.0, 1.0))
    assert no_easier((10.0, 1.0), (c, t))  # nothing to compare with: any measurable candidate


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 100), st.floats(0, 10), st.floats(0, 100), st.floats(0, 10))
def test_no_easier_is_a_partial_order(c, t, c0, t0):
    """Reflexive; and exactly when contrast is not higher and texture not lower."""
    assert no_easier((c, t), (c, t))
    assert no_easier((c, t), (c0, t0)) == (c <= c0 and t >= t0)
    if no_easier((c, t), (c0, t0)) and no_easier((c0, t0), (c, t)):
        assert (c, t) == (c0, t0)
