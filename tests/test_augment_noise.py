"""The noise kernels' fast uniform draws (augment.degrade.noise.uniform_uint16): exactly
``rng.integers``'s values and the generator's state after, on every path."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.degrade.noise import uniform_uint16


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.lists(st.integers(1, 9), min_size=1, max_size=3), st.integers(0, 3),
       st.sampled_from(["pcg", "dxsm", "philox"]))
def test_uniform_uint16_is_rng_integers_values_and_state(seed, shape, before, kind):
    """The fast path gives exactly ``rng.integers``'s draws and leaves the generator where it
    would be, whatever the shape, the bit generator and a pending 32-bit half."""
    make = {"pcg": np.random.PCG64, "dxsm": np.random.PCG64DXSM, "philox": np.random.Philox}[kind]
    a, b = np.random.Generator(make(seed)), np.random.Generator(make(seed))
    for g in (a, b):
        g.integers(0, 2**32, size=before, dtype=np.uint32)  # odd counts leave a 32-bit half pending
    shape = tuple(shape)
    assert np.array_equal(uniform_uint16(a, shape), b.integers(0, 65536, size=shape, dtype=np.uint16))
    assert np.array_equal(a.integers(0, 2**32, size=5, dtype=np.uint32), b.integers(0, 2**32, size=5, dtype=np.uint32))
    assert np.array_equal(a.standard_normal(3), b.standard_normal(3))


def test_uniform_uint16_large_field_takes_the_raw_words():
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    shape = (256, 256, 3)
    assert np.array_equal(uniform_uint16(a, shape), b.integers(0, 65536, size=shape, dtype=np.uint16))
    assert a.bit_generator.state["state"] == b.bit_generator.state["state"]

