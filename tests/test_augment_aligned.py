"""augment.aligned: one albumentations draw applied consistently to image, alpha, trimap, fg, bg."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from augment.aligned import apply_albumentations, import_albumentations

A = import_albumentations()
H, W = 96, 128


def _targets():
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    image = np.dstack([xx / (W - 1) * 255, yy / (H - 1) * 255, np.full_like(xx, 80)]).astype(np.uint8)
    alpha = (xx / (W - 1)).astype(np.float32)  # the same x ramp as image[..., 0]
    trimap = np.where(alpha < 0.3, 0, np.where(alpha > 0.7, 255, 128)).astype(np.uint8)
    fg = image.copy()
    bg = (255 - image).astype(np.uint8)
    return image, alpha, trimap, fg, bg


def test_horizontal_flip_all_targets():
    image, alpha, trimap, fg, bg = _targets()
    out = apply_albumentations(A.HorizontalFlip(p=1.0), np.random.default_rng(0), image=image, alpha=alpha,
                               trimap=trimap, extra_images={"fg": fg, "bg": bg})
    assert set(out) == {"image", "alpha", "trimap", "fg", "bg"}
    np.testing.assert_array_equal(out["image"], image[:, ::-1])
    np.testing.assert_array_equal(out["alpha"], alpha[:, ::-1])
    np.testing.assert_array_equal(out["trimap"], trimap[:, ::-1])
    np.testing.assert_array_equal(out["fg"], fg[:, ::-1])
    np.testing.assert_array_equal(out["bg"], bg[:, ::-1])


@pytest.mark.parametrize(
    "make",
    [
        lambda: A.Affine(scale=(0.7, 1.3), rotate=(-40, 40), translate_percent=(-0.1, 0.1), shear=(-10, 10), p=1.0),
        lambda: A.Compose([A.HorizontalFlip(p=0.5), A.Affine(rotate=(-90, 90), p=1.0), A.RandomBrightnessContrast(p=1)]),
        lambda: A.Perspective(scale=(0.05, 0.1), p=1.0),
    ],
    ids=["affine", "compose", "perspective"],
)
def test_same_geometry_on_all_targets(make):
    image, alpha, trimap, fg, bg = _targets()
    for seed in range(4):
        out = apply_albumentations(make(), np.random.default_rng(seed), image=image, alpha=alpha, trimap=trimap,
                                   extra_images={"fg": fg, "bg": bg})
        a = out["alpha"]
        assert a.dtype == np.float32 and a.shape == (H, W) and 0.0 <= a.min() and a.max() <= 1.0
        assert set(np.unique(out["trimap"])) <= {0, 128, 255}
        assert np.unique(a).size > 50  # smooth (linear) interpolation, not nearest
        np.testing.assert_array_equal(out["fg"][..., 0] == 0, out["image"][..., 0] == 0)  # same coverage
        photometric = isinstance(make(), A.Compose)
        if not photometric:
            # image channel 0 encodes the same x ramp as alpha: the same warp up to 8-bit rounding
            np.testing.assert_allclose(out["image"][..., 0] / 255.0, a, atol=1.5 / 255 + 1e-6)
            np.testing.assert_array_equal(out["fg"], out["image"])
        # Trimap (nearest) agrees with the thresholded alpha (linear) away from its edges and
        # from the warp's fill (found by warping an all-ones alpha with the same draw).
        ones = apply_albumentations(make(), np.random.default_rng(seed), image=image,
                                    alpha=np.ones((H, W), np.float32))["alpha"]
        inner = cv2.erode((ones == 1).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        assert inner.sum() > H * W / 4
        assert np.all(out["trimap"][(a > 0.7 + 2.5 / W) & inner] == 255)
        assert np.all(out["trimap"][(a < 0.3 - 2.5 / W) & inner] == 0)
        assert np.all(out["trimap"][~inner & (ones == 0)] == 0)  # fill: background


def test_deterministic_and_rng_dependent():
    image, alpha, trimap, *_ = _targets()
    t = A.Affine(rotate=(-40, 40), scale=(0.8, 1.2), p=1.0)
    a = apply_albumentations(t, np.random.default_rng(3), image=image, alpha=alpha, trimap=trimap)
    b = apply_albumentations(t, np.random.default_rng(3), image=image, alpha=alpha, trimap=trimap)
    c = apply_albumentations(t, np.random.default_rng(4), image=image, alpha=alpha, trimap=trimap)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["alpha"], c["alpha"])


def test_transform_not_modified_and_inputs_untouched():
    image, alpha, trimap, *_ = _targets()
    t = A.Affine(rotate=(-40, 40), p=1.0, mask_interpolation=cv2.INTER_CUBIC)
    alpha_before = alpha.copy()
    apply_albumentations(t, np.random.default_rng(0), image=image, alpha=alpha, trimap=trimap)
    assert t.mask_interpolation == cv2.INTER_CUBIC
    np.testing.assert_array_equal(alpha, alpha_before)


def test_uint8_alpha_is_converted():
    image, alpha, *_ = _targets()
    a8 = np.rint(alpha * 255).astype(np.uint8)
    out = apply_albumentations(A.VerticalFlip(p=1.0), np.random.default_rng(0), image=image, alpha=a8)
    assert out["alpha"].dtype == np.float32
    np.testing.assert_allclose(out["alpha"], a8[::-1] / 255.0, atol=1e-7)
    assert "trimap" not in out


def test_errors():
    image, alpha, trimap, fg, _ = _targets()
    t = A.HorizontalFlip(p=1.0)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"alpha has height/width \(95, 128\) but image has \(96, 128\)"):
        apply_albumentations(t, rng, image=image, alpha=alpha[:-1])
    with pytest.raises(ValueError, match=r"extra_images key 'mask' is reserved"):
        apply_albumentations(t, rng, image=image, alpha=alpha, extra_images={"mask": fg})
    with pytest.raises(ValueError, match=r"extra_images\['fg'\] has height/width"):
        apply_albumentations(t, rng, image=image, alpha=alpha, extra_images={"fg": fg[:, :-1]})
    with pytest.raises(ValueError, match="trimap must be uint8"):
        apply_albumentations(t, rng, image=image, alpha=alpha, trimap=trimap.astype(np.float32))
