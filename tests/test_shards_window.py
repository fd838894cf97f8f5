"""shards.window: the stored-alpha crop and the trimap with margin equal the plain computations."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import shards.window as win
from augment.crop import Crop, sample_unknown_crop
from augment.trimap import make_trimap
from shard_fixtures import disc_alpha
from shards.codec import decode_alpha, encode_alpha


@pytest.mark.parametrize("bits", [8, 16])
def test_alpha_crop_matches_sample_unknown_crop(bits):
    for t in range(30):
        rng = np.random.default_rng(t)
        h, w = (int(x) for x in rng.integers(8, 80, 2))
        a = disc_alpha(h, w, t) if t % 4 else np.full((h, w), float(t % 8 == 0), np.float32)
        data = encode_alpha(a, bits)
        crop = (int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1)))
        alpha = win.StoredAlpha(data)
        assert np.array_equal(alpha.float(), decode_alpha(data))
        got = alpha.unknown_crop(np.random.default_rng([t, 2]), crop)
        assert got == sample_unknown_crop(np.random.default_rng([t, 2]), decode_alpha(data), crop)


@pytest.mark.parametrize("two_sided", [False, True])
def test_fresh_trimap_sees_past_the_crop_border(two_sided):
    """The trimap of a crop equals the crop of the trimap of the whole resized alpha (also with
    the background side's reach drawn apart: the margin covers the wider side)."""
    widths = np.random.default_rng(99)
    h, w = 300, 260
    a = disc_alpha(h, w, 3)
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
        outer = int(widths.integers(0, 20)) if two_sided else None
        expect = make_trimap(full, band, outer)[ny:ny + oh, nx:nx + ow]
        got = win.trimap_with_margin(alpha, Crop(top, left, wh, ww), out, band, outer)
        assert np.array_equal(got, expect)
        checked_border += not np.array_equal(make_trimap(out, band, outer), expect)
    assert checked_border > 0  # the margin mattered in some cases
