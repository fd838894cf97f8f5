import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from augment.planes import multiply_by_plane, per_channel


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 5), st.sampled_from([np.float32, np.float64]),
       st.data())
def test_equals_the_broadcast_product(h, w, c, plane_dtype, data):
    x = data.draw(hnp.arrays(np.float32, (h, w, c), elements=st.floats(-1e6, 1e6, width=32)))
    plane = data.draw(hnp.arrays(plane_dtype, (h, w), elements=st.floats(-10, 10, width=32)))
    want = x.copy()
    want *= plane[..., None]
    got = x.copy()
    assert multiply_by_plane(got, plane) is got
    np.testing.assert_array_equal(got, want)


def test_grey_images_and_strided_planes():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    plane = np.linspace(0, 1, 24, dtype=np.float32).reshape(3, 8)[:, ::2]
    np.testing.assert_array_equal(multiply_by_plane(x.copy(), plane), x * plane)
    rgb = np.ones((3, 4, 3), np.float32)
    np.testing.assert_array_equal(multiply_by_plane(rgb, plane), np.repeat(plane[..., None], 3, axis=2))


def test_shape_mismatch_is_numpys_error():
    with pytest.raises(ValueError):
        multiply_by_plane(np.ones((3, 4, 3), np.float32), np.ones((4, 3), np.float32))


@settings(max_examples=60, deadline=None)
@given(hnp.array_shapes(min_dims=1, max_dims=4, max_side=6), st.sampled_from(["multiply", "subtract", "divide"]),
       st.booleans(), st.data())
def test_per_channel_equals_numpys_broadcast(shape, op, contiguous, data):
    ufunc = getattr(np, op)
    x = data.draw(hnp.arrays(np.float32, shape, elements=st.floats(-1e4, 1e4, width=32)))
    if not contiguous and x.ndim >= 2:
        x = np.swapaxes(x, 0, -2)  # a strided view: the plain broadcast path
    values = data.draw(hnp.arrays(np.float32, shape[-1:], elements=st.floats(0.5, 4, width=32)))
    want = ufunc(x, values)
    got = x.copy() if contiguous else x
    assert per_channel(ufunc, got, values) is got
    np.testing.assert_array_equal(got, want)


def test_per_channel_refuses_values_of_another_length():
    with pytest.raises(ValueError, match="last axis"):
        per_channel(np.multiply, np.ones((2, 3, 3), np.float32), np.ones(4, np.float32))
