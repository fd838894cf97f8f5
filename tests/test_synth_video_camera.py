"""synth.video.camera: a tripod is the identity window; the camera's extent covers every
corner it sees; the middle frame sees the unmoved window."""
from __future__ import annotations

import numpy as np

from synth.video.camera import CameraParams, camera_extent, camera_matrix, sample_camera

CANVAS = (90, 120)


def _camera(seed, still_p=0.0):
    return sample_camera(np.random.default_rng(seed), frames=12, canvas=CANVAS, max_pan=0.02, max_zoom_rate=0.01,
                         max_roll=0.5, shake_px=4.0, still_p=still_p)


def test_a_tripod_maps_the_canvas_onto_the_window():
    cam = _camera(0, still_p=1.0)
    assert cam == CameraParams() and cam.to_dict() == {"still": True}
    assert np.allclose(camera_matrix(cam, 3.0, CANVAS, (100.0, 80.0)), [[1, 0, 40], [0, 1, 35]])
    assert camera_extent(cam, 12, CANVAS) == (60.0, 45.0)


def test_the_extent_covers_every_corner_at_every_instant():
    corners = np.array([[0, 0, 1], [120, 0, 1], [0, 90, 1], [120, 90, 1]], np.float64).T
    for seed in range(10):
        cam = _camera(seed)
        ex, ey = camera_extent(cam, 12, CANVAS)
        assert not cam.still and ex >= 60 and ey >= 45
        for t in np.linspace(-0.5, 11.5, 37):
            pts = camera_matrix(cam, float(t), CANVAS, (0.0, 0.0)) @ corners
            assert np.abs(pts[0]).max() <= ex + 1e-6 and np.abs(pts[1]).max() <= ey + 1e-6
        assert np.allclose(cam.state(5.5), 0.0)  # the middle of the clip sees the window itself
