"""Decode only a window of a JPEG written with restart markers aligned to its block grid.

In a baseline JPEG with a restart interval of ``k`` MCUs, the entropy decoder resets
its DC predictions at every restart marker, so each interval's data is independent.
When ``k`` divides the MCUs per row, the intervals tile the image in strips of
``8k x 8`` pixels, and the intervals covering a window form a complete, smaller JPEG
of their own: :func:`decode_window` builds it (the same headers with the frame size
patched, the chosen intervals' data in raster order, the restart markers renumbered
from ``RST0``) and decodes it, so a crop of a quarter of the image costs about a
quarter of the decode. :func:`shards.codec.encode_rgb` writes such JPEGs with
``restart_markers=True`` (an interval of 8 MCUs = 64 px where the width allows, else
one MCU row).

Only 4:4:4 colour and greyscale (every component sampled 1x1, 8x8 MCUs) are cut:
there each output pixel depends on its own 8x8 block only, so the window equals the
same pixels of a full decode, bit for bit (also with DCT scaling). Anything else
(chroma subsampling, progressive or arithmetic coding, restarts not aligned with the
rows, a malformed stream) returns ``None`` and the caller decodes the whole image.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import simplejpeg

__all__ = ["decode_window", "cut_window", "restart_interval", "MCU"]

#: MCU side in px of a JPEG :func:`decode_window` can cut (every component sampled 1x1).
MCU = 8
#: Restart interval (MCUs) the encoder aims for: 8 MCUs = 64 px strips.
TARGET_INTERVAL = 8

_SOF_BASELINE = (0xC0, 0xC1)  # baseline / extended sequential, Huffman
_SOF_OTHER = frozenset({0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def restart_interval(mcus_per_row: int) -> int:
    """The restart interval (MCUs) to encode with: the largest divisor of the MCUs per row
    that is at most :data:`TARGET_INTERVAL`, or a whole row when that divisor is under 4
    (narrow strips cost bytes and gain little)."""
    if mcus_per_row < 1:
        raise ValueError(f"mcus_per_row must be >= 1, got {mcus_per_row}")
    k = max(d for d in range(1, TARGET_INTERVAL + 1) if mcus_per_row % d == 0)
    return k if k >= 4 else mcus_per_row


@dataclass(frozen=True)
class _Layout:
    header: bytes  # SOI .. end of the SOS segment
    size_at: int  # offset of the frame height (2 bytes) and width (next 2 bytes) in `header`
    height: int
    width: int
    interval: int  # MCUs per restart interval (divides the MCUs per row)
    per_row: int  # intervals per MCU row
    starts: np.ndarray  # (n_intervals,) offset of each interval's data in the file
    ends: np.ndarray  # (n_intervals,) offset just past it (its RST marker or EOI)


def _markers(data: bytes, start: int, end: int) -> np.ndarray:
    """Offsets of the RSTn markers (0xFF 0xD0..0xD7) in data[start:end] (entropy data stuffs
    every other 0xFF with 0x00, so these are exactly the restart markers)."""
    a = np.frombuffer(data, np.uint8, count=end - start + 1, offset=start)
    ff = np.flatnonzero(a[:-1] == 0xFF)
    nxt = a[ff + 1]
    return ff[(nxt >= 0xD0) & (nxt <= 0xD7)] + start


def _layout(data: bytes) -> _Layout | None:
    """Headers and restart intervals of a cuttable JPEG, else None."""
    if data[:2] != b"\xff\xd8":
        return None
    pos, n = 2, len(data)
    frame: tuple[int, int, int] | None = None  # (size offset, height, width)
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
            components = data[body + 5]
            sampling = data[body + 7:body + 6 + 3 * components:3]
            if components not in (1, 3) or len(sampling) != components or any(s != 0x11 for s in sampling):
                return None  # chroma subsampling: pixels depend on neighbouring blocks
            frame = (body + 1, int.from_bytes(data[body + 1:body + 3], "big"),
                     int.from_bytes(data[body + 3:body + 5], "big"))
        elif marker in _SOF_OTHER:
            return None
        elif marker == 0xDD:  # DRI
            interval = int.from_bytes(data[body:body + 2], "big")
        elif marker == 0xDA:  # SOS: entropy-coded data follows
            start = pos + 2 + length
            break
        pos += 2 + length
    if frame is None or frame[1] == 0 or frame[2] == 0 or interval == 0:
        return None
    size_at, height, width = frame
    mcus = math.ceil(width / MCU)
    if mcus % interval:
        return None  # intervals would wrap across rows
    end = data.rfind(b"\xff\xd9")
    if end < start:
        return None
    cuts = _markers(data, start, end)
    n_intervals = math.ceil(height / MCU) * (mcus // interval)
    if cuts.size != n_intervals - 1:
        return None
    starts = np.concatenate([[start], cuts + 2])
    ends = np.concatenate([cuts, [end]])
    return _Layout(bytes(data[:start]), size_at, height, width, interval, mcus // interval, starts, ends)


def _window_jpeg(data: bytes, lay: _Layout, rows: tuple[int, int], cols: tuple[int, int]
                 ) -> tuple[bytes, int, int]:
    """A JPEG of MCU rows ``rows`` and intervals ``cols`` of each row (half-open ranges),
    with its height and width in px: whole MCUs, so a window at the image's bottom or right
    edge includes the encoder's padding (a DCT-scaled decode then scales by exactly the factor
    asked for; a 2-px-high window could not be told apart at 1/2 and 1/8)."""
    height = min(-(-lay.height // MCU), rows[1]) * MCU - rows[0] * MCU
    width = min(-(-lay.width // MCU), cols[1] * lay.interval) * MCU - cols[0] * lay.interval * MCU
    header = bytearray(lay.header)
    header[lay.size_at:lay.size_at + 4] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    # Per MCU row, the chosen intervals are one run of the file (with their RST markers);
    # runs are joined by a marker, then every marker is renumbered from RST0 at once.
    firsts = np.arange(rows[0], rows[1]) * lay.per_row + cols[0]
    lasts = firsts + (cols[1] - cols[0] - 1)
    body = np.frombuffer(b"\xff\xd0".join(data[s:e] for s, e in zip(lay.starts[firsts].tolist(),
                                                                      lay.ends[lasts].tolist())), np.uint8).copy()
    idx = (firsts[:, None] + np.arange(cols[1] - cols[0])[None, :]).ravel()
    lengths = lay.ends[idx] - lay.starts[idx] + 2  # each interval and the marker after it
    at = np.cumsum(lengths[:-1]) - 1  # the second byte of each marker
    body[at] = 0xD0 + (np.arange(at.size) % 8)
    return bytes(header) + body.tobytes() + b"\xff\xd9", height, width


def cut_window(data: bytes, top: int, bottom: int, left: int, right: int
               ) -> tuple[bytes, int, int, int, int] | None:
    """The smaller JPEG holding pixels ``[top, bottom) x [left, right)`` (stored px), cut
    without decoding anything (for a decoder elsewhere, e.g. on a GPU).

    Returns ``(jpeg, first_row, first_col, rows, cols)``: the window JPEG, whose pixel
    ``(i, j)`` is stored pixel ``(first_row + i, first_col + j)`` (multiples of 8, at most
    ``top``/``left``), and the size of the image's part of it (the JPEG itself may be
    up to 7 px larger: the encoder's padding at the image's bottom and right edges).
    ``None`` if the JPEG cannot be cut (see the module docstring) or the window needs all of it.
    """
    lay = _layout(data)
    if lay is None or not (0 <= top < bottom <= lay.height and 0 <= left < right <= lay.width):
        return None
    strip = lay.interval * MCU
    rows = (top // MCU, math.ceil(bottom / MCU))
    cols = (left // strip, math.ceil(right / strip))
    if rows == (0, math.ceil(lay.height / MCU)) and cols == (0, lay.per_row):
        return None  # the whole image: nothing to save
    window, _, _ = _window_jpeg(data, lay, rows, cols)
    y0, x0 = rows[0] * MCU, cols[0] * strip
    return window, y0, x0, min(lay.height, rows[1] * MCU) - y0, min(lay.width, cols[1] * strip) - x0


def decode_window(data: bytes, top: int, bottom: int, left: int, right: int, reduce: int = 1
                  ) -> tuple[np.ndarray, int, int] | None:
    """Pixels ``[top, bottom) x [left, right)`` (stored px) of a JPEG, decoding only the
    restart intervals they touch.

    Args:
        data: JPEG bytes (see the module docstring for which can be cut).
        top, bottom, left, right: a non-empty window inside the image.
        reduce: 1, 2, 4 or 8: decode at 1/``reduce`` size (DCT scaling).
    Returns:
        ``(array, first_row, first_col)``: ``uint8 (rows, cols, 3)`` RGB whose pixel
        ``(i, j)`` covers stored pixels from ``(first_row + i r, first_col + j r)``;
        ``first_row``/``first_col`` are multiples of 8 (so of ``reduce``) at most
        ``top``/``left``, and the array reaches at least ``bottom``/``right``.
        ``None`` if the JPEG cannot be cut, or the window needs all of it.
    """
    if reduce not in (1, 2, 4, 8):
        return None
    cut = cut_window(data, top, bottom, left, right)
    if cut is None:
        return None
    window, y0, x0, h, w = cut
    ph, pw = -(-h // MCU) * MCU, -(-w // MCU) * MCU  # whole MCUs, as _window_jpeg wrote them
    try:
        img = simplejpeg.decode_jpeg(window, colorspace="RGB", min_height=ph // reduce, min_width=pw // reduce,
                                     min_factor=reduce)
    except (ValueError, RuntimeError):
        return None
    if img.shape[:2] != (ph // reduce, pw // reduce):
        return None
    return img[: -(-h // reduce), : -(-w // reduce)], y0, x0
