"""The crop window of a stored sample: chosen on the stored alpha, decoded as little as it
needs, resized onto the output grid, and its fresh trimap.

Every target lands on one output grid (pixel centres map to the same stored positions):
image, fg, bg and alpha are resized by :func:`augment.resize.resize_to` with
``linear_min_scale=LINEAR_MIN_SCALE`` (INTER_LINEAR when the window grows or shrinks by
a factor >= 0.5, INTER_AREA below, alpha renormalised, never nearest), a stored trimap
by pixel-centre nearest neighbour. When the window shrinks 2x, 4x or 8x or more, JPEG
members are decoded at 1/2, 1/4 or 1/8 size (DCT scaling), and JPEGs with restart
markers on their block grid only over the window (:mod:`shards.jpeg_window`).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from augment.crop import Crop, sample_crop_around, sample_unknown_crop
from augment.resize import resize_to
from augment.trimap import alpha_to_uint8, make_trimap

from .codec import alpha_unit, decode_alpha_stored, decode_jpeg_reduced, decode_rgb, jpeg_size, sniff_format
from .jpeg_window import decode_window

__all__ = ["StoredAlpha", "LINEAR_MIN_SCALE", "reduction", "decode_rgb_window", "resize_window",
           "trimap_with_margin"]

#: Shrink factors (output / window) at or above this use INTER_LINEAR, whose aliasing is
#: negligible there and which is several times faster than INTER_AREA; below it INTER_AREA.
LINEAR_MIN_SCALE = 0.5
#: JPEG DCT-scaling factors (libjpeg decodes at 1/2, 1/4, 1/8 of the size for a fraction of the cost).
_REDUCTIONS = (8, 4, 2)


class StoredAlpha:
    """The decoded alpha PNG kept at its stored depth (uint8 or uint16): the crop is sampled
    on the integers and only the pixels used are converted to float32 [0, 1], with exactly
    the values :func:`shards.codec.decode_alpha` gives."""

    def __init__(self, data: bytes) -> None:
        self.raw = decode_alpha_stored(data)
        self.unit = alpha_unit(self.raw.dtype)
        self.shape: tuple[int, int] = self.raw.shape  # type: ignore[assignment]

    def float(self, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
        return self.raw[rows, cols].astype(np.float32) * self.unit

    def unknown_crop(self, rng: np.random.Generator, crop_hw: tuple[int, int]) -> Crop:
        """``augment.crop.sample_unknown_crop(rng, alpha, crop_hw)`` (same draws, same window)."""
        if self.raw.dtype != np.uint8:
            return sample_unknown_crop(rng, self.float(), crop_hw)
        # 0 < rint(255 a) < 255, i.e. the stored 8-bit value in [1, 254]; as a bool mask (0/1
        # bytes), which sample_crop_around counts without another pass
        unknown = cv2.inRange(self.raw, 1, 254)
        return sample_crop_around(rng, np.bitwise_and(unknown, 1, out=unknown).view(np.bool_), crop_hw)


def reduction(win: tuple[int, int], crop: tuple[int, int]) -> int:
    """Largest r in (8, 4, 2) with ``win // r >= crop`` on both axes (the window shrinks by
    at least r), else 1. A pure function of the sampled sizes, so decoding stays deterministic."""
    for r in _REDUCTIONS:
        if win[0] // r >= crop[0] and win[1] // r >= crop[1]:
            return r
    return 1


def decode_rgb_window(data: bytes, reduce: int, hw: tuple[int, int], window: Crop | None, name: str
                      ) -> tuple[np.ndarray, int, tuple[int, int]]:
    """Decode an RGB member of stored size ``hw``, as little of it as ``window`` needs.

    A JPEG with restart markers on its block grid is decoded only over the window
    (:func:`shards.jpeg_window.decode_window`), and any JPEG at 1/``reduce`` of the size
    (DCT scaling, ``ceil(hw / reduce)`` pixels: pixel j covers stored pixels [j r, j r + r))
    when ``reduce > 1``. Returns ``(array, r, origin)``: r the reduction applied (1 or
    ``reduce``), ``origin`` the stored (row, col) of the array's first pixel (multiples
    of 8 and of r).
    """
    h, w = hw
    if sniff_format(data) == "jpg" and (reduce > 1 or window is not None):
        try:
            if jpeg_size(data) == (h, w):
                if window is not None:
                    part = decode_window(data, window.top, window.top + window.h, window.left,
                                         window.left + window.w, reduce)
                    if part is not None:
                        return part[0], reduce, (part[1], part[2])
                if reduce > 1:
                    img = decode_jpeg_reduced(data, hw, reduce)
                    if img.shape == (-(-h // reduce), -(-w // reduce), 3):
                        return img, reduce, (0, 0)
        except (ValueError, RuntimeError):
            pass  # decode_rgb below reports a clear failure
    img = decode_rgb(data)
    if img.shape[:2] != (h, w):
        raise ValueError(f"member {name} is {img.shape[:2]} but alpha is {(h, w)}")
    return img, 1, (0, 0)


def resize_window(arr: np.ndarray, window: Crop, r: int, out_hw: tuple[int, int], kind: str) -> np.ndarray:
    """Cut ``window`` (stored pixels; its corner and sides multiples of ``r``) out of ``arr``
    (stored size reduced ``r`` times) and resize it to ``out_hw`` (see the module docstring)."""
    t, l, wh, ww = window.top // r, window.left // r, window.h // r, window.w // r
    sub = arr[t:t + wh, l:l + ww]
    return resize_to(sub, out_hw, kind, linear_min_scale=LINEAR_MIN_SCALE)  # type: ignore[arg-type]


def _to_u8(alpha: np.ndarray) -> np.ndarray:
    return alpha_to_uint8(alpha, validate=False)


def trimap_with_margin(alpha: StoredAlpha, window: Crop, alpha_out: np.ndarray, band: int,
                       outer: int | None = None) -> np.ndarray:
    """``make_trimap(·, band, outer)`` of the resized window ``alpha_out`` as if computed on the
    whole resized alpha: the distance transforms see a margin of ``max(band, outer) + 1``
    output pixels around the window (within the image; the image border itself does not
    erode). The margin is resampled from the stored alpha on the same output grid (bilinear),
    strip by strip; inside the window the trimap sees exactly ``alpha_out``."""
    oh, ow = alpha_out.shape
    reach = band if outer is None else max(band, outer)
    if reach <= 0:
        return make_trimap(_to_u8(alpha_out), band, outer)
    h, w = alpha.shape
    ky, kx = window.h / oh, window.w / ow  # stored pixels per output pixel
    m = reach + 1
    top = min(m, math.floor(window.top / ky))
    bottom = min(m, math.floor((h - window.top - window.h) / ky))
    left = min(m, math.floor(window.left / kx))
    right = min(m, math.floor((w - window.left - window.w) / kx))
    if top == bottom == left == right == 0:
        return make_trimap(_to_u8(alpha_out), band, outer)
    eh, ew = oh + top + bottom, ow + left + right
    a8 = np.empty((eh, ew), np.uint8)
    a8[top:top + oh, left:left + ow] = _to_u8(alpha_out)

    def src(pos: float, k: float, origin: int, pad: int) -> float:  # ext pixel -> stored coordinate
        return origin + (pos - pad + 0.5) * k - 0.5

    strips = ((0, top, 0, ew), (top + oh, eh, 0, ew), (top, top + oh, 0, left), (top, top + oh, left + ow, ew))
    for r0, r1, c0, c1 in strips:
        if r1 <= r0 or c1 <= c0:
            continue
        sy0, sy1 = src(r0, ky, window.top, top), src(r1 - 1, ky, window.top, top)
        sx0, sx1 = src(c0, kx, window.left, left), src(c1 - 1, kx, window.left, left)
        y0, y1 = max(0, math.floor(sy0) - 1), min(h, math.ceil(sy1) + 2)
        x0, x1 = max(0, math.floor(sx0) - 1), min(w, math.ceil(sx1) + 2)
        mat = np.array([[kx, 0.0, sx0 - x0], [0.0, ky, sy0 - y0]])
        part = cv2.warpAffine(alpha.float(slice(y0, y1), slice(x0, x1)), mat, (c1 - c0, r1 - r0),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        np.clip(part, 0.0, 1.0, out=part)
        a8[r0:r1, c0:c1] = _to_u8(part)
    return make_trimap(a8, band, outer)[top:top + oh, left:left + ow]
