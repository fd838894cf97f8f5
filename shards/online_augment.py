"""Per-epoch augmentation of one decoded sample, drawn from ``(seed, epoch, index)``.

Steps, in order, each with its own generator
``np.random.default_rng([*sample_seed(seed, epoch, index), step])`` so that
switching one step on or off never changes the draws of the others:

1. **Scale jitter and crop** (``crop`` set): a scale ``s`` drawn from
   ``scale`` (raised so the image covers the crop), then a window of
   ``crop / s`` stored pixels centred on a uniformly drawn unknown pixel
   (``0 < alpha < 1``; uniform over the image when there is none), chosen on
   the alpha before anything else is decoded. Only the window is resized to
   ``crop``, with one scale for both axes (aspect preserved), on one output
   grid for every target: image, fg, bg and alpha bilinearly (INTER_LINEAR)
   when the window grows or shrinks by a factor >= ``LINEAR_MIN_SCALE`` (0.5),
   by INTER_AREA for stronger shrinks (alpha renormalised, never nearest); a
   stored trimap by pixel-centre nearest neighbour. When the window shrinks
   2x, 4x or 8x or more, JPEG members are decoded at 1/2, 1/4 or 1/8 size
   (DCT scaling; the window's corner and sides are then multiples of that
   factor, so it lies on the reduced pixel grid). JPEGs written with restart
   markers on their block grid (``synth build`` writes them so) are decoded
   only over the window (:mod:`shards.jpeg_window`; bit-identical to cutting a
   full decode). Only the members the requested ``outputs`` need are decoded.
2. **Trimap**: a fresh one from the augmented alpha every epoch, with a band
   width drawn from ``band`` pixels at ``band_reference`` long side (scaled
   to the resolution of the jittered image), or the stored one. A fresh one
   is computed on the crop plus a margin of ``band + 1`` output pixels (the
   alpha resampled on the same grid), so it equals the crop of the trimap of
   the whole jittered alpha, also at the crop border.
3. **Flips**: horizontal with probability ``flip_p``.
4. **Re-compositing** (probability ``recomposite_p``): the stored fg is
   composited onto a different stored bg (another sample's, chosen by the
   stream), cover-cropped to the output size; ``bg`` becomes that bg.
5. **Photometric jitter** (``photometric`` > 0): the image only; alpha, fg,
   bg and trimap are never touched.

Arrays follow CONVENTIONS.md: uint8 (H, W, 3) RGB, alpha float32 (H, W) in
[0, 1], trimap uint8 (H, W) in {0, 128, 255}.
"""
from __future__ import annotations

import math
from typing import Mapping

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from augment.compose import composite
from augment.crop import Crop, sample_crop_around, sample_scale_jitter, sample_unknown_crop
from augment.flip import apply_flip, sample_flip
from augment.photometric import photometric_jitter
from augment.resize import apply_cover_crop, resize_to, sample_cover_crop
from augment.targets import keep_channels
from augment.trimap import make_trimap, sample_band_px

from .codec import _simplejpeg, decode_rgb, decode_trimap, sniff_format
from .jpeg_window import decode_window

__all__ = ["AugmentConfig", "augment_sample", "OUTPUTS"]

#: What a sample can output.
OUTPUTS = ("image", "alpha", "trimap", "fg", "bg")

# Step numbers appended to the sample seed (fixed forever: changing them changes every draw).
_STEP_SCALE, _STEP_CROP, _STEP_FLIP, _STEP_BAND, _STEP_RECOMP, _STEP_PHOTO = 1, 2, 3, 4, 5, 6


class AugmentConfig(BaseModel):
    """Online augmentation settings (validated, bounded).

    ``scale``: range of the zoom factor applied before the crop (1 = stored
    resolution, > 1 zooms in); ``band``: unknown band width range in pixels at
    ``band_reference`` long side; ``photometric``: jitter strength in [0, 1]
    (0 = off); ``recomposite_p``: probability of re-compositing fg onto
    another sample's bg.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    scale: tuple[float, float] = (0.75, 1.5)
    flip_p: float = Field(0.5, ge=0.0, le=1.0)
    trimap: str = Field("fresh", pattern="^(fresh|stored)$")
    band: tuple[int, int] = (1, 29)
    band_reference: int = Field(640, ge=16, le=16384)
    photometric: float = Field(0.0, ge=0.0, le=1.0)
    recomposite_p: float = Field(0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ranges(self) -> "AugmentConfig":
        lo, hi = self.scale
        if not (0.05 <= lo <= hi <= 20.0):
            raise ValueError(f"scale must satisfy 0.05 <= lo <= hi <= 20, got {self.scale}")
        b0, b1 = self.band
        if not (0 <= b0 <= b1 <= 512):
            raise ValueError(f"band must satisfy 0 <= lo <= hi <= 512, got {self.band}")
        return self


def _rng(seed: list[int], step: int) -> np.random.Generator:
    return np.random.default_rng([*seed, step])


def _find(members: Mapping[str, bytes], stem: str) -> bytes | None:
    for ext in ("jpg", "png", "jpeg"):
        data = members.get(f"{stem}.{ext}")
        if data is not None:
            return data
    return None


def _require(members: Mapping[str, bytes], stem: str) -> bytes:
    data = _find(members, stem)
    if data is None:
        raise ValueError(f"sample has no {stem}.jpg / {stem}.png member (members: {sorted(members)})")
    return data


#: Shrink factors (output / window) at or above this use INTER_LINEAR, whose aliasing is
#: negligible there and which is several times faster than INTER_AREA; below it INTER_AREA.
LINEAR_MIN_SCALE = 0.5
#: JPEG DCT-scaling factors (libjpeg decodes at 1/2, 1/4, 1/8 of the size for a fraction of the cost).
_REDUCTIONS = (8, 4, 2)


def _reduction(win: tuple[int, int], crop: tuple[int, int]) -> int:
    """Largest r in (8, 4, 2) with ``win // r >= crop`` on both axes (the window shrinks by
    at least r), else 1. A pure function of the sampled sizes, so decoding stays deterministic."""
    for r in _REDUCTIONS:
        if win[0] // r >= crop[0] and win[1] // r >= crop[1]:
            return r
    return 1


def _decode_rgb_window(data: bytes, reduce: int, hw: tuple[int, int], window: Crop | None, name: str
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
    if _simplejpeg is not None and sniff_format(data) == "jpg" and (reduce > 1 or window is not None):
        try:
            jh, jw, _, _ = _simplejpeg.decode_jpeg_header(data)
            if (jh, jw) == (h, w):
                if window is not None:
                    part = decode_window(data, window.top, window.top + window.h, window.left,
                                         window.left + window.w, reduce)
                    if part is not None:
                        return part[0], reduce, (part[1], part[2])
                if reduce > 1:
                    eh, ew = -(-h // reduce), -(-w // reduce)
                    img = _simplejpeg.decode_jpeg(data, colorspace="RGB", min_height=eh, min_width=ew,
                                                  min_factor=reduce)
                    if img.shape == (eh, ew, 3):
                        return img, reduce, (0, 0)
        except (ValueError, RuntimeError):
            pass  # decode_rgb below reports a clear failure
    img = decode_rgb(data)
    if img.shape[:2] != (h, w):
        raise ValueError(f"member {name} is {img.shape[:2]} but alpha is {(h, w)}")
    return img, 1, (0, 0)


def _resize_window(arr: np.ndarray, window: Crop, r: int, out_hw: tuple[int, int], kind: str) -> np.ndarray:
    """Cut ``window`` (stored pixels; its corner and sides multiples of ``r``) out of ``arr``
    (stored size reduced ``r`` times) and resize it to ``out_hw``: trimaps by pixel-centre
    nearest neighbour, image/alpha by INTER_LINEAR (growing, or shrinking by a factor
    >= LINEAR_MIN_SCALE) or INTER_AREA (stronger shrinks; alpha renormalised). Every kind
    lands on the same output grid (pixel centres map to the same stored positions)."""
    t, l, wh, ww = window.top // r, window.left // r, window.h // r, window.w // r
    sub = arr[t:t + wh, l:l + ww]
    oh, ow = out_hw
    if (wh, ww) == (oh, ow):
        return sub
    if kind != "trimap" and min(oh / wh, ow / ww) >= LINEAR_MIN_SCALE:
        return keep_channels(cv2.resize(sub, (ow, oh), interpolation=cv2.INTER_LINEAR), sub)
    return resize_to(sub, out_hw, kind)  # type: ignore[arg-type]


class _Alpha:
    """The decoded alpha PNG kept at its stored depth (uint8 or uint16): the crop is sampled
    on the integers and only the pixels used are converted to float32 [0, 1], with exactly
    the values :func:`shards.codec.decode_alpha` gives."""

    def __init__(self, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
            raise ValueError("decode_alpha: empty data or not bytes")
        raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if raw is None:
            raise ValueError(f"decode_alpha: cannot decode {len(data)} bytes")
        if raw.ndim != 2:
            raise ValueError(f"decode_alpha: expected a single-channel image, got shape {raw.shape}")
        if raw.dtype == np.uint8:
            self.unit = np.float32(1.0 / 255.0)
        elif raw.dtype == np.uint16:
            self.unit = np.float32(1.0 / 65535.0)
        else:
            raise ValueError(f"decode_alpha: unsupported depth {raw.dtype}")
        self.raw = raw
        self.shape: tuple[int, int] = raw.shape  # type: ignore[assignment]

    def float(self, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
        return self.raw[rows, cols].astype(np.float32) * self.unit

    def unknown_crop(self, rng: np.random.Generator, crop_hw: tuple[int, int]) -> Crop:
        """``augment.crop.sample_unknown_crop(rng, alpha, crop_hw)`` (same draws, same window)."""
        if self.raw.dtype != np.uint8:
            return sample_unknown_crop(rng, self.float(), crop_hw)
        # 0 < rint(255 a) < 255, i.e. the stored 8-bit value in [1, 254]
        return sample_crop_around(rng, cv2.inRange(self.raw, 1, 254), crop_hw)


def _to_u8(alpha: np.ndarray) -> np.ndarray:
    """rint(255 a) as uint8 for a float alpha in [0, 1] (= augment.trimap.alpha_to_uint8, faster)."""
    return cv2.convertScaleAbs(alpha, alpha=255.0)


def _trimap_with_margin(alpha: _Alpha, window: Crop, alpha_out: np.ndarray, band: int) -> np.ndarray:
    """``make_trimap`` of the resized window ``alpha_out`` as if computed on the whole resized
    alpha: the distance transforms see a margin of ``band + 1`` output pixels around the
    window (within the image; the image border itself does not erode). The margin is
    resampled from the stored alpha on the same output grid (bilinear), strip by strip;
    inside the window the trimap sees exactly ``alpha_out``."""
    oh, ow = alpha_out.shape
    if band <= 0:
        return make_trimap(_to_u8(alpha_out), band)
    h, w = alpha.shape
    ky, kx = window.h / oh, window.w / ow  # stored pixels per output pixel
    m = band + 1
    top = min(m, math.floor(window.top / ky))
    bottom = min(m, math.floor((h - window.top - window.h) / ky))
    left = min(m, math.floor(window.left / kx))
    right = min(m, math.floor((w - window.left - window.w) / kx))
    if top == bottom == left == right == 0:
        return make_trimap(_to_u8(alpha_out), band)
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
    return make_trimap(a8, band)[top:top + oh, left:left + ow]


# ----------------------------------------------------------------- the sample
def augment_sample(
    members: Mapping[str, bytes],
    seed: list[int],
    *,
    crop: tuple[int, int] | None,
    config: AugmentConfig,
    outputs: frozenset[str] | tuple[str, ...] = OUTPUTS,
    alt_bg: bytes | None = None,
) -> dict[str, np.ndarray]:
    """Decode and augment one sample; returns the requested ``outputs`` as arrays.

    ``members``: the sample's encoded members (``image.jpg|png``,
    ``alpha.png``, ``trimap.png``, ``fg.*``, ``bg.*``). ``seed``: the
    sample's seed sequence (see :func:`shards.order.sample_seed`).
    ``alt_bg``: another sample's encoded bg for re-compositing (or ``None``).
    Raises ``ValueError`` for missing or undecodable members. Returned arrays
    may be views into the decoded ones (not contiguous): the collate makes the
    one copy into the batch.
    """
    outputs = frozenset(outputs)
    if "alpha.png" not in members:
        raise ValueError(f"sample has no alpha.png member (members: {sorted(members)})")
    alpha = _Alpha(members["alpha.png"])
    h, w = alpha.shape

    recomposite = False
    if config.recomposite_p > 0 and alt_bg is not None:
        recomposite = bool(_rng(seed, _STEP_RECOMP).random() < config.recomposite_p)

    # What to decode: only the members the requested outputs need.
    wanted: dict[str, str] = {}
    if "image" in outputs and not recomposite:
        wanted["image"] = "image"
    if "fg" in outputs or recomposite:
        wanted["fg"] = "fg"
    if "bg" in outputs and not recomposite:
        wanted["bg"] = "bg"
    stored_trimap = "trimap" in outputs and config.trimap == "stored"
    fresh_trimap = "trimap" in outputs and config.trimap == "fresh"

    # 1. scale jitter + unknown-centred crop: the window is chosen in stored
    # pixels from the alpha, and only the window is decoded at reduced size
    # (JPEG DCT scaling) and resized.
    full_hw = (h, w)
    window: Crop | None = None
    reduce = 1
    if crop is not None:
        ch, cw = crop
        s = sample_scale_jitter(_rng(seed, _STEP_SCALE), (h, w), (ch, cw), config.scale)
        win = (min(h, max(1, round(ch / s))), min(w, max(1, round(cw / s))))
        reduce = _reduction(win, (ch, cw))
        if reduce > 1:  # window sides multiples of `reduce` (changes the scale by < reduce / win)
            win = (win[0] - win[0] % reduce, win[1] - win[1] % reduce)
        window = alpha.unknown_crop(_rng(seed, _STEP_CROP), win)
        if reduce > 1:  # ... and its corner too, so that it falls on the reduced pixel grid
            window = Crop(top=window.top - window.top % reduce, left=window.left - window.left % reduce,
                          h=window.h, w=window.w)
        full_hw = (max(1, round(h * s)), max(1, round(w * s)))

    arrays: dict[str, np.ndarray] = {}
    for name, stem in wanted.items():
        arr, r, (y0, x0) = _decode_rgb_window(_require(members, stem), reduce, (h, w), window, name)
        if window is None:
            arrays[name] = arr
        else:
            local = Crop(top=window.top - y0, left=window.left - x0, h=window.h, w=window.w)
            arrays[name] = _resize_window(arr, local, r, crop, "image")  # type: ignore[arg-type]
    if window is None:
        arrays["alpha"] = alpha.float()
    else:
        rows, cols = slice(window.top, window.top + window.h), slice(window.left, window.left + window.w)
        arrays["alpha"] = _resize_window(alpha.float(rows, cols), Crop(0, 0, window.h, window.w), 1,
                                         crop, "alpha")  # type: ignore[arg-type]
    if stored_trimap:
        data = members.get("trimap.png")
        if data is None:
            raise ValueError(f"sample has no trimap.png member (members: {sorted(members)})")
        trimap = decode_trimap(data)
        if trimap.shape != (h, w):
            raise ValueError(f"member trimap is {trimap.shape} but alpha is {(h, w)}")
        arrays["trimap"] = trimap if window is None else _resize_window(trimap, window, 1, crop, "trimap")  # type: ignore[arg-type]

    # 2. trimap: a fresh one from the (cropped, resized) alpha, computed with a
    # margin around the crop so that the band is right at the crop border.
    if fresh_trimap:
        band = sample_band_px(_rng(seed, _STEP_BAND), full_hw, tuple(config.band), reference=config.band_reference)
        if window is None:
            arrays["trimap"] = make_trimap(_to_u8(arrays["alpha"]), band)
        else:
            arrays["trimap"] = _trimap_with_margin(alpha, window, arrays["alpha"], band)

    # 3. flips (after the trimap: the trimap of a flipped alpha is the flipped trimap)
    flip = sample_flip(_rng(seed, _STEP_FLIP), config.flip_p, 0.0)
    for name, arr in arrays.items():
        arrays[name] = apply_flip(flip, arr)

    # 4. re-compositing onto another sample's bg
    if recomposite:
        bg = decode_rgb(alt_bg)  # type: ignore[arg-type]
        out_hw = arrays["alpha"].shape[:2]
        cover = sample_cover_crop(_rng(seed, _STEP_RECOMP + 100), bg.shape[:2], out_hw)
        bg = np.ascontiguousarray(apply_cover_crop(cover, bg, "image"))
        if "image" in outputs:
            arrays["image"] = composite(arrays["fg"], arrays["alpha"], bg)
        if "bg" in outputs:
            arrays["bg"] = bg

    # 5. photometric jitter, image only
    if config.photometric > 0 and "image" in arrays:
        arrays["image"] = photometric_jitter(np.ascontiguousarray(arrays["image"]), _rng(seed, _STEP_PHOTO),
                                   config.photometric)

    return {k: arrays[k] for k in OUTPUTS if k in outputs}
