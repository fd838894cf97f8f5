"""shards.jpeg_rows: decoding a band of rows of a restart-marked JPEG, bit for bit."""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
import simplejpeg
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from shards.codec import decode_rgb, encode_rgb
from shards.jpeg_rows import decode_rows


def _textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 1.2)
    img[:, ::5] = 255 - img[:, ::5]
    return img


def _reference(data: bytes, reduce: int) -> np.ndarray:
    h, w, _, _ = simplejpeg.decode_jpeg_header(data)
    if reduce == 1:
        return decode_rgb(data)
    return simplejpeg.decode_jpeg(data, "RGB", min_height=-(-h // reduce), min_width=-(-w // reduce),
                                  min_factor=reduce)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 140), w=st.integers(1, 90), data=st.data())
def test_band_equals_the_rows_of_a_full_decode(h, w, data):
    jpeg = encode_rgb(_textured(h, w, h * 1000 + w), "jpg", int(data.draw(st.integers(60, 100))), restart_rows=True)
    top = data.draw(st.integers(0, h - 1))
    bottom = data.draw(st.integers(top + 1, h))
    reduce = data.draw(st.sampled_from([1, 2, 4, 8]))
    out = decode_rows(jpeg, top, bottom, reduce)
    m0, m1 = top // 8, -(-bottom // 8)
    if m0 == 0 and m1 == -(-h // 8):
        assert out is None  # the whole image: decoded as usual
        return
    assert out is not None
    band, first = out
    ref = _reference(jpeg, reduce)
    assert first == m0 * 8 and first <= top
    assert band.shape == (-(-(min(h, m1 * 8) - first) // reduce), ref.shape[1], 3)
    np.testing.assert_array_equal(band, ref[first // reduce:first // reduce + band.shape[0]])


def test_restart_marked_jpeg_reads_everywhere_and_costs_little():
    img = _textured(200, 160, 1)
    plain, marked = encode_rgb(img, "jpg", 95), encode_rgb(img, "jpg", 95, restart_rows=True)
    assert marked.count(b"\xff\xd0") >= 3  # RST0 .. RST7 cycle over the 25 MCU rows
    assert len(marked) < 1.03 * len(plain)
    a = decode_rgb(marked)
    b = np.asarray(Image.open(io.BytesIO(marked)).convert("RGB"))
    c = cv2.imdecode(np.frombuffer(marked, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    assert np.abs(a.astype(int) - img).mean() < 3
    assert np.abs(a.astype(int) - b).max() <= 2 and np.abs(a.astype(int) - c).max() <= 2


@pytest.mark.parametrize("case", ["no_restarts", "subsampled", "progressive", "not_jpeg", "truncated"])
def test_uncuttable_jpegs_return_none(case):
    img = _textured(96, 64, 2)
    if case == "no_restarts":
        data = encode_rgb(img, "jpg", 95)
    elif case == "subsampled":  # 4:2:0: chroma upsampling mixes rows across MCU rows
        data = encode_rgb(img, "jpg", 95, subsampling="420", restart_rows=True)
    elif case == "progressive":
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=90, progressive=True)
        data = buf.getvalue()
    elif case == "not_jpeg":
        data = b"\x89PNG\r\n\x1a\n" + bytes(100)
    else:
        data = encode_rgb(img, "jpg", 95, restart_rows=True)[:-300]
    assert decode_rows(data, 20, 40) is None
    assert decode_rows(encode_rgb(img, "jpg", 95, restart_rows=True), 40, 20) is None  # empty range
