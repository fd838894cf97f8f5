"""Decode only a band of rows of a JPEG written with a restart marker after every MCU row.

A baseline JPEG whose restart interval is one MCU row (``DRI`` = MCUs per row) can
be cut between rows: at each restart marker the entropy decoder resets its DC
predictions, so the entropy-coded data of MCU rows ``m0 .. m1 - 1`` is a
complete scan of its own. :func:`decode_rows` builds that smaller JPEG (the same
headers with the frame height patched, the rows' data, the restart markers
renumbered from ``RST0``) and decodes it, so a crop of a third of the image costs
about a third of the decode. :func:`shards.codec.encode_rgb` writes such JPEGs
with ``restart_rows=True``.

Only 4:4:4 colour and greyscale (every component sampled 1x1, 8x8 MCUs) are cut:
there each output pixel depends on its own 8x8 block only, so the band equals the
same rows of a full decode, bit for bit (also with DCT scaling). Anything else
(chroma subsampling, progressive or arithmetic coding, no per-row restarts, a
malformed stream) returns ``None`` and the caller decodes the whole image.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

try:
    import simplejpeg as _simplejpeg
except ImportError:  # pragma: no cover - simplejpeg is a soft dependency
    _simplejpeg = None

__all__ = ["decode_rows", "MCU"]

#: MCU side in px of a JPEG :func:`decode_rows` can cut (every component sampled 1x1).
MCU = 8

_RST = re.compile(rb"\xff[\xd0-\xd7]")
_SOF_BASELINE = (0xC0, 0xC1)  # baseline / extended sequential, Huffman
_SOF_OTHER = frozenset({0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


@dataclass(frozen=True)
class _Layout:
    header: bytes  # SOI .. end of the SOS segment
    height_at: int  # offset of the frame height (2 bytes, big endian) in `header`
    height: int
    width: int
    rows: tuple[tuple[int, int], ...]  # (start, end) of each MCU row's entropy data in the file


def _layout(data: bytes) -> _Layout | None:
    """Headers and per-MCU-row entropy segments of a cuttable JPEG, else None."""
    if data[:2] != b"\xff\xd8":
        return None
    pos, n = 2, len(data)
    frame: tuple[int, int, int] | None = None  # (height offset, height, width)
    interval = 0
    while True:
        if pos + 4 > n or data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        body = pos + 4
        if marker in _SOF_BASELINE:
            if length < 8 or body + length - 2 > n:
                return None
            height = int.from_bytes(data[body + 1:body + 3], "big")
            width = int.from_bytes(data[body + 3:body + 5], "big")
            components = data[body + 5]
            sampling = data[body + 7:body + 6 + 3 * components:3]
            if components not in (1, 3) or len(sampling) != components or any(s != 0x11 for s in sampling):
                return None  # chroma subsampling: rows are not independent after upsampling
            frame = (body + 1, height, width)
        elif marker in _SOF_OTHER:
            return None
        elif marker == 0xDD:  # DRI
            interval = int.from_bytes(data[body:body + 2], "big")
        elif marker == 0xDA:  # SOS: entropy-coded data follows
            start = pos + 2 + length
            break
        pos += 2 + length
    if frame is None or frame[1] == 0:
        return None
    height_at, height, width = frame
    if interval != math.ceil(width / MCU):
        return None
    end = data.rfind(b"\xff\xd9")
    if end < start:
        return None
    cuts = [m.start() for m in _RST.finditer(data, start, end)]
    n_rows = math.ceil(height / MCU)
    if len(cuts) != n_rows - 1:
        return None
    bounds = [start] + [c + 2 for c in cuts]
    rows = tuple(zip(bounds, cuts + [end]))
    return _Layout(bytes(data[:start]), height_at, height, width, rows)


def _band_jpeg(data: bytes, layout: _Layout, m0: int, m1: int) -> bytes:
    """A JPEG of MCU rows m0 .. m1 - 1: patched frame height, RSTs renumbered from RST0."""
    height = min(layout.height, m1 * MCU) - m0 * MCU
    header = bytearray(layout.header)
    header[layout.height_at:layout.height_at + 2] = height.to_bytes(2, "big")
    first, last = layout.rows[m0][0], layout.rows[m1 - 1][1]
    scan = bytearray(data[first:last])
    for j, row in enumerate(layout.rows[m0 + 1:m1]):
        scan[row[0] - 1 - first] = 0xD0 + (j % 8)  # the marker byte just before the row's data
    return bytes(header) + bytes(scan) + b"\xff\xd9"


def decode_rows(data: bytes, top: int, bottom: int, reduce: int = 1) -> tuple[np.ndarray, int] | None:
    """Rows ``[top, bottom)`` (stored pixels) of a JPEG, decoding only the MCU rows they touch.

    Args:
        data: JPEG bytes (see the module docstring for which can be cut).
        top, bottom: ``0 <= top < bottom <= height``.
        reduce: 1, 2, 4 or 8: decode at 1/``reduce`` size (DCT scaling).
    Returns:
        ``(band, first)``: ``uint8 (rows, ceil(W / reduce), 3)`` RGB whose row ``i`` covers stored rows
        ``first + i * reduce ..``; ``first`` is a multiple of 8 (so also of
        ``reduce``) at most ``top``; the band reaches at least ``bottom``.
        ``None`` if the JPEG cannot be cut (decode it whole instead).
    """
    if _simplejpeg is None or reduce not in (1, 2, 4, 8):
        return None
    layout = _layout(data)
    if layout is None or not 0 <= top < bottom <= layout.height:
        return None
    m0, m1 = top // MCU, math.ceil(bottom / MCU)
    if m0 == 0 and m1 == len(layout.rows):
        return None  # the whole image: nothing to save
    band = _band_jpeg(data, layout, m0, m1)
    rows = min(layout.height, m1 * MCU) - m0 * MCU
    eh, ew = -(-rows // reduce), -(-layout.width // reduce)
    try:
        img = _simplejpeg.decode_jpeg(band, colorspace="RGB", min_height=eh, min_width=ew, min_factor=reduce)
    except (ValueError, RuntimeError):
        return None
    if img.shape[:2] != (eh, ew):
        return None
    return img, m0 * MCU
