"""Background and foreground descriptors: values, JSON, illuminant, clutter proxies."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from augment.illuminant import estimate_illuminant
from synth.bg_descriptors import describe_background, describe_foreground

from bg_images import COOL_BRIGHT, NEUTRAL, WARM_BRIGHT, WARM_DARK, chroma, cluttered_wall, fg_on_matte, lit_scene, wall


def test_descriptors_basic_values_and_json():
    warm = describe_background(wall(WARM_BRIGHT))
    cool = describe_background(wall(COOL_BRIGHT))
    assert warm.temperature > 0.3 > -0.3 > cool.temperature
    assert (warm.height, warm.width) == (200, 240)
    assert 0 <= warm.brightness <= 1 and warm.lab_mean[0] == pytest.approx(100 * warm.brightness)
    json.dumps(warm.to_dict())
    assert warm.noise_sigma == pytest.approx(1.0, rel=0.3)
    fg, alpha = fg_on_matte(WARM_DARK)
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
    est = estimate_illuminant(lit_scene(albedo, gain))
    np.testing.assert_allclose(est, chroma(gain), atol=0.03)
    bg = describe_background(lit_scene(albedo, gain))  # records the same estimate (the copy is small already)
    np.testing.assert_allclose(bg.illuminant, est, atol=1e-9)
    # grey world (the mean colour) follows the albedo instead: that is what the illuminant avoids
    grey_world = bg.temperature - describe_background(lit_scene((0.5, 0.5, 0.5), gain)).temperature
    assert abs(grey_world) > 0.3 or albedo == (0.5, 0.5, 0.5)


def test_foreground_illuminant_uses_the_opaque_interior_only():
    gain = (1.25, 1.0, 0.7)
    fg = lit_scene((0.2, 0.6, 0.3), gain, size=(160, 120), seed=3)
    alpha = np.zeros((160, 120), np.float32)
    cv2.ellipse(alpha, (60, 80), (45, 60), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 2)
    rng = np.random.default_rng(1)
    fg[alpha < 0.01] = rng.integers(0, 256, (int((alpha < 0.01).sum()), 3))  # loud garbage outside
    np.testing.assert_allclose(describe_foreground(fg, alpha).illuminant, chroma(gain), atol=0.04)
    # clipped pixels carry no light information and are left out
    clipped = lit_scene((0.5, 0.5, 0.5), gain)
    clipped[50:120, 60:160] = 255
    np.testing.assert_allclose(estimate_illuminant(clipped), chroma(gain), atol=0.03)
    # no structure: no evidence, neutral
    assert estimate_illuminant(np.full((40, 40, 3), (200, 120, 60), np.uint8)) == (0.0, 0.0)
    with pytest.raises(ValueError, match="weights must be float32"):
        estimate_illuminant(fg, alpha.astype(np.float64))
    with pytest.raises(ValueError, match=r"weights must be in \[0, 1\]"):
        estimate_illuminant(fg, alpha * 2)


def test_clutter_proxies():
    plain = describe_background(wall(NEUTRAL))
    busy = describe_background(cluttered_wall(NEUTRAL))
    np.testing.assert_allclose(plain.lab_mean, busy.lab_mean, atol=4)
    assert busy.edge_density > 0.05 > plain.edge_density
    assert busy.clutter > plain.clutter + 0.2
    flat = describe_background(np.full((64, 64, 3), 77, np.uint8))
    assert flat.edge_density == 0 and flat.saliency_concentration == 0 and flat.clutter == 0
    # one object on a plain wall: saliency concentrates
    spot = wall(NEUTRAL)
    cv2.circle(spot, (120, 100), 18, (230, 30, 30), -1)
    assert describe_background(spot).saliency_concentration > plain.saliency_concentration + 0.1
