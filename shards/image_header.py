"""Image sizes from headers, before any pixel is decoded: a decoder bomb stays a few bytes.

A JPEG's frame header (SOF) or a PNG's ``IHDR`` declares the size the decoder will
allocate; a shard from anywhere can declare 60000 x 60000 in a 1 KB member. The loader
reads the declared sizes with :func:`declared_size` and refuses a sample whose members
declare more than its pixel limit (:func:`check_pixels`) before decoding anything.
"""
from __future__ import annotations

from typing import Mapping

__all__ = ["declared_size", "check_pixels", "DEFAULT_MAX_PIXELS", "CANVAS_FACTOR"]

#: Pixel limit per member when nothing is known about the samples (64 MP: 8192 x 8192).
DEFAULT_MAX_PIXELS = 1 << 26
#: With a manifest, a member may declare up to this many times the canvas's pixels.
CANVAS_FACTOR = 4

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# JPEG markers that carry a frame header: SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0..7: no length field


def declared_size(data: bytes) -> tuple[int, int]:
    """``(height, width)`` that a JPEG or PNG member declares in its header.

    Raises ``ValueError`` saying what is wrong when ``data`` is neither, or its header
    is missing or cut short.
    """
    head = bytes(data[:32])
    if head.startswith(_PNG_MAGIC):
        if len(head) < 24 or head[12:16] != b"IHDR":
            raise ValueError("PNG without an IHDR header")
        return int.from_bytes(head[20:24], "big"), int.from_bytes(head[16:20], "big")
    if head.startswith(b"\xff\xd8"):
        return _jpeg_frame_size(data)
    raise ValueError("neither JPEG nor PNG")


def _jpeg_frame_size(data: bytes) -> tuple[int, int]:
    """Walk the JPEG marker segments from SOI to the first frame header."""
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # EOI, SOS: no frame header before the data
            break
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker in _SOF:
            if length < 7 or pos + 9 > n:
                break
            return int.from_bytes(data[pos + 5:pos + 7], "big"), int.from_bytes(data[pos + 7:pos + 9], "big")
        if length < 2:
            break
        pos += 2 + length
    raise ValueError("JPEG without a readable frame header (SOF)")


def check_pixels(members: Mapping[str, bytes], limit: int) -> None:
    """Raise ``ValueError`` naming the member if any image member (``.jpg``/``.jpeg``/``.png``)
    of a sample declares more than ``limit`` pixels, or no size at all."""
    for name, data in members.items():
        if not name.endswith((".jpg", ".jpeg", ".png")):
            continue
        try:
            h, w = declared_size(data)
        except ValueError as e:
            raise ValueError(f"member {name!r}: {e}") from None
        if h * w > limit:
            raise ValueError(f"member {name!r} declares {w}x{h} pixels (WxH), over the limit of {limit} "
                             "(max_pixels): not decoded")
