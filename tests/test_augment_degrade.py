"""augment.degrade: defocus, sensor noise, JPEG re-compression, resolution and sharpness matching."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.degrade import (
    NoiseParams,
    add_sensor_noise,
    defocus,
    jpeg_recompress,
    match_resolution,
    match_sharpness,
    match_sharpness_sigma,
    sample_noise,
    unit_normals,
)
from augment.estimate import estimate_noise_sigma, estimate_sharpness

from realism_images import detailed_image


def test_defocus_disk_kernel():
    img = np.zeros((41, 41, 3), np.float32)
    img[20, 20] = 1.0
    out = defocus(img, 5.0, exact=True)
    psf = out[..., 0]
    assert psf.sum() == pytest.approx(1.0, rel=1e-4)
    # a pillbox: flat inside, zero outside (a Gaussian would fall off smoothly)
    assert psf[20, 20] == pytest.approx(psf[20, 23], rel=1e-4) == pytest.approx(psf[17, 20], rel=1e-4)
    assert psf[20, 27] == 0 and psf[20, 26] == 0
    assert np.array_equal(defocus(img, 0.0), img) and defocus(img, 0.0) is not img
    u8 = detailed_image(64, 64)
    sharp = [estimate_sharpness(defocus(u8, r)) for r in (0, 1, 2, 4)]
    assert all(b < a for a, b in zip(sharp, sharp[1:])), sharp
    lin = defocus(u8, 3.0, linear_light=True)
    assert lin.dtype == np.uint8 and lin.shape == u8.shape
    with pytest.raises(ValueError, match="radius_px"):
        defocus(u8, -1.0)


@pytest.mark.parametrize("radius", [4.5, 7.0, 12.0, 24.0])
def test_large_defocus_at_low_resolution_matches_the_full_convolution(radius):
    """Disks over 4 px are applied on a shrunk copy: close to the exact convolution, much cheaper."""
    img = cv2.resize(detailed_image(160, 192, seed=3), (384, 320), interpolation=cv2.INTER_CUBIC)
    img[100:104, 200:204] = 255  # a highlight: its bokeh disc is where the two differ most
    fast, exact = defocus(img, radius), defocus(img, radius, exact=True)
    err = fast.astype(np.float64) - exact
    assert np.sqrt(np.mean(err ** 2)) < 1.5 and np.quantile(np.abs(err), 0.999) <= 10
    assert abs(err.mean()) < 0.1  # no brightness change
    # the same blur strength: sharpness within 10 % (only the bokeh rims are softer)
    assert estimate_sharpness(fast) == pytest.approx(estimate_sharpness(exact), rel=0.1)
    flat = np.full((50, 70, 3), 90, np.uint8)
    assert np.array_equal(defocus(flat, radius), flat)
    lin = defocus(img, radius, linear_light=True).astype(np.float64) - defocus(img, radius, linear_light=True, exact=True)
    assert np.sqrt(np.mean(lin ** 2)) < 1.5


def test_defocus_blurs_more_with_the_radius_across_the_low_resolution_switch():
    img = cv2.resize(detailed_image(160, 192, seed=4), (384, 320), interpolation=cv2.INTER_CUBIC)
    sharp = [estimate_sharpness(defocus(img, r)) for r in (2.0, 3.5, 4.0, 4.2, 5.0, 8.0, 16.0, 32.0)]
    assert all(b < a for a, b in zip(sharp, sharp[1:])), sharp


# --------------------------------------------------------------------------- sensor noise, JPEG


def test_sample_noise_determinism_and_json():
    a = [sample_noise(np.random.default_rng([3, i]), (1.0, 4.0), p=0.7).to_dict() for i in range(50)]
    b = [sample_noise(np.random.default_rng([3, i]), (1.0, 4.0), p=0.7).to_dict() for i in range(50)]
    assert a == b
    json.dumps(a)
    on = [x for x in a if x["sigma"] > 0]
    assert 25 < len(on) < 50 and all(1.0 <= x["sigma"] <= 4.0 for x in on)
    assert sample_noise(np.random.default_rng(0), (1.0, 4.0), p=0.0).sigma == 0.0
    with pytest.raises(ValueError, match="sigma must satisfy"):
        sample_noise(np.random.default_rng(0), (4.0, 1.0))
    with pytest.raises(ValueError, match="denoise must be one of"):
        sample_noise(np.random.default_rng(0), denoise="nlmeans")  # type: ignore[arg-type]


def test_unit_normals_are_standard_normal_and_seeded():
    from statistics import NormalDist

    x = unit_normals(np.random.default_rng(4), (1000, 1000))
    assert x.dtype == np.float32 and x.shape == (1000, 1000)
    assert abs(float(x.mean())) < 0.003 and float(x.std()) == pytest.approx(1.0, abs=0.003)
    qs = np.array([0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999])
    expected = [NormalDist().inv_cdf(q) for q in qs]
    np.testing.assert_allclose(np.quantile(x, qs), expected, atol=0.02)
    assert 4.2 < float(np.abs(x).max()) < 4.4  # the tails stop at the extreme quantile
    np.testing.assert_array_equal(unit_normals(np.random.default_rng(4), (1000, 1000)), x)
    assert not np.array_equal(unit_normals(np.random.default_rng(5), (8, 8)), x[:8, :8])
    # neighbouring values are independent
    assert abs(float(np.corrcoef(x[:, :-1].ravel(), x[:, 1:].ravel())[0, 1])) < 0.005


def test_unit_normals_table_gives_a_normals_first_four_moments():
    """The exact distribution of t[u] + t[v] over all 65 536 equally likely byte pairs."""
    from statistics import NormalDist

    from augment.degrade.noise import _half_normal_table

    t = _half_normal_table().astype(np.float64).ravel()
    sums = np.sort((t[:, None] + t[None, :]).ravel())
    assert abs(sums.mean()) < 1e-7 and sums.var() == pytest.approx(1.0, abs=1e-6)
    assert float(np.mean(sums ** 4)) == pytest.approx(3.0, abs=1e-5)
    for p in (1e-4, 1e-3, 1e-2, 0.1, 0.3):
        assert sums[int(p * sums.size)] == pytest.approx(NormalDist().inv_cdf(p), abs=0.02)
    assert 4.2 < sums[-1] < 4.4


@pytest.mark.parametrize("shape", [(7,), (3, 5), (4, 6, 3), (2, 3, 4, 5), (0, 3)])
def test_unit_normals_are_table_sums_of_the_raw_bytes(shape):
    """Value i is t[b[i]] + t[b[n + i]] for the little-endian bytes b of the generator's raw
    outputs, for any shape, and the generator moves on by ceil(2 n / 8) outputs."""
    from augment.degrade.noise import _half_normal_table

    n = int(np.prod(shape))
    a, b = np.random.default_rng(11), np.random.default_rng(11)
    x = unit_normals(a, shape)
    assert x.shape == shape and x.dtype == np.float32
    raw = np.frombuffer(b.bit_generator.random_raw(-(-2 * n // 8)).astype("<u8").tobytes(), np.uint8)
    t = _half_normal_table().ravel()
    np.testing.assert_array_equal(x.ravel(), t[raw[:n]] + t[raw[n:2 * n]])
    assert a.bit_generator.state == b.bit_generator.state


def test_add_sensor_noise_level_signal_dependence_and_determinism():
    grey = np.full((256, 256, 3), 128, np.uint8)
    params = NoiseParams(sigma=6.0, shot_fraction=0.5, chroma=0.3)
    out = add_sensor_noise(params, grey, 5)
    assert out.dtype == np.uint8
    assert np.array_equal(out, add_sensor_noise(params, grey, 5))
    assert np.array_equal(out, add_sensor_noise(params, grey, np.random.default_rng(5)))
    assert not np.array_equal(out, add_sensor_noise(params, grey, 6))
    assert out.astype(np.float64).std() == pytest.approx(6.0, rel=0.05)
    assert estimate_noise_sigma(out) == pytest.approx(6.0, rel=0.15)
    # shot noise: brighter is noisier
    ramp = np.zeros((256, 256, 3), np.uint8)
    ramp[:, 128:] = 230
    ramp[:, :128] = 25
    shot = add_sensor_noise(NoiseParams(sigma=6.0, shot_fraction=1.0, chroma=1.0), ramp, 0).astype(np.float64)
    assert shot[:, 128:].std() > 2 * shot[:, :128].std()
    # chroma 0: the same noise in R, G and B
    lum = add_sensor_noise(NoiseParams(sigma=6.0, chroma=0.0), grey, 1)
    assert np.array_equal(lum[..., 0], lum[..., 1]) and np.array_equal(lum[..., 1], lum[..., 2])
    # grain: correlated noise with the same variance
    f = grey.astype(np.float32) / 255
    grain = add_sensor_noise(NoiseParams(sigma=6.0, grain_px=1.0), f, 2)
    assert grain.dtype == np.float32
    d = (grain[..., 1] - 128 / 255) * 255
    assert d.std() == pytest.approx(6.0, rel=0.1)
    assert np.corrcoef(d[:, :-1].ravel(), d[:, 1:].ravel())[0, 1] > 0.4
    # sigma 0: unchanged copy; denoise options smooth
    assert np.array_equal(add_sensor_noise(NoiseParams(), grey, 0), grey)
    noisy = add_sensor_noise(NoiseParams(sigma=8.0), grey, 3)
    for kind, strength in (("gaussian", 1.0), ("bilateral", 20.0)):
        cleaned = add_sensor_noise(NoiseParams(denoise=kind, denoise_strength=strength), noisy, 0)
        assert estimate_noise_sigma(cleaned) < 0.6 * estimate_noise_sigma(noisy)
    with pytest.raises(ValueError, match="rng_or_seed"):
        add_sensor_noise(params, grey, 1.5)  # type: ignore[arg-type]


def test_jpeg_recompress():
    img = detailed_image(64, 64)
    hi, lo = jpeg_recompress(img, 98), jpeg_recompress(img, 10)
    assert hi.dtype == np.uint8 and hi.shape == img.shape
    err = lambda x: np.abs(x.astype(np.float64) - img).mean()  # noqa: E731
    assert err(hi) < 0.5 * err(lo)  # (q98 still loses chroma detail to 4:2:0 subsampling)
    f = jpeg_recompress(img.astype(np.float32) / 255, 90)
    assert f.dtype == np.float32
    for bad in (0, 101, 50.5):
        with pytest.raises(ValueError, match="quality"):
            jpeg_recompress(img, bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- matching


def test_match_resolution_makes_f_no_sharper_than_upscaled_b():
    fg_hi = detailed_image(256, 256, seed=1)
    bg_hi = detailed_image(256, 256, seed=2)
    assert np.array_equal(match_resolution(fg_hi, 1.0), fg_hi)
    for s in (1.5, 2.0, 3.0):
        small = cv2.resize(bg_hi, (round(256 / s), round(256 / s)), interpolation=cv2.INTER_AREA)
        bg_up = cv2.resize(small, (256, 256), interpolation=cv2.INTER_LINEAR)
        fg = match_resolution(fg_hi, s)
        assert fg.shape == fg_hi.shape and fg.dtype == np.uint8
        assert estimate_sharpness(fg) <= estimate_sharpness(bg_up) * 1.05
        assert estimate_sharpness(fg) < 0.9 * estimate_sharpness(fg_hi)
    with pytest.raises(ValueError, match="upscale"):
        match_resolution(fg_hi, 0.0)


def test_match_sharpness_hits_the_target_and_never_sharpens():
    fg = detailed_image(160, 160, seed=3)
    alpha = np.zeros((160, 160), np.float32)
    cv2.circle(alpha, (80, 80), 60, 1.0, -1)
    alpha_bytes = alpha.tobytes()
    region = alpha > 0.5
    target = estimate_sharpness(cv2.GaussianBlur(detailed_image(160, 160, seed=4), (0, 0), 2.0))
    out = match_sharpness(fg, alpha, target)
    assert estimate_sharpness(out, region) == pytest.approx(target, rel=0.05)
    assert 1.0 < match_sharpness_sigma(fg, alpha, target) < 3.5
    blurry = cv2.GaussianBlur(fg, (0, 0), 3.0)
    assert np.array_equal(match_sharpness(blurry, alpha, estimate_sharpness(fg)), blurry)
    assert alpha.tobytes() == alpha_bytes
    with pytest.raises(ValueError, match="target_sharpness"):
        match_sharpness(fg, alpha, float("nan"))


# --------------------------------------------------------------------------- mismatch


# --------------------------------------------------------------------------- speed paths (#18)


@pytest.mark.parametrize("radius", [1.0, 3.0, 4.5, 7.0, 12.0, 24.0])
def test_uint8_defocus_is_within_a_level_of_the_float_path_and_unbiased(radius):
    img = cv2.resize(detailed_image(160, 192, seed=5), (384, 320), interpolation=cv2.INTER_CUBIC)
    fast = defocus(img, radius)
    ref = defocus(img.astype(np.float32) / np.float32(255.0), radius)  # the float32 steps
    err = fast.astype(np.float64) - np.floor(ref.astype(np.float64) * 255.0 + 0.5)
    assert fast.dtype == np.uint8 and np.abs(err).max() <= 1
    assert abs(err.mean()) < 0.01  # no brightness change (a uint8 bilinear enlargement gave -0.12)


def _channel_stats(out: np.ndarray, grey: int) -> tuple[np.ndarray, np.ndarray]:
    d = out.astype(np.float64).reshape(-1, 3) - grey
    return d.std(axis=0), np.corrcoef(d.T)[np.triu_indices(3, 1)]


@pytest.mark.parametrize("chroma", [0.0, 0.3, 1.0])
def test_noise_draw_2_has_draw_1s_per_channel_std_and_channel_correlation(chroma):
    grey = np.full((384, 384, 3), 128, np.uint8)
    stats = []
    for draw in (1, 2):
        params = NoiseParams(sigma=6.0, shot_fraction=0.0, chroma=chroma, grain_px=0.0, draw=draw)
        stats.append(_channel_stats(add_sensor_noise(params, grey, 11), 128))
    for std, corr in stats:
        assert std == pytest.approx([6.0] * 3, rel=0.03)
        assert corr == pytest.approx([1.0 - chroma] * 3, abs=0.03)
    # with grain both are correlated alike: the same Immerkaer (high-frequency) reading
    grainy = [estimate_noise_sigma(add_sensor_noise(NoiseParams(sigma=6.0, chroma=0.3, grain_px=0.6, draw=d),
                                                    grey, 3)) for d in (1, 2)]
    assert grainy[1] == pytest.approx(grainy[0], rel=0.05) and grainy[0] < 4.0


def test_noise_extra_std_adds_white_noise_variance_where_asked():
    grey = np.full((256, 512, 3), 100, np.uint8)
    extra = np.zeros((256, 512), np.float32)
    extra[:, 256:] = 4.0 / 255.0
    params = NoiseParams(sigma=3.0, shot_fraction=0.0, chroma=0.5, grain_px=0.5, draw=2)
    out = add_sensor_noise(params, grey, 5, extra_std=extra)
    plain = add_sensor_noise(params, grey, 5)
    left, right = out[:, :256].astype(np.float64), out[:, 256:].astype(np.float64)
    assert np.array_equal(out[:, :256], plain[:, :256])  # extra 0: the sensor noise alone
    assert right.std() ** 2 == pytest.approx(left.std() ** 2 + 16.0, rel=0.05)
    # the extra part is white: the Immerkaer reading rises by its full 4 levels (in variance)
    lo, hi = estimate_noise_sigma(out[:, :256]), estimate_noise_sigma(out[:, 256:])
    assert hi ** 2 - lo ** 2 == pytest.approx(16.0, rel=0.1)
    with pytest.raises(ValueError, match="draw >= 2"):
        add_sensor_noise(NoiseParams(sigma=3.0, draw=1), grey, 5, extra_std=extra)
    with pytest.raises(ValueError, match="extra_std must have shape"):
        add_sensor_noise(params, grey, 5, extra_std=extra[:10])
    with pytest.raises(ValueError, match="draw"):
        NoiseParams(sigma=1.0, draw=4)


def test_sampled_noise_uses_draw_3_and_recorded_parameters_without_it_replay_draw_1():
    params = sample_noise(np.random.default_rng(0), (1.0, 2.0), p=1.0)
    assert params.draw == 3 and params.to_dict()["draw"] == 3
    old = {k: v for k, v in params.to_dict().items() if k != "draw"}  # meta.json written before draw 2
    assert NoiseParams.from_dict(old).draw == 1


def test_each_draw_takes_its_own_normals():
    """Draws 1 and 2 read the 65 536-quantile table (as recorded samples were drawn), draw 3
    the byte look-ups; the same distribution, other values."""
    from augment.degrade.noise import normals_for_draw, quantile_normals

    for draw, ref in ((1, quantile_normals), (2, quantile_normals), (3, unit_normals)):
        np.testing.assert_array_equal(normals_for_draw(np.random.default_rng(6), (40, 24, 3), draw),
                                      ref(np.random.default_rng(6), (40, 24, 3)))
    grey = np.full((64, 96, 3), 0.5, np.float32)  # float: nothing clipped or rounded
    flat = dict(sigma=2.0, shot_fraction=0.0, chroma=1.0, grain_px=0.0)
    for draw, ref in ((2, quantile_normals), (3, unit_normals)):
        out = add_sensor_noise(NoiseParams(**flat, draw=draw), grey, 9)
        expected = np.clip(grey + np.float32(2.0 / 255.0) * ref(np.random.default_rng(9), grey.shape), 0.0, 1.0)
        np.testing.assert_array_equal(out, expected)


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), chroma=st.sampled_from([0.0, 0.3, 1.0, 0.77]),
       grain=st.sampled_from([0.0, 0.4]), sigma=st.floats(0.5, 40.0), shot=st.floats(0.0, 1.0),
       with_extra=st.booleans(), seed=st.integers(0, 2**31))
def test_compiled_uint8_noise_equals_the_float_paths_values(h, w, chroma, grain, sigma, shot, with_extra, seed):
    """Draw 3 on uint8 RGB runs the compiled one-pass kernel (augment.kernels.noisy_levels); the
    float32 path is plain numpy: its values, rounded as uint8 output is, are the kernel's bytes,
    for every chroma case (shared field, mixed, per channel), with and without the white part,
    including values clipped at 0 and 255 (sigma up to 40 levels)."""
    rs = np.random.default_rng(seed)
    img = rs.integers(0, 256, (h, w, 3), dtype=np.uint8)
    extra = rs.uniform(0.0, 8.0 / 255.0, (h, w)).astype(np.float32) if with_extra else None
    params = NoiseParams(sigma=sigma, shot_fraction=shot, chroma=chroma, grain_px=grain, draw=3)
    ref = add_sensor_noise(params, img.astype(np.float32) * np.float32(1.0 / 255.0), seed, extra_std=extra)
    out = add_sensor_noise(params, img, seed, extra_std=extra)
    np.testing.assert_array_equal(out, np.floor(ref * np.float32(255.0) + np.float32(0.5)))


@pytest.mark.parametrize("draw", [1, 2, 3])
def test_uint8_noise_equals_the_float_paths_values(draw):
    """uint8 images read x and std(x) from per-level tables: the float32 path's values exactly."""
    img = detailed_image(96, 128, seed=2)
    params = NoiseParams(sigma=4.0, shot_fraction=0.6, chroma=0.3, grain_px=0.4, draw=draw)
    as_float = img.astype(np.float32) * np.float32(1.0 / 255.0)
    ref = add_sensor_noise(params, as_float, 9)
    assert np.array_equal(add_sensor_noise(params, img, 9), np.floor(ref * np.float32(255.0) + np.float32(0.5)))
