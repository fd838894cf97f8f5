"""augment.crop: unknown-centred crops, scale helpers."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.crop import (
    Crop,
    _nth_true,
    _row_counts,
    apply_crop,
    min_scale_to_cover,
    sample_scale_jitter,
    sample_unknown_crop,
)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 30), w=st.integers(1, 30), density=st.floats(0.01, 1.0))
def test_nth_true_matches_argwhere(seed, h, w, density):
    rng = np.random.default_rng(seed)
    mask = rng.random((h, w)) < density
    coords = np.argwhere(mask)
    for n in range(0, len(coords), max(1, len(coords) // 7)):
        assert _nth_true(mask, n) == tuple(coords[n])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 30), w=st.integers(1, 30), density=st.floats(0.0, 1.0),
       kind=st.sampled_from(["bool", "u8_255", "u8_any", "u16", "float"]))
def test_row_counts_equal_numpys_for_every_mask_kind(seed, h, w, density, kind):
    rng = np.random.default_rng(seed)
    on = rng.random((h, w)) < density
    values = rng.integers(1, 256, (h, w))
    mask = {"bool": on, "u8_255": on.astype(np.uint8) * 255, "u8_any": (on * values).astype(np.uint8),
            "u16": (on * values * 200).astype(np.uint16), "float": on * rng.random((h, w))}[kind]
    expected = np.count_nonzero(mask, axis=1)
    got = _row_counts(mask)
    assert got.dtype == np.int64 and np.array_equal(got, expected)
    assert np.array_equal(_row_counts(mask[:, ::2]), np.count_nonzero(mask[:, ::2], axis=1))  # strided


def test_crop_is_centred_on_the_unknown_pixel():
    trimap = np.zeros((100, 120), np.uint8)
    trimap[40, 70] = 128
    c = sample_unknown_crop(np.random.default_rng(0), trimap, (32, 20))
    assert c == Crop(top=40 - 16, left=70 - 10, h=32, w=20)
    trimap[:] = 0
    trimap[2, 118] = 128  # near a corner: clamped inside
    c = sample_unknown_crop(np.random.default_rng(0), trimap, (32, 20))
    assert c == Crop(top=0, left=100, h=32, w=20)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    hw=st.tuples(st.integers(1, 60), st.integers(1, 60)),
    crop=st.tuples(st.integers(1, 60), st.integers(1, 60)),
    density=st.floats(0.0, 0.2),
)
def test_crop_inside_and_contains_unknown(seed, hw, crop, density):
    crop = (min(crop[0], hw[0]), min(crop[1], hw[1]))
    rng = np.random.default_rng(seed)
    trimap = np.where(rng.random(hw) < density, 128, 255).astype(np.uint8)
    c = sample_unknown_crop(np.random.default_rng(seed), trimap, crop)
    assert c == sample_unknown_crop(np.random.default_rng(seed), trimap, crop)  # deterministic
    assert 0 <= c.top <= hw[0] - crop[0] and 0 <= c.left <= hw[1] - crop[1]
    window = apply_crop(c, trimap)
    assert window.shape == crop
    if (trimap == 128).any():
        assert (window == 128).any()


def test_alpha_input_and_uniform_choice():
    alpha = np.zeros((50, 400), np.float32)
    alpha[25, 20] = 0.5
    alpha[25, 380] = 0.5
    alpha[10, 200] = 1.0 - 1e-7  # a rounding error away from 1 is not unknown
    rng = np.random.default_rng(0)
    lefts = [sample_unknown_crop(rng, alpha, (20, 20)).left for _ in range(400)]
    assert set(lefts) == {10, 370}
    assert 150 < lefts.count(10) < 250


def test_fallback_uniform_without_unknown():
    trimap = np.full((40, 50), 255, np.uint8)
    rng = np.random.default_rng(1)
    crops = [sample_unknown_crop(rng, trimap, (10, 10)) for _ in range(300)]
    tops = {c.top for c in crops}
    assert min(tops) == 0 and max(tops) == 30 and len(tops) > 20


def test_crop_errors():
    trimap = np.zeros((20, 30), np.uint8)
    with pytest.raises(ValueError, match=r"crop 21x10 is larger than the image 20x30"):
        sample_unknown_crop(np.random.default_rng(0), trimap, (21, 10))
    with pytest.raises(ValueError, match="uint8 trimap or a float alpha"):
        sample_unknown_crop(np.random.default_rng(0), trimap.astype(np.int32), (5, 5))
    with pytest.raises(ValueError, match="does not fit inside an image of 20x30"):
        apply_crop(Crop(top=15, left=0, h=10, w=10), trimap)


def test_apply_crop_is_a_view():
    img = np.arange(60).reshape(6, 10)
    out = apply_crop(Crop(top=1, left=2, h=3, w=4), img)
    np.testing.assert_array_equal(out, img[1:4, 2:6])
    assert np.shares_memory(out, img)


@settings(max_examples=100, deadline=None)
@given(hw=st.tuples(st.integers(1, 5000), st.integers(1, 5000)), crop=st.tuples(st.integers(1, 1024),
                                                                                 st.integers(1, 1024)))
def test_min_scale_to_cover(hw, crop):
    s = min_scale_to_cover(hw, crop)
    assert round(hw[0] * s) >= crop[0] and round(hw[1] * s) >= crop[1]
    assert s <= max(crop[0] / hw[0], crop[1] / hw[1]) * (1 + 1e-12)


def test_sample_scale_jitter():
    rng = np.random.default_rng(2)
    scales = [sample_scale_jitter(rng, (1000, 1000), (512, 512), (0.75, 1.25)) for _ in range(100)]
    assert 0.75 <= min(scales) < 0.8 and 1.2 < max(scales) <= 1.25
    small = [sample_scale_jitter(rng, (300, 400), (512, 512), (0.75, 1.25)) for _ in range(20)]
    assert min(small) >= 512 / 300
    with pytest.raises(ValueError, match="scale must be > 0"):
        sample_scale_jitter(rng, (10, 10), (5, 5), (0.0, 1.0))
