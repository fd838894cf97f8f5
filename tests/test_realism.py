"""Realism measurements and matching operations (augment.realism, augment.realism_metrics)."""
from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.realism import (
    NoiseParams,
    add_sensor_noise,
    defocus,
    estimate_noise_floor,
    estimate_noise_sigma,
    estimate_sharpness,
    jpeg_recompress,
    match_resolution,
    match_sharpness,
    match_sharpness_sigma,
    sample_noise,
    unit_normals,
)
from augment.realism_metrics import MISMATCH_KEYS, boundary_regions, realism_mismatch, spill_residual, straight_cut

ROOT = Path(__file__).resolve().parents[1]


def _smooth(h=256, w=256):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack(
        [110 + 50 * np.sin(xx / 40), 120 + 40 * np.cos(yy / 30), 100 + 30 * np.sin((xx + yy) / 50)], -1
    )


def _detailed(h=256, w=256, seed=0):
    """Sharp-edged rectangles and discs plus fine texture: plenty of high frequencies."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 128, np.float32)
    for _ in range(60):
        x, y = rng.integers(0, w), rng.integers(0, h)
        col = tuple(float(c) for c in rng.uniform(20, 235, 3))
        if rng.random() < 0.5:
            cv2.rectangle(img, (int(x), int(y)), (int(x + rng.integers(4, 40)), int(y + rng.integers(4, 40))), col, -1)
        else:
            cv2.circle(img, (int(x), int(y)), int(rng.integers(3, 20)), col, -1)
    img += cv2.GaussianBlur(rng.normal(0, 12, (h, w, 3)).astype(np.float32), (0, 0), 0.8)
    return np.clip(img, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- noise


@pytest.mark.parametrize("sigma", [1.0, 2.0, 5.0, 10.0])
def test_noise_sigma_recovered_within_15_percent(sigma):
    rng = np.random.default_rng(int(sigma * 10))
    smooth = _smooth()
    per_channel = np.clip(smooth + rng.normal(0, sigma, smooth.shape), 0, 255).round().astype(np.uint8)
    luminance = np.clip(smooth + rng.normal(0, sigma, smooth.shape[:2])[..., None], 0, 255).round().astype(np.uint8)
    assert estimate_noise_sigma(per_channel) == pytest.approx(sigma, rel=0.15)
    assert estimate_noise_sigma(luminance) == pytest.approx(sigma, rel=0.15)
    assert estimate_noise_sigma(per_channel.astype(np.float32) / 255) == pytest.approx(sigma, rel=0.15)


def test_noise_sigma_in_a_region_and_robust_to_edges():
    rng = np.random.default_rng(0)
    img = _smooth()
    img[:, 128:] += rng.normal(0, 6, (256, 128, 3))
    img[::32] = 0  # sharp lines everywhere: edges, not noise
    img = np.clip(img, 0, 255).round().astype(np.uint8)
    right = np.zeros((256, 256), bool)
    right[:, 128:] = True
    assert estimate_noise_sigma(img, right) == pytest.approx(6, rel=0.15)
    assert estimate_noise_sigma(img, ~right) < 1.0
    assert np.isnan(estimate_noise_sigma(img, np.zeros((256, 256), bool)))
    with pytest.raises(ValueError, match="mask must have shape"):
        estimate_noise_sigma(img, right[:10])


@pytest.mark.parametrize("sigma", [1.0, 3.0, 6.0])
def test_noise_floor_reads_the_true_sigma_of_a_texture_free_image(sigma):
    rng = np.random.default_rng(int(sigma * 7))
    smooth = _smooth()
    noisy = np.clip(smooth + rng.normal(0, sigma, smooth.shape), 0, 255).round().astype(np.uint8)
    assert estimate_noise_floor(noisy) == pytest.approx(sigma, rel=0.1)
    assert estimate_noise_floor(noisy.astype(np.float32) / 255) == pytest.approx(sigma, rel=0.1)
    # a noise field twice as strong reads twice as much
    noisier = np.clip(smooth + 2 * (noisy.astype(np.float32) - smooth), 0, 255).round().astype(np.uint8)
    assert estimate_noise_floor(noisier) == pytest.approx(2 * estimate_noise_floor(noisy), rel=0.1)


def test_noise_floor_sees_through_texture_that_the_median_reads_as_noise():
    # 3/4 of the picture is fine texture (hair, fabric), 1/4 is flat: both carry noise of std 2
    rng = np.random.default_rng(5)
    img = np.full((256, 256, 3), 120.0, np.float32)
    img[:192] += rng.normal(0, 25, (192, 256, 3))  # texture: strong, pixel-scale
    img += rng.normal(0, 2.0, img.shape)
    img = np.clip(img, 0, 255).round().astype(np.uint8)
    assert estimate_noise_sigma(img) > 10.0
    assert estimate_noise_floor(img) == pytest.approx(2.0, rel=0.2)
    # clipped pixels carry no noise and are left out, not read as a noise-free region
    burnt = img.copy()
    burnt[:, :128] = 255
    assert estimate_noise_floor(burnt) == pytest.approx(2.0, rel=0.2)


def test_noise_floor_needs_enough_tiles_and_valid_arguments():
    img = np.full((64, 64, 3), 100, np.uint8)
    assert np.isnan(estimate_noise_floor(img[:20, :20]))  # one tile
    mask = np.zeros((64, 64), bool)
    assert np.isnan(estimate_noise_floor(img, mask))
    assert estimate_noise_floor(img) == 0.0
    with pytest.raises(ValueError, match="quantile"):
        estimate_noise_floor(img, quantile=1.0)
    with pytest.raises(ValueError, match="mask must have shape"):
        estimate_noise_floor(img, mask[:10])


@settings(max_examples=25, deadline=None)
@given(ty=st.integers(0, 4), tx=st.integers(0, 4), seed=st.integers(0, 2**16))
def test_noise_floor_reads_only_the_tiles_of_its_region(ty, tx, seed):
    """What lies further than a tile from the region changes nothing (the estimate reads the
    region's tiles only), wherever the region sits on the tile grid."""
    rng = np.random.default_rng(seed)
    region = np.clip(rng.normal(120, 3, (80, 96, 3)), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[0:80, 0:96]
    mask = ((yy - 40) / rng.uniform(25, 39)) ** 2 + ((xx - 48) / rng.uniform(30, 47)) ** 2 <= 1
    big = rng.integers(0, 256, (80 + 16 * 6, 96 + 16 * 6, 3), dtype=np.uint8)  # loud elsewhere
    big_mask = np.zeros(big.shape[:2], bool)
    y, x = 16 * ty, 16 * tx
    big[y : y + 80, x : x + 96] = region
    big_mask[y : y + 80, x : x + 96] = mask
    value = estimate_noise_floor(region, mask)
    assert 2.0 < value < 4.0 and estimate_noise_floor(big, big_mask) == value


# --------------------------------------------------------------------------- sharpness


def test_sharpness_decreases_monotonically_with_blur():
    img = _detailed()
    values = [estimate_sharpness(img if s == 0 else cv2.GaussianBlur(img, (0, 0), s)) for s in (0, 0.5, 1, 2, 3, 5)]
    assert all(b < a for a, b in zip(values, values[1:])), values
    assert values[-1] < 0.4 * values[0]


@pytest.mark.realdata
def test_sharpness_decreases_with_blur_on_a_real_photo(shared_data):
    img = cv2.cvtColor(cv2.imread(str(shared_data / "alphamatting/image/GT05.png")), cv2.COLOR_BGR2RGB)
    values = [estimate_sharpness(img if s == 0 else cv2.GaussianBlur(img, (0, 0), s)) for s in (0, 1, 2, 4, 8)]
    assert all(b < a for a, b in zip(values, values[1:])), values


def test_sharpness_is_contrast_invariant_and_noise_compensated():
    img = _detailed()
    base = estimate_sharpness(img)
    low_contrast = (img.astype(np.float32) * 0.4 + 70).round().astype(np.uint8)
    assert estimate_sharpness(low_contrast) == pytest.approx(base, rel=0.05)
    noisy = add_sensor_noise(NoiseParams(sigma=3.0), img, 0)
    assert estimate_sharpness(noisy) == pytest.approx(base, rel=0.1)
    assert estimate_sharpness(np.full((64, 64, 3), 90, np.uint8)) == 0.0


def test_step_edge_reads_its_blur_scale():
    edge = np.zeros((64, 64), np.float32)
    edge[:, 32:] = 1.0
    for s in (1.0, 2.0, 3.0):
        blurred = cv2.GaussianBlur(edge, (0, 0), s)
        mask = np.zeros((64, 64), bool)
        mask[8:-8, 16:-16] = True
        # analytic value for a Gaussian-blurred step: 1 / sqrt(2 (s^2 + 1)) (1 px pre-smoothing)
        assert estimate_sharpness(blurred, mask) == pytest.approx(1 / np.sqrt(2 * (s * s + 1)), rel=0.1)


# --------------------------------------------------------------------------- defocus


def test_defocus_disk_kernel():
    img = np.zeros((41, 41, 3), np.float32)
    img[20, 20] = 1.0
    out = defocus(img, 5.0, exact=True)
    psf = out[..., 0]
    assert psf.sum() == pytest.approx(1.0, rel=1e-4)
    # a pillbox: flat inside, zero outside (a Gaussian would fall off smoothly)
    assert psf[20, 20] == pytest.approx(psf[20, 23], rel=1e-4) == pytest.approx(psf[17, 20], rel=1e-4)
    assert psf[20, 27] == 0 and psf[20, 26] == 0
    assert np.array_equal(defocus(img, 0.0), img) and defocus(img, 0.0) is not img
    u8 = _detailed(64, 64)
    sharp = [estimate_sharpness(defocus(u8, r)) for r in (0, 1, 2, 4)]
    assert all(b < a for a, b in zip(sharp, sharp[1:])), sharp
    lin = defocus(u8, 3.0, linear_light=True)
    assert lin.dtype == np.uint8 and lin.shape == u8.shape
    with pytest.raises(ValueError, match="radius_px"):
        defocus(u8, -1.0)


@pytest.mark.parametrize("radius", [4.5, 7.0, 12.0, 24.0])
def test_large_defocus_at_low_resolution_matches_the_full_convolution(radius):
    """Disks over 4 px are applied on a shrunk copy: close to the exact convolution, much cheaper."""
    img = cv2.resize(_detailed(160, 192, seed=3), (384, 320), interpolation=cv2.INTER_CUBIC)
    img[100:104, 200:204] = 255  # a highlight: its bokeh disc is where the two differ most
    fast, exact = defocus(img, radius), defocus(img, radius, exact=True)
    err = fast.astype(np.float64) - exact
    assert np.sqrt(np.mean(err ** 2)) < 1.5 and np.quantile(np.abs(err), 0.999) <= 10
    assert abs(err.mean()) < 0.1  # no brightness change
    # the same blur strength: sharpness within 10 % (only the bokeh rims are softer)
    assert estimate_sharpness(fast) == pytest.approx(estimate_sharpness(exact), rel=0.1)
    flat = np.full((50, 70, 3), 90, np.uint8)
    assert np.array_equal(defocus(flat, radius), flat)
    lin = defocus(img, radius, linear_light=True).astype(np.float64) - defocus(img, radius, linear_light=True, exact=True)
    assert np.sqrt(np.mean(lin ** 2)) < 1.5


def test_defocus_blurs_more_with_the_radius_across_the_low_resolution_switch():
    img = cv2.resize(_detailed(160, 192, seed=4), (384, 320), interpolation=cv2.INTER_CUBIC)
    sharp = [estimate_sharpness(defocus(img, r)) for r in (2.0, 3.5, 4.0, 4.2, 5.0, 8.0, 16.0, 32.0)]
    assert all(b < a for a, b in zip(sharp, sharp[1:])), sharp


# --------------------------------------------------------------------------- sensor noise, JPEG


def test_sample_noise_determinism_and_json():
    a = [sample_noise(np.random.default_rng([3, i]), (1.0, 4.0), p=0.7).to_dict() for i in range(50)]
    b = [sample_noise(np.random.default_rng([3, i]), (1.0, 4.0), p=0.7).to_dict() for i in range(50)]
    assert a == b
    json.dumps(a)
    on = [x for x in a if x["sigma"] > 0]
    assert 25 < len(on) < 50 and all(1.0 <= x["sigma"] <= 4.0 for x in on)
    assert sample_noise(np.random.default_rng(0), (1.0, 4.0), p=0.0).sigma == 0.0
    with pytest.raises(ValueError, match="sigma must satisfy"):
        sample_noise(np.random.default_rng(0), (4.0, 1.0))
    with pytest.raises(ValueError, match="denoise must be one of"):
        sample_noise(np.random.default_rng(0), denoise="nlmeans")  # type: ignore[arg-type]


def test_unit_normals_are_standard_normal_and_seeded():
    from statistics import NormalDist

    x = unit_normals(np.random.default_rng(4), (1000, 1000))
    assert x.dtype == np.float32 and x.shape == (1000, 1000)
    assert abs(float(x.mean())) < 0.003 and float(x.std()) == pytest.approx(1.0, abs=0.003)
    qs = np.array([0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999])
    expected = [NormalDist().inv_cdf(q) for q in qs]
    np.testing.assert_allclose(np.quantile(x, qs), expected, atol=0.02)
    assert 4.2 < float(np.abs(x).max()) < 4.4  # the tails stop at the extreme quantile
    np.testing.assert_array_equal(unit_normals(np.random.default_rng(4), (1000, 1000)), x)
    assert not np.array_equal(unit_normals(np.random.default_rng(5), (8, 8)), x[:8, :8])
    # neighbouring values are independent
    assert abs(float(np.corrcoef(x[:, :-1].ravel(), x[:, 1:].ravel())[0, 1])) < 0.005


def test_add_sensor_noise_level_signal_dependence_and_determinism():
    grey = np.full((256, 256, 3), 128, np.uint8)
    params = NoiseParams(sigma=6.0, shot_fraction=0.5, chroma=0.3)
    out = add_sensor_noise(params, grey, 5)
    assert out.dtype == np.uint8
    assert np.array_equal(out, add_sensor_noise(params, grey, 5))
    assert np.array_equal(out, add_sensor_noise(params, grey, np.random.default_rng(5)))
    assert not np.array_equal(out, add_sensor_noise(params, grey, 6))
    assert out.astype(np.float64).std() == pytest.approx(6.0, rel=0.05)
    assert estimate_noise_sigma(out) == pytest.approx(6.0, rel=0.15)
    # shot noise: brighter is noisier
    ramp = np.zeros((256, 256, 3), np.uint8)
    ramp[:, 128:] = 230
    ramp[:, :128] = 25
    shot = add_sensor_noise(NoiseParams(sigma=6.0, shot_fraction=1.0, chroma=1.0), ramp, 0).astype(np.float64)
    assert shot[:, 128:].std() > 2 * shot[:, :128].std()
    # chroma 0: the same noise in R, G and B
    lum = add_sensor_noise(NoiseParams(sigma=6.0, chroma=0.0), grey, 1)
    assert np.array_equal(lum[..., 0], lum[..., 1]) and np.array_equal(lum[..., 1], lum[..., 2])
    # grain: correlated noise with the same variance
    f = grey.astype(np.float32) / 255
    grain = add_sensor_noise(NoiseParams(sigma=6.0, grain_px=1.0), f, 2)
    assert grain.dtype == np.float32
    d = (grain[..., 1] - 128 / 255) * 255
    assert d.std() == pytest.approx(6.0, rel=0.1)
    assert np.corrcoef(d[:, :-1].ravel(), d[:, 1:].ravel())[0, 1] > 0.4
    # sigma 0: unchanged copy; denoise options smooth
    assert np.array_equal(add_sensor_noise(NoiseParams(), grey, 0), grey)
    noisy = add_sensor_noise(NoiseParams(sigma=8.0), grey, 3)
    for kind, strength in (("gaussian", 1.0), ("bilateral", 20.0)):
        cleaned = add_sensor_noise(NoiseParams(denoise=kind, denoise_strength=strength), noisy, 0)
        assert estimate_noise_sigma(cleaned) < 0.6 * estimate_noise_sigma(noisy)
    with pytest.raises(ValueError, match="rng_or_seed"):
        add_sensor_noise(params, grey, 1.5)  # type: ignore[arg-type]


def test_jpeg_recompress():
    img = _detailed(64, 64)
    hi, lo = jpeg_recompress(img, 98), jpeg_recompress(img, 10)
    assert hi.dtype == np.uint8 and hi.shape == img.shape
    err = lambda x: np.abs(x.astype(np.float64) - img).mean()  # noqa: E731
    assert err(hi) < 0.5 * err(lo)  # (q98 still loses chroma detail to 4:2:0 subsampling)
    f = jpeg_recompress(img.astype(np.float32) / 255, 90)
    assert f.dtype == np.float32
    for bad in (0, 101, 50.5):
        with pytest.raises(ValueError, match="quality"):
            jpeg_recompress(img, bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- matching


def test_match_resolution_makes_f_no_sharper_than_upscaled_b():
    fg_hi = _detailed(256, 256, seed=1)
    bg_hi = _detailed(256, 256, seed=2)
    assert np.array_equal(match_resolution(fg_hi, 1.0), fg_hi)
    for s in (1.5, 2.0, 3.0):
        small = cv2.resize(bg_hi, (round(256 / s), round(256 / s)), interpolation=cv2.INTER_AREA)
        bg_up = cv2.resize(small, (256, 256), interpolation=cv2.INTER_LINEAR)
        fg = match_resolution(fg_hi, s)
        assert fg.shape == fg_hi.shape and fg.dtype == np.uint8
        assert estimate_sharpness(fg) <= estimate_sharpness(bg_up) * 1.05
        assert estimate_sharpness(fg) < 0.9 * estimate_sharpness(fg_hi)
    with pytest.raises(ValueError, match="upscale"):
        match_resolution(fg_hi, 0.0)


def test_match_sharpness_hits_the_target_and_never_sharpens():
    fg = _detailed(160, 160, seed=3)
    alpha = np.zeros((160, 160), np.float32)
    cv2.circle(alpha, (80, 80), 60, 1.0, -1)
    alpha_bytes = alpha.tobytes()
    region = alpha > 0.5
    target = estimate_sharpness(cv2.GaussianBlur(_detailed(160, 160, seed=4), (0, 0), 2.0))
    out = match_sharpness(fg, alpha, target)
    assert estimate_sharpness(out, region) == pytest.approx(target, rel=0.05)
    assert 1.0 < match_sharpness_sigma(fg, alpha, target) < 3.5
    blurry = cv2.GaussianBlur(fg, (0, 0), 3.0)
    assert np.array_equal(match_sharpness(blurry, alpha, estimate_sharpness(fg)), blurry)
    assert alpha.tobytes() == alpha_bytes
    with pytest.raises(ValueError, match="target_sharpness"):
        match_sharpness(fg, alpha, float("nan"))


# --------------------------------------------------------------------------- mismatch


def _soft_disc(size=192):
    alpha = np.zeros((size, size), np.float32)
    cv2.circle(alpha, (size // 2, size // 2), size // 3, 1.0, -1)
    return cv2.GaussianBlur(alpha, (0, 0), 1.5)


def test_realism_mismatch_flags_a_naive_composite_and_not_a_consistent_one():
    alpha = _soft_disc()
    a3 = alpha[..., None]
    scene = _detailed(192, 192, seed=5)
    # one "photo": the same texture and noise on both sides of the boundary
    photo = add_sensor_noise(NoiseParams(sigma=4.0), scene, 0)
    m = realism_mismatch(photo, alpha)
    assert set(m) == set(MISMATCH_KEYS)
    assert abs(m["noise_log_ratio"]) < 0.2 and abs(m["sharpness_log_ratio"]) < 0.2
    # naive composite: sharp clean F over a blurry noisy B
    fg = _detailed(192, 192, seed=6)
    bg = add_sensor_noise(NoiseParams(sigma=5.0), cv2.GaussianBlur(_detailed(192, 192, seed=7), (0, 0), 2.5), 1)
    naive = np.clip(a3 * fg + (1 - a3) * bg + 0.5, 0, 255).astype(np.uint8)
    m = realism_mismatch(naive, alpha)
    assert m["noise_log_ratio"] < -0.7  # F much cleaner than B
    assert m["sharpness_log_ratio"] > 0.3  # F much sharper than B
    # realism matching closes both gaps
    fixed_fg = match_sharpness(fg, alpha, estimate_sharpness(bg))
    comp = np.clip(a3 * fixed_fg + (1 - a3) * cv2.GaussianBlur(bg, (0, 0), 1.2) + 0.5, 0, 255).astype(np.uint8)
    fixed = realism_mismatch(add_sensor_noise(NoiseParams(sigma=5.0), comp, 2), alpha)
    assert abs(fixed["noise_log_ratio"]) < 0.3
    assert abs(fixed["sharpness_log_ratio"]) < abs(m["sharpness_log_ratio"])


def _ramp_alpha(h=96, w=160, lo=70, hi=90):
    """Opaque before column lo, transparent from hi, 0.9 down to 0.1 in between (no 0.95..1 or 0..0.05)."""
    ramp = np.zeros(w, np.float32)
    ramp[:lo] = 1.0
    ramp[lo:hi] = np.linspace(0.9, 0.1, hi - lo, dtype=np.float32)
    return np.repeat(ramp[None], h, axis=0)


def _layers(alpha, *colours):
    return [np.broadcast_to(np.float32(c) / 255, alpha.shape + (3,)) for c in colours]


def test_spill_residual_is_zero_for_a_true_composite_and_for_alpha_errors():
    alpha = _ramp_alpha()
    fg, bg = _layers(alpha, (150, 150, 50), (50, 50, 50))
    a3 = alpha[..., None]
    assert spill_residual(a3 * fg + (1 - a3) * bg, alpha) == pytest.approx(0.0, abs=1e-3)
    # an alpha off by 0.2 moves the mixed colours along the F-B line only: not spill
    off = np.clip(alpha + 0.2, 0, 1)[..., None]
    assert spill_residual(off * fg + (1 - off) * bg, alpha) == pytest.approx(0.0, abs=1e-3)


def test_spill_residual_measures_the_old_background_in_a_photo_used_as_f():
    alpha = _ramp_alpha()
    fg, new_bg, old_bg = _layers(alpha, (150, 150, 50), (50, 50, 50), (150, 150, 250))
    a3 = alpha[..., None]
    photo = a3 * fg + (1 - a3) * old_bg
    naive = a3 * photo + (1 - a3) * new_bg  # I - (aF + (1-a)B) = a(1-a)(old_bg - F), across the F-B line
    mixed = (alpha > 0.05) & (alpha < 0.95)
    w = (alpha * (1 - alpha))[mixed].astype(np.float64)
    expected = 200.0 * np.sum(w * w) / np.sum(w)
    assert spill_residual(naive, alpha) == pytest.approx(expected, rel=1e-3)
    u8 = np.clip(naive * 255 + 0.5, 0, 255).astype(np.uint8)
    assert spill_residual(u8, alpha) == pytest.approx(expected, abs=0.5)  # rounding only
    # where F and B have the same colour the whole residual counts
    same = a3 * (a3 * fg + (1 - a3) * old_bg) + (1 - a3) * fg
    assert spill_residual(same, alpha) == pytest.approx(expected, rel=1e-3)


def test_spill_residual_needs_mixed_pixels_with_both_sides():
    hard = (_ramp_alpha() > 0.5).astype(np.float32)
    assert np.isnan(spill_residual(np.zeros(hard.shape + (3,), np.uint8), hard))
    with pytest.raises(ValueError, match="sigma_px"):
        spill_residual(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.float32), sigma_px=0)


def test_boundary_regions_and_small_images():
    alpha = _soft_disc()
    fg_ring, bg_ring = boundary_regions(alpha, band_px=10, margin_px=3)
    assert not (fg_ring & bg_ring).any()
    assert np.all(alpha[fg_ring] >= 0.95) and np.all(alpha[bg_ring] <= 0.05)
    tiny = realism_mismatch(np.zeros((12, 12, 3), np.uint8), np.zeros((12, 12), np.float32))
    assert np.isnan(tiny["noise_log_ratio"]) and tiny["fg_pixels"] == 0
    with pytest.raises(ValueError, match="alpha must have shape"):
        realism_mismatch(np.zeros((12, 12, 3), np.uint8), np.zeros((12, 13), np.float32))


@pytest.mark.realdata
def test_realism_mismatch_on_real_photos_is_finite_and_nonzero(shared_data):
    for name in ("GT02", "GT13"):
        img = cv2.cvtColor(cv2.imread(str(shared_data / f"alphamatting/image/{name}.png")), cv2.COLOR_BGR2RGB)
        alpha = cv2.imread(str(shared_data / f"alphamatting/alpha/{name}.png"), cv2.IMREAD_GRAYSCALE)
        m = realism_mismatch(img, alpha.astype(np.float32) / 255)
        for key in ("noise_log_ratio", "sharpness_log_ratio", "lab_mean_dist", "lab_std_log_ratio"):
            assert np.isfinite(m[key]), (name, key, m)
        assert m["lab_mean_dist"] > 1 and abs(m["sharpness_log_ratio"]) > 0.01


def test_augment_modules_do_not_import_synth_or_shards():
    for name in ("realism.py", "realism_metrics.py", "harmonize.py"):
        tree = ast.parse((ROOT / "augment" / name).read_text())
        for node in ast.walk(tree):
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                mods = [node.module]
            assert not any(m.split(".")[0] in ("synth", "shards") for m in mods), (name, mods)


def test_straight_cut_measures_a_frame_cut_inside_the_picture():
    # a subject cut by a vertical line over 30 of its 50 rows, then resampled to a fractional position
    yy, xx = np.mgrid[0:100, 0:200]
    subject = (((xx - 60) ** 2 / 40**2 + (yy - 50) ** 2 / 25**2) <= 1).astype(np.float32)
    cut = subject.copy()
    cut[:, 90:] = 0  # the old frame's edge at column 90 crosses the ellipse over 2*25*sqrt(1-0.75^2)
    expected = (np.abs(np.diff(cut[:, 89:91], axis=1)) > 0.5).sum() / 51
    assert straight_cut(cut) == pytest.approx(expected, abs=1e-9) and expected > 0.6
    assert straight_cut(subject) < 0.15  # a curved outline has only short straight stretches
    small = cv2.resize(cut, (137, 69), interpolation=cv2.INTER_AREA)  # the cut lands between columns
    assert straight_cut(small) == pytest.approx(expected, abs=0.05)
    # the same cut on the picture's border is the frame's own, not a cut inside the picture
    assert straight_cut(np.ascontiguousarray(cut[:, :91])) < 0.2  # the outline's flat top: 11 of 70 px
    # horizontal cuts count the same, as a share of the subject's width
    assert straight_cut(np.ascontiguousarray(cut.T)) == pytest.approx(expected, abs=1e-9)
    # a line tilted by 1 px in 20 breaks into short runs
    tilt = (xx < 90 + yy / 20.0).astype(np.float32) * subject
    assert straight_cut(tilt) < 0.4
    assert math.isnan(straight_cut(np.zeros((10, 10), np.float32)))
    with pytest.raises(ValueError, match="alpha must be float32"):
        straight_cut(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="step"):
        straight_cut(cut, step=0.0)


def test_straight_cut_on_the_real_photos_is_small(shared_data):
    from shards.codec import decode_alpha

    values = [straight_cut(decode_alpha(p.read_bytes()))
              for p in sorted((shared_data / "alphamatting" / "alpha").glob("*.png"))]
    assert len(values) == 18 and max(values) < 0.15 and float(np.median(values)) < 0.03
