"""augment.colour: the sRGB transfer curve (linear light), CIELAB and weighted statistics."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from augment.colour import srgb_levels_to_linear, srgb_to_linear, weighted_stats


def test_srgb_levels_to_linear_follows_the_transfer_curve_between_levels():
    whole = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(srgb_levels_to_linear(whole.astype(np.float32)), srgb_to_linear(whole))
    x = np.linspace(-3.0, 260.0, 5001, dtype=np.float32)
    lin = srgb_levels_to_linear(x)
    assert np.all(np.diff(lin) >= 0) and lin[0] == 0.0 and lin[-1] == 1.0  # monotone, clipped
    c = np.clip(x.astype(np.float64) / 255.0, 0, 1)
    exact = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    assert np.max(np.abs(lin - exact)) < 3e-4  # half a 1/16-level step where the curve is steepest
    with pytest.raises(ValueError, match="float array"):
        srgb_levels_to_linear(whole)


@pytest.mark.parametrize("shape", [(5,), (7, 9), (7, 9, 1), (7, 9, 3), (7, 9, 4), (3, 4, 5), (2, 3, 4, 5), (0, 3, 3)])
def test_srgb_to_linear_is_the_iec_curve_for_every_shape_and_layout(shape):
    rng = np.random.default_rng(len(shape))
    x = rng.integers(0, 256, shape, dtype=np.uint8)
    v = x.astype(np.float64) / 255.0
    ref = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    for arr, want in ((x, ref), (x[..., ::-1], ref[..., ::-1])):  # also a strided view
        out = srgb_to_linear(arr)
        assert out.shape == arr.shape and out.dtype == np.float32
        np.testing.assert_allclose(out, want, rtol=0, atol=1e-7)


def test_weighted_stats_do_not_depend_on_opencv_threads():
    """A serial build (all cores) and a Ray worker (one OpenCV thread) must compute the same
    statistics to the last bit, or their samples' harmonisation gains differ."""
    rng = np.random.default_rng(0)
    x = rng.random((512, 512, 3), dtype=np.float32)
    w = rng.random((512, 512), dtype=np.float32)
    before = cv2.getNumThreads()
    try:
        results = []
        for threads in (1, 2, 8):
            cv2.setNumThreads(threads)
            results.append(weighted_stats(x, w) + weighted_stats(x, None))
    finally:
        cv2.setNumThreads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)
    mean, std = results[0][:2]
    x64, w64 = x.reshape(-1, 3).astype(np.float64), w.reshape(-1, 1).astype(np.float64)
    ref_mean = (x64 * w64).sum(0) / w64.sum()
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-6)
    np.testing.assert_allclose(std, np.sqrt(((x64 - ref_mean) ** 2 * w64).sum(0) / w64.sum()), rtol=1e-5)


def test_linear_to_srgb_and_from_float01_equal_their_reference_formulas():
    """The in-place forms give the values of the plain float32 expressions, bit for bit."""
    from augment.colour import from_float01, linear_to_srgb

    x = np.concatenate([np.linspace(-0.1, 1.1, 200_001, dtype=np.float32),
                        np.linspace(0.0, 0.01, 20_001, dtype=np.float32),  # around the knee
                        np.random.default_rng(0).random(100_000, dtype=np.float32)]).reshape(-1, 1, 1)
    c = np.clip(x, 0.0, 1.0)
    knee = np.float32(0.0031308)
    high = np.float32(1.055) * np.power(np.maximum(c, knee), np.float32(1.0 / 2.4)) - np.float32(0.055)
    ref = np.where(c <= knee, c * np.float32(12.92), high)
    ref = np.clip(ref * np.float32(255.0) + np.float32(0.5), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(linear_to_srgb(x), ref)
    assert np.array_equal(linear_to_srgb(srgb_to_linear(np.arange(256, dtype=np.uint8))), np.arange(256))
    np.testing.assert_array_equal(from_float01(x, np.uint8),
                                  np.clip(x * np.float32(255.0) + np.float32(0.5), 0, 255).astype(np.uint8))
    assert from_float01(x, np.float32).dtype == np.float32 and from_float01(x, np.float32).max() == 1.0


def test_weighted_mean_is_weighted_stats_mean_and_lab_round_trips_the_reference():
    from augment.colour import from_lab, to_lab, weighted_mean

    rng = np.random.default_rng(3)
    x = rng.random((120, 90, 3), dtype=np.float32)
    w = rng.random((120, 90), dtype=np.float32)
    for weights in (None, w):
        assert np.array_equal(weighted_mean(x, weights), weighted_stats(x, weights)[0])
    with pytest.raises(ValueError, match="weights sum to zero"):
        weighted_mean(x, np.zeros_like(w))
    img = rng.integers(0, 256, (60, 70, 3), dtype=np.uint8)
    ref = cv2.cvtColor(img.astype(np.float32) * np.float32(1.0 / 255.0), cv2.COLOR_RGB2Lab)
    np.testing.assert_array_equal(to_lab(img), ref)
    rgb = cv2.cvtColor(ref, cv2.COLOR_Lab2RGB)
    np.testing.assert_array_equal(from_lab(ref), np.clip(rgb * np.float32(255.0) + np.float32(0.5), 0, 255)
                                  .astype(np.uint8))
    assert np.abs(from_lab(to_lab(img)).astype(int) - img).max() <= 1


def test_subsample_weighted_keeps_pixels_and_weights_on_one_grid():
    from augment.colour import subsample, subsample_weighted

    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (1100, 700, 3), dtype=np.uint8)
    weights = rng.random((1100, 700), dtype=np.float32)
    sub, w = subsample_weighted(image, weights)
    step = 1100 // sub.shape[0]
    assert step == 2 and sub.shape[:2] == w.shape
    np.testing.assert_array_equal(sub, image[::2, ::2])
    np.testing.assert_array_equal(w, weights[::2, ::2])
    assert subsample_weighted(image, None)[1] is None and subsample_weighted(image, None)[0].shape == sub.shape
    small = image[:300, :300]  # under the pixel budget: returned whole
    small_sub, small_w = subsample_weighted(small, weights[:300, :300])
    assert small_sub.shape == small.shape and np.array_equal(small_w, weights[:300, :300])
    # a subject only on odd rows: the grid misses it, so both come back whole
    odd = np.zeros((1100, 700), np.float32)
    odd[1::2, 5] = 1.0
    whole, w_whole = subsample_weighted(image, odd)
    assert whole is image and w_whole is odd
    assert subsample(image).shape == sub.shape
