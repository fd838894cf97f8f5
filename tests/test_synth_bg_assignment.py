"""Background choice at plan time: fit scores, balanced (Sinkhorn) assignment, the draw."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from synth.bg_assignment import assignment_matrix, draw_background, fit_scores
from synth.bg_descriptors import BgDescriptor, describe_background, describe_foreground

from bg_images import (COOL_BRIGHT, COOL_DARK, NEUTRAL, WARM_BRIGHT, WARM_DARK, cluttered_wall, fg_on_matte, lit_scene,
                       wall)


def test_fit_prefers_the_same_light_over_the_same_mean_colour():
    warm, cool = (1.3, 1.0, 0.6), (0.75, 0.95, 1.25)
    f_albedo = np.array([0.35, 0.35, 0.45])
    fg = lit_scene(f_albedo, warm, size=(160, 120), seed=4)
    alpha = np.ones((160, 120), np.float32)
    alpha[:, :10] = 0  # a matte, not a rectangle of ones
    fd = describe_foreground(fg, alpha)
    same_light = describe_background(lit_scene((0.3, 0.5, 0.6), warm, seed=5))  # other colours, same light
    # other light, albedo chosen so that its mean colour is (nearly) the foreground's (texture mean ~0.5)
    b_albedo = ((0.6 * f_albedo + 0.175) * np.divide(warm, cool) - 0.175) / 0.6
    same_colour = describe_background(lit_scene(np.clip(b_albedo, 0, 1), cool, seed=6))
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


def test_mean_colour_terms_when_switched_on_prefer_the_same_colour():
    colours = [COOL_BRIGHT, WARM_BRIGHT, WARM_DARK, COOL_DARK, NEUTRAL]
    bgs = [describe_background(wall(c, seed=i)) for i, c in enumerate(colours)]
    albedo = dict(w_colour=1.0, w_temperature=1.0, w_illuminant=0.0)
    fd = describe_foreground(*fg_on_matte(WARM_DARK))
    scores = fit_scores(fd, bgs, (200, 240), **albedo)
    assert scores.shape == (5,) and np.all(scores <= 0)
    assert int(np.argmax(scores)) == 2
    fd = describe_foreground(*fg_on_matte(COOL_BRIGHT))
    assert int(np.argmax(fit_scores(fd, bgs, (200, 240), **albedo))) == 0
    # by default only the light counts among the colour terms: the dark ones fit the dark subject
    fd = describe_foreground(*fg_on_matte(WARM_DARK))
    assert int(np.argmax(fit_scores(fd, bgs, (200, 240)))) in (2, 3)


def test_cluttered_and_low_resolution_backgrounds_score_lower():
    fd = describe_foreground(*fg_on_matte(NEUTRAL))
    plain = describe_background(wall(NEUTRAL))
    busy = describe_background(cluttered_wall(NEUTRAL))
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


# ------------------------------------------------------------------ the guided build's pinned backgrounds

from collections import Counter  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from synth.bg_assignment import pinned_background, pinned_count  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), n_bg=st.integers(1, 12), share=st.floats(0.0, 1.0), seed=st.integers(0, 2**32))
def test_pinned_backgrounds_give_every_background_its_share(n, n_bg, share, seed):
    picks = [pinned_background(seed, "train", i, n_bg, share) for i in range(n)]
    pinned = [p for p in picks if p is not None]
    assert len(pinned) == pinned_count(n, share)
    uses = Counter(pinned)
    assert all(0 <= b < n_bg for b in uses)
    assert min(uses.get(b, 0) for b in range(n_bg)) >= len(pinned) // n_bg
    assert max(uses.values(), default=0) <= -(-len(pinned) // n_bg)  # balanced: counts differ by <= 1
    # a pure function of the index
    assert [pinned_background(seed, "train", i, n_bg, share) for i in range(n)][::-1] == picks[::-1]


def test_pinned_background_half_share_pins_every_other_sample_and_checks_arguments():
    picks = [pinned_background(0, "val", i, 3, 0.5) for i in range(12)]
    assert [p is not None for p in picks] == [False, True] * 6
    assert sorted(p for p in picks if p is not None) == [0, 0, 1, 1, 2, 2]
    assert pinned_background(0, "val", 5, 3, 0.0) is None
    with pytest.raises(ValueError, match="min_share"):
        pinned_background(0, "val", 5, 3, 1.5)
    with pytest.raises(ValueError, match="n_bg"):
        pinned_background(0, "val", 5, 0, 0.5)
