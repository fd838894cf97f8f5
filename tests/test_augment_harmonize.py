"""augment.harmonize: harmonisation moves F's alpha-weighted colour statistics (or only its light) toward B's,
and touches only F."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.colour import LUMINANCE_WEIGHTS, lab_stats, linear_to_srgb, srgb_to_linear
from augment.harmonize import (
    HARMONIZATION_METHODS,
    HarmonizationParams,
    albu_domain_adaptation,
    apply_harmonization,
    exposure,
    harmonize_with_details,
    histogram_match,
    light_gains,
    reinhard_lab,
    relight,
    sample_harmonization,
    von_kries,
)
from augment.illuminant import estimate_illuminant

H = W = 128
#: methods that move F's whole colour distribution (the others change only its light)
DISTRIBUTION_METHODS = ("reinhard_lab", "histogram_match", "albu_histogram", "albu_fda", "albu_pda")
LIGHT_METHODS = ("von_kries", "exposure", "relight")


def test_method_groups_cover_all_methods():
    assert set(DISTRIBUTION_METHODS) | set(LIGHT_METHODS) == set(HARMONIZATION_METHODS)


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


@pytest.mark.parametrize("method", DISTRIBUTION_METHODS)
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


# --------------------------------------------------------------------------- light-only methods


def _lit_scene(albedo, light, seed, size=(H, W)):
    """sRGB uint8 of a linear reflectance ``0.55 albedo + 0.4 texture`` lit by ``light`` (linear gains).

    The texture is achromatic (grey edges: the grey-edge estimate of the result is the light's
    chromaticity) and the mean colour is ``albedo``'s under ``light``.
    """
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.uniform(0, 1, size).astype(np.float32), (0, 0), 2.5)
    tex = (tex - tex.min()) / (tex.max() - tex.min())
    refl = 0.55 * np.asarray(albedo, np.float32)[None, None, :] + 0.4 * tex[..., None]
    return linear_to_srgb(refl * np.asarray(light, np.float32)[None, None, :])


def _chromaticity(light):
    return np.array([np.log(light[0] / light[1]), np.log(light[2] / light[1])])


def _matte():
    alpha = np.zeros((H, W), np.float32)
    cv2.ellipse(alpha, (64, 64), (46, 54), 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(alpha, (0, 0), 2)


WARM_LIGHT = (1.0, 0.82, 0.55)  # F photographed under warm (tungsten-like) light


@pytest.fixture(scope="module")
def light_scene():
    """A bluish-grey subject under warm light; a strongly green backdrop under neutral light."""
    fg = _lit_scene((0.35, 0.4, 0.55), WARM_LIGHT, seed=3)
    alpha = _matte()
    fg[alpha == 0] = (255, 0, 255)  # the old background must not count
    bg = _lit_scene((0.05, 0.6, 0.08), (0.9, 0.9, 0.9), seed=4)
    alpha.setflags(write=False)
    return fg, alpha, bg


def _ab_mean(image, weights=None):
    return lab_stats(image, weights)[0][1:]


def _interior(alpha):
    return (alpha > 0.999).astype(np.float32)


def test_von_kries_moves_the_illuminant_not_the_colours(light_scene):
    fg, alpha, bg = light_scene
    e_b = np.array(estimate_illuminant(bg))
    e_f = np.array(estimate_illuminant(fg, alpha))
    np.testing.assert_allclose(e_b, 0.0, atol=0.03)  # the green wall is under neutral light
    np.testing.assert_allclose(e_f, _chromaticity(WARM_LIGHT), atol=0.03)
    for s in (0.25, 0.5, 1.0):
        out = von_kries(fg, alpha, bg, s)
        np.testing.assert_allclose(estimate_illuminant(out, alpha), e_f + s * (e_b - e_f), atol=0.03)
    # the subject keeps its own colour: under neutral light it is bluish grey, nowhere near green
    out = von_kries(fg, alpha, bg, 1.0)
    d_before = np.linalg.norm(_ab_mean(fg, alpha) - _ab_mean(bg))
    d_after = np.linalg.norm(_ab_mean(out, alpha) - _ab_mean(bg))
    assert d_before > 30 and d_after > 0.8 * d_before, (d_before, d_after)
    relit_truth = _lit_scene((0.35, 0.4, 0.55), (0.9, 0.9, 0.9), seed=3)  # same subject, B's light
    weights = _interior(alpha)
    assert np.linalg.norm(_ab_mean(out, weights) - _ab_mean(relit_truth, weights)) < 3.0
    # a distribution transfer, by contrast, paints the subject green
    reinhard = reinhard_lab(fg, alpha, bg, 1.0)
    assert np.linalg.norm(_ab_mean(reinhard, alpha) - _ab_mean(bg)) < 0.2 * d_before


def test_von_kries_keeps_the_luminance_of_neutral_surfaces(light_scene):
    fg, alpha, bg = light_scene
    gains = light_gains(fg, alpha, bg, 0.8, intensity=False)
    assert gains.shape == (3,)
    assert float(np.dot(LUMINANCE_WEIGHTS, gains)) == pytest.approx(1.0, abs=1e-9)
    # warm light -> neutral: red down, blue up
    assert gains[0] < gains[1] < gains[2]


def _mean_luminance(image, weights):
    lin = srgb_to_linear(image).reshape(-1, 3).astype(np.float64)
    w = weights.reshape(-1).astype(np.float64)
    return float((lin @ np.asarray(LUMINANCE_WEIGHTS)) @ w / w.sum())


@pytest.mark.parametrize("bg_light", [0.35, 1.3])  # B darker / brighter than F
def test_exposure_moves_mean_luminance_in_stops_and_keeps_chromaticity(light_scene, bg_light):
    fg, alpha, _ = light_scene
    fg = _lit_scene((0.35, 0.4, 0.55), (0.6, 0.5, 0.35), seed=3)  # dim enough that 1.3x stays below white
    bg = _lit_scene((0.4, 0.5, 0.3), (bg_light,) * 3, seed=5)
    y_f = _mean_luminance(fg, alpha)
    y_b = _mean_luminance(bg, np.ones(bg.shape[:2], np.float32))
    for s in (0.3, 0.7, 1.0):
        out = exposure(fg, alpha, bg, s)
        expected = np.log2(y_f) + s * np.log2(y_b / y_f)
        assert np.log2(_mean_luminance(out, alpha)) == pytest.approx(expected, abs=0.03)
    out = exposure(fg, alpha, bg, 1.0)
    inside = (alpha > 0) & (fg.min(axis=2) >= 60) & (out.min(axis=2) >= 60) & (out.max(axis=2) < 255)
    assert inside.sum() > 1000
    before, after = srgb_to_linear(fg)[inside], srgb_to_linear(out)[inside]
    for c in (0, 2):  # r/g and b/g unchanged up to the 8-bit quantisation
        drift = np.log(after[:, c] / after[:, 1]) - np.log(before[:, c] / before[:, 1])
        assert np.abs(drift).max() < 0.04 and abs(float(np.median(drift))) < 0.005


def test_relight_is_von_kries_then_exposure(light_scene):
    fg, alpha, bg = light_scene
    chromatic = light_gains(fg, alpha, bg, 0.6, intensity=False)
    both = light_gains(fg, alpha, bg, 0.6)
    ratio = both / chromatic
    np.testing.assert_allclose(ratio, ratio[1], rtol=1e-9)  # one extra exposure gain
    out = relight(fg, alpha, bg, 0.6)
    np.testing.assert_allclose(estimate_illuminant(out, alpha), estimate_illuminant(von_kries(fg, alpha, bg, 0.6),
                                                                                    alpha), atol=0.03)
    y_vk = _mean_luminance(von_kries(fg, alpha, bg, 0.6), alpha)
    y_b = _mean_luminance(bg, np.ones(bg.shape[:2], np.float32))
    expected = np.log2(y_vk) + 0.6 * np.log2(y_b / y_vk)
    assert np.log2(_mean_luminance(out, alpha)) == pytest.approx(expected, abs=0.03)


@pytest.mark.parametrize("method", LIGHT_METHODS)
def test_light_methods_touch_only_f_and_ignore_the_old_background(light_scene, method):
    fg, alpha, bg = light_scene
    alpha_bytes, fg_bytes = alpha.tobytes(), fg.tobytes()
    assert np.array_equal(apply_harmonization(HarmonizationParams(method, 0.0), fg, alpha, bg), fg)
    out = apply_harmonization(HarmonizationParams(method, 0.8), fg, alpha, bg)
    assert alpha.tobytes() == alpha_bytes and fg.tobytes() == fg_bytes
    rows = np.flatnonzero(alpha.max(axis=1) > 0)
    np.testing.assert_array_equal(out[: rows[0]], fg[: rows[0]])
    other = fg.copy()
    other[alpha == 0] = (0, 255, 0)
    again = apply_harmonization(HarmonizationParams(method, 0.8), other, alpha, bg)
    inside = alpha > 0
    np.testing.assert_array_equal(out[inside], again[inside])


@pytest.mark.parametrize("method, parts", [("von_kries", (True, False)), ("exposure", (False, True)),
                                           ("relight", (True, True))])
def test_harmonize_with_details_reports_the_gains_it_applied(light_scene, method, parts):
    fg, alpha, bg = light_scene
    params = HarmonizationParams(method, 0.7)
    out, details = harmonize_with_details(params, fg, alpha, bg)
    np.testing.assert_array_equal(out, apply_harmonization(params, fg, alpha, bg))
    gains = light_gains(fg, alpha, bg, 0.7, chromatic=parts[0], intensity=parts[1])
    np.testing.assert_allclose(details["gains"], gains, rtol=1e-12)
    assert details["stops"] == pytest.approx(np.log2(np.dot([0.2126, 0.7152, 0.0722], gains)), abs=1e-4)
    if method == "von_kries":
        assert details["stops"] == pytest.approx(0.0, abs=1e-9)  # luminance-neutral
    else:
        assert abs(details["stops"]) > 0.05  # the scene's F and B differ in exposure
    assert harmonize_with_details(HarmonizationParams("reinhard_lab", 0.5), fg, alpha, bg)[1] == {}
    assert harmonize_with_details(HarmonizationParams(), fg, alpha, bg)[1] == {}


def test_exposure_scales_the_subjects_noise_like_photon_noise_and_its_edges_like_light():
    """4x the light (2 stops) gives 4x the signal, edges included, but only 2x the noise."""
    rng = np.random.default_rng(11)
    h, w = 192, 192
    clean = np.full((h, w, 3), 70.0, np.float32)
    clean[:, w // 2:] = 120.0  # one strong edge: reflectance, which scales with the light
    noisy = np.clip(np.rint(clean + rng.normal(0.0, 3.0, clean.shape)), 0, 255).astype(np.uint8)
    alpha = np.ones((h, w), np.float32)
    bg = np.full((32, 32, 3), 255, np.uint8)
    gains = light_gains(noisy, alpha, bg, 1.0, chromatic=False)
    assert gains[0] == pytest.approx(4.0)  # clipped at max_stops = 2
    out = exposure(noisy, alpha, bg, 1.0)
    naive = linear_to_srgb(srgb_to_linear(noisy) * np.float32(4.0))  # noise scaled with the signal
    lin_in, lin_out, lin_naive = (srgb_to_linear(x).astype(np.float64) for x in (noisy, out, naive))
    flat = (slice(8, h - 8), slice(8, w // 2 - 8))
    noise_in, noise_out, noise_naive = (x[flat].std() for x in (lin_in, lin_out, lin_naive))
    assert noise_naive / noise_in == pytest.approx(4.0, rel=0.05)
    assert 1.8 < noise_out / noise_in < 2.5  # 2 = all of the noise found
    for half in (flat, (slice(8, h - 8), slice(w // 2 + 8, w - 8))):  # the means get the full gain
        assert lin_out[half].mean() == pytest.approx(4.0 * lin_in[half].mean(), rel=0.02)
    # without measurable noise F is scaled as is
    smooth = np.clip(np.rint(clean), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(exposure(smooth, alpha, bg, 1.0),
                                  linear_to_srgb(srgb_to_linear(smooth) * np.float32(gains[0])))


def test_light_method_validation(light_scene):
    fg, alpha, bg = light_scene
    with pytest.raises(ValueError, match="max_log_gain must be"):
        von_kries(fg, alpha, bg, 0.5, max_log_gain=0.0)
    with pytest.raises(ValueError, match="max_stops must be"):
        exposure(fg, alpha, bg, 0.5, max_stops=float("inf"))
    with pytest.raises(ValueError, match="chromatic=True or intensity=True"):
        light_gains(fg, alpha, bg, 0.5, chromatic=False, intensity=False)
    with pytest.raises(ValueError, match="no foreground"):
        relight(fg, np.zeros_like(alpha), bg, 0.5)
    with pytest.raises(ValueError, match=r"strength must be in \[0, 1\]"):
        exposure(fg, alpha, bg, -0.1)


def test_light_gains_are_bounded(light_scene):
    fg, alpha, _ = light_scene
    black = np.zeros((64, 64, 3), np.uint8)  # no light information: exposure leaves F alone
    np.testing.assert_array_equal(light_gains(fg, alpha, black, 1.0, chromatic=False), np.ones(3))
    white = np.full((64, 64, 3), 254, np.uint8)
    gains = light_gains(fg, alpha, white, 1.0, chromatic=False, max_stops=0.5)
    np.testing.assert_allclose(gains, 2.0**0.5)


def test_every_method_is_selectable_in_a_recipe():
    from synth.recipe import HarmonizationSpec

    spec = HarmonizationSpec(p=1.0, methods=list(HARMONIZATION_METHODS))
    assert tuple(spec.methods) == HARMONIZATION_METHODS
    params = sample_harmonization(np.random.default_rng(3), ["von_kries", "exposure"], (0.4, 0.9), p=1.0)
    assert params.method in ("von_kries", "exposure") and 0.4 <= params.strength <= 0.9
    assert json.loads(json.dumps(params.to_dict())) == {"method": params.method, "strength": params.strength}


def test_exposure_with_the_8_bit_bilateral_is_within_a_level_of_the_float_filter():
    """The noise-free base is filtered on whole levels (OpenCV's 8-bit bilateral): against the
    same two passes in float32, one level at most, in under a tenth of the pixels."""
    from augment.colour import srgb_levels_to_linear
    from augment.estimate import estimate_noise_sigma
    from realism_images import detailed_image

    rng = np.random.default_rng(12)
    clean = cv2.resize(detailed_image(96, 96, seed=6), (192, 192), interpolation=cv2.INTER_CUBIC)
    noisy = np.clip(np.rint(clean + rng.normal(0.0, 3.0, clean.shape)), 0, 255).astype(np.uint8)
    alpha = np.ones((192, 192), np.float32)
    bg = np.full((32, 32, 3), 230, np.uint8)
    gain = np.float32(light_gains(noisy, alpha, bg, 1.0, chromatic=False)[0])
    assert gain > 1.5
    out = exposure(noisy, alpha, bg, 1.0)
    sigma = estimate_noise_sigma(noisy, alpha > 0.95)  # (the middle 256 rows: all of them here)
    base = noisy.astype(np.float32)
    for _ in range(2):
        base = cv2.bilateralFilter(base, 5, 4.0 * sigma, 1.5, borderType=cv2.BORDER_REFLECT_101)
    base = srgb_levels_to_linear(base)
    ref = linear_to_srgb(base * gain + (srgb_to_linear(noisy) - base) * np.sqrt(gain))
    diff = np.abs(out.astype(np.int16) - ref)
    assert diff.max() <= 1 and 0 < np.mean(diff > 0) < 0.1


@settings(max_examples=40, deadline=None)
@given(h=st.integers(2, 64), w=st.integers(2, 64), noise=st.sampled_from([0.0, 4.0]),
       gains=st.tuples(*[st.floats(0.25, 4.0, width=32)] * 3), seed=st.integers(0, 2**31))
def test_apply_gains_equals_its_numpy_formula(h, w, noise, gains, seed):
    """The compiled pass (augment.kernels.gained_srgb) gives the float32 formula's bytes, with
    and without the smoothed base (noisy / clean F), encoded by the computed sRGB curve, and
    leaves everything outside the box of alpha > 0 as it was."""
    from augment.colour import _linear_to_srgb_exact
    from augment.harmonize.light import _noise_free_levels, apply_gains

    rs = np.random.default_rng(seed)
    clean = cv2.resize(rs.integers(0, 256, (h // 2 + 1, w // 2 + 1, 3), dtype=np.uint8), (w, h))
    fg = np.clip(np.rint(clean + rs.normal(0.0, noise, clean.shape)), 0, 255).astype(np.uint8)
    alpha = np.zeros((h, w), np.float32)
    alpha[h // 4: h - h // 4, w // 3:] = 1.0  # opaque inside (where F's noise is measured), soft on its edge
    alpha[h // 4, w // 3:] = rs.uniform(0.01, 1.0, w - w // 3)
    g = np.asarray(gains, np.float32)
    out = apply_gains(fg, alpha, g)
    ys, xs = slice(h // 4, h - h // 4), slice(w // 3, w)
    lin = srgb_to_linear(fg[ys, xs])
    base = _noise_free_levels(fg[ys, xs], alpha[ys, xs])
    if base is None:
        v = lin * g
    else:
        b = srgb_to_linear(base)
        v = b * g + (lin - b) * np.sqrt(g)
    ref = fg.copy()
    ref[ys, xs] = _linear_to_srgb_exact(v)
    np.testing.assert_array_equal(out, ref)


def test_histogram_match_equals_its_per_channel_numpy_reference(scene):
    """One OpenCV table pass and OpenCV's background counts give the plain numpy values."""
    fg, alpha, bg = scene
    out = histogram_match(fg, alpha, bg, 0.6)
    rows, cols = np.flatnonzero((alpha > 0).any(axis=1)), np.flatnonzero((alpha > 0).any(axis=0))
    ys, xs = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
    crop, w = fg[ys, xs], alpha[ys, xs].reshape(-1).astype(np.float64)
    levels = np.arange(256, dtype=np.float64)
    ref = fg.copy()

    def cdf_mid(hist):
        return np.cumsum(hist) / hist.sum() - 0.5 * hist / hist.sum()

    for c in range(3):
        h_f = np.bincount(crop[..., c].reshape(-1), weights=w, minlength=256)
        h_b = np.bincount(bg[..., c].reshape(-1), minlength=256).astype(np.float64)
        lut = np.interp(cdf_mid(h_f), cdf_mid(h_b)[h_b > 0], levels[h_b > 0])
        ref[ys, xs, c] = np.clip(np.rint(levels + 0.6 * (lut - levels)), 0, 255).astype(np.uint8)[crop[..., c]]
    np.testing.assert_array_equal(out, ref)
    assert not np.array_equal(out, fg)
