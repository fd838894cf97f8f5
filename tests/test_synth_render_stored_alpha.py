"""The stored alpha of a build (synth.stored_layers: stored_layers, alpha_outputs): the 8-bit
levels computed once give the same alpha, PNG bytes and trimap as re-quantising the float
alpha at each use (the code before), on any alpha in [0, 1]."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from augment.trimap import make_trimap
from shards.codec import decode_alpha_stored, encode_alpha
from synth.recipe.output import OutputSpec
from synth.stored_layers import alpha_outputs, stored_layers

_ALPHA = arrays(np.float32, st.tuples(st.integers(1, 24), st.integers(1, 24)),
                elements=st.floats(0.0, 1.0, width=32))


@settings(max_examples=80, deadline=None)
@given(_ALPHA, st.integers(0, 6))
def test_levels_give_the_same_alpha_png_and_trimap(alpha, band):
    layer = np.zeros(alpha.shape + (3,), np.uint8)
    out = stored_layers(OutputSpec(layer_format="png"), layer, layer, alpha)
    stored, levels = out.alpha, out.levels
    before = np.rint(alpha * 255.0).astype(np.float32) / 255.0  # the quantisation as it was
    assert stored.dtype == np.float32 and np.array_equal(stored, before)
    assert levels.dtype == np.uint8 and np.array_equal(levels, np.rint(alpha * np.float32(255)).astype(np.uint8))
    trimap, png = alpha_outputs(stored, levels, 8, band)
    assert png == encode_alpha(stored, 8)
    assert np.array_equal(decode_alpha_stored(png), levels)
    assert np.array_equal(trimap, make_trimap(stored, band))


def test_sixteen_bits_keeps_the_float_alpha_and_encodes_it():
    alpha = np.linspace(0, 1, 40, dtype=np.float32).reshape(5, 8)
    layer = np.zeros((5, 8, 3), np.uint8)
    out = stored_layers(OutputSpec(layer_format="png", alpha_bits=16), layer, layer, alpha)
    stored, levels = out.alpha, out.levels
    assert levels is None and stored is alpha
    trimap, png = alpha_outputs(stored, None, 16, 2)
    assert png == encode_alpha(alpha, 16) and np.array_equal(trimap, make_trimap(alpha, 2))


def test_out_of_range_alpha_is_refused():
    layer = np.zeros((2, 2, 3), np.uint8)
    with pytest.raises(ValueError):
        stored_layers(OutputSpec(layer_format="png"), layer, layer, np.full((2, 2), 1.5, np.float32))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**16), st.tuples(st.integers(8, 200), st.integers(8, 200)), st.integers(0, 3),
       st.sampled_from([8, 16]))
def test_jpeg_f_is_decoded_where_a_composite_reads_it(seed, hw, shape, bits):
    """F is decoded only over the restart intervals that cover the box of alpha > 0: in the
    box it is the whole decode's pixels, elsewhere those or 0, and the composite is the
    whole decode's."""
    import cv2

    from augment.compose import composite
    from shards.codec import decode_rgb

    rng = np.random.default_rng(seed)
    h, w = hw
    fg = cv2.blur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (3, 3))
    bg = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    alpha = np.zeros((h, w), np.float32)
    if shape:  # 0: no subject; else a soft rectangle, possibly touching the image's edges
        y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
        y1, x1 = int(rng.integers(y0 + 1, h + 1)), int(rng.integers(x0 + 1, w + 1))
        alpha[y0:y1, x0:x1] = rng.uniform(0.0, 1.0, (y1 - y0, x1 - x0)).astype(np.float32)
        if shape == 3:
            alpha[y0:y1, x0:x1] = 1.0
    out = stored_layers(OutputSpec(alpha_bits=bits), fg, bg, alpha)
    whole = decode_rgb(out.fg_bytes)
    seen = out.alpha > 0
    rows, cols = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
    box = np.zeros((h, w), bool)
    if rows.size:
        box[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = True
    assert np.array_equal(out.fg[box], whole[box])
    outside = out.fg[~box]
    assert np.all((outside == whole[~box]).all(axis=1) | (outside == 0).all(axis=1))
    assert np.array_equal(out.bg, decode_rgb(out.bg_bytes))
    assert np.array_equal(composite(out.fg, out.alpha, out.bg), composite(whole, out.alpha, out.bg))
