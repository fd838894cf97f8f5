"""Placing a (resized) foreground on a canvas.

A subject cut by its photo's frame (a portrait's torso at the bottom, a shoulder at the
side) has a straight edge there; pasted inside a new picture, that edge becomes a straight
cut through the subject that no photograph shows, and a model learns it as a matte
boundary. :func:`cut_sides` finds those sides, and :func:`sample_placement` pins them to
the canvas border (``cut=``): the new frame cuts the subject where the old one did.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from augment.resize import resize_to
from augment.checks import check_array, check_hw, check_kind, check_range, check_sides
from augment.targets import SIDES, Kind, Params, Side

__all__ = ["Placement", "apply_placement", "cut_sides", "sample_placement"]

Anchor = Literal["any", "bottom"]


@dataclass(frozen=True)
class Placement(Params):
    """Resize a `src_hw` foreground by `scale` to `size_hw`, paste its top-left corner at
    (top, left) on a `canvas_hw` canvas. Offsets may be negative (parts outside are cut).
    `pinned`: the sides of the foreground's frame that lie on (or beyond) the canvas border."""

    src_hw: tuple[int, int]
    canvas_hw: tuple[int, int]
    scale: float
    size_hw: tuple[int, int]
    top: int
    left: int
    pinned: tuple[str, ...] = ()


def cut_sides(alpha: np.ndarray, min_share: float = 0.01) -> tuple[Side, ...]:
    """The sides of the frame that cut the subject, most cut first.

    A side cuts the subject when the alpha along its outermost row (column) sums to at
    least ``min_share`` of that line's length: the subject goes on beyond the frame.

    Args:
        alpha: ``float32 (H, W)`` in ``[0, 1]``.
        min_share: in ``(0, 1]``; 0.01 ignores stray low-alpha pixels on a border.
    Returns:
        a tuple of sides from :data:`augment.targets.SIDES`, by decreasing alpha mass on the
        border (ties in that order); empty when the subject lies inside its frame.
    """
    check_array(alpha)
    if alpha.ndim != 2:
        raise ValueError(f"alpha must be (H, W), got shape {alpha.shape}")
    if not 0.0 < min_share <= 1.0:
        raise ValueError(f"min_share must be in (0, 1], got {min_share!r}")
    lines = (alpha[0], alpha[-1], alpha[:, 0], alpha[:, -1])
    shares = [float(np.mean(line, dtype=np.float64)) for line in lines]
    cut = [i for i in range(4) if shares[i] >= min_share]
    return tuple(SIDES[i] for i in sorted(cut, key=lambda i: -shares[i]))


def _offset_range(size: int, canvas: int, k: int, pin_low: bool, pin_high: bool) -> tuple[int, int]:
    """Allowed offsets of a `size`-long foreground on a `canvas`-long axis, at most `k` px of
    overhang per side; a pinned low (high) side stays on or beyond the canvas's start (end)."""
    lo, hi = -k, canvas - size + k
    if pin_low:
        hi = min(hi, 0)
    if pin_high:
        lo = max(lo, canvas - size)
    return lo, hi


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
    cut: tuple[str, ...] = (),
) -> Placement:
    """Sample where and how large a foreground goes on the canvas.

    The foreground is resized (aspect kept) so that max(fg_h/canvas_h, fg_w/canvas_w) = s,
    s ~ U(scale). At most ``floor(max_outside * size)`` of its height (width) may fall
    outside the canvas; within that, the position is uniform over integer offsets.
    ``anchor="bottom"`` puts the bottom edge on the canvas bottom, extending below by a
    uniform 0..floor(max_outside_y * height) px. max_outside: a fraction or (y, x).

    ``cut`` (sides from :func:`cut_sides`, most important first) pins those sides of the
    foreground's frame to the canvas border in the same way (on it or beyond, within
    ``max_outside``), so a subject cut by its photo's frame is cut by the canvas there
    too. Two opposite pinned sides make the foreground span that axis, which raises the
    smallest scale; where even the largest scale cannot span it, the later side of the
    pair is left free (``anchor="bottom"`` counts as the first). The sides kept are
    recorded in ``Placement.pinned``. A foreground without cut sides draws exactly what
    it drew without ``cut``.
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

    check_sides(cut)
    order = list(dict.fromkeys((["bottom"] if anchor == "bottom" else []) + list(cut)))  # the anchor first
    pinned = set(order)
    for first, second, f, c, big in (("top", "bottom", fh, ch, big_h), ("left", "right", fw, cw, big_w)):
        if first in pinned and second in pinned:
            span = c / f * fit  # the scale at which the foreground spans this axis
            if span <= s_hi * (1 + 1e-12):
                s_lo = max(s_lo, min(span, s_hi))
            elif big >= c:  # spans only at the largest scale, where its size rounds up to the canvas
                s_lo = s_hi
            else:  # cannot span: the side that comes later in `order` stays free
                pinned.discard(max(first, second, key=order.index))

    r = float(rng.uniform(s_lo, s_hi)) / fit
    h, w = _size((fh, fw), r)
    ky, kx = math.floor(oy * h), math.floor(ox * w)
    x_lo, x_hi = _offset_range(w, cw, kx, "left" in pinned, "right" in pinned)
    y_lo, y_hi = _offset_range(h, ch, ky, "top" in pinned, "bottom" in pinned)
    left = int(rng.integers(x_lo, x_hi + 1))
    top = int(rng.integers(y_lo, y_hi + 1))
    return Placement(src_hw=(fh, fw), canvas_hw=(ch, cw), scale=r, size_hw=(h, w), top=top, left=left,
                     pinned=tuple(side for side in SIDES if side in pinned))


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
