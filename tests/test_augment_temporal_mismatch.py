"""augment.temporal_mismatch on hand-made clips: a textured subject (a disk) over a textured
background, each side moved, noised, blurred or re-coloured per frame as a test asks. A static
scene has no motion, no flicker and no noise change; a still background behind a moving subject,
noise live on one side and frozen on the other, a fast subject without blur, colour redrawn on
the subject per frame: each shows its own indicator, and the consistent version does not."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.temporal_mismatch import (
    NOMINAL_SHUTTER,
    TEMPORAL_INDICATORS,
    TEMPORAL_KEYS,
    edge_blur_length,
    estimate_shift,
    temporal_mismatch,
)

H = W = 128
PAD = 40


def _texture(seed: int, sigma: float = 1.5, contrast: float = 35.0, mean: float = 128.0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((H + 2 * PAD, W + 2 * PAD, 3)).astype(np.float32)
    x = cv2.GaussianBlur(x, (0, 0), sigma)
    return x / x.std() * contrast + mean


def _window(img: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """The canvas over ``img`` with the content moved by (dy, dx)."""
    m = np.float32([[1, 0, PAD - dx], [0, 1, PAD - dy]])
    return cv2.warpAffine(img, m, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


def _disk(cy: float, cx: float, r: float = 36.0) -> np.ndarray:
    yy, xx = np.mgrid[:H, :W]
    return np.clip(r - np.hypot(yy - cy, xx - cx) + 0.5, 0, 1).astype(np.float32)


def _box(length: float, angle: float) -> np.ndarray:
    r = int(math.ceil(length / 2)) + 1
    k = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
    for s in np.linspace(-length / 2, length / 2, int(4 * length) + 2):
        x, y = r + s * math.cos(angle), r + s * math.sin(angle)
        x0, y0 = int(x), int(y)
        fx, fy = x - x0, y - y0
        k[y0, x0] += (1 - fx) * (1 - fy)
        k[y0, x0 + 1] += fx * (1 - fy)
        k[y0 + 1, x0] += (1 - fx) * fy
        k[y0 + 1, x0 + 1] += fx * fy
    return k / k.sum()


def clip(frames: int = 5, *, f_vel=(0.0, 0.0), b_vel=(0.0, 0.0), f_fresh=0.0, b_fresh=0.0, f_frozen=0.0,
         b_frozen=0.0, shutter=0.0, f_gain=None, gain=None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(frames uint8 (T, H, W, 3), alphas float32 (T, H, W)) of the disk over the background."""
    rng = np.random.default_rng(seed + 100)
    f_tex, b_tex = _texture(seed, mean=110.0), _texture(seed + 1, mean=150.0)
    f_tex += rng.standard_normal(f_tex.shape).astype(np.float32) * f_frozen  # grain that moves with the layer
    b_tex += rng.standard_normal(b_tex.shape).astype(np.float32) * b_frozen
    images, alphas = [], []
    for t in range(frames):
        fy, fx = f_vel[0] * t, f_vel[1] * t
        a = _disk(H / 2 + fy, W / 2 + fx)
        f = _window(f_tex, fy, fx)
        if shutter > 0 and (f_vel[0] or f_vel[1]):
            k = _box(shutter * math.hypot(*f_vel), math.atan2(f_vel[0], f_vel[1]))
            f, a = cv2.filter2D(f * a[..., None], -1, k), cv2.filter2D(a, -1, k)
            f = f / np.maximum(a[..., None], 1e-3)
        f = f + rng.standard_normal(f.shape).astype(np.float32) * f_fresh
        if f_gain is not None:
            f = f * np.float32(f_gain[t])
        b = _window(b_tex, b_vel[0] * t, b_vel[1] * t) + rng.standard_normal(f.shape).astype(np.float32) * b_fresh
        img = a[..., None] * f + (1 - a[..., None]) * b
        if gain is not None:
            img = img * np.float32(gain[t])
        images.append(np.clip(np.rint(img), 0, 255).astype(np.uint8))
        alphas.append(a)
    return np.stack(images), np.stack(alphas)


def test_a_static_scene_has_no_motion_flicker_or_noise_change():
    m = temporal_mismatch(*clip())
    assert set(m) == set(TEMPORAL_KEYS) and m["pairs"] == 4
    assert m["fg_speed"] < 0.05 and m["bg_speed"] < 0.05
    assert m["colour_flicker"] == 0.0 and m["fg_flicker"] == 0.0
    assert m["noise_change_log_ratio"] == 0.0 and m["fg_noise_change"] < 0.1
    assert math.isnan(m["still_background"])  # the subject never moves: nothing to compare
    assert math.isnan(m["blur_motion_gap"])


def test_a_still_background_behind_a_moving_subject_shows_it():
    naive = temporal_mismatch(*clip(f_vel=(1.5, 3.0)))
    assert naive["still_background"] == 1.0
    assert abs(naive["fg_speed"] - math.hypot(1.5, 3.0)) < 0.3 and naive["bg_speed"] < 0.05
    assert naive["motion_log_ratio"] > 2.0
    camera = temporal_mismatch(*clip(f_vel=(1.5, 3.0), b_vel=(1.0, -2.0)))
    assert camera["still_background"] == 0.0
    assert abs(camera["bg_speed"] - math.hypot(1.0, -2.0)) < 0.3


def test_noise_live_on_one_side_and_frozen_on_the_other():
    live_f = temporal_mismatch(*clip(f_fresh=2.0, b_frozen=2.0))
    assert abs(live_f["fg_noise_change"] - 2.0) < 0.3 and live_f["bg_noise_change"] < 0.1
    assert live_f["noise_change_log_ratio"] > 1.5
    live_b = temporal_mismatch(*clip(f_frozen=2.0, b_fresh=2.0))
    assert live_b["noise_change_log_ratio"] < -1.5
    both = temporal_mismatch(*clip(f_fresh=2.0, b_fresh=2.0))
    assert abs(both["noise_change_log_ratio"]) < 0.1


def test_fast_motion_without_blur_against_motion_with_a_shutter():
    sharp = temporal_mismatch(*clip(f_vel=(0.0, 5.0)))
    assert sharp["fg_shutter"] < 0.1 and sharp["blur_motion_gap"] > NOMINAL_SHUTTER - 0.1
    blurred = temporal_mismatch(*clip(f_vel=(0.0, 5.0), shutter=0.5))
    assert abs(blurred["fg_shutter"] - 0.5) < 0.15 and abs(blurred["blur_motion_gap"]) < 0.15
    slow = temporal_mismatch(*clip(f_vel=(0.0, 1.0), shutter=0.5))
    assert math.isnan(slow["fg_shutter"])  # under the speed a blur can be read at


def test_colour_redrawn_on_the_subject_flickers_a_change_of_light_on_both_does_not():
    gains = [1.0, 1.1, 0.93, 1.06, 0.9]
    subject = temporal_mismatch(*clip(f_gain=gains))
    assert subject["colour_flicker"] > 10.0 and subject["bg_flicker"] < 0.05  # percent per frame
    assert subject["fg_speed"] < 0.2  # a change of light is not read as motion
    light = temporal_mismatch(*clip(gain=gains))
    assert light["fg_flicker"] > 10.0 and light["colour_flicker"] < 0.1 * light["fg_flicker"]


@settings(max_examples=12, deadline=None)
@given(dy=st.integers(-6, 6), dx=st.integers(-6, 6))
def test_estimate_shift_recovers_a_translation(dy, dx):
    tex = _texture(7)[..., 0]
    a, b = _window(tex, 0, 0), _window(tex, dy, dx)
    mask = np.zeros((H, W), bool)
    mask[30:90, 30:90] = True
    got = estimate_shift(a, b, mask, 8)
    assert abs(got[0] - dy) < 0.1 and abs(got[1] - dx) < 0.1


@settings(max_examples=6, deadline=None)
@given(vy=st.floats(-3.0, 3.0), vx=st.floats(1.0, 3.0))
def test_a_whole_picture_moving_together_has_no_motion_mismatch(vy, vx):
    """A camera panning over one scene moves both sides alike: no still background, equal speeds."""
    m = temporal_mismatch(*clip(frames=3, f_vel=(vy, vx), b_vel=(vy, vx)))
    assert m["still_background"] == 0.0
    assert abs(m["fg_speed"] - m["bg_speed"]) < 0.25 and abs(m["motion_log_ratio"]) < 0.15


@settings(max_examples=6, deadline=None)
@given(g=st.floats(0.85, 1.15))
def test_one_gain_on_the_whole_picture_is_no_flicker(g):
    m = temporal_mismatch(*clip(frames=3, gain=[1.0, g, 1.0]))
    assert m["colour_flicker"] <= 0.1 * max(m["fg_flicker"], 1.0)


@pytest.mark.parametrize("length", [3.0, 6.0, 10.0])
def test_edge_blur_length_reads_the_box_blur_of_a_sharp_outline(length):
    a = _disk(H / 2, W / 2, 40.0)
    assert edge_blur_length(a, (0.0, 1.0)) < 0.8
    got = edge_blur_length(cv2.filter2D(a, -1, _box(length, 0.6)), (math.sin(0.6), math.cos(0.6)))
    assert abs(got - length) < 0.2 * length


def test_edge_blur_length_is_nan_on_a_fuzzy_outline():
    fuzzy = cv2.GaussianBlur(_disk(H / 2, W / 2, 40.0), (0, 0), 4.0)
    assert math.isnan(edge_blur_length(fuzzy, (0.0, 1.0)))


def test_indicators_are_listed_first_and_nan_without_rings():
    assert TEMPORAL_KEYS[:len(TEMPORAL_INDICATORS)] == TEMPORAL_INDICATORS
    frames = np.zeros((3, 32, 32, 3), np.uint8)
    m = temporal_mismatch(frames, np.zeros((3, 32, 32), np.float32))  # no subject: no ring
    assert m["pairs"] == 0 and all(math.isnan(m[k]) for k in TEMPORAL_INDICATORS)


@pytest.mark.parametrize("frames, alphas, message", [
    (np.zeros((3, 8, 8, 3), np.float32), np.zeros((3, 8, 8), np.float32), "frames must be uint8"),
    (np.zeros((3, 8, 8, 3), np.uint8), np.zeros((3, 8, 9), np.float32), "alphas must be float32 (3, 8, 8)"),
    (np.zeros((1, 8, 8, 3), np.uint8), np.zeros((1, 8, 8), np.float32), "at least 2 frames"),
])
def test_bad_clips_are_refused_by_name(frames, alphas, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        temporal_mismatch(frames, alphas)


def test_bad_parameters_are_refused_by_name():
    f, a = clip(frames=2)
    with pytest.raises(ValueError, match="max_shift must be >= 1"):
        temporal_mismatch(f, a, max_shift=0)
    with pytest.raises(ValueError, match="direction must be a finite non-zero"):
        edge_blur_length(a[0], (0.0, 0.0))
    with pytest.raises(ValueError, match="radius must be >= 1"):
        estimate_shift(a[0], a[1], a[0] > 0.5, 0)


def test_a_real_photo_filmed_whole_shows_no_mismatch(shared_data):
    """One scene, one camera (a real photo and its matte panned together, fresh noise every frame):
    the background moves with the subject, both sides' noise is live, their colours change alike."""
    from shards.codec import decode_alpha, decode_rgb

    photo = decode_rgb((shared_data / "alphamatting" / "image" / "GT05.png").read_bytes()).astype(np.float32)
    matte = decode_alpha((shared_data / "alphamatting" / "alpha" / "GT05.png").read_bytes())
    photo, matte = (cv2.resize(x, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA) for x in (photo, matte))
    rng = np.random.default_rng(5)
    frames, alphas = [], []
    for t in range(5):
        m = np.float32([[1, 0, 20 + 2.5 * t], [0, 1, 20 + 1.0 * t]])
        f = cv2.warpAffine(photo, m, (240, 240), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP) * np.float32(1 + 0.02 * t)
        frames.append(np.clip(np.rint(f + rng.normal(0, 2.0, f.shape)), 0, 255).astype(np.uint8))
        alphas.append(cv2.warpAffine(matte, m, (240, 240), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP))
    got = temporal_mismatch(np.stack(frames), np.stack(alphas))
    assert got["still_background"] == 0.0 and abs(got["fg_speed"] - got["bg_speed"]) < 0.3
    assert abs(got["noise_change_log_ratio"]) < 0.3 and got["fg_noise_change"] > 1.5  # naive: 1-2
    assert got["colour_flicker"] < 1.0 < got["fg_flicker"]  # a 2 % exposure step per frame on both sides
