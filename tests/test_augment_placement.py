"""augment.placement: foreground size and position on the canvas, paste."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from augment.placement import Placement, apply_placement, cut_sides, sample_placement
from augment.resize import resize_to

sizes = st.tuples(st.integers(4, 400), st.integers(4, 400))


@settings(max_examples=100, deadline=None)
@given(fg=sizes, canvas=sizes, lo=st.floats(0.1, 1.0), seed=st.integers(0, 2**32 - 1))
def test_placement_inside_canvas_when_no_outside(fg, canvas, lo, seed):
    p = sample_placement(np.random.default_rng(seed), fg, canvas, scale=(lo, 1.0))
    assert p == sample_placement(np.random.default_rng(seed), fg, canvas, scale=(lo, 1.0))
    h, w = p.size_hw
    assert 0 <= p.top and p.top + h <= canvas[0]
    assert 0 <= p.left and p.left + w <= canvas[1]
    # Aspect kept: both sides scaled by the same factor (up to rounding) ...
    assert abs(h - fg[0] * p.scale) <= 0.5 + 1e-9 or h == 1
    assert abs(w - fg[1] * p.scale) <= 0.5 + 1e-9 or w == 1
    # ... which makes the larger relative side s ~ U(lo, 1).
    s = p.scale * max(fg[0] / canvas[0], fg[1] / canvas[1])
    assert lo - 1e-9 <= s <= 1.0 + 1e-9


@settings(max_examples=100, deadline=None)
@given(
    fg=sizes,
    canvas=sizes,
    outside=st.tuples(st.floats(0.0, 0.5), st.floats(0.0, 0.5)),
    hi=st.floats(0.5, 1.3),
    anchor=st.sampled_from(["any", "bottom"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_placement_outside_fraction_bounded(fg, canvas, outside, hi, anchor, seed):
    try:
        p = sample_placement(np.random.default_rng(seed), fg, canvas, scale=(0.5, hi), max_outside=outside,
                             anchor=anchor)
    except ValueError as e:  # only when the largest scale cannot fit
        assert hi > 1.0 and "max_outside" in str(e)
        return
    h, w = p.size_hw
    out_y = max(0, -p.top) + max(0, p.top + h - canvas[0])
    out_x = max(0, -p.left) + max(0, p.left + w - canvas[1])
    assert out_y <= math.floor(outside[0] * h)
    assert out_x <= math.floor(outside[1] * w)
    if anchor == "bottom":
        assert p.top + h >= canvas[0]  # bottom edge on (or below) the canvas bottom
        assert p.top + h - canvas[0] <= math.floor(outside[0] * h)


def test_bottom_anchor_without_outside_touches_bottom():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = sample_placement(rng, (300, 200), (512, 512), anchor="bottom")
        assert p.top + p.size_hw[0] == 512


def test_apply_placement_pastes_resized_foreground():
    rng = np.random.default_rng(1)
    fg = rng.integers(0, 256, (120, 80, 3), dtype=np.uint8)
    alpha = rng.random((120, 80), dtype=np.float32)
    trimap = np.full((120, 80), 128, np.uint8)
    canvas = (200, 300)
    p = sample_placement(rng, (120, 80), canvas, scale=(0.5, 0.8))
    h, w = p.size_hw
    out_a = apply_placement(p, alpha, canvas, "alpha")
    assert out_a.shape == canvas and out_a.dtype == np.float32
    inside = np.zeros(canvas, bool)
    inside[p.top : p.top + h, p.left : p.left + w] = True
    assert np.all(out_a[~inside] == 0)  # alpha outside the foreground is 0
    np.testing.assert_array_equal(out_a[inside].reshape(h, w), resize_to(alpha, (h, w), "alpha"))
    out_f = apply_placement(p, fg, canvas, "image", fill=7)
    assert out_f.shape == (*canvas, 3) and np.all(out_f[~inside] == 7)
    np.testing.assert_array_equal(out_f[inside].reshape(h, w, 3), resize_to(fg, (h, w), "image"))
    out_t = apply_placement(p, trimap, canvas, "trimap")
    assert set(np.unique(out_t)) == {0, 128} and np.all(out_t[inside] == 128)


def test_apply_placement_clips_outside_parts():
    alpha = np.ones((100, 100), np.float32)
    p = Placement(src_hw=(100, 100), canvas_hw=(50, 60), scale=0.5, size_hw=(50, 50), top=-10, left=30)
    out = apply_placement(p, alpha, (50, 60), "alpha")
    expected = np.zeros((50, 60), np.float32)
    expected[0:40, 30:60] = 1.0
    np.testing.assert_array_equal(out, expected)
    far = Placement(src_hw=(100, 100), canvas_hw=(50, 60), scale=0.5, size_hw=(50, 50), top=80, left=0)
    assert not apply_placement(far, alpha, (50, 60), "alpha").any()


def test_placement_params_json_roundtrip():
    p = sample_placement(np.random.default_rng(2), (10, 20), (30, 30), max_outside=0.2)
    d = json.loads(json.dumps(p.to_dict()))
    assert Placement.from_dict(d) == p


def test_placement_errors():
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError, match="more than max_outside"):
        sample_placement(rng, (100, 100), (100, 100), scale=(1.0, 1.5))
    with pytest.raises(ValueError, match=r"max_outside fractions must be in \[0, 1\)"):
        sample_placement(rng, (100, 100), (100, 100), max_outside=1.0)
    with pytest.raises(ValueError, match="anchor must be 'any' or 'bottom'"):
        sample_placement(rng, (100, 100), (100, 100), anchor="top")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scale must be > 0"):
        sample_placement(rng, (100, 100), (100, 100), scale=(0.0, 1.0))
    p = sample_placement(rng, (100, 100), (100, 100))
    with pytest.raises(ValueError, match=r"array has height/width \(99, 100\)"):
        apply_placement(p, np.zeros((99, 100), np.float32), (100, 100), "alpha")
    with pytest.raises(ValueError, match="differs from the Placement's canvas"):
        apply_placement(p, np.zeros((100, 100), np.float32), (100, 101), "alpha")


# ---------------------------------------------------------------- sides cut by the photo's frame


def test_cut_sides_finds_the_frame_cuts_most_cut_first():
    alpha = np.zeros((60, 80), np.float32)
    alpha[20:, 30:50] = 1.0  # a torso cut by the bottom edge (20 of 80 px)
    alpha[25:35, :10] = 1.0  # an arm cut by the left edge (10 of 60 px)
    assert cut_sides(alpha) == ("bottom", "left")
    alpha[0, 70] = 0.3  # one stray low-alpha pixel on the top: 0.3 / 80 < 1 %
    assert cut_sides(alpha) == ("bottom", "left")
    assert cut_sides(alpha, min_share=0.2) == ("bottom",)  # 20/80 >= 0.2 > 10/60
    inside = np.zeros((60, 80), np.float32)
    inside[5:55, 5:75] = 1.0
    assert cut_sides(inside) == ()
    with pytest.raises(ValueError, match="min_share"):
        cut_sides(alpha, min_share=0.0)
    with pytest.raises(ValueError, match=r"alpha must be \(H, W\)"):
        cut_sides(np.zeros((4, 4, 1), np.float32))


def _overhang(p: Placement) -> dict[str, int]:
    """How far each side of the placed frame lies beyond the canvas border (negative: inside)."""
    (ch, cw), (h, w) = p.canvas_hw, p.size_hw
    return {"top": -p.top, "bottom": p.top + h - ch, "left": -p.left, "right": p.left + w - cw}


@settings(max_examples=200, deadline=None)
@given(fg=sizes, canvas=sizes, outside=st.tuples(st.floats(0.0, 0.4), st.floats(0.0, 0.4)),
       lo=st.floats(0.3, 1.0), anchor=st.sampled_from(["any", "bottom"]),
       cut=st.lists(st.sampled_from(["top", "bottom", "left", "right"]), unique=True, max_size=4),
       seed=st.integers(0, 2**32 - 1))
# 4 px at scale 8/7 is 3.5 px, rounded up to the canvas's 4: the pair spans at the largest scale
@example(fg=(4, 8), canvas=(4, 7), outside=(0.0, 0.0), lo=1.0, anchor="any", cut=["top", "bottom"], seed=0)
def test_cut_sides_are_pinned_to_the_canvas_border(fg, canvas, outside, lo, anchor, cut, seed):
    cut = tuple(cut)
    p = sample_placement(np.random.default_rng(seed), fg, canvas, scale=(lo, 1.0), max_outside=outside,
                         anchor=anchor, cut=cut)
    over = _overhang(p)
    wanted = set(cut) | ({"bottom"} if anchor == "bottom" else set())
    assert set(p.pinned) <= wanted
    for side in p.pinned:  # on the border or beyond it, never inside
        assert over[side] >= 0
    # the overhang limits still hold, pinned or not
    h, w = p.size_hw
    assert max(0, over["top"]) + max(0, over["bottom"]) <= math.floor(outside[0] * h)
    assert max(0, over["left"]) + max(0, over["right"]) <= math.floor(outside[1] * w)
    s = p.scale * max(fg[0] / canvas[0], fg[1] / canvas[1])
    assert lo - 1e-9 <= s <= 1.0 + 1e-9  # never outside the recipe's scale range
    # a side is left free only when its pair cannot be spanned at the largest scale
    for a, b, f, c in (("top", "bottom", fg[0], canvas[0]), ("left", "right", fg[1], canvas[1])):
        for side in (a, b):
            if side in wanted and side not in p.pinned:
                other = b if side == a else a
                assert other in p.pinned and round(f * 1.0 / max(fg[0] / canvas[0], fg[1] / canvas[1])) < c
    if anchor == "bottom":
        assert "bottom" in p.pinned  # the anchor comes first


@settings(max_examples=100, deadline=None)
@given(fg=sizes, canvas=sizes, outside=st.floats(0.0, 0.4), anchor=st.sampled_from(["any", "bottom"]),
       seed=st.integers(0, 2**32 - 1))
def test_no_cut_draws_what_it_drew_before(fg, canvas, outside, anchor, seed):
    """Without cut sides the placement (and so every earlier build) is unchanged."""
    a = sample_placement(np.random.default_rng(seed), fg, canvas, scale=(0.5, 1.0), max_outside=outside,
                         anchor=anchor)
    b = sample_placement(np.random.default_rng(seed), fg, canvas, scale=(0.5, 1.0), max_outside=outside,
                         anchor=anchor, cut=())
    assert a == b
    if anchor == "bottom":  # the draw of the earlier anchor code: ch - h + U{0..ky}
        r = np.random.default_rng(seed)
        fit = max(fg[0] / canvas[0], fg[1] / canvas[1])
        scale = float(r.uniform(0.5, 1.0)) / fit
        h, w = max(1, round(fg[0] * scale)), max(1, round(fg[1] * scale))
        kx, ky = math.floor(outside * w), math.floor(outside * h)
        left = int(r.integers(-kx, canvas[1] - w + kx + 1))
        top = canvas[0] - h + int(r.integers(0, ky + 1))
        assert (a.scale, a.left, a.top, a.pinned) == (scale, left, top, ("bottom",))


def test_opposite_cuts_span_the_axis_or_leave_the_later_side_free():
    rng = np.random.default_rng(0)
    # a tall subject cut at top and bottom: it must fill the canvas height
    for _ in range(20):
        p = sample_placement(rng, (400, 100), (200, 200), scale=(0.3, 1.0), cut=("top", "bottom"))
        assert p.size_hw[0] == 200 and p.top == 0 and p.pinned == ("top", "bottom")
    # a wide subject cut at top and bottom cannot fill the height at scale <= 1: bottom (anchor) kept
    for _ in range(20):
        p = sample_placement(rng, (100, 400), (200, 200), scale=(0.3, 1.0), anchor="bottom", cut=("top",))
        assert p.pinned == ("bottom",) and p.top + p.size_hw[0] == 200
        q = sample_placement(rng, (100, 400), (200, 200), scale=(0.3, 1.0), cut=("top", "bottom"))
        assert q.pinned == ("top",) and q.top == 0  # without an anchor, the first listed side wins
    with pytest.raises(ValueError, match="cut sides must be among"):
        sample_placement(rng, (10, 10), (20, 20), cut=("middle",))
