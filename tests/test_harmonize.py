"""Harmonisation moves F's alpha-weighted colour statistics toward B's, and touches only F."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from augment.harmonize import (
    HARMONIZATION_METHODS,
    HarmonizationParams,
    albu_domain_adaptation,
    apply_harmonization,
    histogram_match,
    lab_stats,
    reinhard_lab,
    sample_harmonization,
)

H = W = 128


def _field(base, amp, seed, noise):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    chans = [base[c] + amp * np.sin(xx / (9 + 4 * c) + c) * np.cos(yy / (11 + 3 * c)) for c in range(3)]
    img = np.stack(chans, -1) + rng.normal(0, noise, (H, W, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def scene():
    fg = _field((170, 120, 60), 40, 0, 8)  # warm, bright, contrasty
    bg = _field((60, 85, 140), 20, 1, 4)  # cool, dark, flatter
    alpha = np.zeros((H, W), np.float32)
    cv2.circle(alpha, (64, 64), 40, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 3)
    # the old background around F (alpha = 0) is garbage that must not count
    fg[alpha == 0] = (0, 255, 0)
    alpha.setflags(write=False)  # any write to alpha raises
    return fg, alpha, bg


def _distance(fg, alpha, bg):
    mf, sf = lab_stats(fg, alpha)
    mb, sb = lab_stats(bg)
    return float(np.linalg.norm(mf - mb) + np.linalg.norm(sf - sb))


@pytest.mark.parametrize("method", HARMONIZATION_METHODS)
def test_distance_decreases_monotonically_with_strength(scene, method):
    fg, alpha, bg = scene
    dists = [
        _distance(apply_harmonization(HarmonizationParams(method, s), fg, alpha, bg), alpha, bg)
        for s in (0.0, 0.25, 0.5, 0.75, 1.0)
    ]
    assert all(b <= a + 0.5 for a, b in zip(dists, dists[1:])), dists
    assert dists[-1] < 0.35 * dists[0], dists


@pytest.mark.parametrize("method", HARMONIZATION_METHODS)
def test_strength_zero_is_identity_and_alpha_untouched(scene, method):
    fg, alpha, bg = scene
    alpha_bytes, fg_bytes = alpha.tobytes(), fg.tobytes()
    out = apply_harmonization(HarmonizationParams(method, 0.0), fg, alpha, bg)
    assert out is not fg and np.array_equal(out, fg)
    out = apply_harmonization(HarmonizationParams(method, 0.7), fg, alpha, bg)
    assert out.dtype == np.uint8 and out.shape == fg.shape
    assert not np.array_equal(out, fg)
    assert alpha.tobytes() == alpha_bytes and fg.tobytes() == fg_bytes  # inputs never modified
    # deterministic
    again = apply_harmonization(HarmonizationParams(method, 0.7), fg, alpha, bg)
    np.testing.assert_array_equal(out, again)


def test_pixels_outside_the_foreground_box_are_unchanged(scene):
    fg, alpha, bg = scene
    out = reinhard_lab(fg, alpha, bg, 1.0)
    rows = np.flatnonzero(alpha.max(axis=1) > 0)
    np.testing.assert_array_equal(out[: rows[0]], fg[: rows[0]])
    np.testing.assert_array_equal(out[rows[-1] + 1 :], fg[rows[-1] + 1 :])


def test_reinhard_mean_moves_linearly(scene):
    fg, alpha, bg = scene
    mf, _ = lab_stats(fg, alpha)
    mb, _ = lab_stats(bg)
    for s in (0.3, 0.6):
        m, _ = lab_stats(reinhard_lab(fg, alpha, bg, s), alpha)
        np.testing.assert_allclose(m, mf + s * (mb - mf), atol=1.5)


def test_weighting_ignores_the_old_background(scene):
    fg, alpha, bg = scene
    other = fg.copy()
    other[alpha == 0] = (255, 0, 255)
    a = reinhard_lab(fg, alpha, bg, 0.8)
    b = reinhard_lab(other, alpha, bg, 0.8)
    inside = alpha > 0
    np.testing.assert_array_equal(a[inside], b[inside])
    a = histogram_match(fg, alpha, bg, 0.8)
    b = histogram_match(other, alpha, bg, 0.8)
    np.testing.assert_array_equal(a[inside], b[inside])


def test_background_of_another_size(scene):
    fg, alpha, bg = scene
    big = cv2.resize(bg, (300, 200), interpolation=cv2.INTER_LINEAR)
    for method in HARMONIZATION_METHODS:
        out = apply_harmonization(HarmonizationParams(method, 0.5), fg, alpha, big)
        assert out.shape == fg.shape


def test_sampling_determinism_and_ranges():
    methods = ("reinhard_lab", "histogram_match", "albu_fda")
    a = [sample_harmonization(np.random.default_rng([7, i]), methods, (0.2, 0.4), p=0.6) for i in range(200)]
    b = [sample_harmonization(np.random.default_rng([7, i]), methods, (0.2, 0.4), p=0.6) for i in range(200)]
    assert a == b
    applied = [x for x in a if x.method != "none"]
    assert 90 < len(applied) < 150
    assert {x.method for x in applied} == set(methods)
    assert all(0.2 <= x.strength <= 0.4 for x in applied)
    assert all(x.strength == 0.0 for x in a if x.method == "none")
    json.dumps([x.to_dict() for x in a])
    # the generator advances the same whatever the outcome
    r0, r1 = np.random.default_rng(1), np.random.default_rng(1)
    sample_harmonization(r0, methods, p=0.0)
    sample_harmonization(r1, methods, p=1.0)
    assert r0.random() == r1.random()


def test_validation_messages(scene):
    fg, alpha, bg = scene
    with pytest.raises(ValueError, match="fg must be uint8"):
        reinhard_lab(fg.astype(np.float32), alpha, bg, 0.5)
    with pytest.raises(ValueError, match=r"bg must have shape \(H, W, 3\)"):
        histogram_match(fg, alpha, bg[..., 0], 0.5)
    with pytest.raises(ValueError, match=r"strength must be in \[0, 1\]"):
        reinhard_lab(fg, alpha, bg, 1.5)
    with pytest.raises(ValueError, match="alpha must have shape"):
        reinhard_lab(fg, alpha[:10], bg, 0.5)
    with pytest.raises(ValueError, match="alpha must be a float32"):
        reinhard_lab(fg, alpha.astype(np.float64), bg, 0.5)
    with pytest.raises(ValueError, match="no foreground"):
        reinhard_lab(fg, np.zeros_like(alpha), bg, 0.5)
    with pytest.raises(ValueError, match="method must be"):
        albu_domain_adaptation(fg, alpha, bg, 0.5, method="cyclegan")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown harmonisation methods"):
        sample_harmonization(np.random.default_rng(0), ["reinhard", "histogram_match"])
    with pytest.raises(ValueError, match="methods must not be empty"):
        sample_harmonization(np.random.default_rng(0), [])
    with pytest.raises(ValueError, match="strength must satisfy"):
        sample_harmonization(np.random.default_rng(0), ["reinhard_lab"], strength=(0.5, 0.2))
    with pytest.raises(ValueError, match="HarmonizationParams.method"):
        HarmonizationParams("sepia", 0.5)
    with pytest.raises(ValueError, match="std_ratio_range"):
        reinhard_lab(fg, alpha, bg, 0.5, std_ratio_range=(1.5, 2.0))


@pytest.mark.realdata
def test_real_foreground_toward_real_background(shared_data):
    img = cv2.cvtColor(cv2.imread(str(shared_data / "alphamatting/image/GT05.png")), cv2.COLOR_BGR2RGB)
    a8 = cv2.imread(str(shared_data / "alphamatting/alpha/GT05.png"), cv2.IMREAD_GRAYSCALE)
    bg = cv2.cvtColor(cv2.imread(str(shared_data / "backgrounds/bg031.jpg")), cv2.COLOR_BGR2RGB)
    img = cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(a8, img.shape[1::-1], interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    for method in ("reinhard_lab", "histogram_match"):
        d = [_distance(apply_harmonization(HarmonizationParams(method, s), img, alpha, bg), alpha, bg)
             for s in (0.0, 0.5, 1.0)]
        assert d[0] > d[1] > d[2], (method, d)
