"""augment.rotate_crop: largest valid rectangle, rotation without fill pixels."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from augment.rotate_crop import (
    ROTATION_MARGIN_PX,
    Rotation,
    apply_rotation,
    expand_for_cuts,
    largest_valid_rect,
    rotation_output_hw,
    sample_rotation,
)


def _inside(h: float, w: float, angle_deg: float, rect_h: float, rect_w: float) -> bool:
    """Independent check: are the corners of a centred rect_h x rect_w rectangle inside the
    h x w rectangle rotated by angle_deg? (Project onto the rotated rectangle's axes.)"""
    t = math.radians(angle_deg)
    ux, uy = math.cos(t), -math.sin(t)  # rotated x axis (image y points down)
    vx, vy = math.sin(t), math.cos(t)  # rotated y axis
    for sx in (-1, 1):
        for sy in (-1, 1):
            x, y = sx * rect_w / 2, sy * rect_h / 2
            if abs(x * ux + y * uy) > w / 2 + 1e-9 or abs(x * vx + y * vy) > h / 2 + 1e-9:
                return False
    return True


def _brute_force_max_area(h: float, w: float, angle_deg: float) -> float:
    """Max area over a fine grid of widths, bisecting the largest height for each."""
    best = 0.0
    diag = math.hypot(h, w)
    for rw in np.linspace(0, diag, 1500)[1:]:
        if not _inside(h, w, angle_deg, 0.0, rw):
            break
        lo, hi = 0.0, diag
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if _inside(h, w, angle_deg, mid, rw) else (lo, mid)
        best = max(best, lo * rw)
    return best


@pytest.mark.parametrize(
    ("h", "w", "angle"),
    [(100, 200, 30), (100, 200, 60), (50, 400, 10), (400, 50, -170), (64, 64, 45), (100, 120, 44), (30, 90, 135)],
)
def test_largest_valid_rect_is_optimal(h, w, angle):
    from augment.rotate_crop import _largest_valid_rect_f

    rh, rw = _largest_valid_rect_f(h, w, angle)
    assert _inside(h, w, angle, rh, rw)
    assert not _inside(h, w, angle, rh * 1.01, rw * 1.01)  # slightly larger: reaches the fill
    assert rh * rw == pytest.approx(_brute_force_max_area(h, w, angle), rel=2e-3)
    assert largest_valid_rect(h, w, angle) == (math.floor(rh + 1e-6), math.floor(rw + 1e-6))


def test_largest_valid_rect_special_angles():
    assert largest_valid_rect(100, 200, 0) == (100, 200)
    assert largest_valid_rect(100, 200, 180) == (100, 200)
    assert largest_valid_rect(100, 200, 90) == (200, 100)
    assert largest_valid_rect(100, 200, -90) == (200, 100)
    side = math.floor(100 / math.sqrt(2) + 1e-6)
    assert largest_valid_rect(100, 100, 45) == (side, side)
    assert largest_valid_rect(100, 200, 25) == largest_valid_rect(100, 200, -25) == largest_valid_rect(100, 200, 155)


def test_brute_force_pixels_against_rect():
    """Rasterised: the rect lies within rotated image pixels; one pixel more in both
    directions would include fill."""
    import cv2

    h, w, angle = 60, 150, 23.0
    rh, rw = largest_valid_rect(h, w, angle)
    big = int(math.ceil(math.hypot(h, w))) + 4
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    m[:, 2] += ((big - w) / 2, (big - h) / 2)
    mask = cv2.warpAffine(np.ones((h, w), np.uint8), m, (big, big), flags=cv2.INTER_NEAREST)
    c = (big - 1) / 2

    def window(hh: int, ww: int) -> np.ndarray:
        return mask[round(c - (hh - 1) / 2) : round(c - (hh - 1) / 2) + hh, round(c - (ww - 1) / 2) :
                    round(c - (ww - 1) / 2) + ww]

    assert window(rh - 2, rw - 2).all()
    assert not window(rh + 3, rw + 3).all()


kinds_arrays = {
    "image": lambda h, w: np.full((h, w, 3), 255, np.uint8),
    "alpha": lambda h, w: np.ones((h, w), np.float32),
    "trimap": lambda h, w: np.full((h, w), 255, np.uint8),
}


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(8, 400),
    log_aspect=st.floats(-math.log(8), math.log(8)),
    angle=st.floats(-180, 180),
)
def test_rotation_never_includes_fill(size, log_aspect, angle):
    r = math.exp(log_aspect)
    h, w = (size, max(1, round(size / r))) if r >= 1 else (max(1, round(size * r)), size)
    try:
        expected = rotation_output_hw(h, w, angle)
    except ValueError as e:
        assert "leaves no valid region" in str(e)
        with pytest.raises(ValueError, match="leaves no valid region"):
            apply_rotation(Rotation(angle), kinds_arrays["alpha"](h, w), "alpha")
        return
    turns = angle / 90
    if turns != round(turns):
        rh, rw = largest_valid_rect(h, w, angle)
        assert expected == (rh - 2 * ROTATION_MARGIN_PX, rw - 2 * ROTATION_MARGIN_PX)
    for kind, make in kinds_arrays.items():
        arr = make(h, w)
        out = apply_rotation(Rotation(angle), arr, kind)  # type: ignore[arg-type]
        assert out.shape[:2] == expected and out.dtype == arr.dtype and out.ndim == arr.ndim
        assert out.min() == arr.max(), f"fill pixel in {kind}"


def test_rotation_direction_and_centre():
    """A dot right of the centre ends up above it after +90°-ish (counter-clockwise) turns."""
    h, w = 101, 151
    img = np.zeros((h, w), np.float32)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    img[int(cy), int(cx) + 20] = 1.0
    for angle in (30.0, 60.0):
        out = apply_rotation(Rotation(angle), img, "alpha")
        ys, xs = np.nonzero(out)
        wy = (out[ys, xs] * ys).sum() / out.sum() - (out.shape[0] - 1) / 2
        wx = (out[ys, xs] * xs).sum() / out.sum() - (out.shape[1] - 1) / 2
        t = math.radians(angle)
        assert wx == pytest.approx(20 * math.cos(t), abs=0.3)
        assert wy == pytest.approx(-20 * math.sin(t), abs=0.3)


def test_quarter_turns_are_lossless():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    assert apply_rotation(Rotation(0.0), img, "image") is img
    np.testing.assert_array_equal(apply_rotation(Rotation(90.0), img, "image"), np.rot90(img, 1))
    np.testing.assert_array_equal(apply_rotation(Rotation(-90.0), img, "image"), np.rot90(img, 3))
    np.testing.assert_array_equal(apply_rotation(Rotation(180.0), img, "image"), np.rot90(img, 2))


def test_same_geometry_for_all_kinds():
    rng = np.random.default_rng(1)
    h, w = 80, 120
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rot = sample_rotation(rng, 40)
    ramp = apply_rotation(rot, xx / (w - 1), "alpha")
    img = apply_rotation(rot, np.dstack([xx, yy, yy]).astype(np.uint8), "image")
    tri = apply_rotation(rot, np.where(xx < w / 2, 0, 255).astype(np.uint8), "trimap")
    assert np.abs(img[..., 0] - ramp * (w - 1)).max() <= 1.0
    # nearest vs linear agree away from the trimap's edge
    far = np.abs(ramp * (w - 1) - w / 2) > 1.5
    np.testing.assert_array_equal(tri[far], np.where(ramp[far] * (w - 1) < w / 2, 0, 255))


def test_sample_rotation():
    rng = np.random.default_rng(2)
    angles = [sample_rotation(rng, 30).angle_deg for _ in range(200)]
    assert -30 <= min(angles) < -20 and 20 < max(angles) <= 30
    assert sample_rotation(np.random.default_rng(5), 10) == sample_rotation(np.random.default_rng(5), 10)
    assert Rotation.from_dict(Rotation(12.5).to_dict()) == Rotation(12.5)
    with pytest.raises(ValueError, match=r"max_angle_deg must be in \[0, 180\], got 200"):
        sample_rotation(rng, 200)
    with pytest.raises(ValueError, match="image size must be positive"):
        largest_valid_rect(0, 10, 5)


def _extended_subject(h: int, w: int, pad: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    """A soft ellipse on a canvas `pad` px larger than the h x w frame on every side."""
    import cv2

    yy, xx = np.mgrid[0 : h + 2 * pad, 0 : w + 2 * pad].astype(np.float32)
    inside = (((yy - pad - cy) / ry) ** 2 + ((xx - pad - cx) / rx) ** 2 <= 1).astype(np.float32)
    return cv2.GaussianBlur(inside, (0, 0), 1.0)


@settings(max_examples=120, deadline=None)
@given(h=st.integers(40, 160), w=st.integers(40, 160), angle=st.floats(-40, 40).filter(lambda a: abs(a) > 0.5),
       cy=st.floats(0.3, 1.2), cx=st.floats(-0.2, 1.2), ry=st.floats(0.2, 0.7), rx=st.floats(0.2, 0.7))
# Subjects that graze their frame and widen beyond it: the frame shows only their fringe, so
# beyond it the crop shows what the frame's border line shows (0 past the fringe) where the
# continued ellipse has a faint tail (0.15) or, grazed by its tip, opaque parts (0.55). What
# lies beyond a frame is unknown; the frame's own border line is all a crop can go by.
@example(h=69, w=65, angle=-31.0, cy=1.125, cx=-0.1953125, ry=0.6953125, rx=0.203125)
@example(h=40, w=79, angle=39.0, cy=1.19921875, cx=0.0, ry=0.21875, rx=0.5)
def test_expanded_crop_shows_the_subject_as_if_it_went_on_beyond_its_cut_sides(h, w, angle, cy, cx, ry, rx):
    """The crop never shows fill where the subject meets a cut side: inside the crop,
    rotating the frame gives what rotating the frame continued beyond its sides by its own
    border lines gives (a missing stretch of subject would differ by its alpha, up to 1);
    and it cuts the subject on no side its frame did not cut."""
    import cv2

    from augment.placement import cut_sides

    pad = 2 * max(h, w)
    big = _extended_subject(h, w, pad, cy * h, cx * w, ry * h, rx * w)  # a subject beyond its frame
    alpha = np.ascontiguousarray(big[pad : pad + h, pad : pad + w])
    cut = cut_sides(alpha, min_share=1e-9)  # every side the subject touches (the build ignores < 1 %)
    rot = expand_for_cuts(Rotation(angle), alpha, cut)
    out = apply_rotation(rot, alpha, "alpha")
    # the same rotation of the frame continued by its border lines, on the same output grid
    out_h, out_w = rotation_output_hw(h, w, angle)
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, 1.0)
    m[0, 2] += (out_w - w) / 2.0 + rot.expand[2]
    m[1, 2] += (out_h - h) / 2.0 + rot.expand[0]
    continued = cv2.warpAffine(alpha, m, (out.shape[1], out.shape[0]), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
    np.testing.assert_allclose(out, continued, atol=0.5 / 255)  # the cut-segment threshold
    if rot.expand != (0, 0, 0, 0):  # (not the fallback) the crop cuts the subject on no side its frame did not
        rows = {"top": out[0], "bottom": out[-1], "left": out[:, 0], "right": out[:, -1]}
        assert all(rows[side].max() < 0.05 for side in ("top", "bottom", "left", "right") if side not in cut)
    if not cut:  # nothing cut: grown to the rotated image's box, the whole rotated subject kept
        assert min(rot.expand) >= 0 and sum(rot.expand) > 0
        assert abs(float(out.sum()) - float(alpha.sum())) <= 0.01 * float(alpha.sum()) + 2 * (h + w) * 0.05


def test_a_bottom_cut_subject_keeps_its_top_and_sides_when_rotated():
    from augment.placement import cut_sides

    yy, xx = np.mgrid[0:200, 0:160]
    alpha = (((xx - 80) / 60.0) ** 2 + ((yy - 110) / 100.0) ** 2 <= 1).astype(np.float32)  # top at row 10
    alpha[190:] = alpha[189]  # cut by the photo's bottom edge
    assert cut_sides(alpha) == ("bottom",)
    plain = apply_rotation(Rotation(12.0), alpha, "alpha")
    assert "top" in cut_sides(plain)  # the centred valid crop cuts the head: a new straight edge
    grown = apply_rotation(expand_for_cuts(Rotation(12.0), alpha, ("bottom",)), alpha, "alpha")
    assert cut_sides(grown) == ("bottom",)  # cut where the photo cut it, nowhere else
    assert grown.sum() > plain.sum()  # more of the subject kept
    # a long cut at a steep angle would lose too much: the plain valid crop instead
    wide = np.ones((60, 400), np.float32)
    assert expand_for_cuts(Rotation(40.0), wide, ("top", "bottom", "left", "right")) == Rotation(40.0)
    with pytest.raises(ValueError, match="cut sides must be"):
        expand_for_cuts(Rotation(12.0), alpha, ("up",))
    assert expand_for_cuts(Rotation(90.0), alpha, ()) == Rotation(90.0)
    with pytest.raises(ValueError, match="leaves nothing"):
        apply_rotation(Rotation(12.0, expand=(-500, 0, 0, 0)), alpha, "alpha")
