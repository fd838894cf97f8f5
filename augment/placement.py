"""Placing a (resized) foreground on a canvas."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from augment.resize import resize_to
from augment.targets import Kind, Params, check_array, check_hw, check_kind, check_range

__all__ = ["Placement", "apply_placement", "sample_placement"]

Anchor = Literal["any", "bottom"]


@dataclass(frozen=True)
class Placement(Params):
    """Resize a `src_hw` foreground by `scale` to `size_hw`, paste its top-left corner at
    (top, left) on a `canvas_hw` canvas. Offsets may be negative (parts outside are cut)."""

    src_hw: tuple[int, int]
    canvas_hw: tuple[int, int]
    scale: float
    size_hw: tuple[int, int]
    top: int
    left: int


def _check_outside(max_outside: float | tuple[float, float]) -> tuple[float, float]:
    pair = (max_outside, max_outside) if np.isscalar(max_outside) else max_outside
    try:
        oy, ox = (float(v) for v in pair)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"max_outside must be a fraction or a (y, x) pair of fractions, got {max_outside!r}") from None
    if not (0.0 <= oy < 1.0 and 0.0 <= ox < 1.0):
        raise ValueError(f"max_outside fractions must be in [0, 1), got {max_outside!r}")
    return oy, ox


def _size(fg_hw: tuple[int, int], r: float) -> tuple[int, int]:
    return max(1, round(fg_hw[0] * r)), max(1, round(fg_hw[1] * r))


def sample_placement(
    rng: np.random.Generator,
    fg_hw: tuple[int, int],
    canvas_hw: tuple[int, int],
    *,
    scale: tuple[float, float] = (0.6, 1.0),
    max_outside: float | tuple[float, float] = 0.0,
    anchor: Anchor = "any",
) -> Placement:
    """Sample where and how large a foreground goes on the canvas.

    The foreground is resized (aspect kept) so that max(fg_h/canvas_h, fg_w/canvas_w) = s,
    s ~ U(scale). At most ``floor(max_outside * size)`` of its height (width) may fall
    outside the canvas; within that, the position is uniform over integer offsets.
    ``anchor="bottom"`` puts the bottom edge on the canvas bottom, extending below by a
    uniform 0..floor(max_outside_y * height) px. max_outside: a fraction or (y, x).
    Raises ValueError when the largest scale cannot satisfy `max_outside`.
    """
    fh, fw = check_hw(fg_hw, "fg_hw")
    ch, cw = check_hw(canvas_hw, "canvas_hw")
    s_lo, s_hi = check_range(scale, "scale", low=0.0)
    if s_lo <= 0.0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    oy, ox = _check_outside(max_outside)
    if anchor not in ("any", "bottom"):
        raise ValueError(f"anchor must be 'any' or 'bottom', got {anchor!r}")
    fit = max(fh / ch, fw / cw)
    # Feasibility at the largest scale (sizes grow with s): the overhang beyond the canvas
    # must not exceed the allowed part of the foreground.
    big_h, big_w = _size((fh, fw), s_hi / fit)
    if big_h - ch > math.floor(oy * big_h) or big_w - cw > math.floor(ox * big_w):
        raise ValueError(
            f"scale up to {s_hi} makes the foreground {big_h}x{big_w} on a {ch}x{cw} canvas, "
            f"more than max_outside={max_outside!r} of it would fall outside"
        )

    r = float(rng.uniform(s_lo, s_hi)) / fit
    h, w = _size((fh, fw), r)
    ky, kx = math.floor(oy * h), math.floor(ox * w)
    left = int(rng.integers(-kx, cw - w + kx + 1))
    if anchor == "bottom":
        top = ch - h + int(rng.integers(0, ky + 1))
    else:
        top = int(rng.integers(-ky, ch - h + ky + 1))
    return Placement(src_hw=(fh, fw), canvas_hw=(ch, cw), scale=r, size_hw=(h, w), top=top, left=left)


def apply_placement(
    params: Placement,
    arr: np.ndarray,
    canvas_hw: tuple[int, int],
    kind: Kind,
    fill: float = 0,
) -> np.ndarray:
    """Resize `arr` (src_hw[, C]) to `params.size_hw` and paste it on a new canvas.

    Returns (canvas_h, canvas_w[, C]) of `arr.dtype`; pixels not covered by the
    foreground are `fill` (use 0 for alpha and trimap: background).
    """
    check_kind(kind)
    hw = check_array(arr)
    if hw != tuple(params.src_hw):
        raise ValueError(f"array has height/width {hw} but the Placement was sampled for {params.src_hw}")
    ch, cw = check_hw(canvas_hw, "canvas_hw")
    if (ch, cw) != tuple(params.canvas_hw):
        raise ValueError(f"canvas_hw {canvas_hw} differs from the Placement's canvas {params.canvas_hw}")
    h, w = params.size_hw
    top, left = params.top, params.left
    canvas = np.full((ch, cw) + arr.shape[2:], fill, dtype=arr.dtype)
    # Visible part in canvas coordinates, and the matching part of the resized foreground.
    y0, y1 = max(top, 0), min(top + h, ch)
    x0, x1 = max(left, 0), min(left + w, cw)
    if y0 >= y1 or x0 >= x1:
        return canvas
    fg = resize_to(arr, (h, w), kind)
    canvas[y0:y1, x0:x1] = fg[y0 - top : y1 - top, x0 - left : x1 - left]
    return canvas
