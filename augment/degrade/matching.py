"""Resolution and sharpness matching: F made no sharper than the background behind it.

Images are ``uint8 (H, W, 3)`` or ``float32 (H, W, 3)`` in ``[0, 1]``; every operation
returns the dtype it was given; alpha (``float32 (H, W)``) is only read.
"""
from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from augment.checks import check_alpha, check_image, check_positive, check_within
from augment.colour import grey_levels
from augment.estimate import MIN_PIXELS, sharpness_of_levels, valid_interior

__all__ = ["gaussian_blur", "match_resolution", "match_sharpness", "match_sharpness_sigma"]


def match_resolution(fg: np.ndarray, upscale: float) -> np.ndarray:
    """Give F the resolution of a background that had to be upscaled by ``upscale``.

    Downscales F by ``upscale`` with INTER_AREA and upscales it back to its size with
    INTER_LINEAR, i.e. F goes through the same resampling as the background, so it
    is no sharper than B.  Identity (a copy) when ``upscale <= 1``.

    Args:
        fg: ``uint8 (H, W, 3)`` or ``float32 (H, W, 3)`` in ``[0, 1]``.
        upscale: the background's upscale factor (finite, > 0).
    Returns:
        same shape and dtype as ``fg``.  Alpha is not touched (resample it yourself
        if the recipe wants an equally soft alpha; this op does not).
    """
    check_image(fg, "fg")
    check_positive(upscale, "upscale")
    if upscale <= 1.0:
        return fg.copy()
    h, w = fg.shape[:2]
    sw, sh = max(1, int(round(w / upscale))), max(1, int(round(h / upscale)))
    small = cv2.resize(fg, (sw, sh), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _fg_region(alpha: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    region = alpha > threshold
    if np.count_nonzero(region) < MIN_PIXELS:
        region = alpha > 0
    return region


def match_sharpness_sigma(
    fg: np.ndarray,
    alpha: np.ndarray,
    target_sharpness: float,
    *,
    max_sigma: float = 8.0,
    iters: int = 10,
    rtol: float = 0.02,
) -> float:
    """Gaussian std (px) that brings F's foreground sharpness down to ``target_sharpness``.

    Bracketed root search on ``sigma`` in ``[0, max_sigma]`` (sharpness falls
    monotonically with blur): a safeguarded secant on ``1 / sharpness^2`` against
    ``sigma^2``, which is near linear, so usually 3 evaluations.  Sharpness is
    :func:`estimate_sharpness` on the foreground region ``alpha > 0.5`` (or
    ``alpha > 0`` if that is tiny), computed on the region's bounding box.
    Returns 0 when F is already no sharper than the target (never sharpens) or
    the region is too small, ``max_sigma`` when even that is too sharp.

    Args:
        fg: ``uint8 (H, W, 3)`` or ``float32 (H, W, 3)`` in ``[0, 1]``.
        alpha: ``float32 (H, W)`` in ``[0, 1]``.
        target_sharpness: e.g. ``estimate_sharpness(bg)``, finite and >= 0.
        max_sigma: upper end of the search, px.
        iters: maximum number of search steps.
        rtol: stop when the sharpness is within this relative distance of the target.
    """
    check_image(fg, "fg")
    check_alpha(alpha, fg.shape[:2])
    check_within(target_sharpness, "target_sharpness", 0.0)
    check_positive(max_sigma, "max_sigma")
    region = _fg_region(alpha)
    ys, xs = np.nonzero(region)
    if ys.size < MIN_PIXELS:
        return 0.0
    pad = int(math.ceil(3 * max_sigma)) + 2
    h, w = alpha.shape
    y0, y1 = max(0, int(ys.min()) - pad), min(h, int(ys.max()) + 1 + pad)
    x0, x1 = max(0, int(xs.min()) - pad), min(w, int(xs.max()) + 1 + pad)
    grey = grey_levels(fg[y0:y1, x0:x1])
    valid = valid_interior(region[y0:y1, x0:x1], grey.shape)

    def sharp(sigma: float) -> float:
        g = grey if sigma == 0 else cv2.GaussianBlur(grey, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
        return sharpness_of_levels(g, valid)

    s0 = sharp(0.0)
    if not math.isfinite(s0) or s0 <= target_sharpness * (1 + rtol):
        return 0.0
    s_max = sharp(max_sigma)
    if s_max >= target_sharpness:
        return float(max_sigma)
    # Safeguarded secant (Illinois) on y(x) = 1 / sharpness^2 against x = sigma^2: for a
    # blurred edge y = 2 (x + const) exactly, for textures nearly linear, so it converges in
    # a few evaluations; the bracket [lo, hi] keeps it as safe as bisection.
    y_t = 1.0 / max(target_sharpness, 1e-6) ** 2
    lo, hi = 0.0, float(max_sigma) ** 2
    f_lo, f_hi = 1.0 / s0**2 - y_t, 1.0 / max(s_max, 1e-6) ** 2 - y_t  # f_lo < 0 < f_hi
    side = 0
    x = hi
    for _ in range(iters):
        x = hi - f_hi * (hi - lo) / (f_hi - f_lo) if f_hi != f_lo else 0.5 * (lo + hi)
        if not lo < x < hi:
            x = 0.5 * (lo + hi)
        s = sharp(math.sqrt(x))
        if abs(s - target_sharpness) <= rtol * target_sharpness:
            return math.sqrt(x)
        f_x = 1.0 / max(s, 1e-6) ** 2 - y_t
        if f_x < 0:  # still too sharp
            lo, f_lo = x, f_x
            if side == -1:
                f_hi *= 0.5
            side = -1
        else:
            hi, f_hi = x, f_x
            if side == 1:
                f_lo *= 0.5
            side = 1
    return math.sqrt(x)


def match_sharpness(fg: np.ndarray, alpha: np.ndarray, target_sharpness: float, **kwargs: Any) -> np.ndarray:
    """Blur F (Gaussian, sigma from :func:`match_sharpness_sigma`) down to the target sharpness.

    Never sharpens: returns an unchanged copy when F is already no sharper.  Alpha is
    only read.  ``kwargs`` go to :func:`match_sharpness_sigma`.

    Returns:
        same shape and dtype as ``fg``.
    """
    return gaussian_blur(fg, match_sharpness_sigma(fg, alpha, target_sharpness, **kwargs))


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of std ``sigma`` px (reflected border); a copy when ``sigma <= 0``.

    Returns:
        same shape and dtype as ``image``.
    """
    if sigma <= 0:
        return image.copy()
    return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
