"""The stored alpha of a build (synth.render.stored_layers, alpha_outputs): the 8-bit
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
from synth.render import alpha_outputs, stored_layers

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
