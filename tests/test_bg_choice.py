"""Background choice: descriptors, fit scores, balanced assignment."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from synth.bg_choice import (
    BgDescriptor,
    assignment_matrix,
    describe_background,
    describe_foreground,
    draw_background,
    estimate_illuminant,
    fit_scores,
)


def _plain(rgb, size=(200, 240), seed=0):
    """A smooth, gently lit wall of colour `rgb` with faint noise."""
    rng = np.random.default_rng(seed)
    h, w = size
    ramp = np.linspace(-8, 8, w, dtype=np.float32)[None, :, None]
    img = np.asarray(rgb, np.float32)[None, None, :] + ramp + rng.normal(0, 1.0, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _cluttered(rgb, size=(200, 240), seed=0):
    """Many small high-contrast objects whose colours average to `rgb`."""
    rng = np.random.default_rng(seed)
    h, w = size
    img = np.asarray(_plain(rgb, size, seed), np.float32)
    for _ in range(120):
        d = rng.uniform(-70, 70) + rng.uniform(-15, 15, 3)  # mostly luminance contrast
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        s = int(rng.integers(3, 14))
        for sign in (1, -1):  # pairs of opposite colour offsets keep the mean
            xx = min(w - 1, x + (0 if sign > 0 else 2 * s))
            cv2.rectangle(img, (xx, y), (xx + s, y + s), tuple(float(v) for v in np.asarray(rgb) + sign * d), -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def _fg(rgb, size=(160, 120)):
    h, w = size
    fg = _plain(rgb, size, seed=9)
    alpha = np.zeros((h, w), np.float32)
    cv2.ellipse(alpha, (w // 2, h // 2), (w // 3, h // 3), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 2)
    fg[alpha == 0] = (0, 255, 0)  # garbage outside the matte must not count
    return fg, alpha


def _lit(albedo, gain, size=(200, 240), seed=0):
    """A scene lit by a coloured light: sRGB uint8 of ``(0.6 albedo + 0.35 texture) * gain * 0.8``.

    The reflectance is a flat colour `albedo` (linear, in [0, 1]) plus an achromatic smooth
    texture, so its edges are grey and its mean colour is `albedo`'s; `gain` is the light.
    """
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.uniform(0, 1, size).astype(np.float32), (0, 0), 3)
    tex = (tex - tex.min()) / (tex.max() - tex.min())
    lin = (0.6 * np.asarray(albedo)[None, None, :] + 0.35 * tex[..., None]) * np.asarray(gain) * 0.8
    lin = np.clip(lin, 0, 1)
    srgb = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.clip(srgb * 255 + 0.5, 0, 255).astype(np.uint8)


def _chroma(gain):
    return np.log(gain[0] / gain[1]), np.log(gain[2] / gain[1])


WARM_DARK, WARM_BRIGHT = (110, 70, 40), (235, 200, 160)
COOL_DARK, COOL_BRIGHT = (35, 60, 105), (170, 205, 240)
NEUTRAL = (128, 128, 128)


def test_descriptors_basic_values_and_json():
    warm = describe_background(_plain(WARM_BRIGHT))
    cool = describe_background(_plain(COOL_BRIGHT))
    assert warm.temperature > 0.3 > -0.3 > cool.temperature
    assert (warm.height, warm.width) == (200, 240)
    assert 0 <= warm.brightness <= 1 and warm.lab_mean[0] == pytest.approx(100 * warm.brightness)
    json.dumps(warm.to_dict())
    assert warm.noise_sigma == pytest.approx(1.0, rel=0.3)
    fg, alpha = _fg(WARM_DARK)
    d = describe_foreground(fg, alpha)
    json.dumps(d.to_dict())
    assert d.temperature > 0.5 and (d.height, d.width) == (160, 120)
    # the old background (alpha = 0) does not count
    fg2 = fg.copy()
    fg2[alpha == 0] = (255, 0, 255)
    assert describe_foreground(fg2, alpha) == d


@pytest.mark.parametrize("albedo", [(0.5, 0.5, 0.5), (0.8, 0.2, 0.1), (0.1, 0.35, 0.7)])
@pytest.mark.parametrize("gain", [(1.0, 1.0, 1.0), (1.3, 1.0, 0.6), (0.7, 0.9, 1.2)])
def test_illuminant_recovers_a_known_cast_whatever_the_albedo(albedo, gain):
    est = estimate_illuminant(_lit(albedo, gain))
    np.testing.assert_allclose(est, _chroma(gain), atol=0.03)
    bg = describe_background(_lit(albedo, gain))  # records the same estimate (the copy is small already)
    np.testing.assert_allclose(bg.illuminant, est, atol=1e-9)
    # grey world (the mean colour) follows the albedo instead: that is what the illuminant avoids
    grey_world = bg.temperature - describe_background(_lit((0.5, 0.5, 0.5), gain)).temperature
    assert abs(grey_world) > 0.3 or albedo == (0.5, 0.5, 0.5)


def test_foreground_illuminant_uses_the_opaque_interior_only():
    gain = (1.25, 1.0, 0.7)
    fg = _lit((0.2, 0.6, 0.3), gain, size=(160, 120), seed=3)
    alpha = np.zeros((160, 120), np.float32)
    cv2.ellipse(alpha, (60, 80), (45, 60), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 2)
    rng = np.random.default_rng(1)
    fg[alpha < 0.01] = rng.integers(0, 256, (int((alpha < 0.01).sum()), 3))  # loud garbage outside
    np.testing.assert_allclose(describe_foreground(fg, alpha).illuminant, _chroma(gain), atol=0.04)
    # clipped pixels carry no light information and are left out
    clipped = _lit((0.5, 0.5, 0.5), gain)
    clipped[50:120, 60:160] = 255
    np.testing.assert_allclose(estimate_illuminant(clipped), _chroma(gain), atol=0.03)
    # no structure: no evidence, neutral
    assert estimate_illuminant(np.full((40, 40, 3), (200, 120, 60), np.uint8)) == (0.0, 0.0)
    with pytest.raises(ValueError, match="weights must be float32"):
        estimate_illuminant(fg, alpha.astype(np.float64))
    with pytest.raises(ValueError, match=r"weights must be in \[0, 1\]"):
        estimate_illuminant(fg, alpha * 2)


def test_fit_prefers_the_same_light_over_the_same_mean_colour():
    warm, cool = (1.3, 1.0, 0.6), (0.75, 0.95, 1.25)
    f_albedo = np.array([0.35, 0.35, 0.45])
    fg = _lit(f_albedo, warm, size=(160, 120), seed=4)
    alpha = np.ones((160, 120), np.float32)
    alpha[:, :10] = 0  # a matte, not a rectangle of ones
    fd = describe_foreground(fg, alpha)
    same_light = describe_background(_lit((0.3, 0.5, 0.6), warm, seed=5))  # other colours, same light
    # other light, albedo chosen so that its mean colour is (nearly) the foreground's (texture mean ~0.5)
    b_albedo = ((0.6 * f_albedo + 0.175) * np.divide(warm, cool) - 0.175) / 0.6
    same_colour = describe_background(_lit(np.clip(b_albedo, 0, 1), cool, seed=6))
    ab_dist = [np.linalg.norm(np.subtract(fd.lab_mean[1:], b.lab_mean[1:])) for b in (same_light, same_colour)]
    assert ab_dist[1] < 0.5 * ab_dist[0]
    only_colour = dict(w_light=0.0, w_contrast=0.0, w_clutter=0.0, w_resolution=0.0)
    s = fit_scores(fd, [same_light, same_colour], (160, 120), **only_colour, w_temperature=0.0)
    assert s[0] > s[1] + 1.0
    # the albedo terms alone would choose the other way (the case discriminates)
    s_old = fit_scores(fd, [same_light, same_colour], (160, 120), **only_colour, w_colour=1.0, w_illuminant=0.0)
    assert s_old[1] > s_old[0]
    with pytest.raises(ValueError, match="illuminant_scale"):
        fit_scores(fd, [same_light], (160, 120), illuminant_scale=0.0)
    with pytest.raises(ValueError, match="w_illuminant"):
        fit_scores(fd, [same_light], (160, 120), w_illuminant=-1.0)


def test_clutter_proxies():
    plain = describe_background(_plain(NEUTRAL))
    busy = describe_background(_cluttered(NEUTRAL))
    np.testing.assert_allclose(plain.lab_mean, busy.lab_mean, atol=4)
    assert busy.edge_density > 0.05 > plain.edge_density
    assert busy.clutter > plain.clutter + 0.2
    flat = describe_background(np.full((64, 64, 3), 77, np.uint8))
    assert flat.edge_density == 0 and flat.saliency_concentration == 0 and flat.clutter == 0
    # one object on a plain wall: saliency concentrates
    spot = _plain(NEUTRAL)
    cv2.circle(spot, (120, 100), 18, (230, 30, 30), -1)
    assert describe_background(spot).saliency_concentration > plain.saliency_concentration + 0.1


def test_mean_colour_terms_when_switched_on_prefer_the_same_colour():
    colours = [COOL_BRIGHT, WARM_BRIGHT, WARM_DARK, COOL_DARK, NEUTRAL]
    bgs = [describe_background(_plain(c, seed=i)) for i, c in enumerate(colours)]
    albedo = dict(w_colour=1.0, w_temperature=1.0, w_illuminant=0.0)
    fd = describe_foreground(*_fg(WARM_DARK))
    scores = fit_scores(fd, bgs, (200, 240), **albedo)
    assert scores.shape == (5,) and np.all(scores <= 0)
    assert int(np.argmax(scores)) == 2
    fd = describe_foreground(*_fg(COOL_BRIGHT))
    assert int(np.argmax(fit_scores(fd, bgs, (200, 240), **albedo))) == 0
    # by default only the light counts among the colour terms: the dark ones fit the dark subject
    fd = describe_foreground(*_fg(WARM_DARK))
    assert int(np.argmax(fit_scores(fd, bgs, (200, 240)))) in (2, 3)


def test_cluttered_and_low_resolution_backgrounds_score_lower():
    fd = describe_foreground(*_fg(NEUTRAL))
    plain = describe_background(_plain(NEUTRAL))
    busy = describe_background(_cluttered(NEUTRAL))
    s = fit_scores(fd, [plain, busy], (200, 240), w_contrast=0.0)
    assert s[0] > s[1]
    assert np.allclose(*fit_scores(fd, [plain, busy], (200, 240), w_contrast=0.0, w_clutter=0.0), atol=0.3)
    # the same background at half the resolution must be upscaled 2x for the canvas: costs w_resolution
    small = BgDescriptor(**{**plain.to_dict(), "height": 100, "width": 120})
    s = fit_scores(fd, [plain, small], (200, 240))
    assert s[0] - s[1] == pytest.approx(1.0)
    s = fit_scores(fd, [plain, small], (200, 240), w_resolution=2.5)
    assert s[0] - s[1] == pytest.approx(2.5)
    with pytest.raises(ValueError, match="w_clutter must be"):
        fit_scores(fd, [plain], (200, 240), w_clutter=-1)
    with pytest.raises(ValueError, match="bg_descs must not be empty"):
        fit_scores(fd, [], (200, 240))
    with pytest.raises(ValueError, match="canvas_hw"):
        fit_scores(fd, [plain], (0, 240))


def test_assignment_matrix_balance():
    rng = np.random.default_rng(0)
    scores = rng.normal(0, 1.5, (23, 7))
    scores[:, 3] -= 4  # a background nobody likes
    p0 = assignment_matrix(scores, 0.5, 0.0)
    np.testing.assert_allclose(p0.sum(axis=1), 1, atol=1e-12)
    e = np.exp((scores - scores.max(axis=1, keepdims=True)) / 0.5)
    np.testing.assert_allclose(p0, e / e.sum(axis=1, keepdims=True), atol=1e-12)
    assert p0[:, 3].sum() < 0.05
    p1 = assignment_matrix(scores, 0.5, 1.0)
    np.testing.assert_allclose(p1.sum(axis=1), 1, atol=1e-9)
    np.testing.assert_allclose(p1.sum(axis=0), 23 / 7, atol=1e-3)
    # preferences survive balancing: within a column the best-scoring rows get the most mass
    for j in range(7):
        assert np.corrcoef(scores[:, j] - scores.mean(axis=1), np.log(p1[:, j]))[0, 1] > 0.5
    ph = assignment_matrix(scores, 0.5, 0.5)
    target = 0.5 * p0.sum(axis=0) + 0.5 * 23 / 7
    np.testing.assert_allclose(ph.sum(axis=0), target, atol=1e-3)
    np.testing.assert_allclose(ph.sum(axis=1), 1, atol=1e-9)


def test_assignment_matrix_low_temperature_is_argmax():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(10, 6))
    p = assignment_matrix(scores, 1e-4, 0.0)
    np.testing.assert_array_equal(np.argmax(p, axis=1), np.argmax(scores, axis=1))
    assert np.all(p.max(axis=1) > 0.999)
    # and at balance 1 it still converges to an equal-use plan (an optimal transport)
    p = assignment_matrix(scores[:6], 0.1, 1.0)
    np.testing.assert_allclose(p.sum(axis=0), 1.0, atol=1e-3)


def test_assignment_matrix_validation():
    with pytest.raises(ValueError, match="temperature must be"):
        assignment_matrix(np.zeros((2, 2)), 0.0, 0.5)
    with pytest.raises(ValueError, match=r"balance must be in \[0, 1\]"):
        assignment_matrix(np.zeros((2, 2)), 1.0, 1.5)
    with pytest.raises(ValueError, match="finite"):
        assignment_matrix(np.array([[0.0, np.nan]]), 1.0, 0.5)
    with pytest.raises(ValueError, match="2-D"):
        assignment_matrix(np.zeros(3), 1.0, 0.5)
    with pytest.raises(RuntimeError, match="did not converge"):
        assignment_matrix(np.random.default_rng(0).normal(size=(5, 4)), 0.01, 1.0, max_iter=2, tol=1e-12)


def test_draw_background_is_a_pure_function_of_the_generator():
    row = np.array([0.1, 0.0, 0.6, 0.3])
    a = [draw_background(np.random.default_rng([5, i]), row) for i in range(4000)]
    b = [draw_background(np.random.default_rng([5, i]), row) for i in range(4000)]
    assert a == b
    counts = np.bincount(a, minlength=4) / 4000
    assert counts[1] == 0
    np.testing.assert_allclose(counts, row, atol=0.03)
    with pytest.raises(ValueError, match="probabilities"):
        draw_background(np.random.default_rng(0), np.array([-0.1, 1.1]))


@pytest.mark.realdata
def test_real_pool_end_to_end(shared_data):
    paths = sorted((shared_data / "backgrounds").glob("*.jpg"))[:30]
    bgs = [describe_background(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)) for p in paths]
    fds = []
    for name in ("GT01", "GT05", "GT13"):
        img = cv2.cvtColor(cv2.imread(str(shared_data / f"alphamatting/image/{name}.png")), cv2.COLOR_BGR2RGB)
        a = cv2.imread(str(shared_data / f"alphamatting/alpha/{name}.png"), cv2.IMREAD_GRAYSCALE)
        fds.append(describe_foreground(img, a.astype(np.float32) / 255))
    scores = np.stack([fit_scores(fd, bgs, (512, 512)) for fd in fds])
    assert np.all(np.isfinite(scores)) and scores.shape == (3, 30)
    p = assignment_matrix(scores, 1.0, 1.0)
    np.testing.assert_allclose(p.sum(axis=0), 3 / 30, atol=1e-3)
    assert all(0 <= b.clutter <= 1 and b.noise_sigma >= 0 for b in bgs)


def test_max_share_caps_a_background_that_fits_everything():
    rng = np.random.default_rng(0)
    scores = rng.normal(0, 0.3, (12, 6))
    scores[:, 2] += 3.0  # background 2 fits every foreground best
    fair = 12 / 6
    free = assignment_matrix(scores, temperature=0.5, balance=0.0)
    assert free.sum(axis=0)[2] > 3 * fair
    capped = assignment_matrix(scores, temperature=0.5, balance=0.0, max_share=1.5)
    np.testing.assert_allclose(capped.sum(axis=1), 1.0, atol=1e-9)
    assert capped.sum(axis=0).max() <= 1.5 * fair + 1e-4
    cols = capped.sum(axis=0)
    assert cols[2] == pytest.approx(1.5 * fair, abs=1e-4) and np.argmax(cols) == 2  # still the most used, at the cap
    with pytest.raises(ValueError, match="max_share"):
        assignment_matrix(scores, temperature=0.5, balance=0.0, max_share=0.5)
