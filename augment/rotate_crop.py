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

from augment.targets import Kind, Params, check_array, check_kind, interpolation, keep_channels

__all__ = [
    "ROTATION_MARGIN_PX",
    "Rotation",
    "apply_rotation",
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
    """Counter-clockwise rotation (as displayed) by `angle_deg` about the image centre."""

    angle_deg: float


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
    """
    check_kind(kind)
    h, w = check_array(arr)
    angle = float(params.angle_deg)
    turns = _quarter_turns(angle)
    if turns == 0:
        return arr
    if turns is not None:
        return np.ascontiguousarray(np.rot90(arr, turns))
    out_h, out_w = rotation_output_hw(h, w, angle)
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, 1.0)
    m[0, 2] += (out_w - w) / 2.0  # move the image centre onto the output centre
    m[1, 2] += (out_h - h) / 2.0
    out = cv2.warpAffine(
        arr,
        m,
        (out_w, out_h),
        flags=interpolation(kind, shrinking=False),
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return keep_channels(out, arr)
