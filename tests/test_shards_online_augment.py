"""shards.online_augment: the fast paths (DCT scaling, window decoding, only the needed
members) give the same targets as the plain ones."""
from __future__ import annotations

import numpy as np
import pytest

import shards.online_augment as oa
import shards.window as win
from shard_fixtures import disc_alpha, smooth_rgb
from shards.codec import encode_alpha, encode_rgb
from shards.config import AugmentConfig
from shards.online_augment import augment_sample


def test_dct_scaled_decoding_is_aligned_and_deterministic(monkeypatch):
    """A JPEG member decoded at 1/2..1/8 lands on the same grid as a PNG member decoded in full."""
    h, w = 640, 560
    img = smooth_rgb(h, w)
    members = {"image.jpg": encode_rgb(img, "jpg", 95), "fg.png": encode_rgb(img, "png"),
               "bg.jpg": encode_rgb(img, "jpg", 95), "alpha.png": encode_alpha(disc_alpha(h, w, 1))}
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
    img = smooth_rgb(h, w)
    img[::7] = 255 - img[::7]  # texture, so that a misplaced row would show
    members = {"image.jpg": encode_rgb(img, "jpg", 95, restart_markers=True),
               "fg.jpg": encode_rgb(img[::-1].copy(), "jpg", 90, restart_markers=True),
               "bg.jpg": encode_rgb(img[:, ::-1].copy(), "jpg", 95, restart_markers=True),
               "alpha.png": encode_alpha(disc_alpha(h, w, 2))}
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
    members = {"image.jpg": encode_rgb(smooth_rgb(h, w), "jpg"), "fg.jpg": b"not a jpeg",
               "bg.jpg": b"not a jpeg", "alpha.png": encode_alpha(disc_alpha(h, w, 0))}
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
