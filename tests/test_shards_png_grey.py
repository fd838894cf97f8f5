"""shards.png_grey: the fast grey-PNG path decodes exactly what OpenCV decodes, and hands
everything else (filtered rows, other colour types, damaged files) back to OpenCV."""
from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shards import png_grey
from shards.codec import _png, decode_alpha_stored, encode_alpha, encode_alpha_levels
from shards.png_grey import decode_grey_png

pytest.importorskip("isal")  # a declared dependency: the fast path is on wherever the project is installed


def _cv2(data: bytes) -> np.ndarray | None:
    """OpenCV's decode, None where it fails (it raises for a header over its pixel limit)."""
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None


def _assert_decodes_as_opencv(data: bytes) -> None:
    """decode_alpha_stored gives OpenCV's array, or a ValueError where OpenCV fails."""
    ref = _cv2(data)
    if ref is None or ref.ndim != 2:
        with pytest.raises(ValueError):
            decode_alpha_stored(data)
    else:
        np.testing.assert_array_equal(decode_alpha_stored(data), ref)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_bytes(rows: np.ndarray, depth: int, *, filters: np.ndarray | None = None, colour: int = 0,
               interlace: int = 0, extra: bytes = b"", before_iend: bytes = b"", iend: bool = True,
               declare: tuple[int, int] | None = None) -> bytes:
    """A PNG written by hand: ``rows`` (H, W) uint8/uint16 grey, each row's filter byte from
    ``filters``; its header says ``declare`` (H, W) when given (valid CRCs either way)."""
    h, w = rows.shape
    raw = rows.astype(">u2").view(np.uint8).reshape(h, -1) if depth == 16 else rows.astype(np.uint8)
    f = np.zeros((h, 1), np.uint8) if filters is None else filters.reshape(h, 1).astype(np.uint8)
    stream = zlib.compress(np.concatenate([f, raw], axis=1).tobytes()) + extra
    dh, dw = declare or (h, w)
    ihdr = struct.pack(">IIBBBBB", dw, dh, depth, colour, 0, 0, interlace)
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", stream) + before_iend
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
        fast, ref = decode_grey_png(data), _cv2(data)
        assert fast is not None, "the build's alpha PNGs take the fast path"
        assert fast.dtype == ref.dtype and fast.shape == ref.shape and fast.flags.c_contiguous
        np.testing.assert_array_equal(fast, ref)
        np.testing.assert_array_equal(decode_alpha_stored(data), ref)


def test_hand_written_16_bit_png_is_read_big_endian():
    rows = np.array([[0, 1, 256, 65535], [4660, 43981, 2, 65534]], np.uint16)
    data = _png_bytes(rows, 16)
    np.testing.assert_array_equal(decode_grey_png(data), rows)
    np.testing.assert_array_equal(_cv2(data), rows)


def test_ancillary_chunks_are_skipped():
    rows = np.arange(12, dtype=np.uint8).reshape(3, 4)
    data = _png_bytes(rows, 8, before_iend=_chunk(b"tEXt", b"Comment\x00hello"))
    np.testing.assert_array_equal(decode_grey_png(data), rows)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


@pytest.mark.parametrize("case", [
    "filtered", "rgb", "interlaced", "bad_crc", "truncated", "no_iend", "short_stream", "long_stream",
    "after_stream", "critical_chunk", "huge", "not_png",
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
        "huge": lambda: _png_bytes(rows, 8, declare=(1 << 16, 1 << 16)),
        "not_png": lambda: b"GIF89a" + bytes(40),
    }[case]()
    assert decode_grey_png(data) is None
    _assert_decodes_as_opencv(data)  # decode_alpha_stored then behaves exactly as OpenCV alone does


def test_filtered_png_from_opencvs_default_encoder_still_decodes():
    noisy = (np.random.default_rng(3).random((32, 32)) * 255).astype(np.uint8)
    noisy[:, 16:] = np.arange(16, dtype=np.uint8) * 9  # gradients: libpng picks Sub/Up/Paeth filters
    data = _png(noisy, "t")
    assert decode_grey_png(data) is None
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
    assert png_grey.available()
