"""augment.mismatch: F/B mismatch near the boundary, colour spill, straight cuts."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from augment.degrade import NoiseParams, add_sensor_noise, match_sharpness
from augment.estimate import estimate_sharpness
from augment.mismatch import MISMATCH_KEYS, realism_mismatch, spill_residual, straight_cut

from realism_images import detailed_image, soft_disc


def test_realism_mismatch_flags_a_naive_composite_and_not_a_consistent_one():
    alpha = soft_disc()
    a3 = alpha[..., None]
    scene = detailed_image(192, 192, seed=5)
    # one "photo": the same texture and noise on both sides of the boundary
    photo = add_sensor_noise(NoiseParams(sigma=4.0), scene, 0)
    m = realism_mismatch(photo, alpha)
    assert set(m) == set(MISMATCH_KEYS)
    assert abs(m["noise_log_ratio"]) < 0.2 and abs(m["sharpness_log_ratio"]) < 0.2
    # naive composite: sharp clean F over a blurry noisy B
    fg = detailed_image(192, 192, seed=6)
    bg = add_sensor_noise(NoiseParams(sigma=5.0), cv2.GaussianBlur(detailed_image(192, 192, seed=7), (0, 0), 2.5), 1)
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


@pytest.mark.realdata
def test_realism_mismatch_on_real_photos_is_finite_and_nonzero(shared_data):
    for name in ("GT02", "GT13"):
        img = cv2.cvtColor(cv2.imread(str(shared_data / f"alphamatting/image/{name}.png")), cv2.COLOR_BGR2RGB)
        alpha = cv2.imread(str(shared_data / f"alphamatting/alpha/{name}.png"), cv2.IMREAD_GRAYSCALE)
        m = realism_mismatch(img, alpha.astype(np.float32) / 255)
        for key in ("noise_log_ratio", "sharpness_log_ratio", "lab_mean_dist", "lab_std_log_ratio"):
            assert np.isfinite(m[key]), (name, key, m)
        assert m["lab_mean_dist"] > 1 and abs(m["sharpness_log_ratio"]) > 0.01


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
    with pytest.raises(ValueError, match="alpha must be a float32"):
        straight_cut(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="step"):
        straight_cut(cut, step=0.0)


def test_straight_cut_on_the_real_photos_is_small(shared_data):
    from shards.codec import decode_alpha

    values = [straight_cut(decode_alpha(p.read_bytes()))
              for p in sorted((shared_data / "alphamatting" / "alpha").glob("*.png"))]
    assert len(values) == 18 and max(values) < 0.15 and float(np.median(values)) < 0.03
