"""synth.stats.measure: per-sample measures on hand-made samples, perceptual hash."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from shards.codec import encode_alpha, encode_rgb, encode_trimap
from synth.stats import hamming64, measure_sample, phash64

from stats_samples import H, W, alpha_band, item_id, make_sample, trimap_of


def test_phash_is_robust_to_reencoding_and_separates_images():
    rng = np.random.default_rng(1)
    a = cv2.GaussianBlur(rng.integers(0, 256, (96, 128)).astype(np.uint8), (0, 0), 4)
    b = cv2.GaussianBlur(rng.integers(0, 256, (96, 128)).astype(np.uint8), (0, 0), 4)
    _, jpg = cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, 70])
    a2 = cv2.imdecode(jpg, cv2.IMREAD_GRAYSCALE)
    assert hamming64(phash64(a), phash64(a2)) <= 4
    assert hamming64(phash64(a), phash64(cv2.resize(a, (64, 48), interpolation=cv2.INTER_AREA))) <= 4
    assert hamming64(phash64(a), phash64(b)) > 12
    with pytest.raises(ValueError, match="grey image"):
        phash64(np.zeros((4, 4, 3)))


def test_measure_sample_known_content():
    key, members = make_sample("train_00000000", "train", item_id(1), item_id(2), 3, alpha_kind="wide")
    m = measure_sample(members, check_trimap=True, thumb_height=32)
    assert m.error is None and m.hw == (H, W) and m.alpha_bits == 8 and m.trimap_checked
    a8 = np.rint(alpha_band("wide") * 255)
    assert m.scalars["alpha.coverage"] == pytest.approx(a8.mean() / 255)
    assert m.scalars["alpha.unknown_share"] == pytest.approx(8 / W)
    assert m.scalars["trimap.unknown_share"] == pytest.approx(8 / W)
    assert m.trimap_inconsistent == 0
    assert m.alpha_hist.sum() == H * W and m.alpha_hist[128] == 4 * H and m.alpha_hist[64] == 4 * H
    # F is one flat colour: foreground luma std ~ 0, the colour of F is the sampled one
    fg_rgb = np.random.default_rng(3).integers(0, 256, 3)
    assert m.scalars["colour.fg_r"] == pytest.approx(fg_rgb[0], abs=1)
    assert m.scalars["colour.fg_luma_std"] < 1.0
    assert set(m.thumbs) == {"image", "alpha", "trimap"}
    assert cv2.imdecode(np.frombuffer(m.thumbs["alpha"], np.uint8), cv2.IMREAD_UNCHANGED).shape == (32, 32)
    assert {"realism.noise_log_ratio", "realism.lab_mean_dist"} <= set(m.scalars)


def test_measure_sample_16bit_alpha_and_trimap_inconsistency():
    alpha = alpha_band("band")
    bad_trimap = trimap_of(alpha)
    bad_trimap[:, 28:30] = 255  # alpha is 0.5 there
    _, members = make_sample("train_00000001", "train", item_id(1), item_id(2), 1, bits=16, trimap=bad_trimap)
    assert measure_sample(members).trimap_inconsistent == 0  # trimaps are only decoded when asked
    m = measure_sample(members, check_trimap=True)
    assert m.error is None and m.alpha_bits == 16
    assert m.scalars["alpha.unknown_share"] == pytest.approx(4 / W)
    assert m.trimap_inconsistent == 2 * H


@pytest.mark.parametrize("change, message", [
    (lambda m: m.pop("meta.json"), "missing member meta.json"),
    (lambda m: m.pop("image.png"), "missing member image"),
    (lambda m: m.pop("alpha.png"), "missing member alpha.png"),
    (lambda m: m.update({"meta.json": b"[1]"}), "JSON object"),
    (lambda m: m.update({"alpha.png": b"garbage"}), "alpha.png: cannot decode"),
    (lambda m: m.update({"trimap.png": encode_trimap(np.zeros((8, 8), np.uint8))}), "trimap.png is 8x8"),
    (lambda m: m.update({"trimap.png": cv2.imencode(".png", np.full((H, W), 7, np.uint8))[1].tobytes()}),
     r"values must be in \{0, 128, 255\}, found \[7\]"),
    (lambda m: m.update({"image.png": encode_rgb(np.zeros((8, 8, 3), np.uint8), "png")}), "image.png is 8x8"),
])
def test_measure_sample_reports_bad_samples(change, message):
    _, members = make_sample("train_00000002", "train", item_id(1), item_id(2), 2)
    change(members)
    m = measure_sample(members, check_trimap=True)
    assert m.error is not None
    assert pytest.importorskip("re").search(message, m.error), m.error


def test_measure_sample_without_trimap():
    _, members = make_sample("train_00000003", "train", item_id(1), item_id(2), 2)
    del members["trimap.png"]
    m = measure_sample(members)
    assert m.error is None and not m.has_trimap and "trimap.unknown_share" not in m.scalars


def test_realism_measures_see_a_noisy_background():
    """A flat noiseless F on a noisy B: noise mismatch ln(sF/sB) < 0 (augment.mismatch's estimator)."""
    rng = np.random.default_rng(0)
    h, w = 256, 320
    alpha = np.zeros((h, w), np.float32)
    alpha[:, 150:] = 1.0
    alpha[:, 148:150] = 0.5
    bg = np.clip(120 + rng.normal(0, 12, (h, w, 3)), 0, 255)
    img = alpha[..., None] * 90.0 + (1 - alpha[..., None]) * bg
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    members = {"image.png": encode_rgb(img, "png"), "alpha.png": encode_alpha(alpha),
               "trimap.png": encode_trimap(trimap_of(alpha)), "meta.json": b"{}"}
    m = measure_sample(members, window=96)
    assert m.error is None
    assert m.scalars["realism.noise_log_ratio"] < -1.0
    assert abs(m.scalars["realism.luma_mean_diff"]) > 5
