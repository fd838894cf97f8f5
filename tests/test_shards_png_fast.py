"""shards.png_fast: the fast PNG path decodes exactly what OpenCV decodes (grey alphas, Up-filtered
RGB), and hands everything else (other filters, colour types, damaged files) back to OpenCV."""
from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shards import png_fast
from shards.codec import (_png, decode_alpha_stored, decode_rgb, decode_trimap, encode_alpha, encode_alpha_levels,
                          encode_rgb, encode_trimap)
from shards.png_fast import GREY, RGB, decode_png_fast

pytest.importorskip("isal")  # a declared dependency: the fast path is on wherever the project is installed


def _cv2(data: bytes) -> np.ndarray | None:
    """OpenCV's decode, None where it fails (it raises for a header over its pixel limit)."""
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None


def _grey(data: bytes) -> np.ndarray | None:
    return decode_png_fast(data, GREY)


def _assert_decodes_as_opencv(data: bytes) -> None:
    """decode_alpha_stored gives OpenCV's array, or a ValueError where OpenCV fails."""
    ref = _cv2(data)
    if ref is None or ref.ndim != 2:
        with pytest.raises(ValueError):
            decode_alpha_stored(data)
    else:
        np.testing.assert_array_equal(decode_alpha_stored(data), ref)


def _idat(data: bytes) -> list[bytes]:
    """The IDAT chunks' bodies of a PNG."""
    out, pos = [], 8
    while pos < len(data):
        (length,), kind = struct.unpack_from(">I", data, pos), data[pos + 4:pos + 8]
        if kind == b"IDAT":
            out.append(data[pos + 8:pos + 8 + length])
        pos += 12 + length
    return out


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_bytes(rows: np.ndarray, depth: int, *, filters: np.ndarray | None = None, colour: int = 0,
               interlace: int = 0, extra: bytes = b"", before_iend: bytes = b"", iend: bool = True,
               declare: tuple[int, int] | None = None, before_idat: bytes = b"") -> bytes:
    """A PNG written by hand: ``rows`` (H, W) uint8/uint16 grey, each row's filter byte from
    ``filters``; its header says ``declare`` (H, W) when given (valid CRCs either way)."""
    h, w = rows.shape
    raw = rows.astype(">u2").view(np.uint8).reshape(h, -1) if depth == 16 else rows.astype(np.uint8)
    f = np.zeros((h, 1), np.uint8) if filters is None else filters.reshape(h, 1).astype(np.uint8)
    stream = zlib.compress(np.concatenate([f, raw], axis=1).tobytes()) + extra
    dh, dw = declare or (h, w)
    ihdr = struct.pack(">IIBBBBB", dw, dh, depth, colour, 0, 0, interlace)
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + before_idat + _chunk(b"IDAT", stream) + before_iend
    return out + (_chunk(b"IEND", b"") if iend else b"")


mattes = st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([8, 16]), st.integers(0, 2**32 - 1))


@settings(max_examples=60, deadline=None)
@given(mattes)
def test_fast_path_equals_opencv_on_the_builds_alphas(spec):
    h, w, bits, seed = spec
    rng = np.random.default_rng(seed)
    alpha = rng.random((h, w)).astype(np.float32)
    alpha[alpha < 0.3], alpha[alpha > 0.7] = 0.0, 1.0
    for data in (encode_alpha(alpha, bits),
                 encode_alpha_levels(np.rint(alpha * (2**bits - 1)).astype(np.uint8 if bits == 8 else np.uint16))):
        fast, ref = _grey(data), _cv2(data)
        assert fast is not None, "the build's alpha PNGs take the fast path"
        assert fast.dtype == ref.dtype and fast.shape == ref.shape and fast.flags.c_contiguous
        np.testing.assert_array_equal(fast, ref)
        np.testing.assert_array_equal(decode_alpha_stored(data), ref)


def _photo(seed: int, h: int, w: int) -> np.ndarray:
    """A photo-like RGB image: smooth gradients, an edge and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 3 + y, 200 - y * 2, (x * y) % 97 + 60], axis=-1).astype(np.float64)
    base[:, w // 2:] += 40
    return np.clip(base + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 50), st.integers(1, 50), st.integers(0, 2**32 - 1))
def test_up_filtered_rgb_decodes_as_opencv_does(h, w, seed):
    img = _photo(seed, h, w)
    data = encode_rgb(img, "png", fast_png=True)
    rows = np.frombuffer(zlib.decompress(b"".join(_idat(data))), np.uint8).reshape(h, 1 + 3 * w)
    assert set(rows[1:, 0].tolist()) <= {2}  # every row below the first is filtered Up
    fast = decode_png_fast(data, RGB)
    assert fast is not None and fast.dtype == np.uint8 and fast.shape == (h, w, 3) and fast.flags.c_contiguous
    np.testing.assert_array_equal(fast, img)
    np.testing.assert_array_equal(cv2.cvtColor(_cv2(data), cv2.COLOR_BGR2RGB), img)
    np.testing.assert_array_equal(decode_rgb(data), img)


def test_mixed_none_and_up_rows_at_both_depths():
    rng = np.random.default_rng(4)
    filters = np.array([2, 0, 2, 2, 0, 2, 2])
    for depth, dtype in ((8, np.uint8), (16, np.uint16)):
        rows = rng.integers(0, 2**depth, (7, 9)).astype(dtype)  # the filtered bytes, as written
        data = _png_bytes(rows, depth, filters=filters)
        fast, ref = _grey(data), _cv2(data)
        assert fast is not None and fast.dtype == ref.dtype
        np.testing.assert_array_equal(fast, ref)


def test_other_filters_colour_types_and_depths_go_back_to_opencv():
    photo = _photo(7, 40, 48)
    adaptive = encode_rgb(photo, "png")  # libpng picks Sub / Average / Paeth rows for a photo
    assert decode_png_fast(adaptive, RGB) is None
    np.testing.assert_array_equal(decode_rgb(adaptive), photo)
    grey = encode_alpha(np.linspace(0, 1, 48, dtype=np.float32).reshape(6, 8), 8)
    assert decode_png_fast(grey, RGB) is None  # a grey PNG asked for as RGB
    assert decode_png_fast(encode_rgb(photo, "png", fast_png=True), GREY) is None
    rgb16 = _png(np.zeros((4, 4, 3), np.uint16), "t")
    assert decode_png_fast(rgb16, RGB) is None  # 16-bit RGB: OpenCV (decode_rgb reduces it to 8 bits)
    assert decode_png_fast(grey, 4) is None  # grey + alpha is not a colour type of this path


def test_a_png_with_other_filters_is_given_up_after_its_first_rows(monkeypatch):
    """Most PNGs from elsewhere use Sub/Average/Paeth rows: the fast path must not inflate
    all of one before handing it to OpenCV."""
    real = png_fast._inflate_lib
    produced = []

    class Counting:
        error = real.error

        @staticmethod
        def decompressobj():
            inner = real.decompressobj()

            class Obj:
                def decompress(self, data, max_length=0):
                    out = inner.decompress(data, max_length)
                    produced.append(len(out))
                    return out

                def __getattr__(self, name):
                    return getattr(inner, name)
            return Obj()

    monkeypatch.setattr(png_fast, "_inflate_lib", Counting)
    rows = np.random.default_rng(2).integers(0, 256, (400, 100)).astype(np.uint8)
    filters = np.zeros(400, np.uint8)
    filters[20] = 1  # one Sub row, early
    data = _png_bytes(rows, 8, filters=filters)
    assert _grey(data) is None
    assert 0 < sum(produced) <= 48 * 101  # the first pieces (16 + 32 rows), not 400 rows
    produced.clear()
    assert _grey(_png_bytes(rows, 8)) is not None and sum(produced) == 400 * 101


def test_hand_written_16_bit_png_is_read_big_endian():
    rows = np.array([[0, 1, 256, 65535], [4660, 43981, 2, 65534]], np.uint16)
    data = _png_bytes(rows, 16)
    np.testing.assert_array_equal(_grey(data), rows)
    np.testing.assert_array_equal(_cv2(data), rows)


def test_ancillary_chunks_are_skipped():
    rows = np.arange(12, dtype=np.uint8).reshape(3, 4)
    data = _png_bytes(rows, 8, before_iend=_chunk(b"tEXt", b"Comment\x00hello"))
    np.testing.assert_array_equal(_grey(data), rows)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


@pytest.mark.parametrize("case", [
    "filtered", "rgb", "interlaced", "bad_crc", "truncated", "no_iend", "short_stream", "long_stream",
    "after_stream", "critical_chunk", "transparency_key", "huge", "forged_size", "not_png",
])
def test_anything_else_goes_back_to_opencv(case):
    rows = (np.arange(48, dtype=np.uint8) * 5).reshape(6, 8)
    data = {
        "filtered": lambda: _png_bytes(rows, 8, filters=np.array([0, 1, 0, 2, 0, 0])),
        "rgb": lambda: _png(np.dstack([rows] * 3), "t"),
        "interlaced": lambda: _png_bytes(rows, 8, interlace=1),
        "bad_crc": lambda: _flip(_png_bytes(rows, 8), 40),
        "truncated": lambda: _png_bytes(rows, 8)[:-20],
        "no_iend": lambda: _png_bytes(rows, 8, iend=False),
        "short_stream": lambda: _png_bytes(rows[:5], 8, declare=(6, 8)),
        "long_stream": lambda: _png_bytes(np.vstack([rows, rows]), 8, declare=(6, 8)),
        "after_stream": lambda: _png_bytes(rows, 8, extra=b"\x00junk"),
        "critical_chunk": lambda: _png_bytes(rows, 8, before_iend=_chunk(b"ZZZZ", b"x")),
        "transparency_key": lambda: _png_bytes(rows, 8, before_idat=_chunk(b"tRNS", b"\x00\x05")),
        "huge": lambda: _png_bytes(rows, 8, declare=(1 << 16, 1 << 16)),
        "forged_size": lambda: _png_bytes(rows, 8, declare=(10_000, 10_000)),  # under the pixel cap
        "not_png": lambda: b"GIF89a" + bytes(40),
    }[case]()
    assert _grey(data) is None
    _assert_decodes_as_opencv(data)  # decode_alpha_stored then behaves exactly as OpenCV alone does


def test_filtered_png_from_opencvs_default_encoder_still_decodes():
    noisy = (np.random.default_rng(3).random((32, 32)) * 255).astype(np.uint8)
    noisy[:, 16:] = np.arange(16, dtype=np.uint8) * 9  # gradients: libpng picks Sub/Up/Paeth filters
    data = _png(noisy, "t")
    assert _grey(data) is None
    np.testing.assert_array_equal(decode_alpha_stored(data), noisy)


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 255))
def test_damaged_png_decodes_as_opencv_decodes_it(pos, xor):
    """Any one damaged byte: the same array as OpenCV, or an error where OpenCV fails."""
    alpha = np.linspace(0, 1, 24 * 20, dtype=np.float32).reshape(24, 20)
    data = bytearray(encode_alpha(alpha, 8))
    data[pos % len(data)] ^= xor
    _assert_decodes_as_opencv(bytes(data))


def test_available_reports_the_accelerator():
    assert png_fast.available()


def test_without_isal_everything_decodes_through_opencv(monkeypatch):
    monkeypatch.setattr(png_fast, "_inflate_lib", None)
    assert not png_fast.available()
    alpha = np.linspace(0, 1, 48, dtype=np.float32).reshape(6, 8)
    data = encode_alpha(alpha, 8)
    assert decode_png_fast(data, GREY) is None
    np.testing.assert_array_equal(decode_alpha_stored(data), np.rint(alpha * 255).astype(np.uint8))
    photo = _photo(3, 12, 10)
    np.testing.assert_array_equal(decode_rgb(encode_rgb(photo, "png", fast_png=True)), photo)


def test_trimaps_are_checked_whichever_path_decodes_them():
    """decode_trimap's checks (8-bit, values in {0, 128, 255}) hold for PNGs the fast path reads."""
    good = np.array([[0, 128, 255], [255, 128, 0]], np.uint8)
    data = encode_trimap(good)
    assert _grey(data) is not None  # the build's trimaps take the fast path
    np.testing.assert_array_equal(decode_trimap(data), good)
    bad = _png(np.array([[0, 7, 255]], np.uint8), "t", "none")
    assert _grey(bad) is not None
    with pytest.raises(ValueError):
        decode_trimap(bad, "s/trimap.png")
    np.testing.assert_array_equal(decode_trimap(bad, check=False), [[0, 7, 255]])
    sixteen = _png(np.array([[0, 128, 255]], np.uint16), "t", "none")
    assert _grey(sixteen) is not None and _grey(sixteen).dtype == np.uint16
    with pytest.raises(ValueError, match="8-bit grey"):
        decode_trimap(sixteen, "s/trimap.png")
