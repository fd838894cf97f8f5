"""A fast path for the grey PNGs this project writes: inflate with ISA-L, no unfiltering.

``synth build`` writes ``alpha.png`` as an 8- or 16-bit grey PNG without per-row
filters (:func:`shards.codec.encode_alpha`), so decoding one is inflating its
``IDAT`` stream and dropping each row's filter byte. ISA-L's inflate (the optional
``isal`` package) does that in about half the time OpenCV's libpng takes for a
1024² matte, and the loader decodes every sample's alpha in full (its crop is drawn
on the whole matte).

:func:`decode_grey_png` takes only what it can decode exactly: a well-formed,
non-interlaced 8/16-bit grey PNG whose chunks all pass their CRC, whose stream
inflates to exactly the rows declared, every row with filter type 0. Anything else
(another colour type, a filtered row, a bad CRC, a truncated or oversized stream,
``isal`` not installed) returns ``None``, and the caller decodes with OpenCV as
before, so errors and odd files behave exactly as they always did.
"""
from __future__ import annotations

import struct
import zlib

import numpy as np

try:  # optional accelerator: without it every PNG goes to OpenCV
    from isal import isal_zlib as _inflate_lib
except ImportError:  # pragma: no cover - depends on the install
    _inflate_lib = None

__all__ = ["decode_grey_png", "available", "MAX_PIXELS"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Larger images go to OpenCV (which has its own limit): the fast path never allocates more.
MAX_PIXELS = 1 << 28


def available() -> bool:
    """Whether the fast path is on (the ``isal`` package is importable)."""
    return _inflate_lib is not None


def _chunks(data: bytes) -> tuple[tuple[int, int, int], list[memoryview]] | None:
    """``((height, width, bit_depth), idat_parts)`` of a PNG that may take the fast path."""
    if data[:8] != _SIGNATURE:
        return None
    view = memoryview(data)
    pos, n = 8, len(data)
    header: tuple[int, int, int] | None = None
    parts: list[memoryview] = []
    while pos + 12 <= n:
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > n:
            return None
        body = view[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
        if zlib.crc32(view[pos + 4:pos + 8 + length]) != crc:
            return None
        if kind == b"IHDR":
            if header is not None or length != 13 or pos != 8:
                return None
            w, h, depth, colour, comp, filt, interlace = struct.unpack(">IIBBBBB", body)
            if colour != 0 or depth not in (8, 16) or comp or filt or interlace or not (w and h):
                return None
            header = (h, w, depth)
        elif kind == b"IDAT":
            if header is None:
                return None
            parts.append(body)
        elif kind == b"IEND":
            return (header, parts) if header is not None and parts else None
        elif not kind[0] & 0x20:  # an unknown critical chunk (PLTE has no place in grey)
            return None
        pos = end
    return None  # no IEND


def decode_grey_png(data: bytes) -> np.ndarray | None:
    """Decode a grey PNG without row filters to ``uint8`` or ``uint16 (H, W)`` (the values
    OpenCV's ``IMREAD_UNCHANGED`` gives), or ``None`` when it cannot take the fast path
    (see the module docstring)."""
    if _inflate_lib is None:
        return None
    parsed = _chunks(data)
    if parsed is None:
        return None
    (h, w, depth), parts = parsed
    if h * w > MAX_PIXELS:
        return None
    row = 1 + w * depth // 8
    size = h * row
    inflater = _inflate_lib.decompressobj()
    try:
        raw = inflater.decompress(b"".join(parts), size)
    except (zlib.error, _inflate_lib.error):  # type: ignore[union-attr]
        return None
    if len(raw) != size or not inflater.eof or inflater.unused_data:
        return None  # short, longer than the rows declared, or data after the stream
    rows = np.frombuffer(raw, np.uint8).reshape(h, row)
    if rows[:, 0].any():
        return None  # a filtered row: libpng unfilters it
    if depth == 8:
        return np.ascontiguousarray(rows[:, 1:])
    return rows[:, 1:].view(">u2").astype(np.uint16)
