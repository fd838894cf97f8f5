"""synth.video.layers: an unmoved layer is pasted exactly; motion blur smears along the motion
with F and alpha together (a flat-coloured subject keeps its colour, coverage is conserved),
and line kernels are normalised segments of the motion's length."""
from __future__ import annotations

import numpy as np

from synth.video.layers import blur_vector, camera_layer, line_kernel, subject_layers


def _shift(dx, dy):
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])


def test_an_integer_shift_is_pasted_exactly():
    rng = np.random.default_rng(0)
    fg, alpha = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8), rng.random((20, 30), dtype=np.float32)
    f, a = subject_layers(fg, alpha, _shift(5, -3), (40, 50))
    assert np.array_equal(a[0:17, 5:35], alpha[3:20]) and a.sum() == np.float32(alpha[3:20].sum())
    assert np.array_equal(f[0:17, 5:35], fg[3:20]) and f[20:].max() == 0
    photo = rng.integers(0, 256, (60, 70, 3), dtype=np.uint8)
    assert np.array_equal(camera_layer(photo, _shift(4, 7), (40, 50)), photo[7:47, 4:54])
    assert np.array_equal(camera_layer(photo, _shift(4, 7), (40, 50), (0.3, 0.2)), photo[7:47, 4:54])  # < 0.5 px


def test_blur_smears_alpha_and_keeps_a_flat_subject_colour():
    fg = np.full((10, 10, 3), (200, 40, 90), np.uint8)
    alpha = np.ones((10, 10), np.float32)
    f, a = subject_layers(fg, alpha, _shift(10, 10), (30, 40), (4.0, 0.0))
    row = a[15]
    assert np.all(np.diff(row[6:12]) >= 0) and 0 < row[8] < 1 and row[14] == np.float32(1.0)  # a ramp in x
    assert np.allclose(a[:, 15], a[:, 15].max() * (a[:, 15] > 0))  # no smear in y
    covered = a > 0.01
    assert np.abs(f[covered].astype(int) - [200, 40, 90]).max() <= 1
    assert abs(a.sum() - 100.0) < 1e-3  # coverage is conserved


def test_line_kernels():
    assert line_kernel(0.3, 0.2) is None
    for v in ((5.0, 0.0), (3.0, 4.0), (-7.5, 2.5)):
        k = line_kernel(*v).astype(np.float64)
        assert abs(k.sum() - 1.0) < 1e-6 and k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
        ys, xs = np.mgrid[0:k.shape[0], 0:k.shape[1]] - k.shape[0] // 2
        assert abs((k * xs).sum()) < 1e-6 and abs((k * ys).sum()) < 1e-6  # centred
        # the second moment along the motion is that of a uniform segment of length |v|, plus the splat's
        u = np.array(v) / np.hypot(*v)
        var = (k * (xs * u[0] + ys * u[1]) ** 2).sum()
        assert 0 <= var - np.hypot(*v) ** 2 / 12 < 0.35
    assert blur_vector(_shift(1, 2), _shift(4, -2), (5.0, 5.0)) == (3.0, -4.0)
