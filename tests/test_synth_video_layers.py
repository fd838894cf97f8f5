"""synth.video.layers: an unmoved layer is pasted exactly; blur averages the exposure with F
and alpha together (a flat-coloured subject keeps its colour), and the blur grows with motion."""
from __future__ import annotations

import numpy as np

from synth.video.layers import blur_samples, camera_layer, exposure_times, subject_layers


def _shift(dx, dy):
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])


def test_an_integer_shift_is_pasted_exactly():
    rng = np.random.default_rng(0)
    fg, alpha = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8), rng.random((20, 30), dtype=np.float32)
    f, a = subject_layers(fg, alpha, [_shift(5, -3)], (40, 50))
    assert np.array_equal(a[0:17, 5:35], alpha[3:20]) and a.sum() == np.float32(alpha[3:20].sum())
    assert np.array_equal(f[0:17, 5:35], fg[3:20]) and f[20:].max() == 0
    photo = rng.integers(0, 256, (60, 70, 3), dtype=np.uint8)
    assert np.array_equal(camera_layer(photo, [_shift(4, 7)], (40, 50)), photo[7:47, 4:54])


def test_blur_averages_alpha_and_keeps_a_flat_subject_colour():
    fg = np.full((10, 10, 3), (200, 40, 90), np.uint8)
    alpha = np.ones((10, 10), np.float32)
    mats = [_shift(10 + k, 10) for k in range(5)]
    f, a = subject_layers(fg, alpha, mats, (30, 40))
    assert np.allclose(a[12, 10:15], [0.2, 0.4, 0.6, 0.8, 1.0], atol=1e-6)  # a ramp over the 4-px motion
    assert np.array_equal(f[a > 0.01], np.broadcast_to([200, 40, 90], f[a > 0.01].shape))
    assert abs(a.sum() - 100.0) < 1e-3  # coverage is conserved


def test_blur_samples_and_exposure_times():
    assert blur_samples(0.2, 9) == 1 and blur_samples(3.2, 9) == 5 and blur_samples(40.0, 9) == 9
    assert exposure_times(4, 0.5, 1) == [4.0] and exposure_times(4, 0.0, 5) == [4.0]
    assert np.allclose(exposure_times(4, 0.5, 3), [3.75, 4.0, 4.25])
