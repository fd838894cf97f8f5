"""The worker half of the device path (``MattingDataset(device=...)``): everything that is
drawn, nothing that is decoded but the alpha.

A DataLoader worker reads the sample, decodes its alpha PNG (the crop is centred on an
unknown pixel of it), draws every random choice from the sample's keyed streams exactly as
:mod:`shards.online_augment` does (scale jitter, crop window, band, flip, photometric
parameters, guidance parameters), and hands the device what it needs to finish:

- ``src_<name>`` (``image``, ``fg``, ``bg``): the encoded JPEG of the crop window, cut
  out of the stored JPEG without decoding (:func:`shards.jpeg_window.cut_window`; the whole
  JPEG when it cannot be cut): ``uint8 (n,)``; or the window's pixels ``uint8 (h, w, 3)``,
  decoded here, for a PNG member and for the layers not in ``device_decode``.
  ``box_<name>``: ``int64 (4,)`` ``(top, left, h, w)`` of the window in that source's
  decoded pixels.
- ``alpha_src``: the stored alpha over the window and the trimap's margin, at its stored
  depth (``uint8``, or ``int32`` holding 16-bit values), ``(h, w)``; ``trimap_src``: the
  stored trimap over the same region when the stored trimap is asked for.
- ``geo``: ``float64 (len(GEO_FIELDS),)``, see :data:`GEO_FIELDS`.
- ``photo``: ``float64 (11,)`` photometric parameters (:func:`sample_photometric`), when on.
- ``guidance``: the :class:`augment.guidance.Guidance` parameters, drawn on the final alpha
  computed here (one channel, cheap) exactly as the CPU path draws them.

:mod:`shards.device_stage` decodes (nvJPEG on a GPU), resizes, flips, jitters and makes the
trimap and guidance on the device. Everything here is numpy; nothing imports torch.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from augment.crop import Crop
from augment.flip import apply_flip

from .codec import decode_rgb, decode_trimap, jpeg_size, sniff_format
from .config import DEVICE_DECODE, AugmentConfig
from .jpeg_window import cut_window
from .online_augment import draw_geometry, guidance_params, needs_trimap, photometric_rng
from .window import StoredAlpha, decode_rgb_window, resize_window

__all__ = ["prepare_device_sample", "sample_photometric", "GEO_FIELDS"]

#: The fields of ``geo``: the flip (0/1), the trimap band in output px (-1: no fresh trimap),
#: the trimap margins in output px, stored px per output px, the window in ``alpha_src``
#: (top, left, h, w), the alpha's unit (1/255 or 1/65535) and the band's reach on the
#: background side (``band_outer``; equal to the band when not drawn apart).
GEO_FIELDS = ("flip", "band", "m_top", "m_bottom", "m_left", "m_right", "ky", "kx",
              "win_y", "win_x", "win_h", "win_w", "unit", "band_out")


def sample_photometric(rng: np.random.Generator, strength: float) -> np.ndarray:
    """Photometric jitter parameters at ``strength`` in (0, 1], with the CPU path's ranges:
    ``float64 (11,)``: colour jitter on (p 0.8), brightness, contrast, saturation factors in
    [1 - 0.3 s, 1 + 0.3 s], hue shift in [-0.05 s, 0.05 s] turns, the order of those four
    (a permutation of 0..3), gamma on (p 0.5), gamma in [1 - 0.3 s, 1 + 0.3 s]."""
    s = float(strength)
    jitter = float(rng.random() < 0.8)
    factors = rng.uniform(1 - 0.3 * s, 1 + 0.3 * s, 3)
    hue = rng.uniform(-0.05 * s, 0.05 * s)
    order = rng.permutation(4).astype(np.float64)
    gamma_on = float(rng.random() < 0.5)
    gamma = rng.uniform(1 - 0.3 * s, 1 + 0.3 * s)
    return np.array([jitter, *factors, hue, *order, gamma_on, gamma], np.float64)


def _member(members: Mapping[str, bytes], stem: str) -> bytes:
    for ext in ("jpg", "png", "jpeg"):
        data = members.get(f"{stem}.{ext}")
        if data is not None:
            return data
    raise ValueError(f"sample has no {stem}.jpg / {stem}.png member (members: {sorted(members)})")


def _source(data: bytes, hw: tuple[int, int], window: Crop, name: str, on_device: bool
            ) -> tuple[np.ndarray, np.ndarray]:
    """The member's source for the device and the window's box in its decoded pixels: the
    window's JPEG when ``on_device`` (it decodes it), else the window's pixels."""
    top, left, wh, ww = window.top, window.left, window.h, window.w
    if sniff_format(data) == "jpg":
        if jpeg_size(data) != hw:
            raise ValueError(f"member {name} is {jpeg_size(data)} but alpha is {hw}")
        if not on_device:  # decoded here, as little as the window needs (as the CPU path does)
            img, _, (y0, x0) = decode_rgb_window(data, 1, hw, window, name)
            win = img[top - y0:top - y0 + wh, left - x0:left - x0 + ww]
            return np.ascontiguousarray(win), np.array([0, 0, wh, ww], np.int64)
        cut = cut_window(data, top, top + wh, left, left + ww)
        if cut is not None:
            jpeg, y0, x0, _, _ = cut
            return np.frombuffer(jpeg, np.uint8), np.array([top - y0, left - x0, wh, ww], np.int64)
        return np.frombuffer(data, np.uint8), np.array([top, left, wh, ww], np.int64)
    img = decode_rgb(data)
    if img.shape[:2] != hw:
        raise ValueError(f"member {name} is {img.shape[:2]} but alpha is {hw}")
    return np.ascontiguousarray(img[top:top + wh, left:left + ww]), np.array([0, 0, wh, ww], np.int64)


def _margins(hw: tuple[int, int], window: Crop, out_hw: tuple[int, int], band: int | None
             ) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """The trimap margins (top, bottom, left, right) in output px, as
    :func:`shards.window.trimap_with_margin` takes them, and the stored region
    (y0, y1, x0, x1) that covers the window and the margins' bilinear taps."""
    h, w = hw
    oh, ow = out_hw
    ky, kx = window.h / oh, window.w / ow
    if band is None or band <= 0:
        return (0, 0, 0, 0), (window.top, window.top + window.h, window.left, window.left + window.w)
    m = band + 1
    top = min(m, math.floor(window.top / ky))
    bottom = min(m, math.floor((h - window.top - window.h) / ky))
    left = min(m, math.floor(window.left / kx))
    right = min(m, math.floor((w - window.left - window.w) / kx))

    def src(pos: float, k: float, origin: int, pad: int) -> float:  # ext pixel -> stored coordinate
        return origin + (pos - pad + 0.5) * k - 0.5

    y0 = min(window.top, max(0, math.floor(src(0, ky, window.top, top)) - 1))
    y1 = max(window.top + window.h, min(h, math.ceil(src(oh + top + bottom - 1, ky, window.top, top)) + 2))
    x0 = min(window.left, max(0, math.floor(src(0, kx, window.left, left)) - 1))
    x1 = max(window.left + window.w, min(w, math.ceil(src(ow + left + right - 1, kx, window.left, left)) + 2))
    return (top, bottom, left, right), (y0, y1, x0, x1)


def prepare_device_sample(members: Mapping[str, bytes], seed: list[int], *, crop: tuple[int, int],
                          config: AugmentConfig, outputs: frozenset[str],
                          device_decode: tuple[str, ...] = DEVICE_DECODE) -> dict[str, Any]:
    """The worker's part of one sample for the device path (see the module docstring).

    ``members``: the sample's encoded members; ``seed``: its seed sequence
    (:func:`shards.order.sample_seed`); ``device_decode``: the layers whose JPEG the device
    decodes (the others are decoded here). Raises ``ValueError`` for missing or malformed members.
    """
    if "alpha.png" not in members:
        raise ValueError(f"sample has no alpha.png member (members: {sorted(members)})")
    alpha = StoredAlpha(members["alpha.png"])
    trimap_wanted = needs_trimap(outputs, config)
    geo = draw_geometry(alpha, seed, crop, config, trimap_wanted and config.trimap == "fresh")
    window = geo.window
    assert window is not None  # crop is set
    out: dict[str, Any] = {}
    for name in ("image", "fg", "bg"):
        if name in outputs:
            out[f"src_{name}"], out[f"box_{name}"] = _source(_member(members, name), alpha.shape, window, name,
                                                             name in device_decode)

    (mt, mb, ml, mr), (y0, y1, x0, x1) = _margins(alpha.shape, window, crop, geo.reach)
    raw = alpha.raw[y0:y1, x0:x1]
    out["alpha_src"] = np.ascontiguousarray(raw if raw.dtype == np.uint8 else raw.astype(np.int32))
    if trimap_wanted and config.trimap == "stored":
        data = members.get("trimap.png")
        if data is None:
            raise ValueError(f"sample has no trimap.png member (members: {sorted(members)})")
        trimap = decode_trimap(data)
        if trimap.shape != alpha.shape:
            raise ValueError(f"member trimap is {trimap.shape} but alpha is {alpha.shape}")
        out["trimap_src"] = np.ascontiguousarray(trimap[y0:y1, x0:x1])
    out["geo"] = np.array([float(geo.flip.horizontal), -1.0 if geo.band is None else float(geo.band),
                           mt, mb, ml, mr, window.h / crop[0], window.w / crop[1],
                           window.top - y0, window.left - x0, window.h, window.w, float(alpha.unit),
                           -1.0 if geo.outer is None else float(geo.outer)], np.float64)
    if config.photometric > 0 and "image" in outputs:
        out["photo"] = sample_photometric(photometric_rng(seed), config.photometric)
    if "guidance" in outputs:
        rows, cols = slice(window.top, window.top + window.h), slice(window.left, window.left + window.w)
        final = resize_window(alpha.float(rows, cols), Crop(0, 0, window.h, window.w), 1, crop, "alpha")
        final = np.ascontiguousarray(apply_flip(geo.flip, final))
        out["guidance"] = guidance_params(final, seed, config.guidance)
    return out
