"""augment.degrade.glare: veiling glare mixes a wide blur of the picture into it, in linear light."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.colour import linear_to_srgb, srgb_to_linear
from augment.degrade.glare import GlareParams, sample_glare, veiling_glare


def _reference(image: np.ndarray, params: GlareParams) -> np.ndarray:
    """The definition at full resolution, in float64: (1 - k) L + k G_sigma(L)."""
    lin = srgb_to_linear(image).astype(np.float64)
    sigma = params.radius * max(image.shape[:2])
    halo = cv2.GaussianBlur(lin, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    return linear_to_srgb(((1 - params.strength) * lin + params.strength * halo).astype(np.float32))


def _edge_image() -> np.ndarray:
    img = np.full((96, 128, 3), 20, np.uint8)
    img[:, 64:] = 230  # a bright backdrop right of a dark subject
    return img


def test_no_strength_is_the_identity():
    img = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert veiling_glare(img, GlareParams(0.0, 0.03)) is img


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.floats(0.001, 0.5), st.floats(0.001, 0.5))
def test_a_flat_picture_keeps_its_colour(r, g, b, k, radius):
    img = np.empty((24, 40, 3), np.uint8)
    img[:] = (r, g, b)
    assert np.array_equal(veiling_glare(img, GlareParams(k, radius)), img)


@pytest.mark.parametrize("radius", [0.02, 0.05])  # sigma 2.6 px (full resolution) and 6.4 px (shrunk copy)
def test_matches_the_full_resolution_definition(radius):
    img = _edge_image()
    img[10:30, 10:40] = (200, 40, 90)
    params = GlareParams(0.06, radius)
    out, ref = veiling_glare(img, params).astype(int), _reference(img, params).astype(int)
    assert np.abs(out - ref).max() <= 1  # the shrunk blur differs from the exact one by under a level


def test_the_subjects_edge_takes_the_backdrops_light_and_far_pixels_keep_theirs():
    img = _edge_image()
    out = veiling_glare(img, GlareParams(0.05, 0.05)).astype(int)
    assert out[48, 60, 0] > 20 + 5  # the dark side next to the bright backdrop brightens
    assert out[48, 60, 0] > out[48, 5, 0]  # more at the edge than far from it
    assert out[48, 68, 0] < 230  # the backdrop next to the dark subject darkens a little
    assert np.abs(out[48, 64:] - out[48, 64:].mean(axis=0)).max() < 30  # a halo, not a new edge


def test_linear_light_mean_is_kept():
    img = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    out = veiling_glare(img, GlareParams(0.2, 0.05))
    # a normalised blur with mirrored borders keeps the mean light (to rounding)
    assert abs(srgb_to_linear(out).mean() - srgb_to_linear(img).mean()) < 2e-3


def test_sampling_draws_within_ranges_and_honours_p():
    rng = np.random.default_rng(5)
    drawn = [sample_glare(rng, (0.01, 0.04), (0.02, 0.03), p=0.5) for _ in range(400)]
    on = [g for g in drawn if g.strength > 0]
    assert 150 < len(on) < 250
    assert all(0.01 <= g.strength <= 0.04 and 0.02 <= g.radius <= 0.03 for g in on)
    assert all(g == GlareParams(0.0, 0.0) for g in drawn if g.strength == 0)
    a, b = np.random.default_rng(9), np.random.default_rng(9)
    assert sample_glare(a) == sample_glare(b) and a.random() == b.random()  # always three draws


def test_bad_parameters_are_refused():
    img = _edge_image()
    with pytest.raises(ValueError, match="strength"):
        veiling_glare(img, GlareParams(0.7, 0.02))
    with pytest.raises(ValueError):
        sample_glare(np.random.default_rng(0), (0.3, 0.1))
    with pytest.raises(ValueError):
        veiling_glare(img.astype(np.float32), GlareParams(0.02, 0.02))
