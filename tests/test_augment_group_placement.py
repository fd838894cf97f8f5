"""augment.group_placement: relations drawn from explicit weights, and the geometry of each
relation (beside, behind and smaller, in front at the border and cut by the frame)."""
from __future__ import annotations

import numpy as np
import pytest

from augment.group_placement import GroupRelation, content_box, group_placement, sample_group_relation
from augment.placement import apply_placement

CANVAS = (400, 600)
ANCHOR = (100, 250, 300, 350)  # y0, x0, y1, x1: 200 high, 100 wide
FG_HW = (120, 80)
FG_BOX = (10, 10, 110, 70)  # content 100 high, 60 wide


def _canvas_box(rel: GroupRelation, cut: tuple[str, ...] = ()) -> tuple[tuple[int, int, int, int], object]:
    p = group_placement(rel, FG_HW, FG_BOX, CANVAS, ANCHOR, cut)
    alpha = np.zeros(FG_HW, np.float32)
    alpha[FG_BOX[0]:FG_BOX[2], FG_BOX[1]:FG_BOX[3]] = 1.0
    return content_box(apply_placement(p, alpha, CANVAS, "alpha")), p


def test_side_by_side_same_height_same_ground_line_overlapping():
    box, p = _canvas_box(GroupRelation("side", 0, 1.0, "right", 0.25, 0.0))
    y0, x0, y1, x1 = box
    assert abs((y1 - y0) - 200) <= 2 and abs(y1 - ANCHOR[2]) <= 2  # same size, same ground line
    assert abs(x0 - (ANCHOR[3] - 0.25 * 100)) <= 2  # overlaps the anchor by a quarter of the narrower width
    box, _ = _canvas_box(GroupRelation("side", 0, 1.0, "left", 0.0, 0.0))
    assert abs(box[3] - ANCHOR[1]) <= 2  # just touching on the left


def test_behind_is_smaller_higher_and_across_the_anchor():
    box, _ = _canvas_box(GroupRelation("behind", 0, 0.6, "", 0.0, -0.1))
    y0, x0, y1, x1 = box
    assert abs((y1 - y0) - 120) <= 2  # 0.6 of the anchor's height
    assert abs(y1 - (ANCHOR[2] - 20)) <= 2  # feet higher up
    assert abs((x0 + x1) / 2 - 300) <= 2  # centred on the anchor: hidden in part


def test_border_member_is_larger_and_cut_by_the_frame():
    box, p = _canvas_box(GroupRelation("border", 0, 1.2, "left", 0.5, 0.05))
    y0, x0, y1, x1 = box
    assert x0 == 0  # runs beyond the left side
    assert p.left + round(FG_BOX[1] * p.size_hw[1] / FG_HW[1]) < 0
    width = p.size_hw[1] * 60 / 80
    assert abs((x1 - x0) - 0.5 * width) <= 2  # half of its content width is outside
    box, _ = _canvas_box(GroupRelation("border", 0, 1.2, "right", 0.5, 0.05))
    assert box[3] == CANVAS[1]


def test_members_stay_partly_on_the_canvas_and_cut_sides_are_pinned():
    box, _ = _canvas_box(GroupRelation("border", 0, 1.0, "left", 1.0, 0.0))  # would leave the canvas
    assert box is not None and box[3] >= 0.1 * 100 - 1
    _, p = _canvas_box(GroupRelation("behind", 0, 0.6, "", 0.0, -0.3), cut=("bottom",))
    assert p.top + p.size_hw[0] >= CANVAS[0] and p.pinned == ("bottom",)


def test_sampling_follows_weights_and_ranges():
    rng = np.random.default_rng(0)
    rels = [sample_group_relation(rng, 3, weights=(0.0, 1.0, 0.0), depth_scale=(0.5, 0.7)) for _ in range(50)]
    assert {r.relation for r in rels} == {"behind"}
    assert all(0.5 <= r.ratio <= 0.7 and r.drop <= 0 and 0 <= r.anchor < 3 and 0.35 <= abs(r.shift) <= 0.9
               for r in rels)
    rels = [sample_group_relation(rng, 1, weights=(1.0, 1.0, 1.0)) for _ in range(300)]
    counts = {k: sum(r.relation == k for r in rels) for k in ("side", "behind", "border")}
    assert all(70 <= c <= 130 for c in counts.values()), counts
    a = sample_group_relation(np.random.default_rng(5), 2)
    assert a == sample_group_relation(np.random.default_rng(5), 2)  # a pure function of the generator
    with pytest.raises(ValueError, match="weights"):
        sample_group_relation(rng, 1, weights=(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="placed"):
        sample_group_relation(rng, 0)
    with pytest.raises(ValueError, match="fg_box"):
        group_placement(a, FG_HW, (0, 0, 0, 0), CANVAS, ANCHOR)
