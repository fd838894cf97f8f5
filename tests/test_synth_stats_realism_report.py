"""synth.stats.realism_report: realism indicators of composites, distances to a reference, dataset reading."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from synth.build import build
from synth.stats.realism_report import (
    BAND_PX,
    INDICATORS,
    compare,
    format_table,
    measure_dataset,
    measure_image,
    measure_photos,
    ratio_interval,
    sampling_floor,
    wasserstein,
)
from synth.recipe import parse_recipe


def _disc_alpha(size: int = 256, radius: int = 70) -> np.ndarray:
    alpha = np.zeros((size, size), np.float32)
    cv2.circle(alpha, (size // 2, size // 2), radius, 1.0, -1, lineType=cv2.LINE_AA)
    return alpha


def _textured(rng: np.random.Generator, size: int, base: tuple[int, int, int], blur: float) -> np.ndarray:
    """A smooth, mildly textured layer (low-frequency structure, no pixel noise)."""
    tex = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 6.0) * 60.0
    img = np.asarray(base, np.float32)[None, None, :] + tex[..., None]
    img = cv2.GaussianBlur(img, (0, 0), blur) if blur > 0 else img
    return np.clip(img, 0, 255)


def _composite(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    out = alpha[..., None] * fg + (1.0 - alpha[..., None]) * bg
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def test_noisy_background_on_clean_foreground_reads_as_noise_mismatch():
    rng = np.random.default_rng(0)
    alpha = _disc_alpha()
    fg = _textured(rng, 256, (150, 110, 90), 0.0)
    bg = _textured(rng, 256, (80, 120, 160), 0.0)
    noise = rng.standard_normal((256, 256, 3)).astype(np.float32) * 6.0
    mismatched = _composite(fg, bg + noise, alpha)        # noise behind only
    matched = np.clip(np.rint(_composite(fg, bg, alpha) + noise), 0, 255).astype(np.uint8)
    m_bad, m_ok = measure_image(mismatched, alpha), measure_image(matched, alpha)
    assert m_bad["noise_log_ratio"] < -1.0                # F much cleaner than B
    assert abs(m_ok["noise_log_ratio"]) < 0.3
    assert abs(m_bad["noise_log_ratio"]) > abs(m_ok["noise_log_ratio"]) + 1.0


def test_blurred_background_reads_as_sharper_foreground():
    rng = np.random.default_rng(1)
    alpha = _disc_alpha()

    def detail() -> np.ndarray:  # fine structure (correlated over ~1.5 px: texture, not noise)
        return cv2.GaussianBlur(rng.standard_normal((256, 256)).astype(np.float32), (0, 0), 1.5)[..., None] * 120

    fg = _textured(rng, 256, (150, 110, 90), 0.0) + detail()
    bg_sharp = _textured(rng, 256, (80, 120, 160), 0.0) + detail()
    bg_blur = cv2.GaussianBlur(bg_sharp, (0, 0), 3.0)
    s_same = measure_image(_composite(fg, bg_sharp, alpha), alpha)["sharpness_log_ratio"]
    s_dof = measure_image(_composite(fg, bg_blur, alpha), alpha)["sharpness_log_ratio"]
    assert abs(s_same) < 0.3 < s_dof


def test_colour_indicators_follow_the_layers_colours():
    alpha = _disc_alpha()
    fg = np.full((256, 256, 3), (200, 60, 60), np.float32)
    bg = np.full((256, 256, 3), (60, 60, 200), np.float32)
    m = measure_image(_composite(fg, bg, alpha), alpha)
    grey = measure_image(_composite(fg, fg, alpha), alpha)
    assert m["chroma_mean_dist"] > 50 and m["lab_mean_dist"] >= m["chroma_mean_dist"]
    assert grey["lab_mean_dist"] < 1e-6 and grey["luma_mean_diff"] == pytest.approx(0.0, abs=1e-6)


def test_ring_width_scales_with_the_long_side():
    alpha = _disc_alpha(400, 120)
    img = np.full((400, 400, 3), 128, np.uint8)
    default = measure_image(img, alpha)
    explicit = measure_image(img, alpha, band_px=BAND_PX * 400 / 800)
    assert default["fg_pixels"] == explicit["fg_pixels"] > 0
    assert measure_image(img, alpha, band_px=BAND_PX)["fg_pixels"] > default["fg_pixels"]


def test_tiny_subject_gives_nan_not_an_error():
    alpha = np.zeros((128, 128), np.float32)
    alpha[60:64, 60:64] = 1.0
    m = measure_image(np.full((128, 128, 3), 100, np.uint8), alpha)
    assert all(math.isnan(m[k]) for k in INDICATORS)


def test_wasserstein_zero_for_identical_and_shift_for_shifted():
    rng = np.random.default_rng(2)
    x = rng.normal(size=500)
    assert wasserstein(x, x) == 0.0
    assert wasserstein(x, rng.permutation(x)) == 0.0
    assert wasserstein(x, x + 0.7) == pytest.approx(0.7)
    assert math.isnan(wasserstein([], x))


def test_compare_drops_and_counts_nans_and_ratios():
    ref = [{k: v for k in INDICATORS} for v in (0.0, 1.0, 2.0)]
    same = ref + [{k: math.nan for k in INDICATORS}]
    shifted = [{k: v + 1.0 for k in INDICATORS} for v in (0.0, 1.0, 2.0)]
    rows = compare(ref, {"same": same, "shifted": shifted})
    assert [r.indicator for r in rows] == list(INDICATORS)
    for r in rows:
        assert r.reference_median == 1.0 and r.reference_n == 3 and r.reference_dropped == 0
        assert r.distances["same"] == 0.0 and r.n["same"] == 3 and r.dropped["same"] == 1
        assert r.distances["shifted"] == pytest.approx(1.0) and r.medians["shifted"] == 2.0
        assert r.ratio("same", "shifted") == 0.0 and r.ratio("shifted", "same") == math.inf
    table = format_table(rows, "shifted", "same")
    lines = table.splitlines()
    assert "W(same,real)" in lines[0] and len(lines) == 2 + len(INDICATORS)
    assert all(line.rstrip().endswith("PASS") for line in lines[2:])
    assert all(line.rstrip().endswith("FAIL") for line in format_table(rows, "same", "shifted").splitlines()[2:])


def test_sampling_floor_shrinks_with_more_reference_values_and_is_seeded():
    rng = np.random.default_rng(3)
    small, large = rng.normal(size=18), rng.normal(size=400)
    f_small = sampling_floor(small, 200, draws=50)
    assert f_small == sampling_floor(small, 200, draws=50)  # deterministic
    assert 0.05 < f_small < 0.6
    assert sampling_floor(large, 200, draws=50) < f_small
    assert math.isnan(sampling_floor([1.0], 200))
    rows = compare([{k: float(v) for k in INDICATORS} for v in small], {"a": [{k: 0.0 for k in INDICATORS}]},
                   floor_draws=20)
    assert all(math.isfinite(r.floor) and r.floor > 0 for r in rows)
    assert format_table(rows, "a", "a").splitlines()[0].rstrip().endswith("W floor | measurable")
    for r in rows:
        assert r.measurable("a") == (0.5 * r.distances["a"] > r.floor)
        assert r.measurable("a", max_ratio=1e-6) is False
    assert all(line.rstrip().endswith(("yes", "no")) for line in format_table(rows, "a", "a").splitlines()[2:])


def test_measure_dataset_reads_every_sample(tmp_path):
    recipe = parse_recipe({
        "seed": 5,
        "foregrounds": [{"kind": "procedural", "count": 3, "size": [96, 80]}],
        "backgrounds": [{"kind": "procedural", "count": 3, "size": [96, 96]}],
        "splits": [{"name": "train", "fraction": 1.0, "samples": 5}],
        "canvas": {"height": 128, "width": 128},
        "composition": {"fg_estimation": "blur_fusion", "placement": {"scale": [0.6, 0.8]}},
        "output": {"samples_per_shard": 2},
    })
    build(recipe, tmp_path / "d", cache_dir=tmp_path / "c")
    measures = measure_dataset(tmp_path / "d")
    assert len(measures) == 5
    assert len(measure_dataset(tmp_path / "d", limit=3)) == 3
    assert all(set(INDICATORS) <= set(m) for m in measures)
    assert sum(math.isfinite(m["noise_log_ratio"]) for m in measures) >= 3


def test_measure_photos_rejects_folders_without_pairs(tmp_path):
    (tmp_path / "i").mkdir()
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match="no image with a matching alpha"):
        measure_photos(tmp_path / "i", tmp_path / "a")


def test_real_photos_reference(shared_data):
    ref = measure_photos(shared_data / "alphamatting" / "image", shared_data / "alphamatting" / "alpha")
    assert len(ref) == 18
    vals = {k: np.array([m[k] for m in ref]) for k in INDICATORS}
    assert all(np.isfinite(v).all() for v in vals.values())
    # one camera, but an in-focus subject before a defocused backdrop: fg reads sharper, and the
    # noise estimator reads the subject's fine texture as extra noise
    assert np.median(vals["sharpness_log_ratio"]) > 0.3
    assert np.median(vals["noise_log_ratio"]) > 0.3


@pytest.mark.realdata
def test_spill_residual_tells_an_estimated_f_from_the_photo_used_as_f(shared_data):
    """On real photos: composites whose F is the photo show their old backdrop in the mixed
    pixels; with F estimated (blur_fusion, ml) they are close to the real photos' own value."""
    from augment.degrade import defocus
    from augment.mismatch import spill_residual
    from synth.fg_estimation import estimate_foreground

    bg = cv2.cvtColor(cv2.imread(str(shared_data / "backgrounds" / "bg005.jpg")), cv2.COLOR_BGR2RGB)
    for name in ("GT04", "GT07", "GT16"):
        photo = cv2.cvtColor(cv2.imread(str(shared_data / f"alphamatting/image/{name}.png")), cv2.COLOR_BGR2RGB)
        alpha = cv2.imread(str(shared_data / f"alphamatting/alpha/{name}.png"), cv2.IMREAD_GRAYSCALE) / np.float32(255)
        alpha = alpha.astype(np.float32)
        new_bg = defocus(cv2.resize(bg, photo.shape[1::-1], interpolation=cv2.INTER_CUBIC), 8.0).astype(np.float32)
        a3 = alpha[..., None]
        real = spill_residual(photo, alpha, 12.0)
        spill = {}
        for method in ("photo", "blur_fusion", "ml"):
            fg = estimate_foreground(photo, alpha, method).astype(np.float32)
            comp = np.clip(a3 * fg + (1 - a3) * new_bg + 0.5, 0, 255).astype(np.uint8)
            spill[method] = spill_residual(comp, alpha, 12.0)
        assert spill["photo"] > 1.2 * max(spill["blur_fusion"], spill["ml"]), (name, spill)
        assert spill["photo"] > real and abs(spill["ml"] - real) < abs(spill["photo"] - real), (name, real, spill)


def test_ratio_interval_brackets_the_ratio_and_says_when_a_pass_is_fragile():
    rng = np.random.default_rng(4)
    ref = [{"x": float(v)} for v in rng.normal(size=18)]
    far = [{"x": float(v)} for v in rng.normal(2.0, 1.0, size=300)]
    near = [{"x": float(v)} for v in rng.normal(0.2, 1.0, size=300)]
    mid = [{"x": float(v)} for v in rng.normal(1.0, 1.0, size=300)]
    point = compare(ref, {"far": far, "near": near, "mid": mid}, ("x",))[0]
    lo, hi = ratio_interval(ref, near, far, "x", draws=100)
    assert lo < point.ratio("near", "far") < hi < 0.5  # a clear pass: the whole interval is below
    assert (lo, hi) == ratio_interval(ref, near, far, "x", draws=100)  # seeded
    lo_m, hi_m = ratio_interval(ref, mid, far, "x", draws=100)
    assert lo_m < point.ratio("mid", "far") < hi_m and hi_m - lo_m > 0.05  # an interval, not a point
    assert hi - lo < hi_m - lo_m or hi < lo_m
    assert all(math.isnan(v) for v in ratio_interval(ref, [], far, "x"))
    with pytest.raises(ValueError, match="level"):
        ratio_interval(ref, near, far, "x", level=1.0)
    table = format_table([point], "far", "near", intervals={"x": (lo, hi)})
    assert "ratio interval" in table.splitlines()[0] and f"{lo:.2f}-{hi:.2f}" in table.splitlines()[2]
