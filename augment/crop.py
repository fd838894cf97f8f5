"""Crops centred on the unknown region (for the streaming loader)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from augment.checks import check_array, check_hw, check_range
from augment.targets import Params

_HALF_LEVEL = 0.5 / 255

__all__ = ["Crop", "apply_crop", "min_scale_to_cover", "sample_scale_jitter", "sample_unknown_crop"]


@dataclass(frozen=True)
class Crop(Params):
    """The window rows [top, top + h), columns [left, left + w)."""

    top: int
    left: int
    h: int
    w: int


def _unknown_mask(trimap_or_alpha: np.ndarray) -> np.ndarray:
    if trimap_or_alpha.ndim != 2:
        raise ValueError(f"trimap_or_alpha must be 2-D (H, W), got shape {trimap_or_alpha.shape}")
    if trimap_or_alpha.dtype == np.uint8:
        return trimap_or_alpha == 128
    if trimap_or_alpha.dtype.kind == "f":
        # 0 < α < 1 at 8-bit precision (as make_trimap sees it): float resampling can leave
        # definite pixels a rounding error away from 0 or 1.
        return (trimap_or_alpha >= _HALF_LEVEL) & (trimap_or_alpha <= 1 - _HALF_LEVEL)
    raise ValueError(
        f"trimap_or_alpha must be a uint8 trimap or a float alpha, got dtype {trimap_or_alpha.dtype}"
    )


def _row_counts(mask: np.ndarray) -> np.ndarray:
    """Nonzero pixels per row of a 2-D mask, int64 (H,); bool and uint8 masks in one native
    pass (``np.count_nonzero(mask, axis=1)`` makes a bool copy and sums it)."""
    if mask.dtype == np.bool_ or mask.dtype == np.uint8:
        ones = mask.view(np.uint8) if mask.dtype == np.bool_ else cv2.inRange(mask, 1, 255)
        sums = cv2.reduce(np.ascontiguousarray(ones), 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[:, 0]
        return sums.astype(np.int64) // (1 if mask.dtype == np.bool_ else 255)
    return np.count_nonzero(mask, axis=1)


def _nth_true(mask: np.ndarray, n: int, row_counts: np.ndarray | None = None) -> tuple[int, int]:
    """(row, col) of the n-th True of `mask` in row-major order, without an index array
    (`row_counts`: its `_row_counts`, when the caller has them)."""
    if row_counts is None:
        row_counts = _row_counts(mask)
    cum = np.cumsum(row_counts)
    y = int(np.searchsorted(cum, n, side="right"))
    before = int(cum[y - 1]) if y > 0 else 0
    x = int(np.flatnonzero(mask[y])[n - before])
    return y, x


def sample_unknown_crop(
    rng: np.random.Generator, trimap_or_alpha: np.ndarray, crop_hw: tuple[int, int]
) -> Crop:
    """A `crop_hw` window centred on a uniformly drawn unknown pixel, clamped inside the image.

    trimap_or_alpha: uint8 trimap (unknown == 128) or float alpha (H, W) in [0, 1]
    (unknown: 0 < rint(255·α) < 255). Without unknown pixels the window is uniform over the image.
    The image must be at least `crop_hw`. Always draws two numbers from `rng`.
    """
    check_array(trimap_or_alpha, "trimap_or_alpha")
    return sample_crop_around(rng, _unknown_mask(trimap_or_alpha), crop_hw)


def sample_crop_around(rng: np.random.Generator, mask: np.ndarray, crop_hw: tuple[int, int]) -> Crop:
    """A `crop_hw` window centred on a uniformly drawn nonzero pixel of `mask` (H, W), clamped
    inside it; uniform over the image when `mask` is empty. Always draws two numbers from `rng`."""
    h, w = check_array(mask, "mask")
    ch, cw = check_hw(crop_hw, "crop_hw")
    if ch > h or cw > w:
        raise ValueError(
            f"crop {ch}x{cw} is larger than the image {h}x{w}; resize first "
            f"(min_scale_to_cover gives the smallest scale)"
        )
    row_counts = _row_counts(mask)
    count = int(row_counts.sum())
    u = rng.random(2)
    if count == 0:
        top = min(int(u[0] * (h - ch + 1)), h - ch)
        left = min(int(u[1] * (w - cw + 1)), w - cw)
    else:
        y, x = _nth_true(mask, min(int(u[0] * count), count - 1), row_counts)
        top = min(max(y - ch // 2, 0), h - ch)
        left = min(max(x - cw // 2, 0), w - cw)
    return Crop(top=top, left=left, h=ch, w=cw)


def apply_crop(params: Crop, arr: np.ndarray) -> np.ndarray:
    """Cut the window out of (H, W[, C]) `arr`; returns a view (no copy)."""
    h, w = check_array(arr)
    if params.top < 0 or params.left < 0 or params.top + params.h > h or params.left + params.w > w:
        raise ValueError(f"{params} does not fit inside an image of {h}x{w}")
    return arr[params.top : params.top + params.h, params.left : params.left + params.w]


def min_scale_to_cover(hw: tuple[int, int], crop_hw: tuple[int, int]) -> float:
    """Smallest scale s such that an (h, w) image resized by s (rounded per axis, as in
    `augment.resize.scaled_hw`) is at least `crop_hw` on both axes."""
    h, w = check_hw(hw, "hw")
    ch, cw = check_hw(crop_hw, "crop_hw")
    s = max(ch / h, cw / w)
    # Float rounding could make round(h * s) fall one short; nudge up until it cannot.
    while round(h * s) < ch or round(w * s) < cw:
        s = math.nextafter(s, math.inf)
    return s


def sample_scale_jitter(
    rng: np.random.Generator,
    hw: tuple[int, int],
    crop_hw: tuple[int, int],
    scale: tuple[float, float] = (0.75, 1.5),
) -> float:
    """Scale ~ U(scale), raised to `min_scale_to_cover(hw, crop_hw)` when smaller, so the
    resized image can always hold the crop. Always draws one number."""
    lo, hi = check_range(scale, "scale", low=0.0)
    if lo <= 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    return max(float(rng.uniform(lo, hi)), min_scale_to_cover(hw, crop_hw))
