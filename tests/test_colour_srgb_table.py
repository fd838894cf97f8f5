"""augment.colour.linear_to_srgb reads a table over float32 bit patterns: it must give the
bytes of the computed curve for every float32 in [0, 1], and clip the rest the same way."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from augment.colour import _linear_to_srgb_exact, linear_to_srgb

_ONE_BITS = 0x3F800000


def test_every_float32_in_unit_range_gets_the_computed_level():
    chunk = 1 << 24
    for start in range(0, _ONE_BITS + 1, chunk):  # all 1 065 353 217 floats in [0, 1]
        bits = np.arange(start, min(start + chunk, _ONE_BITS + 1), dtype=np.uint32)
        x = bits.view(np.float32)
        fast, exact = linear_to_srgb(x), _linear_to_srgb_exact(x)
        if not np.array_equal(fast, exact):
            bad = np.flatnonzero(fast != exact)[0]
            raise AssertionError(f"float {x[bad]!r} (bits {bits[bad]:#x}): table {fast[bad]}, curve {exact[bad]}")


def test_out_of_range_values_clip_like_the_curve():
    x = np.array([-1e30, -1.0, -1e-40, -0.0, 0.0, 1.0, np.nextafter(np.float32(1), np.float32(2)), 1.5, 3e38,
                  np.inf, -np.inf], np.float32)
    np.testing.assert_array_equal(linear_to_srgb(x), _linear_to_srgb_exact(x))
    np.testing.assert_array_equal(linear_to_srgb(x), [0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 0])


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(st.sampled_from([np.float32, np.float64]), hnp.array_shapes(min_dims=1, max_dims=3, max_side=7),
                  elements=st.floats(-0.5, 1.5, width=32)))
def test_any_shape_and_dtype_equals_the_curve(x):
    out = linear_to_srgb(x)
    assert out.shape == x.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, _linear_to_srgb_exact(x))


def test_non_contiguous_input():
    x = np.linspace(0, 1, 4 * 6 * 3, dtype=np.float32).reshape(4, 6, 3)[:, ::2, ::-1]
    np.testing.assert_array_equal(linear_to_srgb(x), _linear_to_srgb_exact(x))
