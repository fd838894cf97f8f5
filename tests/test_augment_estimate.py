"""augment.estimate: noise sigma, noise floor and sharpness measurements."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.degrade import NoiseParams, add_sensor_noise
from augment.estimate import estimate_noise_floor, estimate_noise_sigma, estimate_sharpness

from realism_images import detailed_image, smooth_image


# --------------------------------------------------------------------------- noise


@pytest.mark.parametrize("sigma", [1.0, 2.0, 5.0, 10.0])
def test_noise_sigma_recovered_within_15_percent(sigma):
    rng = np.random.default_rng(int(sigma * 10))
    smooth = smooth_image()
    per_channel = np.clip(smooth + rng.normal(0, sigma, smooth.shape), 0, 255).round().astype(np.uint8)
    luminance = np.clip(smooth + rng.normal(0, sigma, smooth.shape[:2])[..., None], 0, 255).round().astype(np.uint8)
    assert estimate_noise_sigma(per_channel) == pytest.approx(sigma, rel=0.15)
    assert estimate_noise_sigma(luminance) == pytest.approx(sigma, rel=0.15)
    assert estimate_noise_sigma(per_channel.astype(np.float32) / 255) == pytest.approx(sigma, rel=0.15)


def test_noise_sigma_in_a_region_and_robust_to_edges():
    rng = np.random.default_rng(0)
    img = smooth_image()
    img[:, 128:] += rng.normal(0, 6, (256, 128, 3))
    img[::32] = 0  # sharp lines everywhere: edges, not noise
    img = np.clip(img, 0, 255).round().astype(np.uint8)
    right = np.zeros((256, 256), bool)
    right[:, 128:] = True
    assert estimate_noise_sigma(img, right) == pytest.approx(6, rel=0.15)
    assert estimate_noise_sigma(img, ~right) < 1.0
    assert np.isnan(estimate_noise_sigma(img, np.zeros((256, 256), bool)))
    with pytest.raises(ValueError, match="mask must have shape"):
        estimate_noise_sigma(img, right[:10])


@pytest.mark.parametrize("sigma", [1.0, 3.0, 6.0])
def test_noise_floor_reads_the_true_sigma_of_a_texture_free_image(sigma):
    rng = np.random.default_rng(int(sigma * 7))
    smooth = smooth_image()
    noisy = np.clip(smooth + rng.normal(0, sigma, smooth.shape), 0, 255).round().astype(np.uint8)
    assert estimate_noise_floor(noisy) == pytest.approx(sigma, rel=0.1)
    assert estimate_noise_floor(noisy.astype(np.float32) / 255) == pytest.approx(sigma, rel=0.1)
    # a noise field twice as strong reads twice as much
    noisier = np.clip(smooth + 2 * (noisy.astype(np.float32) - smooth), 0, 255).round().astype(np.uint8)
    assert estimate_noise_floor(noisier) == pytest.approx(2 * estimate_noise_floor(noisy), rel=0.1)


def test_noise_floor_sees_through_texture_that_the_median_reads_as_noise():
    # 3/4 of the picture is fine texture (hair, fabric), 1/4 is flat: both carry noise of std 2
    rng = np.random.default_rng(5)
    img = np.full((256, 256, 3), 120.0, np.float32)
    img[:192] += rng.normal(0, 25, (192, 256, 3))  # texture: strong, pixel-scale
    img += rng.normal(0, 2.0, img.shape)
    img = np.clip(img, 0, 255).round().astype(np.uint8)
    assert estimate_noise_sigma(img) > 10.0
    assert estimate_noise_floor(img) == pytest.approx(2.0, rel=0.2)
    # clipped pixels carry no noise and are left out, not read as a noise-free region
    burnt = img.copy()
    burnt[:, :128] = 255
    assert estimate_noise_floor(burnt) == pytest.approx(2.0, rel=0.2)


def test_noise_floor_needs_enough_tiles_and_valid_arguments():
    img = np.full((64, 64, 3), 100, np.uint8)
    assert np.isnan(estimate_noise_floor(img[:20, :20]))  # one tile
    mask = np.zeros((64, 64), bool)
    assert np.isnan(estimate_noise_floor(img, mask))
    assert estimate_noise_floor(img) == 0.0
    with pytest.raises(ValueError, match="quantile"):
        estimate_noise_floor(img, quantile=1.0)
    with pytest.raises(ValueError, match="mask must have shape"):
        estimate_noise_floor(img, mask[:10])


@settings(max_examples=25, deadline=None)
@given(ty=st.integers(0, 4), tx=st.integers(0, 4), seed=st.integers(0, 2**16))
def test_noise_floor_reads_only_the_tiles_of_its_region(ty, tx, seed):
    """What lies further than a tile from the region changes nothing (the estimate reads the
    region's tiles only), wherever the region sits on the tile grid."""
    rng = np.random.default_rng(seed)
    region = np.clip(rng.normal(120, 3, (80, 96, 3)), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[0:80, 0:96]
    mask = ((yy - 40) / rng.uniform(25, 39)) ** 2 + ((xx - 48) / rng.uniform(30, 47)) ** 2 <= 1
    big = rng.integers(0, 256, (80 + 16 * 6, 96 + 16 * 6, 3), dtype=np.uint8)  # loud elsewhere
    big_mask = np.zeros(big.shape[:2], bool)
    y, x = 16 * ty, 16 * tx
    big[y : y + 80, x : x + 96] = region
    big_mask[y : y + 80, x : x + 96] = mask
    value, in_big = estimate_noise_floor(region, mask), estimate_noise_floor(big, big_mask)
    # a small ellipse can hold under min_blocks usable tiles (about one draw in 600): nan, in both
    assert in_big == value or (np.isnan(value) and np.isnan(in_big))
    assert np.isnan(value) or 2.0 < value < 4.0


# --------------------------------------------------------------------------- sharpness


def test_sharpness_decreases_monotonically_with_blur():
    img = detailed_image()
    values = [estimate_sharpness(img if s == 0 else cv2.GaussianBlur(img, (0, 0), s)) for s in (0, 0.5, 1, 2, 3, 5)]
    assert all(b < a for a, b in zip(values, values[1:])), values
    assert values[-1] < 0.4 * values[0]


@pytest.mark.realdata
def test_sharpness_decreases_with_blur_on_a_real_photo(shared_data):
    img = cv2.cvtColor(cv2.imread(str(shared_data / "alphamatting/image/GT05.png")), cv2.COLOR_BGR2RGB)
    values = [estimate_sharpness(img if s == 0 else cv2.GaussianBlur(img, (0, 0), s)) for s in (0, 1, 2, 4, 8)]
    assert all(b < a for a, b in zip(values, values[1:])), values


def test_sharpness_is_contrast_invariant_and_noise_compensated():
    img = detailed_image()
    base = estimate_sharpness(img)
    low_contrast = (img.astype(np.float32) * 0.4 + 70).round().astype(np.uint8)
    assert estimate_sharpness(low_contrast) == pytest.approx(base, rel=0.05)
    noisy = add_sensor_noise(NoiseParams(sigma=3.0), img, 0)
    assert estimate_sharpness(noisy) == pytest.approx(base, rel=0.1)
    assert estimate_sharpness(np.full((64, 64, 3), 90, np.uint8)) == 0.0


def test_step_edge_reads_its_blur_scale():
    edge = np.zeros((64, 64), np.float32)
    edge[:, 32:] = 1.0
    for s in (1.0, 2.0, 3.0):
        blurred = cv2.GaussianBlur(edge, (0, 0), s)
        mask = np.zeros((64, 64), bool)
        mask[8:-8, 16:-16] = True
        # analytic value for a Gaussian-blurred step: 1 / sqrt(2 (s^2 + 1)) (1 px pre-smoothing)
        assert estimate_sharpness(blurred, mask) == pytest.approx(1 / np.sqrt(2 * (s * s + 1)), rel=0.1)


# --------------------------------------------------------------------------- defocus


def test_noise_floor_row_step_reads_every_other_row_of_tiles():
    rng = np.random.default_rng(8)
    smooth = smooth_image()
    rows = (np.arange(smooth.shape[0]) // 16) % 2 == 0  # even rows of 16-px tiles
    sigma = np.where(rows, 6.0, 2.0)[:, None, None]
    noisy = np.clip(smooth + rng.normal(0, 1, smooth.shape) * sigma, 0, 255).round().astype(np.uint8)
    # all tiles: the flattest tenth lies in the sigma-2 rows; every other row from the first: sigma 6
    assert estimate_noise_floor(noisy) == pytest.approx(2.0, rel=0.15)
    assert estimate_noise_floor(noisy, row_step=2) == pytest.approx(6.0, rel=0.1)
    even = np.clip(smooth + rng.normal(0, 3.0, smooth.shape), 0, 255).round().astype(np.uint8)
    mask = np.ones(smooth.shape[:2], bool)
    mask[:, : smooth.shape[1] // 3] = False
    for m in (None, mask):
        assert estimate_noise_floor(even, m, row_step=2) == pytest.approx(estimate_noise_floor(even, m), rel=0.05)
    with pytest.raises(ValueError, match="row_step"):
        estimate_noise_floor(even, row_step=0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), hw=st.tuples(st.integers(4, 70), st.integers(4, 70)),
       channels=st.sampled_from([0, 3]), block=st.sampled_from([4, 8, 12, 16]), row_step=st.integers(1, 3))
def test_block_sigmas_integer_path_equals_float_path(seed, hw, channels, block, row_step):
    """uint8 levels take exact int16 responses and int32 tile sums; they must read what the
    float32 path (filter2D, area resize) reads of the same levels: equal for power-of-two
    tiles (whose float32 tile means are exact), within float32 rounding otherwise."""
    from augment.estimate import _block_sigmas, valid_interior

    rng = np.random.default_rng(seed)
    shape = hw + ((channels,) if channels else ())
    levels = rng.integers(0, 256, shape, dtype=np.uint8)
    if rng.uniform() < 0.5:  # smooth with a little noise, as the flat tiles the floor reads
        levels = np.clip(cv2.blur(levels, (5, 5)).astype(int) + rng.integers(-2, 3, shape), 0, 255).astype(np.uint8)
    valid = valid_interior(rng.uniform(size=hw) < rng.uniform(0.5, 1.0), hw)
    exact = _block_sigmas(levels, valid, block, row_step)
    floats = _block_sigmas(levels.astype(np.float32), valid, block, row_step)
    assert exact.dtype == np.float64 and exact.shape == floats.shape
    if block in (4, 8, 16):
        np.testing.assert_array_equal(exact, floats)
    else:
        np.testing.assert_allclose(exact, floats, rtol=1e-6)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), hw=st.tuples(st.integers(8, 90), st.integers(8, 90)),
       channels=st.sampled_from([0, 3]), masked=st.booleans(), row_step=st.integers(1, 2))
def test_noise_floor_of_uint8_reads_the_valid_pixels_as_the_float_path_defines_them(seed, hw, channels, masked,
                                                                                    row_step):
    """uint8 images take a 0/1 uint8 validity mask (unclipped, inside the mask, 3x3 interior);
    the value must be the float path's composition: valid_interior of (unclipped & mask) and
    the tiles' float32 means, read on the same levels."""
    from augment.estimate import _block_sigmas, _floor_bias, valid_interior

    rng = np.random.default_rng(seed)
    shape = hw + ((channels,) if channels else ())
    img = np.clip(cv2.blur(rng.integers(0, 256, shape, dtype=np.uint8), (5, 5)).astype(int)
                  + rng.integers(-3, 4, shape), 0, 255).astype(np.uint8)
    img[: hw[0] // 4] = rng.choice([0, 255])  # a clipped stretch
    mask = rng.uniform(size=hw) < rng.uniform(0.3, 1.0) if masked else None
    got = estimate_noise_floor(img, mask, block=8, row_step=row_step, min_blocks=1)
    clipped = (img == 0) | (img == 255)
    unclipped = ~(clipped.any(axis=2) if channels else clipped)
    valid = valid_interior(unclipped if mask is None else unclipped & mask, hw)
    sigmas = _block_sigmas(img.astype(np.float32), valid, 8, row_step)
    if sigmas.size == 0:
        assert np.isnan(got)
    else:
        assert got == float(np.quantile(sigmas, 0.1)) / _floor_bias(8, 0.1)
