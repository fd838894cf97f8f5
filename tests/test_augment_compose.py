"""augment.compose: alpha conversion, I = αF + (1−α)B, front-to-back `over`."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.compose import alpha_to_float, composite, over


def _random_alpha(rng: np.random.Generator, hw: tuple[int, int]) -> np.ndarray:
    """float32 alpha with exact 0 and 1 regions and a soft part."""
    choice = rng.integers(0, 3, size=hw)
    soft = rng.random(hw, dtype=np.float32)
    return np.where(choice == 0, 0.0, np.where(choice == 1, 1.0, soft)).astype(np.float32)


def test_alpha_to_float_integer_dtypes():
    a8 = np.array([[0, 1, 128, 255]], dtype=np.uint8)
    out = alpha_to_float(a8)
    assert out.dtype == np.float32 and out.shape == (1, 4)
    np.testing.assert_array_equal(out, a8.astype(np.float32) / np.float32(255))
    a16 = np.array([[0, 257, 65535]], dtype=np.uint16)
    np.testing.assert_allclose(alpha_to_float(a16), [[0.0, 257 / 65535, 1.0]], rtol=1e-7)


def test_alpha_to_float_float_passthrough_and_squeeze():
    a = np.random.default_rng(0).random((5, 6), dtype=np.float32)
    assert alpha_to_float(a) is a
    out = alpha_to_float(a.astype(np.float64)[:, :, None])
    assert out.dtype == np.float32 and out.shape == (5, 6)


@pytest.mark.parametrize(
    ("alpha", "match"),
    [
        (np.full((2, 2), 1.5, np.float32), r"in \[0, 1\]"),
        (np.full((2, 2), np.nan, np.float32), r"in \[0, 1\]"),
        (np.zeros((2, 2), np.int32), "dtype int32"),
        (np.zeros((2, 2, 3), np.uint8), r"shape \(H, W\)"),
    ],
)
def test_alpha_to_float_rejects(alpha, match):
    with pytest.raises(ValueError, match=match):
        alpha_to_float(alpha)


def test_composite_matches_float64_reference():
    rng = np.random.default_rng(1)
    fg = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    alpha = _random_alpha(rng, (40, 50))
    out = composite(fg, alpha, bg)
    assert out.dtype == np.uint8 and out.shape == fg.shape
    a = alpha.astype(np.float64)[:, :, None]
    exact = a * fg + (1 - a) * bg
    ref = np.clip(np.rint(exact), 0, 255)
    # float32 vs float64 can only disagree where the exact value is a hair from .5
    diff = np.abs(out.astype(np.int64) - ref)
    assert diff.max() <= 1
    assert np.all(diff[np.abs(exact - np.floor(exact) - 0.5) > 1e-3] == 0)
    # alpha 1 -> exactly fg, alpha 0 -> exactly bg
    np.testing.assert_array_equal(out[alpha == 1], fg[alpha == 1])
    np.testing.assert_array_equal(out[alpha == 0], bg[alpha == 0])


def test_composite_accepts_float_layers_and_uint8_alpha():
    rng = np.random.default_rng(2)
    fg = rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)
    a8 = rng.integers(0, 256, (8, 9), dtype=np.uint8)
    ref = composite(fg, a8, bg)
    out = composite(fg.astype(np.float32) / 255, a8, bg.astype(np.float32) / 255)
    assert np.abs(out.astype(int) - ref).max() <= 1


def test_composite_shape_errors():
    fg = np.zeros((4, 5, 3), np.uint8)
    with pytest.raises(ValueError, match=r"bg has height/width \(4, 6\) but fg has \(4, 5\)"):
        composite(fg, np.zeros((4, 5), np.float32), np.zeros((4, 6, 3), np.uint8))
    with pytest.raises(ValueError, match=r"alpha has height/width \(3, 5\)"):
        composite(fg, np.zeros((3, 5), np.float32), fg)
    with pytest.raises(ValueError, match=r"fg must be an RGB array"):
        composite(np.zeros((4, 5), np.uint8), np.zeros((4, 5), np.float32), fg)
    with pytest.raises(ValueError, match=r"bg float32 values must be in \[0, 1\]"):
        composite(fg, np.zeros((4, 5), np.float32), np.full((4, 5, 3), 2.0, np.float32))


def test_over_two_layers_closed_form():
    rng = np.random.default_rng(3)
    f1, f2 = rng.random((2, 6, 7, 3), dtype=np.float32)
    a1, a2 = _random_alpha(rng, (6, 7)), _random_alpha(rng, (6, 7))
    f, a = over([(f1, a1), (f2, a2)])
    a_ref = a1 + a2 * (1 - a1)
    np.testing.assert_allclose(a, a_ref, atol=1e-6)
    num = a1[..., None] * f1 + ((1 - a1) * a2)[..., None] * f2
    f_ref = np.divide(num, a_ref[..., None], out=np.zeros_like(num), where=a_ref[..., None] > 0)
    np.testing.assert_allclose(f, f_ref, atol=1e-5)
    assert np.all(f[a == 0] == 0)
    assert f.dtype == np.float32 and a.dtype == np.float32


def test_over_single_layer_and_errors():
    rng = np.random.default_rng(4)
    fg = rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)
    alpha = _random_alpha(rng, (5, 5))
    f, a = over([(fg, alpha)])
    np.testing.assert_array_equal(a, alpha)
    np.testing.assert_allclose(f[alpha > 0], fg[alpha > 0] / 255.0, atol=1e-6)
    with pytest.raises(ValueError, match="at least one"):
        over([])
    with pytest.raises(ValueError, match=r"layers\[1\].alpha has height/width"):
        over([(fg, alpha), (fg, alpha[:4])])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 4),
    h=st.integers(1, 12),
    w=st.integers(1, 12),
)
def test_over_equals_sequential_back_to_front(seed, n, h, w):
    rng = np.random.default_rng(seed)
    layers = [(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), _random_alpha(rng, (h, w))) for _ in range(n)]
    bg = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    f, a = over(layers)
    merged = composite(f, a, bg)
    # Back to front in float64, rounded once.
    acc = bg.astype(np.float64)
    for fg, alpha in reversed(layers):
        al = alpha.astype(np.float64)[:, :, None]
        acc = al * fg + (1 - al) * acc
    assert np.abs(merged.astype(int) - np.rint(acc)).max() <= 1
    # Back to front with the uint8 composite itself (two layers: rounding error < 1 level).
    if n <= 2:
        seq = bg
        for fg, alpha in reversed(layers):
            seq = composite(fg, alpha, seq)
        assert np.abs(merged.astype(int) - seq).max() <= 1


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), h=st.integers(1, 40), w=st.integers(1, 40),
       box=st.tuples(st.integers(0, 39), st.integers(0, 39), st.integers(0, 40), st.integers(0, 40)))
def test_composite_blends_only_the_box_of_alpha_yet_equals_the_whole_canvas_formula(seed, h, w, box):
    """uint8 layers: outside the box of alpha > 0 the result is B; everywhere it equals the
    float32 formula rint(B + alpha (F - B)) computed over the whole canvas."""
    rng = np.random.default_rng(seed)
    fg = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    alpha = np.zeros((h, w), np.float32)
    y0, x0, dy, dx = box
    alpha[y0: y0 + dy, x0: x0 + dx] = rng.random((h, w), dtype=np.float32)[y0: y0 + dy, x0: x0 + dx]
    b = bg.astype(np.float32)
    ref = (fg.astype(np.float32) - b) * alpha[:, :, None] + b
    ref = np.clip(np.rint(ref), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(composite(fg, alpha, bg), ref)


def test_composite_rounds_exact_halves_to_even_like_rint():
    fg = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    bg = np.zeros_like(fg)
    for a in (0.5, 0.25, 0.75, 1.0 / 255.0, 254.0 / 255.0):
        alpha = np.full((16, 16), a, np.float32)
        ref = np.clip(np.rint(fg.astype(np.float32) * np.float32(a)), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(composite(fg, alpha, bg), ref)
        np.testing.assert_array_equal(composite(bg, 1.0 - alpha, fg), np.clip(np.rint(
            (bg.astype(np.float32) - fg) * (np.float32(1.0) - np.float32(a)) + fg), 0, 255).astype(np.uint8))
