"""synth.video.motion: paths stay within their velocity and acceleration bounds, are zero at
their origin, and a still clip is the identity; entering and leaving move the subject out."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.video.motion import Pose, motion_pose, pose_matrix, sample_motion, sample_path


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), speed=st.floats(0.0, 20.0), accel=st.floats(0.0, 5.0),
       drift=st.floats(-30.0, 30.0), origin=st.floats(0.0, 31.0))
def test_paths_stay_within_their_bounds(seed, speed, accel, drift, origin):
    p = sample_path(np.random.default_rng(seed), speed, accel, drift=drift, origin=origin)
    assert p.speed_bound() <= speed + 1e-9 and p.accel_bound() <= accel + 1e-9
    assert abs(p.at(origin)) < 1e-9
    t = np.arange(0.0, 32.0, 0.05)
    v = np.array([p.at(x) for x in t])
    assert np.abs(np.diff(v)).max() <= speed * 0.05 + 1e-9
    assert np.abs(np.diff(v, n=2)).max() <= accel * 0.05**2 + 1e-9


def _motion(seed, **kw):
    args = dict(frames=16, canvas=(256, 320), box=(100, 20, 200, 120), max_speed=0.03, max_accel=0.005,
                max_scale_rate=0.01, max_rotation_speed=0.5, enter_exit_p=0.0, still_p=0.0)
    return sample_motion(np.random.default_rng(seed), **{**args, **kw})


def test_still_and_zero_amount_are_the_identity():
    for m in (_motion(1, still_p=1.0), _motion(2, amount=0.0)):
        assert m.kind == "still" and all(motion_pose(m, t).is_identity() for t in np.arange(0, 16, 0.5))
    assert np.allclose(pose_matrix(Pose(), (50.0, 60.0), (7.0, 9.0)), [[1, 0, 7], [0, 1, 9]])


def test_the_2d_speed_is_bounded_and_wander_is_zero_at_the_middle():
    for seed in range(20):
        m = _motion(seed)
        assert m.kind == "wander" and motion_pose(m, 7.5).is_identity()
        xy = np.array([[motion_pose(m, t).dx, motion_pose(m, t).dy] for t in np.arange(0, 15.01, 0.1)])
        assert np.hypot(*np.diff(xy, axis=0).T).max() <= 0.03 * 320 * 0.1 + 1e-9


def test_entering_and_leaving_cross_the_nearest_side():
    kinds = set()
    for seed in range(30):
        m = _motion(seed, enter_exit_p=1.0)
        kinds.add(m.kind)
        first, last = motion_pose(m, 0), motion_pose(m, 15)
        outside = first if m.kind == "enter" else last
        inside = last if m.kind == "enter" else first
        assert inside.dx == 0.0 and inside.dy == 0.0
        assert outside.dx < -20  # the box's nearest side is the left one (x0 = 20)
    assert kinds == {"enter", "leave"}


def test_pose_matrix_rotates_and_scales_about_the_centre():
    m = pose_matrix(Pose(3.0, -2.0, np.log(2.0), 90.0), (10.0, 10.0))
    assert np.allclose(m @ [10.0, 10.0, 1.0], [13.0, 8.0])  # the centre only moves by (dx, dy)
    assert np.allclose(m @ [11.0, 10.0, 1.0], [13.0, 6.0])  # x axis turned 90 degrees counter-clockwise, doubled
