"""Colour spaces and colour statistics: CIELAB, sRGB <-> linear light, levels, weighted stats.

Images are ``uint8 (H, W, 3)`` RGB or ``float32`` in ``[0, 1]``; "levels" are the 0..255
scale whatever the dtype; linear light is ``float32`` in ``[0, 1]``.
"""
from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from augment.checks import check_rgb

__all__ = [
    "LUMINANCE_WEIGHTS",
    "from_float01",
    "from_lab",
    "grey_levels",
    "lab_stats",
    "linear_to_srgb",
    "mean_luminance",
    "srgb_level_tables",
    "srgb_levels_to_linear",
    "srgb_to_linear",
    "subsample",
    "subsample_weighted",
    "to_lab",
    "to_levels",
    "weighted_mean",
    "weighted_stats",
]

#: Rec. 709 / sRGB luminance ``Y = w . (R, G, B)`` of linear-light RGB.
LUMINANCE_WEIGHTS: tuple[float, float, float] = (0.2126, 0.7152, 0.0722)

_SUBLEVELS = 16  # table steps per sRGB level for float input


# --------------------------------------------------------------------------- levels


def to_levels(image: np.ndarray) -> np.ndarray:
    """float32 copy on the 0..255 scale of a uint8 or float32 [0, 1] array."""
    if image.dtype == np.uint8:
        return image.astype(np.float32)
    return image * np.float32(255.0)


def grey_levels(image: np.ndarray) -> np.ndarray:
    """float32 (H, W) luma (BT.601) on the 0..255 scale of an (H, W, 3) or (H, W) image."""
    if image.ndim == 2:
        return to_levels(image)
    f = image.astype(np.float32) if image.dtype == np.uint8 else image * np.float32(255.0)
    return cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)


def from_float01(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float32 [0,1]-scale array (any range) back to `dtype` (rounded and clipped for uint8)."""
    if dtype == np.uint8:
        t = x * np.float32(255.0)
        t += np.float32(0.5)
        np.clip(t, 0, 255, out=t)
        return t.astype(np.uint8)
    return np.clip(x, 0.0, 1.0).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- CIELAB


def to_lab(image: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float32 CIELAB (L in [0, 100], a/b roughly [-128, 127])."""
    x = image.astype(np.float32)
    x *= np.float32(1.0 / 255.0)
    return cv2.cvtColor(x, cv2.COLOR_RGB2Lab, dst=x)


def from_lab(lab: np.ndarray) -> np.ndarray:
    """float32 CIELAB -> uint8 RGB (rounded, clipped to the gamut)."""
    rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    rgb *= np.float32(255.0)
    rgb += np.float32(0.5)
    np.clip(rgb, 0, 255, out=rgb)
    return rgb.astype(np.uint8)


def weighted_stats(x: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (weighted) mean and std of a float32 (..., 3) array, as float64 (3,).

    Sums are accumulated in float64 by numpy, in one fixed order: OpenCV's ``sumElems`` and
    ``meanStdDev`` split a sum over their threads, so their last bits depended on the thread
    count (a serial build and a Ray worker disagreed).
    """
    planes, weighted, total = _weighted_planes(x, weights)
    mean = np.array([q.sum(dtype=np.float64) for q in weighted]) / total
    second = np.array([np.multiply(q, p).sum(dtype=np.float64) for q, p in zip(weighted, planes)]) / total
    return mean, np.sqrt(np.maximum(second - mean * mean, 0.0))


def weighted_mean(x: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """The mean of :func:`weighted_stats` (the same float64 values), without the std's work."""
    _, weighted, total = _weighted_planes(x, weights)
    return np.array([q.sum(dtype=np.float64) for q in weighted]) / total


def _weighted_planes(x: np.ndarray, weights: np.ndarray | None) -> tuple[list[np.ndarray], list[np.ndarray], float]:
    """The three float32 (N,) channel planes of ``x``, the same weighted, and the weights' total."""
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 1, 3)
    planes = [p.reshape(-1) for p in cv2.split(flat)]  # contiguous copies: faster products than strided views
    if weights is None:
        return planes, planes, float(flat.shape[0])
    w = np.ascontiguousarray(weights, dtype=np.float32).reshape(-1)
    total = float(w.sum(dtype=np.float64))
    if not total > 0:
        raise ValueError("weights sum to zero: no pixels to compute statistics over")
    return planes, [np.multiply(p, w) for p in planes], total


def subsample(image: np.ndarray, max_pixels: int = 262_144) -> np.ndarray:
    """Strided subsample (no smoothing, so mean and std stay unbiased) of at most ~max_pixels."""
    step = max(1, int(math.ceil(math.sqrt(image.shape[0] * image.shape[1] / max_pixels))))
    return image[::step, ::step]


def subsample_weighted(image: np.ndarray, weights: np.ndarray | None, max_pixels: int = 262_144
                       ) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`subsample` of ``image`` (H, W, ...) and of its ``(H, W)`` ``weights`` on the same
    grid, for weighted statistics; both whole when the subsample's weights sum to zero (a
    thin subject between the grid's rows)."""
    sub = subsample(image, max_pixels)
    if weights is None or sub.shape == image.shape:
        return sub, weights
    sub_w = subsample(weights, max_pixels)
    return (sub, sub_w) if float(sub_w.sum(dtype=np.float64)) > 0 else (image, weights)


def lab_stats(image: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (weighted) mean and std of an image in CIELAB.

    Args:
        image: ``uint8 (H, W, 3)`` RGB.
        weights: optional ``(H, W)`` non-negative weights (e.g. alpha); None = uniform.
    Returns:
        ``(mean, std)``, each ``float64 (3,)`` as (L, a, b), L in [0, 100].
    """
    check_rgb(image, "image")
    if weights is not None:
        weights = np.asarray(weights)
        if weights.shape != image.shape[:2]:
            raise ValueError(f"weights must have shape {image.shape[:2]}, got {weights.shape}")
    return weighted_stats(to_lab(image), weights)


# --------------------------------------------------------------------------- linear light


@functools.lru_cache(maxsize=2)
def _srgb_lut(steps: int = 1) -> np.ndarray:
    """Linear light of the sRGB levels ``0, 1/steps, ..., 255`` (IEC 61966-2-1 curve), float32."""
    x = np.arange(255 * steps + 1, dtype=np.float64) / (255.0 * steps)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def srgb_to_linear(image: np.ndarray) -> np.ndarray:
    """uint8 sRGB (any shape) -> float32 linear light in [0, 1] (IEC 61966-2-1 transfer curve)."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        desc = image.dtype if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"image must be a uint8 array, got {desc}")
    if image.ndim in (2, 3) and image.size and (image.ndim == 2 or image.shape[2] <= 4):
        # OpenCV's table lookup gives the same values as numpy's gather below, in one native pass
        return cv2.LUT(np.ascontiguousarray(image), _srgb_lut()).reshape(image.shape)
    return _srgb_lut()[image]


def srgb_levels_to_linear(levels: np.ndarray) -> np.ndarray:
    """float sRGB on the 0..255 scale (any shape; clipped) -> float32 linear light in [0, 1],
    to 1/16 of a level; equal to :func:`srgb_to_linear` at whole levels."""
    if not isinstance(levels, np.ndarray) or levels.dtype.kind != "f":
        desc = levels.dtype if isinstance(levels, np.ndarray) else type(levels).__name__
        raise ValueError(f"levels must be a float array, got {desc}")
    idx = np.clip(levels * np.float32(_SUBLEVELS) + np.float32(0.5), 0, 255 * _SUBLEVELS).astype(np.uint16)
    return _srgb_lut(_SUBLEVELS)[idx]


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """float linear light (any shape; clipped to [0, 1]) -> uint8 sRGB, rounded.

    Inverse of :func:`srgb_to_linear`: ``linear_to_srgb(srgb_to_linear(x)) == x``.
    Read from a table indexed by the float32 bit pattern and one threshold compare
    (:func:`srgb_level_tables`, one compiled pass), exact: the same bytes as
    :func:`_linear_to_srgb_exact`, which computes the curve.
    """
    if not isinstance(linear, np.ndarray) or linear.dtype.kind != "f":
        desc = linear.dtype if isinstance(linear, np.ndarray) else type(linear).__name__
        raise ValueError(f"linear must be a float array, got {desc}")
    from augment.kernels import srgb_levels  # numba: imported on first use, not with augment

    x = np.ascontiguousarray(linear, dtype=np.float32)
    lo, thresholds = srgb_level_tables()
    return srgb_levels(x.reshape(-1), lo, thresholds, np.empty(x.size, np.uint8)).reshape(x.shape)


_ONE_BITS = 0x3F800000  # the bit pattern of float32 1.0


@functools.lru_cache(maxsize=1)
def srgb_level_tables() -> tuple[np.ndarray, np.ndarray]:
    """The tables of :func:`linear_to_srgb` (and of :mod:`augment.kernels`' sRGB encoding).

    Returns:
        ``lo``: uint8 ``((1.0 bits >> SRGB_BUCKET_SHIFT) + 1,)``: entry ``k`` is the level
        :func:`_linear_to_srgb_exact` gives the first float32 whose bit pattern shifted right
        by ``SRGB_BUCKET_SHIFT`` is ``k`` (a bucket of 4096 consecutive floats);
        ``thresholds``: float32 (257,): entry ``m`` is the least float32 >= 0 whose level is
        at least ``m`` (entry 0 is 0; entry 256 is NaN, which no value reaches, +inf included).
    The curve is monotone and no bucket spans more than one level boundary, so a float ``v``
    in [0, 1] of bucket ``k`` has level ``lo[k] + (v >= thresholds[lo[k] + 1])``
    (``tests/test_colour_srgb_table.py`` checks every float32 in [0, 1]).
    """
    from augment.kernels import SRGB_BUCKET_SHIFT as shift  # the kernels' compile-time constant

    first = np.arange((_ONE_BITS >> shift) + 1, dtype=np.uint32) << shift
    last = np.minimum(first + ((1 << shift) - 1), _ONE_BITS)
    lo = _linear_to_srgb_exact(first.view(np.float32))
    hi = _linear_to_srgb_exact(last.view(np.float32))
    thresholds = np.full(257, np.nan, np.float32)  # entry 256: no float compares >= NaN
    thresholds[0] = 0.0
    for m in range(1, 256):
        k = int(np.searchsorted(hi, m))  # the first bucket that reaches level m
        bits = np.arange(first[k], last[k] + 1, dtype=np.uint32)
        levels = _linear_to_srgb_exact(bits.view(np.float32))
        thresholds[m] = bits[int(np.argmax(levels >= m))].view(np.float32)
    return lo, thresholds


def _linear_to_srgb_exact(linear: np.ndarray) -> np.ndarray:
    """:func:`linear_to_srgb` computed: the sRGB curve in float32, rounded to uint8."""
    x = np.clip(linear.astype(np.float32, copy=False), 0.0, 1.0)
    knee = np.float32(0.0031308)
    srgb = np.maximum(x, knee)  # the power branch, in place
    np.power(srgb, np.float32(1.0 / 2.4), out=srgb)
    srgb *= np.float32(1.055)
    srgb -= np.float32(0.055)
    low = x <= knee
    if low.any():  # the linear branch, only where it applies
        srgb[low] = x[low] * np.float32(12.92)
    srgb *= np.float32(255.0)
    srgb += np.float32(0.5)
    np.clip(srgb, 0, 255, out=srgb)
    return srgb.astype(np.uint8)


def mean_luminance(linear: np.ndarray, weights: np.ndarray | None) -> float:
    """(Weighted) mean linear luminance of a float32 (..., 3) linear-light array."""
    return float(np.dot(LUMINANCE_WEIGHTS, weighted_mean(linear, weights)))
