"""Lens-like defocus: convolution with an anti-aliased disk (bokeh) kernel."""
from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from augment.checks import check_image, check_within
from augment.colour import from_float01
from augment.resize import apply_shrunk

__all__ = ["defocus"]


@functools.lru_cache(maxsize=64)
def _disk_kernel(radius_milli: int) -> np.ndarray:
    """Anti-aliased disk (pillbox) kernel of radius radius_milli/1000 px, sums to 1."""
    radius = radius_milli / 1000.0
    half = int(math.ceil(radius))
    sub = 8  # 8x8 supersampling per pixel for the coverage
    offs = (np.arange(sub, dtype=np.float64) + 0.5) / sub - 0.5
    coords = np.arange(-half, half + 1, dtype=np.float64)
    fine = (coords[:, None] + offs[None, :]).ravel()
    inside = (fine[:, None] ** 2 + fine[None, :] ** 2) <= radius * radius
    cover = inside.reshape(2 * half + 1, sub, 2 * half + 1, sub).mean(axis=(1, 3))
    cover[half, half] = max(cover[half, half], 1e-6)
    kernel = (cover / cover.sum()).astype(np.float32)
    kernel.setflags(write=False)
    return kernel


_DEFOCUS_WORK_RADIUS = 4.0  # px: larger disks are applied at the resolution where they are this large


def _disk_blur(image: np.ndarray, radius_px: float, exact: bool) -> np.ndarray:
    """uint8 or float32 (H, W, C) convolved with the disk (same dtype); large disks at a lower
    resolution (see defocus)."""
    if exact or radius_px <= _DEFOCUS_WORK_RADIUS:
        return cv2.filter2D(image, -1, _disk_kernel(int(round(radius_px * 1000))), borderType=cv2.BORDER_REFLECT_101)

    def blur(small: np.ndarray, factor: float) -> np.ndarray:
        # the area shrink and the bilinear enlargement blur too: together about as much as a
        # disk of radius 1 (variance 1/4 small px^2), taken off the disk's variance r^2 / 4
        radius_small = math.sqrt(max((radius_px * factor) ** 2 - 1.0, 1.0))
        kernel = _disk_kernel(int(round(radius_small * 1000)))
        return cv2.filter2D(small.astype(np.float32, copy=False), -1, kernel, borderType=cv2.BORDER_REFLECT_101)

    out = apply_shrunk(image, radius_px / _DEFOCUS_WORK_RADIUS, blur)
    # uint8: the small copy is blurred and enlarged in float32 and rounded once (OpenCV's
    # uint8 bilinear enlargement would darken by about 0.1 level)
    return cv2.convertScaleAbs(out) if image.dtype == np.uint8 else out


def defocus(image: np.ndarray, radius_px: float, *, linear_light: bool = False, exact: bool = False) -> np.ndarray:
    """Lens-like defocus: convolution with an anti-aliased disk (bokeh) kernel, not a Gaussian.

    A disk larger than 4 px is applied where it is 4 px: the image is shrunk by
    ``radius_px / 4`` (area average), convolved, and enlarged back (bilinear). A large
    disk removes every detail the shrinking removes, so this is several times faster at
    1024 px for under one level RMS from the full-resolution convolution (real photos); only the
    rims of bright bokeh discs come out a little softer (1 pixel in 1000 differs by 2-9
    levels).
    ``exact=True`` convolves at full resolution, in float32. A uint8 image (without
    ``linear_light`` or ``exact``) is convolved as uint8 at full resolution (small disks), or
    shrunk as uint8 and blurred and enlarged in float32 (large ones), rounded once: within
    one level of the float32 steps, unbiased, and cheaper.

    Args:
        image: ``uint8 (H, W, 3)`` or ``float32 (H, W, 3)`` in ``[0, 1]``.
        radius_px: disk radius in pixels, ``>= 0``; 0 returns an unchanged copy.
        linear_light: blur in (approximately, gamma 2.2) linear light, so that
            highlights bloom into discs as they do through a lens (slower).
        exact: full-resolution convolution whatever the radius (slower).
    Returns:
        same shape and dtype as ``image``.
    """
    check_image(image)
    check_within(radius_px, "radius_px", 0.0)
    if radius_px == 0:
        return image.copy()
    if image.dtype == np.uint8 and not (linear_light or exact):
        # OpenCV filters and resizes uint8 directly (accumulating in float, rounding once per
        # step): within a level of the float path, without its two full-size conversions
        return _disk_blur(image, radius_px, exact)
    x = image.astype(np.float32) * np.float32(1.0 / 255.0) if image.dtype == np.uint8 else image
    if linear_light:
        x = np.power(np.clip(x, 0.0, 1.0), np.float32(2.2))
    out = _disk_blur(x, radius_px, exact)
    if linear_light:
        out = np.power(np.clip(out, 0.0, 1.0), np.float32(1.0 / 2.2))
    return from_float01(out, image.dtype)
