"""A fast path for the PNGs this project writes: inflate with ISA-L, unfilter in numpy.

``synth build`` writes ``alpha.png`` as an 8- or 16-bit grey PNG without row filters
(:func:`shards.codec.encode_alpha`), and its preparation cache keeps each foreground's F
as an 8-bit RGB PNG whose rows are all filtered "Up" (:func:`shards.codec.encode_rgb` with
``fast_png=True``: about as small as libpng's adaptive filters). Decoding those is
inflating the ``IDAT`` stream (ISA-L, the optional ``isal`` package, about twice as fast as
zlib) and adding each Up row to the one above: about 2.8x faster than OpenCV's libpng for
a 1024² matte, 2.9x for an 800 x 497 F against the adaptive-filter PNG libpng would have
written (``benchmarks/bench_png.py``).

:func:`decode_png_fast` takes only what it can decode exactly: a well-formed,
non-interlaced PNG of the asked colour type (grey at 8 or 16 bits, RGB at 8 bits) whose
chunks all pass their CRC, whose stream inflates to exactly the rows declared, every row
filtered None or Up. Anything else (another colour type or depth, a Sub/Average/Paeth row,
a bad CRC, a truncated or oversized stream, ``isal`` not installed) returns ``None``, and
the caller decodes with OpenCV as before, so errors and odd files behave exactly as they
always did.
"""
from __future__ import annotations

import struct
import zlib

import numpy as np

try:  # optional accelerator: without it every PNG goes to OpenCV
    from isal import isal_zlib as _inflate_lib
except ImportError:  # pragma: no cover - depends on the install
    _inflate_lib = None

__all__ = ["decode_png_fast", "available", "MAX_PIXELS", "GREY", "RGB"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG colour types: grey (8 or 16 bits) and RGB (8 bits).
GREY, RGB = 0, 2
#: Larger images go to OpenCV (which has its own limit): the fast path never allocates more.
MAX_PIXELS = 1 << 28
_FILTER_NONE, _FILTER_UP = 0, 2
_MAX_DEFLATE_RATIO = 1040  # deflate expands at most about 1032:1 (258-byte matches, 2 bits each)


def available() -> bool:
    """Whether the fast path is on (the ``isal`` package is importable)."""
    return _inflate_lib is not None


def _chunks(data: bytes, colour: int) -> tuple[tuple[int, int, int], list[memoryview]] | None:
    """``((height, width, bit_depth), idat_parts)`` of a PNG of colour type ``colour`` that may
    take the fast path, else None."""
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
            w, h, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", body)
            depths = (8, 16) if colour == GREY else (8,)
            if ctype != colour or depth not in depths or comp or filt or interlace or not (w and h):
                return None
            header = (h, w, depth)
        elif kind == b"IDAT":
            if header is None:
                return None
            parts.append(body)
        elif kind == b"IEND":
            return (header, parts) if header is not None and parts else None
        elif kind == b"tRNS" or not kind[0] & 0x20:  # a transparency key (OpenCV may add an alpha
            return None  # channel for it), or an unknown critical chunk (PLTE has no place here)
        pos = end
    return None  # no IEND


def _inflate_rows(stream: bytes, h: int, row: int, first: int = 16) -> np.ndarray | None:
    """The ``h`` rows of ``row`` bytes (filter byte first) a zlib ``stream`` inflates to, or None
    if it is not exactly that or a row is filtered other than None or Up. Inflated and checked
    in pieces of ``first`` rows, then twice as many each time, so that a PNG with other filters
    (most PNGs from elsewhere) is given up soon after its first such row."""
    out = np.empty(h * row, np.uint8)
    inflater, pending, pos, step = _inflate_lib.decompressobj(), stream, 0, first * row  # type: ignore[union-attr]
    try:
        while pos < out.size:
            piece = inflater.decompress(pending, min(step, out.size - pos))
            step *= 2
            pending = inflater.unconsumed_tail
            if not piece:
                return None  # the stream ends short
            out[pos:pos + len(piece)] = np.frombuffer(piece, np.uint8)
            filters = out[-(-pos // row) * row:pos + len(piece):row]  # the rows that start in this piece
            if np.count_nonzero((filters != _FILTER_NONE) & (filters != _FILTER_UP)):
                return None  # a Sub, Average or Paeth row: libpng unfilters it
            pos += len(piece)
        if not inflater.eof and inflater.decompress(pending, 1):  # take the stream's end (and checksum)
            return None  # more rows than declared
    except (zlib.error, _inflate_lib.error):  # type: ignore[union-attr]
        return None
    if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
        return None  # longer than the rows declared, or data after the stream
    return out.reshape(h, row)


def decode_png_fast(data: bytes, colour: int) -> np.ndarray | None:
    """Decode a PNG of colour type ``colour`` (:data:`GREY` or :data:`RGB`) whose rows are
    filtered None or Up: ``uint8``/``uint16 (H, W)`` grey or ``uint8 (H, W, 3)`` RGB (the
    values OpenCV's ``IMREAD_UNCHANGED`` gives, RGB in RGB order), or ``None`` when it cannot
    take the fast path (see the module docstring)."""
    if _inflate_lib is None or colour not in (GREY, RGB):
        return None
    parsed = _chunks(data, colour)
    if parsed is None:
        return None
    (h, w, depth), parts = parsed
    if h * w > MAX_PIXELS:
        return None
    channels = 1 if colour == GREY else 3
    row = 1 + w * channels * depth // 8
    stream = b"".join(parts)
    if h * row > _MAX_DEFLATE_RATIO * len(stream):
        return None  # more rows than any deflate stream of this size holds: a forged header
    rows = _inflate_rows(stream, h, row)
    if rows is None:
        return None
    up = np.flatnonzero(rows[:, 0] == _FILTER_UP)
    out = np.ascontiguousarray(rows[:, 1:])
    for i in up.tolist():  # each Up row adds the (decoded) row above, byte by byte, modulo 256
        if i:
            np.add(out[i], out[i - 1], out=out[i])
    if depth == 16:
        out = out.view(">u2").astype(np.uint16)
    return out if channels == 1 else out.reshape(h, w, 3)
