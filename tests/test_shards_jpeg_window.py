"""shards.jpeg_window: decoding a window of a restart-marked JPEG, bit for bit."""
from __future__ import annotations

import io
import math

import cv2
import numpy as np
import pytest
import simplejpeg
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from shards.codec import decode_rgb, encode_rgb
from shards.jpeg_window import decode_window, restart_interval


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


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 140), w=st.sampled_from([1, 7, 40, 64, 72, 200, 257, 320]), data=st.data())
def test_window_equals_the_pixels_of_a_full_decode(h, w, data):
    jpeg = encode_rgb(_textured(h, w, h * 1000 + w), "jpg", int(data.draw(st.integers(60, 100))),
                      restart_markers=True)
    top = data.draw(st.integers(0, h - 1))
    bottom = data.draw(st.integers(top + 1, h))
    left = data.draw(st.integers(0, w - 1))
    right = data.draw(st.integers(left + 1, w))
    reduce = data.draw(st.sampled_from([1, 2, 4, 8]))
    out = decode_window(jpeg, top, bottom, left, right, reduce)
    strip = 8 * restart_interval(math.ceil(w / 8))
    rows, cols = (top // 8, math.ceil(bottom / 8)), (left // strip, math.ceil(right / strip))
    if rows == (0, math.ceil(h / 8)) and cols == (0, math.ceil(w / strip)):
        assert out is None  # the whole image: decoded as usual
        return
    assert out is not None
    part, y0, x0 = out
    assert (y0, x0) == (rows[0] * 8, cols[0] * strip) and y0 <= top and x0 <= left
    assert part.shape == (-(-(min(h, rows[1] * 8) - y0) // reduce), -(-(min(w, cols[1] * strip) - x0) // reduce), 3)
    ref = _reference(jpeg, reduce)
    np.testing.assert_array_equal(part, ref[y0 // reduce:y0 // reduce + part.shape[0],
                                            x0 // reduce:x0 // reduce + part.shape[1]])


@pytest.mark.parametrize("h, w", [(34, 1), (34, 7), (9, 257), (2, 2)])
def test_windows_at_the_bottom_and_right_edges_scale_exactly(h, w):
    """Found by a --hypothesis-seed sweep: the last MCU row of a 34 x 1 image is 2 px high,
    and a 2 x 1 window JPEG decoded "at least 1 x 1, 1/8" came out at another scale than the
    full image's 1/8. Windows are whole MCUs now; every window of a row or column matches."""
    jpeg = encode_rgb(_textured(h, w, h * 1000 + w), "jpg", 60, restart_markers=True)
    for reduce in (1, 2, 4, 8):
        ref = _reference(jpeg, reduce)
        for top in range(h):
            for left in {0, w - 1}:
                out = decode_window(jpeg, top, top + 1, left, left + 1, reduce)
                if out is None:
                    continue
                part, y0, x0 = out
                np.testing.assert_array_equal(part, ref[y0 // reduce:y0 // reduce + part.shape[0],
                                                        x0 // reduce:x0 // reduce + part.shape[1]])


def test_restart_interval_tiles_the_rows():
    assert restart_interval(128) == 8 and restart_interval(80) == 8 and restart_interval(60) == 6
    assert restart_interval(113) == 113 and restart_interval(6) == 6 and restart_interval(1) == 1
    with pytest.raises(ValueError):
        restart_interval(0)


def test_a_small_window_decodes_a_small_part():
    jpeg = encode_rgb(_textured(512, 512, 3), "jpg", 95, restart_markers=True)
    part, y0, x0 = decode_window(jpeg, 200, 260, 300, 340)
    assert (y0, x0) == (200, 256) and part.shape == (64, 128, 3)


def test_restart_marked_jpeg_reads_everywhere_and_costs_little():
    img = _textured(200, 256, 1)
    plain, marked = encode_rgb(img, "jpg", 95), encode_rgb(img, "jpg", 95, restart_markers=True)
    assert marked.count(b"\xff\xd0") >= 3  # RST0 .. RST7 cycle over the 25 x 4 intervals
    assert len(marked) < 1.04 * len(plain)
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
    elif case == "subsampled":  # 4:2:0: chroma upsampling mixes neighbouring blocks
        data = encode_rgb(img, "jpg", 95, subsampling="420", restart_markers=True)
    elif case == "progressive":
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=90, progressive=True)
        data = buf.getvalue()
    elif case == "not_jpeg":
        data = b"\x89PNG\r\n\x1a\n" + bytes(100)
    else:
        data = encode_rgb(img, "jpg", 95, restart_markers=True)[:-300]
    assert decode_window(data, 20, 40, 0, 30) is None
    assert decode_window(encode_rgb(img, "jpg", 95, restart_markers=True), 40, 20, 0, 30) is None  # empty
