"""Aspect-preserving resizes and the cover-crop that fits a background to a canvas.

Resizes never stretch: one scale for both axes; the output size is rounded per axis
(`scaled_hw`). Trimaps use INTER_NEAREST_EXACT in `cv2.resize` (pixel-centre nearest
neighbour): plain INTER_NEAREST samples ``floor(x / s)``, half a pixel off the grid that
INTER_LINEAR / INTER_AREA use for the alpha.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from augment.checks import check_array, check_hw, check_kind, check_positive, check_range
from augment.targets import Kind, Params, interpolation, keep_channels

__all__ = [
    "CoverCrop",
    "apply_cover_crop",
    "resize_by_scale",
    "resize_long_side",
    "resize_short_side",
    "resize_to",
    "sample_cover_crop",
    "scaled_hw",
    "shrink_long_side",
    "apply_shrunk",
    "area_shrink",
]


def _resize_flag(kind: Kind, shrinking: bool) -> int:
    flag = interpolation(kind, shrinking)
    return cv2.INTER_NEAREST_EXACT if flag == cv2.INTER_NEAREST else flag


def _resize(arr: np.ndarray, hw: tuple[int, int] | None, scale: float | None, kind: Kind,
            linear_min_scale: float = 1.0) -> np.ndarray:
    """cv2.resize to `hw` (scale = size ratio per axis) or by exactly `scale` (hw None).

    OpenCV's INTER_AREA drops partial-pixel fractions below 1e-3 when building its
    weights, so its weights sum to 1 only within ~4e-3 (an alpha of 1 can come out as
    0.998, i.e. 254 in 8 bits). For float arrays the result is renormalised by the
    per-axis weight sums, measured by resizing a column and a row of ones the same way;
    alpha is then clipped to <= 1 (renormalising can overshoot by an ulp).
    """
    h, w = arr.shape[:2]
    if hw is None:
        assert scale is not None
        flag = _resize_flag(kind, shrinking=scale < 1.0)
        out = cv2.resize(arr, None, fx=scale, fy=scale, interpolation=flag)
    else:
        flag = _resize_flag(kind, shrinking=min(hw[0] / h, hw[1] / w) < linear_min_scale)
        out = cv2.resize(arr, (hw[1], hw[0]), interpolation=flag)
    oh, ow = out.shape[:2]
    # (OpenCV uses true area weights only when no axis grows.)
    if flag == cv2.INTER_AREA and arr.dtype.kind == "f" and oh <= h and ow <= w:
        col = np.ones((h, 1), np.float32)
        row = np.ones((1, w), np.float32)
        if hw is None:
            col = cv2.resize(col, None, fx=1.0, fy=scale, interpolation=flag)
            row = cv2.resize(row, None, fx=scale, fy=1.0, interpolation=flag)
        else:
            col = cv2.resize(col, (1, oh), interpolation=flag)
            row = cv2.resize(row, (ow, 1), interpolation=flag)
        norm = col.reshape(oh, 1) * row.reshape(1, ow)
        out /= norm if out.ndim == 2 else norm[:, :, None]
        if kind == "alpha":
            np.minimum(out, 1.0, out=out)
    return keep_channels(out, arr)


def scaled_hw(hw: tuple[int, int], scale: float) -> tuple[int, int]:
    """Size of an (h, w) image scaled by `scale`: (max(1, round(h*s)), max(1, round(w*s)))."""
    h, w = check_hw(hw, "hw")
    scale = check_positive(float(scale), "scale")
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize_to(arr: np.ndarray, hw: tuple[int, int], kind: Kind, *, linear_min_scale: float = 1.0) -> np.ndarray:
    """Resize `arr` (H, W[, C]) to exactly `hw` with the interpolation for `kind`.

    Image and alpha are treated as shrinking (INTER_AREA) when an axis shrinks by a factor
    below `linear_min_scale` (default 1: any shrink); milder shrinks use INTER_LINEAR.

    The caller is responsible for the aspect ratio. Returns `arr` itself when the size
    already matches (no copy); dtype and channel layout are preserved.
    """
    h, w = check_array(arr)
    nh, nw = check_hw(hw, "hw")
    if (nh, nw) == (h, w):
        return arr
    check_kind(kind)
    return _resize(arr, (nh, nw), None, kind, linear_min_scale)


def resize_by_scale(arr: np.ndarray, scale: float, kind: Kind) -> np.ndarray:
    """Aspect-preserving resize of (H, W[, C]) to `scaled_hw((H, W), scale)`."""
    return resize_to(arr, scaled_hw(check_array(arr), scale), kind)


def resize_long_side(arr: np.ndarray, long_side: int, kind: Kind) -> np.ndarray:
    """Aspect-preserving resize so that max(H, W) == `long_side` exactly."""
    h, w = check_array(arr)
    if int(long_side) != long_side or long_side < 1:
        raise ValueError(f"long_side must be a positive integer, got {long_side!r}")
    long_side = int(long_side)
    if h >= w:
        return resize_to(arr, (long_side, max(1, round(w * long_side / h))), kind)
    return resize_to(arr, (max(1, round(h * long_side / w)), long_side), kind)


def shrink_long_side(arr: np.ndarray, side: int, *, box_first: bool = False) -> np.ndarray:
    """Area-average a larger image down so that max(H, W) == ``side``; a smaller one is
    returned as is (statistics on a working copy: nothing is gained by enlarging).
    ``box_first``: through :func:`area_shrink` (faster, nearly the same values)."""
    h, w = check_array(arr)
    scale = side / max(h, w)
    if scale >= 1:
        return arr
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return area_shrink(arr, size) if box_first else cv2.resize(arr, size, interpolation=cv2.INTER_AREA)


def area_shrink(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``cv2.INTER_AREA`` down to ``size`` ``(w, h)``, in two steps when that is faster: first the
    exact mean of k x k blocks, with k the largest power of two that divides both sides and
    leaves at least ``size``, then INTER_AREA by the rest of the factor. OpenCV's area path
    for fractional factors is several times slower than its whole-factor one, so this is
    about 2x as fast at fractional factors above 2 and the same below; the values differ from
    one INTER_AREA by a slightly wider kernel and, for uint8, the intermediate rounding (on a
    1024² photo to 160²: 0.9 level on average, up to 18 at sharp edges). For working copies
    whose result is a statistic or gets blurred."""
    h, w = arr.shape[:2]
    k = 1
    while w % (2 * k) == 0 and h % (2 * k) == 0 and 2 * k * size[0] <= w and 2 * k * size[1] <= h:
        k *= 2
    if k == 1:
        return cv2.resize(arr, size, interpolation=cv2.INTER_AREA)
    work = arr if arr.dtype == np.float32 else arr.astype(np.float32)  # one rounding, at the end
    work = cv2.resize(work, (w // k, h // k), interpolation=cv2.INTER_AREA)  # whole factor: exact block means
    work = cv2.resize(work, size, interpolation=cv2.INTER_AREA)
    if arr.dtype == np.uint8:
        return cv2.convertScaleAbs(work)  # rounded, saturated
    return work.astype(arr.dtype, copy=False)


def apply_shrunk(image: np.ndarray, shrink: float,
                 fn: Callable[[np.ndarray, float], np.ndarray]) -> np.ndarray:
    """``fn`` applied at a lower resolution, for filters whose output is smooth anyway.

    ``image`` (``uint8`` or ``float32 (H, W, C)``, ``C <= 4``) is shrunk ``shrink`` times (:func:`area_shrink`),
    ``fn(small, factor)`` filters it (``factor``: small px per image px, the smaller of the
    two axes' after rounding), and the result is enlarged back to ``(H, W)`` (bilinear).
    """
    h, w = image.shape[:2]
    sw, sh = max(1, round(w / shrink)), max(1, round(h / shrink))
    small = area_shrink(image, (sw, sh))
    return cv2.resize(fn(small, min(sw / w, sh / h)), (w, h), interpolation=cv2.INTER_LINEAR)


def resize_short_side(arr: np.ndarray, short_side: int, kind: Kind) -> np.ndarray:
    """Aspect-preserving resize so that min(H, W) == `short_side` exactly."""
    h, w = check_array(arr)
    if int(short_side) != short_side or short_side < 1:
        raise ValueError(f"short_side must be a positive integer, got {short_side!r}")
    short_side = int(short_side)
    if h <= w:
        return resize_to(arr, (short_side, max(1, round(w * short_side / h))), kind)
    return resize_to(arr, (max(1, round(h * short_side / w)), short_side), kind)


@dataclass(frozen=True)
class CoverCrop(Params):
    """Scale a `src_hw` image by `scale` (both axes) and cut the `dst_hw` window at (top, left).

    `top`/`left` are in pixels of the scaled image. `scale` > 1 means the source was
    upscaled (a realism step may want to know).
    """

    src_hw: tuple[int, int]
    dst_hw: tuple[int, int]
    scale: float
    top: int
    left: int


def sample_cover_crop(
    rng: np.random.Generator,
    src_hw: tuple[int, int],
    dst_hw: tuple[int, int],
    *,
    zoom: tuple[float, float] = (1.0, 1.0),
) -> CoverCrop:
    """Sample a cover crop: the smallest scale covering `dst_hw`, times z ~ U(zoom), z >= 1.

    The window position is uniform over the integer offsets that keep it inside the
    scaled source. Always draws three numbers from `rng`, whatever the sizes.
    """
    sh, sw = check_hw(src_hw, "src_hw")
    dh, dw = check_hw(dst_hw, "dst_hw")
    z_lo, z_hi = check_range(zoom, "zoom", low=1.0)
    scale = max(dh / sh, dw / sw) * float(rng.uniform(z_lo, z_hi))
    # Slack of the window in the (real-valued) scaled image; the epsilon absorbs the
    # rounding of max(dh/sh, ...) * sh, which should be exactly dh.
    max_top = max(0, math.floor(sh * scale - dh + 1e-6))
    max_left = max(0, math.floor(sw * scale - dw + 1e-6))
    top = int(rng.integers(0, max_top + 1))
    left = int(rng.integers(0, max_left + 1))
    return CoverCrop(src_hw=(sh, sw), dst_hw=(dh, dw), scale=scale, top=top, left=left)


def _source_span(offset: int, length: int, scale: float, size: int) -> tuple[int, int, int]:
    """Source rows [c0, c1) to resize for output rows [offset, offset + length), and the
    integer offset of the window in the resized crop.

    The crop has a margin (2 px + one output pixel each side) so that neither
    interpolation nor the rounding of the window offset reaches its border. Among the
    start rows within one output pixel, c0 is chosen so that c0 * scale is nearest to an
    integer: the window then lands within half a source pixel of its exact position.
    """
    last = max(0, math.floor(offset / scale) - 2)
    starts = np.arange(max(0, last - math.ceil(1.0 / scale)), last + 1)[::-1]
    pos = offset - starts * scale
    c0 = int(starts[np.argmin(np.abs(pos - np.rint(pos)))])
    c1 = min(size, math.ceil((offset + length) / scale) + 2 + math.ceil(1.0 / scale))
    return c0, c1, round(offset - c0 * scale)


def apply_cover_crop(params: CoverCrop, arr: np.ndarray, kind: Kind) -> np.ndarray:
    """Apply a `CoverCrop` to `arr` (src_hw[, C]); returns exactly (dst_h, dst_w[, C]).

    Only the source region under the window (plus a small margin) is resized, with
    INTER_AREA when shrinking, so a huge background costs about as much as the output.
    Equals ``cv2.resize(arr, None, fx=scale, fy=scale)[top:top+dh, left:left+dw]`` up to
    a shift of the window by at most half a source pixel (the same for every kind), and
    exactly when that shift is 0 (e.g. top = left = 0); trimaps use pixel-centre nearest
    neighbour at exactly `scale`. (One OpenCV quirk: when round(n * scale) == n for the
    n cropped rows or columns, it copies instead of resampling; the positions are then
    off by less than another half pixel.) At scale 1 the result is a view of `arr`.
    """
    h, w = check_array(arr)
    if (h, w) != tuple(params.src_hw):
        raise ValueError(f"array has height/width {(h, w)} but the CoverCrop was sampled for {params.src_hw}")
    dh, dw = params.dst_hw
    s = check_positive(float(params.scale), "CoverCrop.scale")
    flag = _resize_flag(kind, shrinking=s < 1.0)
    if s == 1.0:
        out = arr[max(params.top, 0) : params.top + dh, max(params.left, 0) : params.left + dw]
    else:
        y0, y1, oy = _source_span(params.top, dh, s, h)
        x0, x1, ox = _source_span(params.left, dw, s, w)
        # OpenCV's output size for fx=fy=s (cvRound, half to even like round()); keep the
        # window inside it (a no-op for sampled params, but the same for every kind).
        oy = min(max(oy, 0), round((y1 - y0) * s) - dh)
        ox = min(max(ox, 0), round((x1 - x0) * s) - dw)
        if flag == cv2.INTER_NEAREST_EXACT:
            # cv2's nearest derives its scale from the rounded output size; index directly
            # with exactly s, on the same grid as the smooth kinds.
            ys = y0 + np.floor((np.arange(oy, oy + dh) + 0.5) / s).astype(np.intp)
            xs = x0 + np.floor((np.arange(ox, ox + dw) + 0.5) / s).astype(np.intp)
            out = arr[np.clip(ys, y0, y1 - 1)[:, None], np.clip(xs, x0, x1 - 1)]
        else:
            # Resizing by fx=fy=s (no dsize) makes OpenCV use exactly s on both axes.
            out = _resize(arr[y0:y1, x0:x1], None, s, kind)
            out = out[max(oy, 0) : oy + dh, max(ox, 0) : ox + dw]
    if out.shape[:2] != (dh, dw):  # cannot happen for params from sample_cover_crop
        raise ValueError(f"CoverCrop {params} does not fit inside its scaled source")
    return out
