"""Rotate-then-valid-crop: rotate about the centre and keep only pixels that came from the image.

Derivation of `largest_valid_rect`. Let the image be W x H, rotated by θ, and
s = |sin θ|, c = |cos θ| (the problem is symmetric in the sign of θ and under θ → 180° − θ).
A centred axis-aligned rectangle with half sizes (a, b) lies inside the rotated image iff
its corners do, i.e. iff

    a·c + b·s <= W/2   (along the image's own x axis)
    a·s + b·c <= H/2   (along its y axis).

Maximising the area 4ab under one linear constraint alone gives its midpoint; with S the
short side and L the long side, the short side's midpoint (a, b) = (S/4c, S/4s) (or
swapped) satisfies the other constraint iff S <= 2·s·c·L ("half-constrained": thin images
or angles near 45°). Otherwise both constraints bind and

    w = 2a = (W·c − H·s) / (c² − s²),    h = 2b = (H·c − W·s) / (c² − s²).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from augment.checks import check_array, check_kind, check_sides
from augment.targets import Kind, Params, interpolation, keep_channels

__all__ = [
    "ROTATION_MARGIN_PX",
    "Rotation",
    "apply_rotation",
    "expand_for_cuts",
    "largest_valid_rect",
    "rotation_output_hw",
    "sample_rotation",
]

#: Pixels removed on each side of the largest valid rectangle, so that bilinear
#: interpolation never reaches the fill outside the rotated image.
ROTATION_MARGIN_PX = 1


def _largest_valid_rect_f(h: float, w: float, angle_deg: float) -> tuple[float, float]:
    theta = math.radians(angle_deg)
    s, c = abs(math.sin(theta)), abs(math.cos(theta))
    short, long = min(h, w), max(h, w)
    if short <= 2.0 * s * c * long:
        # Half-constrained: only the short side's constraint binds (c, s > 0 here).
        if w <= h:
            return short / (2.0 * s), short / (2.0 * c)
        return short / (2.0 * c), short / (2.0 * s)
    cos_2t = c * c - s * s
    return (h * c - w * s) / cos_2t, (w * c - h * s) / cos_2t


def _check_size(h: int, w: int) -> None:
    if int(h) != h or int(w) != w or h < 1 or w < 1:
        raise ValueError(f"image size must be positive integers, got h={h!r}, w={w!r}")


def largest_valid_rect(h: int, w: int, angle_deg: float) -> tuple[int, int]:
    """(height, width) of the largest-area centred axis-aligned rectangle inside an
    h x w rectangle rotated by `angle_deg` (any angle), floored to ints."""
    _check_size(h, w)
    if not math.isfinite(angle_deg):
        raise ValueError(f"angle_deg must be finite, got {angle_deg}")
    hr, wr = _largest_valid_rect_f(float(h), float(w), float(angle_deg))
    # The epsilon keeps exact results (e.g. 0°, 90°: h x w) from flooring one below.
    return math.floor(hr + 1e-6), math.floor(wr + 1e-6)


def _quarter_turns(angle_deg: float) -> int | None:
    """Number of 90° turns when `angle_deg` is an exact multiple of 90°, else None."""
    turns = angle_deg / 90.0
    return int(round(turns)) % 4 if turns == round(turns) else None


def rotation_output_hw(h: int, w: int, angle_deg: float) -> tuple[int, int]:
    """Output (height, width) of `apply_rotation` for an h x w input.

    Exact multiples of 90° are lossless (h x w or w x h). Any other angle gives
    `largest_valid_rect` minus `ROTATION_MARGIN_PX` on each side; raises ValueError when
    nothing is left.
    """
    _check_size(h, w)
    turns = _quarter_turns(float(angle_deg))
    if turns is not None:
        return (h, w) if turns % 2 == 0 else (w, h)
    hr, wr = largest_valid_rect(h, w, angle_deg)
    out = (hr - 2 * ROTATION_MARGIN_PX, wr - 2 * ROTATION_MARGIN_PX)
    if out[0] < 1 or out[1] < 1:
        raise ValueError(f"rotating a {h}x{w} image by {angle_deg}° leaves no valid region (largest {hr}x{wr})")
    return out


@dataclass(frozen=True)
class Rotation(Params):
    """Counter-clockwise rotation (as displayed) by `angle_deg` about the image centre.

    `expand`: px added to the centred valid crop on its (top, bottom, left, right), negative
    to crop further; what they add beyond the rotated image is fill (0). See
    :func:`expand_for_cuts`.
    """

    angle_deg: float
    expand: tuple[int, int, int, int] = (0, 0, 0, 0)


def _valid_crop_matrix(h: int, w: int, angle: float) -> tuple[np.ndarray, int, int]:
    """The source -> output affine map of the centred valid crop, and its (height, width)."""
    out_h, out_w = rotation_output_hw(h, w, angle)
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, 1.0)
    m[0, 2] += (out_w - w) / 2.0  # move the image centre onto the output centre
    m[1, 2] += (out_h - h) / 2.0
    return m, out_h, out_w


def _cut_segment(alpha: np.ndarray, side: str) -> tuple[float, float] | None:
    """Where along one side of the frame the subject is cut: the first and last position
    (column for top/bottom, row for left/right) with alpha > 0 on that border line."""
    line = {"top": alpha[0], "bottom": alpha[-1], "left": alpha[:, 0], "right": alpha[:, -1]}[side]
    where = np.flatnonzero(line > 0.5 / 255)
    return (float(where[0]), float(where[-1])) if where.size else None


def expand_for_cuts(params: Rotation, alpha: np.ndarray, cut: tuple[str, ...]) -> Rotation:
    """The crop of a rotated subject that keeps it whole except where its frame cuts it.

    The centred valid crop cuts every side of the rotated image, so a subject that came
    near its frame's top gets a new straight cut there. Only where the subject meets a side
    in ``cut`` (the *source's* cut sides, e.g. from :func:`augment.placement.cut_sides`)
    must the crop stay clear of the rotated frame edge, or fill would show as a tilted cut
    through the subject; elsewhere beyond the frame alpha is 0, and so is the fill. So each
    side of the window goes out to the rotated image's bounding box, except a cut side,
    which comes in until the rotated stretch of edge where the subject is cut (alpha > 0
    on that border line, 1 px of margin) lies outside it: the subject loses a little more
    of a side it was already cut on, and no side it was not. Where that leaves under half
    the valid crop's height or width (long cuts at a steep angle), the plain valid crop is
    kept.

    Args:
        params: the rotation (``expand`` is replaced).
        alpha: ``float32 (H, W)`` source alpha in ``[0, 1]``.
        cut: the source's cut sides (subset of :data:`augment.targets.SIDES`).
    Returns:
        the rotation with ``expand`` (negative: cropped further) set; unchanged for exact
        multiples of 90 degrees.
    """
    h, w = check_array(alpha)
    check_sides(cut)
    angle = float(params.angle_deg)
    if _quarter_turns(angle) is not None:
        return Rotation(angle_deg=angle)
    m, out_h, out_w = _valid_crop_matrix(h, w, angle)
    corners = np.array([[-0.5, -0.5, 1.0], [w - 0.5, -0.5, 1.0], [-0.5, h - 0.5, 1.0], [w - 0.5, h - 0.5, 1.0]])
    box = corners @ m.T  # the rotated image's bounding box, output coordinates
    lo_y, hi_y, lo_x, hi_x = box[:, 1].min(), box[:, 1].max(), box[:, 0].min(), box[:, 0].max()
    for side in cut:
        seg = _cut_segment(alpha, side)
        if seg is None:
            continue
        a, b = seg[0] - 1.0, seg[1] + 1.0  # the interpolation's reach
        ends = {"top": [(a, 0.5), (b, 0.5)], "bottom": [(a, h - 1.5), (b, h - 1.5)],
                "left": [(0.5, a), (0.5, b)], "right": [(w - 1.5, a), (w - 1.5, b)]}[side]
        pts = np.array([[x, y, 1.0] for x, y in ends]) @ m.T  # that stretch of edge, rotated
        if side == "top":
            lo_y = max(lo_y, pts[:, 1].max())
        elif side == "bottom":
            hi_y = min(hi_y, pts[:, 1].min())
        elif side == "left":
            lo_x = max(lo_x, pts[:, 0].max())
        else:
            hi_x = min(hi_x, pts[:, 0].min())
    e = (math.floor(-lo_y), math.floor(hi_y - (out_h - 1)), math.floor(-lo_x), math.floor(hi_x - (out_w - 1)))
    if out_h + e[0] + e[1] < out_h / 2 or out_w + e[2] + e[3] < out_w / 2:
        return Rotation(angle_deg=angle)
    return Rotation(angle_deg=angle, expand=e)


def sample_rotation(rng: np.random.Generator, max_angle_deg: float) -> Rotation:
    """Angle ~ U(−max_angle_deg, max_angle_deg), 0 <= max_angle_deg <= 180."""
    if not (0.0 <= max_angle_deg <= 180.0):
        raise ValueError(f"max_angle_deg must be in [0, 180], got {max_angle_deg!r}")
    return Rotation(angle_deg=float(rng.uniform(-max_angle_deg, max_angle_deg)))


def apply_rotation(params: Rotation, arr: np.ndarray, kind: Kind) -> np.ndarray:
    """Rotate `arr` (H, W[, C]) and crop the centred valid region.

    Equivalent to rotating onto an expanded canvas (nothing cut, fill 0) and centre
    cropping `rotation_output_hw(H, W, angle)`, but warps straight into the crop, so every
    output pixel interpolates image pixels only. Linear for image/alpha, nearest for
    trimaps; the output size is the same for every kind. 0° returns `arr` itself.
    A non-zero ``params.expand`` grows (or, negative, shrinks) the crop by that many px per
    side (fill 0 where it reaches beyond the rotated image).
    """
    check_kind(kind)
    h, w = check_array(arr)
    angle = float(params.angle_deg)
    turns = _quarter_turns(angle)
    if turns == 0:
        return arr
    if turns is not None:
        return np.ascontiguousarray(np.rot90(arr, turns))
    m, out_h, out_w = _valid_crop_matrix(h, w, angle)
    top, bottom, left, right = (int(v) for v in params.expand)
    if out_h + top + bottom < 1 or out_w + left + right < 1:
        raise ValueError(f"expand {params.expand!r} leaves nothing of the {out_h}x{out_w} valid crop")
    m[0, 2] += left
    m[1, 2] += top
    out = cv2.warpAffine(
        arr,
        m,
        (out_w + left + right, out_h + top + bottom),
        flags=interpolation(kind, shrinking=False),
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return keep_channels(out, arr)
