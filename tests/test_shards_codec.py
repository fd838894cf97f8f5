"""shards.codec: member codecs (round trips, validation, determinism)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from shards import decode_alpha, decode_rgb, decode_trimap, encode_alpha, encode_rgb, encode_trimap
from shards.codec import decode_alpha_stored


def _rgb(seed=0, h=33, w=47):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ------------------------------------------------------------------ codec
def test_png_rgb_round_trip_exact():
    img = _rgb()
    assert np.array_equal(decode_rgb(encode_rgb(img, "png")), img)


def test_png_rgb_keeps_channel_order():
    img = np.zeros((4, 4, 3), np.uint8)
    img[..., 0] = 200  # pure red
    out = decode_rgb(encode_rgb(img, "png"))
    assert out[0, 0].tolist() == [200, 0, 0]
    for restart in (False, True):
        out = decode_rgb(encode_rgb(img, "jpg", 100, restart_markers=restart))
        assert out[0, 0, 0] > 190 and out[0, 0, 1] < 10 and out[0, 0, 2] < 10
    strided = _rgb(2, 40, 60)[:, ::2]  # a non-contiguous view is encoded as its values
    assert np.array_equal(decode_rgb(encode_rgb(strided, "png")), strided)


def test_jpeg_round_trip_close():
    import cv2

    img = cv2.GaussianBlur(_rgb(1, 64, 80), (7, 7), 2)
    out = decode_rgb(encode_rgb(img, "jpg", 95))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - img).mean() < 2.0


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=24),
                  elements=st.floats(0, 1, width=32)), st.sampled_from([8, 16]))
def test_alpha_round_trip_exact_at_bit_depth(alpha, bits):
    scale = 2**bits - 1
    out = decode_alpha(encode_alpha(alpha, bits))
    assert out.dtype == np.float32 and out.shape == alpha.shape
    assert np.array_equal(np.rint(out.astype(np.float64) * scale), np.rint(alpha.astype(np.float64) * scale))
    assert np.abs(out - alpha).max() <= 0.5 / scale + 1e-6
    # a decoded alpha re-encodes to the same bytes
    assert encode_alpha(out, bits) == encode_alpha(alpha, bits)


def test_alpha_16bit_keeps_precision():
    alpha = np.linspace(0, 1, 4096, dtype=np.float32).reshape(64, 64)
    out = decode_alpha(encode_alpha(alpha, 16))
    assert np.abs(out - alpha).max() < 1e-5
    assert len(np.unique(out)) == 4096


def test_alpha_validation():
    with pytest.raises(ValueError, match="bits must be 8 or 16"):
        encode_alpha(np.zeros((2, 2), np.float32), 12)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        encode_alpha(np.full((2, 2), 1.5, np.float32))
    with pytest.raises(ValueError, match="finite"):
        encode_alpha(np.full((2, 2), np.nan, np.float32))
    with pytest.raises(ValueError, match="expected float"):
        encode_alpha(np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="single-channel"):
        decode_alpha(encode_rgb(_rgb(), "png"))


def test_trimap_round_trip_and_validation():
    tri = np.random.default_rng(0).choice(np.array([0, 128, 255], np.uint8), (20, 30))
    assert np.array_equal(decode_trimap(encode_trimap(tri)), tri)
    bad = tri.copy()
    bad[0, 0] = 7
    with pytest.raises(ValueError, match=r"\[7\]"):
        encode_trimap(bad)
    with pytest.raises(ValueError, match="trimap values"):
        import cv2

        decode_trimap(cv2.imencode(".png", bad)[1].tobytes())


def test_encoding_is_deterministic():
    img, alpha = _rgb(3), np.random.default_rng(3).random((33, 47)).astype(np.float32)
    assert encode_rgb(img, "jpg") == encode_rgb(img.copy(), "jpg")
    assert encode_rgb(img, "png") == encode_rgb(img.copy(), "png")
    assert encode_alpha(alpha, 16) == encode_alpha(alpha.copy(), 16)


@pytest.mark.parametrize("data", [b"", b"not an image", b"\xff\xd8\xff\xe0" + b"\0" * 50])
def test_undecodable_bytes_raise_value_error(data):
    for fn in (decode_rgb, decode_alpha, decode_trimap):
        with pytest.raises(ValueError):
            fn(data)


def test_truncated_jpeg_raises():
    data = encode_rgb(_rgb(), "jpg")
    with pytest.raises(ValueError):
        decode_rgb(data[: len(data) // 3])


def test_encode_rgb_validation():
    with pytest.raises(ValueError, match="uint8"):
        encode_rgb(np.zeros((4, 4), np.uint8), "jpg")
    with pytest.raises(ValueError, match="fmt"):
        encode_rgb(_rgb(), "webp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="quality"):
        encode_rgb(_rgb(), "jpg", 0)


@pytest.mark.parametrize("bits", [8, 16])
def test_alpha_levels_encode_to_what_encode_alpha_decodes_to(bits):
    from shards.codec import encode_alpha_levels

    rng = np.random.default_rng(bits)
    scale = (1 << bits) - 1
    alpha = rng.random((37, 53), dtype=np.float32)
    alpha[:10] = 0.0
    levels = np.rint(alpha.astype(np.float64) * scale).astype(np.uint8 if bits == 8 else np.uint16)
    fast = encode_alpha_levels(levels)
    assert np.array_equal(decode_alpha_stored(fast), decode_alpha_stored(encode_alpha(alpha, bits)))
    assert np.array_equal(decode_alpha_stored(fast), levels)
    with pytest.raises(ValueError, match="uint8 or uint16"):
        encode_alpha_levels(levels.astype(np.int32))
