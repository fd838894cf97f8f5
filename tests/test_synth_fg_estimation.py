"""Foreground colour estimation: judged on composites whose F is known exactly."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.fg_estimation import FG_METHODS, estimate_foreground, fg_error


def _textured(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth random colour field + fine texture, uint8 (h, w, 3)."""
    coarse = rng.uniform(40, 215, size=(2, 2, 3)).astype(np.float32)  # colour cells ~ image size
    field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    tex = cv2.GaussianBlur(rng.standard_normal((h, w, 3)).astype(np.float32), (0, 0), 1.2) * 25.0
    return np.clip(field + tex, 0, 255).astype(np.uint8)


def _synthetic_alpha(size: int, rng: np.random.Generator) -> np.ndarray:
    """A soft blob with a wide soft edge and hair-like strands, float32 (size, size)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = size / 2
    r = np.hypot(yy - c, xx - c)
    alpha = np.clip((size * 0.3 - r) / 8.0 + 0.5, 0, 1)
    strands = np.zeros((size, size), np.float32)
    for _ in range(40):
        ang = rng.uniform(0, 2 * np.pi)
        p0 = (int(c + 0.25 * size * np.cos(ang)), int(c + 0.25 * size * np.sin(ang)))
        p1 = (int(c + 0.47 * size * np.cos(ang + 0.2)), int(c + 0.47 * size * np.sin(ang + 0.2)))
        cv2.line(strands, p0, p1, float(rng.uniform(0.4, 0.9)), 1, cv2.LINE_AA)
    return np.clip(np.maximum(alpha, cv2.GaussianBlur(strands, (0, 0), 0.7)), 0, 1).astype(np.float32)


def _composite(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    return np.clip(a * fg + (1 - a) * bg + 0.5, 0, 255).astype(np.uint8)


def _errors(alpha: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    h, w = alpha.shape
    fg, bg = _textured(h, w, rng), _textured(h, w, rng)
    image = _composite(fg, bg, alpha)
    return {m: fg_error(estimate_foreground(image, alpha, m), fg, alpha) for m in FG_METHODS}


def test_estimators_beat_photo_on_synthetic_soft_alpha():
    errs = {m: 0.0 for m in FG_METHODS}
    for seed in range(3):
        rng = np.random.default_rng(seed)
        for m, e in _errors(_synthetic_alpha(160, rng), rng).items():
            errs[m] += e
    assert errs["photo"] > 5 * 3  # the baseline really bleeds the old background
    assert errs["blur_fusion"] < 0.6 * errs["photo"], errs
    assert errs["ml"] < 0.6 * errs["photo"], errs


@pytest.mark.realdata
def test_estimators_beat_photo_on_real_alphas(shared_data):
    errs = {m: 0.0 for m in FG_METHODS}
    for k, name in enumerate(["GT02", "GT04", "GT13", "GT16"]):
        a8 = cv2.imread(str(shared_data / "alphamatting" / "alpha" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
        alpha = cv2.resize(a8.astype(np.float32) / 255.0, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
        for m, e in _errors(alpha.astype(np.float32), np.random.default_rng(k)).items():
            errs[m] += e
    assert errs["blur_fusion"] < 0.6 * errs["photo"], errs
    assert errs["ml"] < 0.6 * errs["photo"], errs


def test_ml_matches_pymatting_exactly():
    from pymatting import estimate_foreground_ml

    rng = np.random.default_rng(3)
    alpha = _synthetic_alpha(96, rng)
    image = _composite(_textured(96, 96, rng), _textured(96, 96, rng), alpha)
    ref = estimate_foreground_ml(image.astype(np.float32) / np.float32(255.0), alpha, regularization=1e-4)
    ref_u8 = np.clip(np.asarray(ref, np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    ours = estimate_foreground(image, alpha, "ml", regularization=1e-4)
    np.testing.assert_array_equal(ours, ref_u8)


def test_blur_fusion_keeps_opaque_pixels_and_photo_copies():
    rng = np.random.default_rng(4)
    alpha = _synthetic_alpha(80, rng)
    image = _composite(_textured(80, 80, rng), _textured(80, 80, rng), alpha)
    est = estimate_foreground(image, alpha, "blur_fusion")
    opaque = alpha == 1
    assert opaque.sum() > 500
    np.testing.assert_array_equal(est[opaque], image[opaque])  # F = F^ + 1*(I - F^) = I
    photo = estimate_foreground(image, alpha, "photo")
    assert photo is not image and np.array_equal(photo, image)


def test_constant_colours_are_recovered_closely():
    # F and B constant: nothing to hallucinate, only the mixing to undo
    alpha = _synthetic_alpha(160, np.random.default_rng(5))
    fg = np.full((160, 160, 3), (200, 40, 90), np.uint8)
    bg = np.full((160, 160, 3), (10, 180, 250), np.uint8)
    image = _composite(fg, bg, alpha)
    photo = fg_error(image, fg, alpha)
    assert photo > 50
    assert fg_error(estimate_foreground(image, alpha, "blur_fusion"), fg, alpha) < 0.2 * photo
    assert fg_error(estimate_foreground(image, alpha, "ml"), fg, alpha) < 0.02 * photo


@settings(max_examples=15, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_blur_fusion_shape_dtype_range(h, w, seed):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    alpha = rng.random((h, w), dtype=np.float32)
    out = estimate_foreground(image, alpha, "blur_fusion")
    assert out.shape == (h, w, 3) and out.dtype == np.uint8


def test_validation_messages():
    image = np.zeros((8, 8, 3), np.uint8)
    alpha = np.zeros((8, 8), np.float32)
    with pytest.raises(ValueError, match="image must be uint8"):
        estimate_foreground(image.astype(np.float32), alpha)
    with pytest.raises(ValueError, match="image must be uint8"):
        estimate_foreground(image[..., 0], alpha)
    with pytest.raises(ValueError, match="alpha must be float32"):
        estimate_foreground(image, alpha.astype(np.float64))
    with pytest.raises(ValueError, match="does not match image shape"):
        estimate_foreground(image, np.zeros((8, 9), np.float32))
    with pytest.raises(ValueError, match=r"alpha values must be in \[0, 1\]"):
        estimate_foreground(image, alpha + 2)
    with pytest.raises(ValueError, match="method must be one of"):
        estimate_foreground(image, alpha, "closed_form")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown options for method 'blur_fusion'"):
        estimate_foreground(image, alpha, "blur_fusion", radius=3)
    with pytest.raises(ValueError, match="unknown options for method 'ml'"):
        estimate_foreground(image, alpha, "ml", sizes=(3,))
    with pytest.raises(ValueError, match="sizes must be"):
        estimate_foreground(image, alpha, "blur_fusion", sizes=(0,))
    with pytest.raises(ValueError, match="takes no options"):
        estimate_foreground(image, alpha, "photo", sizes=(3,))


def test_fg_error_values():
    alpha = np.array([[0.0, 0.5, 1.0, 0.25]], np.float32)
    f_true = np.zeros((1, 4, 3), np.uint8)
    f_est = np.array([[[99] * 3, [10] * 3, [99] * 3, [20] * 3]], np.uint8)
    # band = {0.5, 0.25}: (0.5 * 10 + 0.25 * 20) / 0.75
    assert fg_error(f_est, f_true, alpha) == pytest.approx(10 / 0.75)
    assert fg_error(f_est, f_true, alpha, band=alpha >= 0) == pytest.approx((5 + 99 + 5) / 1.75)
    assert np.isnan(fg_error(f_est, f_true, np.zeros_like(alpha)))
    with pytest.raises(ValueError, match="does not match f_true shape"):
        fg_error(f_est, f_true[:, :3], alpha)
    with pytest.raises(ValueError, match="band must have shape"):
        fg_error(f_est, f_true, alpha, band=np.ones((2, 2), bool))


def test_ml_faint_photo_fades_from_the_estimate_to_the_photo():
    rng = np.random.default_rng(6)
    alpha = _synthetic_alpha(96, rng)
    image = _composite(_textured(96, 96, rng), _textured(96, 96, rng), alpha)
    ml = estimate_foreground(image, alpha, "ml").astype(np.float32)
    out = estimate_foreground(image, alpha, "ml_faint_photo", faint_below=0.4)
    high, zero = alpha >= 0.4, alpha == 0
    assert high.sum() > 500 and zero.sum() > 500
    np.testing.assert_array_equal(out[high], ml[high].astype(np.uint8))  # the estimate where alpha is high
    np.testing.assert_array_equal(out[zero], image[zero])  # the photo where alpha is 0
    mid = (alpha > 0.1) & (alpha < 0.3)
    assert mid.sum() > 50
    t = (alpha[mid] / np.float32(0.4))[:, None]
    expected = np.floor(t * ml[mid] + (1 - t) * image[mid].astype(np.float32) + 0.5)
    np.testing.assert_allclose(out[mid], expected, atol=1)  # linear between (float rounding only)
    with pytest.raises(ValueError, match="faint_below"):
        estimate_foreground(image, alpha, "ml_faint_photo", faint_below=0.0)
    with pytest.raises(ValueError, match="faint_below"):
        estimate_foreground(image, alpha, "ml_faint_photo", faint_below=True)
    with pytest.raises(ValueError, match="unknown options for method 'ml'"):
        estimate_foreground(image, alpha, "ml_faint_photo", sizes=(3,))
