"""shards.online_augment: the fast paths give the same targets as the plain ones."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import shards.online_augment as oa
import shards.window as win
from augment.crop import Crop, sample_unknown_crop
from augment.trimap import make_trimap
from shards.codec import decode_alpha, encode_alpha, encode_rgb
from shards.online_augment import AugmentConfig, augment_sample


def _disc_alpha(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = np.zeros((h, w), np.float32)
    for _ in range(3):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.1, 0.4) * min(h, w)
        d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        a = np.maximum(a, np.clip((r - d) / rng.uniform(0.5, 10) + 0.5, 0, 1))
    return np.rint(a * 255).astype(np.float32) / 255


def _smooth_rgb(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / w * 255, yy / h * 255, (xx + yy) / (w + h) * 255], -1).astype(np.uint8)
    return cv2.GaussianBlur(img, (0, 0), 3)


@pytest.mark.parametrize("bits", [8, 16])
def test_alpha_crop_matches_sample_unknown_crop(bits):
    for t in range(30):
        rng = np.random.default_rng(t)
        h, w = (int(x) for x in rng.integers(8, 80, 2))
        a = _disc_alpha(h, w, t) if t % 4 else np.full((h, w), float(t % 8 == 0), np.float32)
        data = encode_alpha(a, bits)
        crop = (int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1)))
        alpha = win.StoredAlpha(data)
        assert np.array_equal(alpha.float(), decode_alpha(data))
        got = alpha.unknown_crop(np.random.default_rng([t, 2]), crop)
        assert got == sample_unknown_crop(np.random.default_rng([t, 2]), decode_alpha(data), crop)


def test_fresh_trimap_sees_past_the_crop_border():
    """The trimap of a crop equals the crop of the trimap of the whole resized alpha."""
    h, w = 300, 260
    a = _disc_alpha(h, w, 3)
    alpha = win.StoredAlpha(encode_alpha(a))
    rng = np.random.default_rng(0)
    checked_border = 0
    for _ in range(25):
        k = rng.uniform(0.3, 2.5)  # stored pixels per output pixel
        oh, ow = 40, 48
        wh, ww = round(oh * k), round(ow * k)
        if wh > h or ww > w:
            continue
        top, left = int(rng.integers(0, h - wh + 1)), int(rng.integers(0, w - ww + 1))
        ky, kx = wh / oh, ww / ow
        # the whole image on the crop's output grid, bilinear (as the window resize)
        ny, nx = int(top / ky), int(left / kx)
        eh, ew = int((h - top) / ky) + ny, int((w - left) / kx) + nx
        mat = np.array([[kx, 0, left + (0.5 - nx) * kx - 0.5], [0, ky, top + (0.5 - ny) * ky - 0.5]])
        full = np.clip(cv2.warpAffine(a, mat, (ew, eh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                      borderMode=cv2.BORDER_REPLICATE), 0, 1)
        out = np.ascontiguousarray(full[ny:ny + oh, nx:nx + ow])
        band = int(rng.integers(1, 20))
        expect = make_trimap(full, band)[ny:ny + oh, nx:nx + ow]
        got = win.trimap_with_margin(alpha, Crop(top, left, wh, ww), out, band)
        assert np.array_equal(got, expect)
        checked_border += not np.array_equal(make_trimap(out, band), expect)
    assert checked_border > 0  # the margin mattered in some cases


def test_dct_scaled_decoding_is_aligned_and_deterministic(monkeypatch):
    """A JPEG member decoded at 1/2..1/8 lands on the same grid as a PNG member decoded in full."""
    h, w = 640, 560
    img = _smooth_rgb(h, w)
    members = {"image.jpg": encode_rgb(img, "jpg", 95), "fg.png": encode_rgb(img, "png"),
               "bg.jpg": encode_rgb(img, "jpg", 95), "alpha.png": encode_alpha(_disc_alpha(h, w, 1))}
    used = []
    real = win.decode_rgb_window

    def spy(data, reduce, hw, rows, name):
        arr, r, first = real(data, reduce, hw, rows, name)
        used.append((name, r))
        return arr, r, first

    monkeypatch.setattr(oa, "decode_rgb_window", spy)
    for scale in [(0.1, 0.1), (0.2, 0.3), (0.35, 0.45), (0.9, 1.3)]:
        cfg = AugmentConfig(scale=scale, flip_p=0.5)
        for i in range(4):
            used.clear()
            out = augment_sample(members, [7, 0, i], crop=(64, 56), config=cfg)
            again = augment_sample(members, [7, 0, i], crop=(64, 56), config=cfg)
            for k in out:
                assert np.array_equal(out[k], again[k])
            r = dict(used)
            assert r["fg"] == 1 and (r["image"] > 1) == (scale[1] < 0.5)
            diff = np.abs(out["image"].astype(int) - out["fg"].astype(int))
            assert diff.mean() < 1.0 and diff.max() <= 8, (scale, i, diff.mean(), diff.max())
            t, a = out["trimap"], np.rint(out["alpha"] * 255)
            assert (a[t == 255] == 255).all() and (a[t == 0] == 0).all()


@pytest.mark.parametrize("scale", [(0.1, 0.2), (0.45, 0.6), (0.9, 1.6)])
def test_window_decoding_equals_full_decoding(monkeypatch, scale):
    """JPEGs with restart markers are decoded over the window only; the samples are
    identical to those of full decodes (also with DCT scaling)."""
    h, w = 300, 320
    img = _smooth_rgb(h, w)
    img[::7] = 255 - img[::7]  # texture, so that a misplaced row would show
    members = {"image.jpg": encode_rgb(img, "jpg", 95, restart_markers=True),
               "fg.jpg": encode_rgb(img[::-1].copy(), "jpg", 90, restart_markers=True),
               "bg.jpg": encode_rgb(img[:, ::-1].copy(), "jpg", 95, restart_markers=True),
               "alpha.png": encode_alpha(_disc_alpha(h, w, 2))}
    cfg = AugmentConfig(scale=scale, flip_p=0.5)
    calls = []
    real = win.decode_window

    def spy(*args):
        out = real(*args)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(win, "decode_window", spy)
    banded = [augment_sample(members, [3, 1, i], crop=(48, 40), config=cfg) for i in range(6)]
    assert any(calls)  # some windows were cut
    monkeypatch.setattr(win, "decode_window", lambda *args: None)
    full = [augment_sample(members, [3, 1, i], crop=(48, 40), config=cfg) for i in range(6)]
    for a, b in zip(banded, full):
        for k in a:
            assert np.array_equal(a[k], b[k]), k


def test_only_needed_members_are_decoded(monkeypatch):
    h, w = 48, 40
    members = {"image.jpg": encode_rgb(_smooth_rgb(h, w), "jpg"), "fg.jpg": b"not a jpeg",
               "bg.jpg": b"not a jpeg", "alpha.png": encode_alpha(_disc_alpha(h, w, 0))}
    out = augment_sample(members, [0, 0, 0], crop=(16, 16), config=AugmentConfig(), outputs=("image", "alpha", "trimap"))
    assert set(out) == {"image", "alpha", "trimap"}
    with pytest.raises(ValueError):
        augment_sample(members, [0, 0, 0], crop=(16, 16), config=AugmentConfig(), outputs=("fg",))
    calls = []
    monkeypatch.setattr(oa, "decode_rgb", lambda data: calls.append(1))
    out = augment_sample(members, [0, 0, 0], crop=(16, 16), config=AugmentConfig(), outputs=("alpha", "trimap"))
    assert set(out) == {"alpha", "trimap"} and not calls


def test_mild_shrinks_are_bilinear_strong_ones_area():
    """Alpha and image use the same smooth interpolation (never nearest)."""
    h, w = 400, 400
    check = ((np.indices((h, w)).sum(0) % 2) * 255).astype(np.uint8)
    members = {"image.png": encode_rgb(np.repeat(check[..., None], 3, 2), "png"),
               "alpha.png": encode_alpha(check.astype(np.float32) / 255)}
    for scale, area in [((0.6, 0.6), False), ((0.3, 0.3), True)]:
        cfg = AugmentConfig(scale=scale, flip_p=0.0)
        out = augment_sample(members, [1], crop=(100, 100), config=cfg, outputs=("image", "alpha"))
        a = out["alpha"] * 255
        assert np.abs(a - out["image"][..., 0]).max() <= 1.01
        assert 0 < a.mean() < 255 and len(np.unique(np.rint(a))) > 2  # smooth, not nearest
        if area:  # area averaging of a checkerboard is flat grey
            assert np.abs(a - 127.5).max() < 40


def test_collate_deinterleaves_like_torch_stack():
    import torch

    from shards.collate import collate_matting, to_tensor_sample

    rng = np.random.default_rng(0)
    samples = []
    for i in range(5):
        img = rng.integers(0, 256, (30, 34, 3), dtype=np.uint8)
        arrays = {"image": img[2:26, 3:31] if i % 2 else np.ascontiguousarray(img[:24, :28]),
                  "alpha": rng.random((24, 28), dtype=np.float32),
                  "trimap": rng.integers(0, 256, (30, 28), dtype=np.uint8)[3:27],
                  "fg": cv2.flip(img[:24, :28], 1)}
        sample = to_tensor_sample(arrays)
        sample.update(key=str(i), index=i)
        samples.append(sample)
    batch = collate_matting(samples)
    for name in ("image", "alpha", "trimap", "fg"):
        expect = torch.stack([s[name] for s in samples])
        assert torch.equal(batch[name], expect) and batch[name].is_contiguous(), name
    normed = [to_tensor_sample({"image": rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)}, normalize=True)
              for _ in range(3)]
    got = collate_matting(normed)["image"]
    assert got.dtype == torch.float32 and torch.equal(got, torch.stack([s["image"] for s in normed]))
