"""Placing the members of a group relative to each other, so that they overlap as people and
objects in one photo do.

A member takes one *relation* to a member already on the canvas (its *anchor*):

- ``side``: beside it, about its size, on the same ground line, overlapping it by a share of
  the narrower width (same depth; in front or behind is the caller's choice);
- ``behind``: further away: smaller, its feet higher up, horizontally across the anchor, so
  the anchor hides part of it;
- ``border``: closer to the camera: larger, in front of everyone, partly beyond the left or
  right canvas side, so the frame cuts it and it occludes the scene at the border.

Sizes and positions refer to the alpha's *content box* (where alpha > 0.05), not the
foreground image's frame, which may hold empty margins. Sampling (:func:`sample_group_relation`)
is separate from geometry (:func:`group_placement`), which returns a plain
:class:`augment.placement.Placement` for :func:`augment.placement.apply_placement`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from augment.checks import check_hw, check_range, check_sides
from augment.placement import Placement
from augment.targets import SIDES

__all__ = ["RELATIONS", "GroupRelation", "content_box", "group_placement", "sample_group_relation"]

RELATIONS: tuple[str, ...] = ("side", "behind", "border")
_MAX_CANVASES = 4.0  # a member is at most this many canvas sizes large
_MIN_INSIDE = 0.1  # at least this share of a member's content box stays on the canvas


@dataclass(frozen=True)
class GroupRelation:
    """How one member stands to its anchor (member ``anchor``, 0 = the first one placed).

    ``ratio``: its content height over the anchor's; ``side``: ``"left"`` / ``"right"`` (side,
    border) or ``""`` (behind); ``shift``: side: overlap as a share of the narrower content
    width; behind: content centre offset in anchor widths (drawn with 0.35 <= |shift| <= 0.9); border: share of its content width
    beyond the canvas side. ``drop``: its content bottom below the anchor's, in anchor heights
    (negative: higher up).
    """

    relation: str
    anchor: int
    ratio: float
    side: str
    shift: float
    drop: float

    def to_dict(self) -> dict[str, object]:
        return {"relation": self.relation, "anchor": self.anchor, "ratio": self.ratio, "side": self.side,
                "shift": self.shift, "drop": self.drop}


def sample_group_relation(
    rng: np.random.Generator,
    placed: int,
    *,
    weights: tuple[float, float, float] = (1.0, 1.0, 0.5),
    overlap: tuple[float, float] = (0.0, 0.4),
    side_scale: tuple[float, float] = (0.85, 1.15),
    depth_scale: tuple[float, float] = (0.5, 0.85),
    border_scale: tuple[float, float] = (1.0, 1.4),
    border_outside: tuple[float, float] = (0.3, 0.7),
) -> GroupRelation:
    """Draw the relation of the next member to one of the ``placed`` (>= 1) members.

    ``weights``: of (side, behind, border), non-negative, not all 0. The ranges are as in
    :class:`GroupRelation` (ratios > 0, shares in [0, 1]). Always draws the same number of
    values, whatever the relation.
    """
    if placed < 1:
        raise ValueError(f"placed must be >= 1 (a member to relate to), got {placed!r}")
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (3,) or not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be 3 non-negative numbers, not all 0, got {weights!r}")
    for name, rng_ in (("side_scale", side_scale), ("depth_scale", depth_scale), ("border_scale", border_scale)):
        if check_range(rng_, name, low=0.0)[0] <= 0.0:
            raise ValueError(f"{name} must be > 0, got {rng_!r}")
    check_range(overlap, "overlap", low=0.0, high=1.0)
    check_range(border_outside, "border_outside", low=0.0, high=1.0)
    relation = RELATIONS[int(rng.choice(3, p=w / w.sum()))]
    anchor = int(rng.integers(0, placed))
    u_ratio, u_side, u_shift, u_drop = (float(v) for v in rng.random(4))
    side = "left" if u_side < 0.5 else "right"

    def lerp(r: tuple[float, float], u: float) -> float:
        return float(r[0] + (r[1] - r[0]) * u)

    if relation == "side":
        return GroupRelation("side", anchor, lerp(side_scale, u_ratio), side, lerp(overlap, u_shift),
                             lerp((-0.05, 0.05), u_drop))
    if relation == "behind":
        ratio = lerp(depth_scale, u_ratio)
        sign = -1.0 if side == "left" else 1.0  # off-centre, so the anchor hides it only in part
        return GroupRelation("behind", anchor, ratio, "", sign * lerp((0.35, 0.9), u_shift),
                             -0.5 * max(0.0, 1.0 - ratio) * u_drop)
    return GroupRelation("border", anchor, lerp(border_scale, u_ratio), side, lerp(border_outside, u_shift),
                         lerp((0.0, 0.15), u_drop))


def content_box(alpha: np.ndarray, threshold: float = 0.05) -> tuple[int, int, int, int] | None:
    """``(y0, x0, y1, x1)`` (exclusive ends) of ``alpha > threshold``; ``alpha: float32 (H, W)``.
    None when no pixel is above it."""
    if alpha.ndim != 2:
        raise ValueError(f"alpha must be (H, W), got shape {alpha.shape}")
    mask = alpha > threshold
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def group_placement(
    rel: GroupRelation,
    fg_hw: tuple[int, int],
    fg_box: tuple[int, int, int, int],
    canvas_hw: tuple[int, int],
    anchor_box: tuple[int, int, int, int],
    cut: tuple[str, ...] = (),
) -> Placement:
    """Where a member goes, from its relation to the anchor.

    Args:
        rel: from :func:`sample_group_relation`.
        fg_hw: the member's (augmented) foreground size; fg_box: its content box
            ``(y0, x0, y1, x1)`` in those pixels (:func:`content_box`).
        canvas_hw: the canvas; anchor_box: the anchor's content box on the canvas.
        cut: sides of the member's frame that its photo cuts (:func:`augment.placement.cut_sides`):
            they stay on or beyond the canvas border (the first listed wins a conflict).
    Returns:
        a :class:`Placement` (offsets may be negative); at least 10% of the member's content
        width and height stay on the canvas.
    """
    fh, fw = check_hw(fg_hw, "fg_hw")
    ch, cw = check_hw(canvas_hw, "canvas_hw")
    check_sides(cut)
    by0, bx0, by1, bx1 = fg_box
    ay0, ax0, ay1, ax1 = anchor_box
    if not (0 <= by0 < by1 <= fh and 0 <= bx0 < bx1 <= fw):
        raise ValueError(f"fg_box {fg_box!r} must be a non-empty box inside the foreground {fg_hw!r}")
    if not (ay0 < ay1 and ax0 < ax1):
        raise ValueError(f"anchor_box {anchor_box!r} must be non-empty")
    if rel.relation not in RELATIONS or not rel.ratio > 0:
        raise ValueError(f"relation must be one of {RELATIONS} with ratio > 0, got {rel!r}")
    a_h, a_w = ay1 - ay0, ax1 - ax0
    r = rel.ratio * a_h / (by1 - by0)
    r = min(r, _MAX_CANVASES * ch / fh, _MAX_CANVASES * cw / fw)
    h, w = max(1, round(fh * r)), max(1, round(fw * r))
    r_y, r_x = h / fh, w / fw  # the scale the resize really applies
    c_y0, c_y1, c_x0, c_x1 = by0 * r_y, by1 * r_y, bx0 * r_x, bx1 * r_x  # content box in the resized member
    c_w = c_x1 - c_x0
    bottom = ay1 + rel.drop * a_h
    if rel.relation == "side":
        o = rel.shift * min(c_w, a_w)
        c_left = ax1 - o if rel.side == "right" else ax0 + o - c_w
    elif rel.relation == "behind":
        c_left = (ax0 + ax1) / 2 + rel.shift * a_w - c_w / 2
    else:
        out = rel.shift * c_w
        c_left = -out if rel.side == "left" else cw - c_w + out
    left, top = round(c_left - c_x0), round(bottom - c_y1)
    my, mx = max(1.0, _MIN_INSIDE * (c_y1 - c_y0)), max(1.0, _MIN_INSIDE * c_w)
    left = min(max(left, math.ceil(mx - c_x1)), math.floor(cw - mx - c_x0))
    top = min(max(top, math.ceil(my - c_y1)), math.floor(ch - my - c_y0))
    for side in reversed(cut):  # the first (most cut) side is pinned last, so it holds
        if side == "top":
            top = min(top, 0)
        elif side == "bottom":
            top = max(top, ch - h)
        elif side == "left":
            left = min(left, 0)
        else:
            left = max(left, cw - w)
    held = {"top": top <= 0, "bottom": top + h >= ch, "left": left <= 0, "right": left + w >= cw}
    pinned = tuple(s for s in SIDES if s in cut and held[s])
    return Placement(src_hw=(fh, fw), canvas_hw=(ch, cw), scale=float(r), size_hw=(h, w), top=int(top),
                     left=int(left), pinned=pinned)
