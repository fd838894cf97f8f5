"""The device path's torch kernels against OpenCV / the CPU path's own functions."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.guidance import Guidance, apply_guidance, octagon_parts
from augment.trimap import make_trimap
from shards.device_ops import guidance, octagon_dilate, photometric_batch, resample_batch, resize_plane, trimaps

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def octagon_kernel(radius: int) -> np.ndarray:
    s, d = octagon_parts(radius)
    r = s + d
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    return ((np.maximum(abs(x), abs(y)) <= s + d) & (abs(x) + abs(y) <= 2 * s + d)).astype(np.uint8)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), radii=st.lists(st.integers(0, 9), min_size=1, max_size=3))
def test_octagon_dilate_equals_opencv_with_the_octagon(seed, radii):
    rng = np.random.default_rng(seed)
    imgs = (rng.random((len(radii), 1, 23, 31)) < 0.03).astype(np.float32)
    got = octagon_dilate(torch.from_numpy(imgs), radii).numpy()
    for i, r in enumerate(radii):
        want = cv2.dilate(imgs[i, 0], octagon_kernel(r), borderType=cv2.BORDER_CONSTANT, borderValue=0)
        np.testing.assert_array_equal(got[i, 0], want)


def _reference_trimap(a8: np.ndarray, band: int) -> np.ndarray:
    """make_trimap's definition with the octagon instead of the chamfer disc."""
    mixed = (a8 > 0) & (a8 < 255)
    fg, bg = (a8 == 255).astype(np.uint8), (a8 == 0).astype(np.uint8)
    k = np.ones((3, 3), np.uint8)
    steps = (fg & cv2.dilate(bg, k)) | (bg & cv2.dilate(fg, k))
    edge = (mixed | (steps.astype(bool) if band > 0 else False)).astype(np.uint8)
    unknown = cv2.dilate(edge, octagon_kernel(band), borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
    out = a8.copy()
    out[unknown] = 128
    return out


def _alpha8(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(3, 12)
    d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    a = np.clip((r - d) / rng.uniform(0.3, 3) + 0.5, 0, 1)
    return np.rint(a * 255).astype(np.uint8)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), bands=st.lists(st.integers(0, 8), min_size=1, max_size=3))
def test_trimaps_follow_make_trimaps_definition_with_the_octagon(seed, bands):
    rng = np.random.default_rng(seed)
    a8 = np.stack([_alpha8(rng, 30, 26) for _ in bands])[:, None]
    valid = torch.ones(a8.shape, dtype=torch.bool)
    got = trimaps(torch.from_numpy(a8), valid, bands).numpy()
    for i, band in enumerate(bands):
        np.testing.assert_array_equal(got[i, 0], _reference_trimap(a8[i, 0], band))
        if band == 0:
            np.testing.assert_array_equal(got[i, 0], make_trimap(a8[i, 0], 0))
        cpu = make_trimap(a8[i, 0], band)  # the chamfer disc: definite values never disagree
        both = (cpu != 128) & (got[i, 0] != 128)
        np.testing.assert_array_equal(cpu[both], got[i, 0][both])


def test_padding_is_neither_foreground_nor_background():
    a8 = np.full((1, 1, 10, 10), 255, np.uint8)
    valid = torch.zeros(a8.shape, dtype=torch.bool)
    valid[..., :, :6] = True  # the sample's image is 10x6; the rest pads the batch
    got = trimaps(torch.from_numpy(a8), valid, [3]).numpy()
    assert (got[0, 0, :, :6] == 255).all()  # no edge against the zero padding


@pytest.mark.parametrize("box", [None, (0.1, -0.05, 0.2, 0.0)])
@pytest.mark.parametrize("thin, morph", [(0, 0), (3, 0), (0, 4), (2, -3)])
def test_guidance_at_full_resolution_equals_apply_guidance(box, thin, morph):
    rng = np.random.default_rng(thin * 10 + morph)
    alpha = (_alpha8(rng, 48, 40).astype(np.float32) / 255)
    params = Guidance(0.4, thin, morph, (), (), 1, False, box)
    want = apply_guidance(params, alpha)
    got = guidance(torch.from_numpy(alpha)[None], params)[0].numpy()
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("lowres, soft", [(2, False), (4, True), (8, False)])
def test_guidance_at_low_resolution_is_close_to_apply_guidance(lowres, soft):
    rng = np.random.default_rng(lowres)
    alpha = (_alpha8(rng, 64, 96).astype(np.float32) / 255)
    holes = ((30, 40, 4, 6, 30),)
    params = Guidance(0.5, 4, 2, holes, ((5, 80, 3, 3, 0),), lowres, soft, None)
    want = apply_guidance(params, alpha)
    got = guidance(torch.from_numpy(alpha)[None], params)[0].numpy()
    assert np.abs(got - want).mean() < 0.03  # OpenCV's ellipse raster against the analytic one


def photometric(image, params):
    return photometric_batch(image[None], params[None])[0]


def test_photometric_off_is_identity_and_brightness_scales():
    img = torch.rand(3, 8, 9)
    off = torch.tensor([0, 1.2, 1, 1, 0, 0, 1, 2, 3, 0, 1.0], dtype=torch.float64)
    assert torch.equal(photometric(img, off), img)
    only_b = torch.tensor([1, 0.8, 1, 1, 0, 0, 1, 2, 3, 0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(photometric(img, only_b), (img * 0.8).clamp(0, 1))
    gamma = torch.tensor([0, 1, 1, 1, 0, 0, 1, 2, 3, 1, 1.25], dtype=torch.float64)
    torch.testing.assert_close(photometric(img, gamma), img ** 1.25)
    grey = torch.full((3, 4, 4), 0.5)
    hue = torch.tensor([1, 1, 1, 1, 0.04, 3, 0, 1, 2, 0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(photometric(grey, hue), grey, atol=1e-5, rtol=0)  # a grey has no hue


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", [(37, 53), (64, 64), (90, 70)])
def test_resize_plane_matches_opencv_linear_above_half_size(device, size):
    rng = np.random.default_rng(size[0])
    src = rng.random((50, 60, 3)).astype(np.float32)
    want = cv2.resize(src, size[::-1], interpolation=cv2.INTER_LINEAR)
    got = resize_plane(torch.from_numpy(src).permute(2, 0, 1).to(device), size).permute(1, 2, 0).cpu().numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
def test_resample_batch_is_opencvs_linear_resize_of_each_window(device):
    rng = np.random.default_rng(5)
    srcs = [rng.random((h, w, 2)).astype(np.float32) for h, w in ((40, 50), (33, 61), (64, 20))]
    boxes = [(3, 5, 30, 40), (0, 0, 33, 61), (10, 2, 50, 17)]  # (top, left, h, w)
    out_hw = (24, 36)
    padded = torch.zeros((3, 2, 64, 61))
    for i, s in enumerate(srcs):
        padded[i, :, :s.shape[0], :s.shape[1]] = torch.from_numpy(s).permute(2, 0, 1)
    box = torch.tensor(boxes, dtype=torch.float32)
    step = box[:, 2:] / torch.tensor(out_hw, dtype=torch.float32)
    got = resample_batch(padded.to(device), box[:, :2].to(device), step.to(device), box[:, :2].to(device),
                         (box[:, :2] + box[:, 2:] - 1).to(device), out_hw).cpu().numpy()
    for i, (t, l_, h, w) in enumerate(boxes):
        want = cv2.resize(srcs[i][t:t + h, l_:l_ + w], out_hw[::-1], interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(got[i].transpose(1, 2, 0), want, atol=1e-4)


def test_photometric_of_a_sample_does_not_depend_on_its_batch():
    from shards.device_prepare import sample_photometric
    rng = np.random.default_rng(3)
    imgs = torch.rand(6, 3, 10, 12)
    params = torch.from_numpy(np.stack([sample_photometric(rng, 1.0) for _ in range(6)]))
    got = photometric_batch(imgs, params)
    for i in range(6):
        torch.testing.assert_close(got[i], photometric(imgs[i], params[i]), atol=2e-6, rtol=0)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), widths=st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8)), min_size=1,
                                                     max_size=3))
def test_two_sided_trimaps_take_each_side_from_its_own_width(seed, widths):
    rng = np.random.default_rng(seed)
    a8 = np.stack([_alpha8(rng, 30, 26) for _ in widths])[:, None]
    valid = torch.ones(a8.shape, dtype=torch.bool)
    bands, outers = [b for b, _ in widths], [o for _, o in widths]
    got = trimaps(torch.from_numpy(a8), valid, bands, outers).numpy()
    for i, (band, outer) in enumerate(widths):
        bg = a8[i, 0] == 0
        np.testing.assert_array_equal(got[i, 0][bg], _reference_trimap(a8[i, 0], outer)[bg])
        np.testing.assert_array_equal(got[i, 0][~bg], _reference_trimap(a8[i, 0], band)[~bg])
