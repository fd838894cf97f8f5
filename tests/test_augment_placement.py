"""augment.placement: foreground size and position on the canvas, paste."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.placement import Placement, apply_placement, sample_placement
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
