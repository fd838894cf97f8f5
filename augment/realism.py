"""Realism matching between foreground and background (after GFM's RSSN, extended).

A composite teaches a matting model a shortcut when its foreground and background
differ in ways real photos never do: a sharp, noiseless F on a blurry, noisy B,
an F at a higher resolution than the upscaled B behind it.  This module holds the
measurements (noise level, sharpness) and the pure operations that remove those
differences (defocus, sensor noise on the whole composite, JPEG round trip,
resolution and sharpness matching of F).

Conventions: images are ``uint8 (H, W, 3)`` RGB or ``float32 (H, W, 3)`` in
``[0, 1]``; every operation returns the dtype it was given.  Levels ("sigma in
levels") are on the 0..255 scale whatever the dtype.  Sampling is separate from
applying: :func:`sample_noise` draws a frozen :class:`NoiseParams`, and
:func:`add_sensor_noise` applies it with an explicit generator or seed.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import cv2
import numpy as np

__all__ = [
    "NoiseParams",
    "add_sensor_noise",
    "apply_shrunk",
    "defocus",
    "estimate_noise_floor",
    "estimate_noise_sigma",
    "estimate_sharpness",
    "jpeg_recompress",
    "match_resolution",
    "match_sharpness",
    "match_sharpness_sigma",
    "sample_noise",
    "unit_normals",
]

DenoiseKind = Literal["none", "gaussian", "bilateral"]
_DENOISE_KINDS = ("none", "gaussian", "bilateral")

# Immerkær's operator: the difference of two Laplacians, = outer([1,-2,1], [1,-2,1]).
# It annihilates anything linear along x or y; on i.i.d. noise of std s its response
# has std 6 s (sum of squared taps = 36).
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
_MAD_TO_SIGMA = 1.0 / (0.6744897501960817 * 6.0)
_MEDIAN_SAMPLES = 262_144  # median over at most this many responses (strided subsample)
_MIN_PIXELS = 64
_KERNEL_3X3 = np.ones((3, 3), np.uint8)


# --------------------------------------------------------------------------- validation


def _check_image(image: np.ndarray, name: str = "image", allow_grey: bool = False) -> None:
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(image).__name__}")
    ok_shape = (image.ndim == 3 and image.shape[2] == 3) or (allow_grey and image.ndim == 2)
    if not ok_shape:
        want = "(H, W, 3) or (H, W)" if allow_grey else "(H, W, 3)"
        raise ValueError(f"{name} must have shape {want}, got {image.shape}")
    if image.dtype not in (np.uint8, np.float32):
        raise ValueError(f"{name} must be uint8 or float32, got {image.dtype}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{name} is empty, shape {image.shape}")


def _check_mask(mask: np.ndarray | None, hw: tuple[int, int], name: str = "mask") -> np.ndarray | None:
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != hw:
        raise ValueError(f"{name} must have shape {hw} (the image's H, W), got {mask.shape}")
    return mask.astype(bool, copy=False)


def _check_alpha(alpha: np.ndarray, hw: tuple[int, int], name: str = "alpha") -> None:
    if not isinstance(alpha, np.ndarray) or alpha.dtype != np.float32:
        got = alpha.dtype if isinstance(alpha, np.ndarray) else type(alpha).__name__
        raise ValueError(f"{name} must be a float32 array, got {got}")
    if alpha.shape != hw:
        raise ValueError(f"{name} must have shape {hw} (the image's H, W), got {alpha.shape}")


def _to_levels(image: np.ndarray) -> np.ndarray:
    """float32 copy on the 0..255 scale."""
    if image.dtype == np.uint8:
        return image.astype(np.float32)
    return image * np.float32(255.0)


def _grey_levels(image: np.ndarray) -> np.ndarray:
    """float32 (H, W) luma (BT.601) on the 0..255 scale."""
    if image.ndim == 2:
        return _to_levels(image)
    f = image.astype(np.float32) if image.dtype == np.uint8 else image * np.float32(255.0)
    return cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)


def _from_float01(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float32 [0,1]-scale array (any range) back to `dtype` (rounded and clipped for uint8)."""
    if dtype == np.uint8:
        return np.clip(x * np.float32(255.0) + np.float32(0.5), 0, 255).astype(np.uint8)
    return np.clip(x, 0.0, 1.0).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- measurements


def _valid_interior(mask: np.ndarray | None, hw: tuple[int, int]) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood lies inside the image (and inside `mask`)."""
    if mask is None:
        valid = np.zeros(hw, bool)
        valid[1:-1, 1:-1] = True
        return valid
    valid = cv2.erode(mask.astype(np.uint8), _KERNEL_3X3, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return valid.astype(bool)


def _robust_sigma(response: np.ndarray, valid: np.ndarray, integer_valued: bool) -> float:
    """sigma from the median absolute Immerkær response.

    Responses of uint8 images are integers, whose plain median moves in steps of
    1/4 level of sigma; for those the grouped-data (interpolated) median is used:
    value k stands for the interval [k - 1/2, k + 1/2] (k = 0 for [0, 1/2]).
    """
    vals = np.abs(response[valid])
    n = vals.size
    if n < _MIN_PIXELS:
        return float("nan")
    if not integer_valued:
        if n > _MEDIAN_SAMPLES:
            vals = vals[:: n // _MEDIAN_SAMPLES]
        return float(np.median(vals)) * _MAD_TO_SIGMA
    counts = np.bincount(np.rint(vals).astype(np.int64))
    cum = np.cumsum(counts)
    half = 0.5 * n
    k = int(np.searchsorted(cum, half, side="left"))  # first bin where cum >= n/2
    below = float(cum[k - 1]) if k > 0 else 0.0
    lo, width = (0.0, 0.5) if k == 0 else (k - 0.5, 1.0)
    med = lo + width * (half - below) / float(counts[k])
    return med * _MAD_TO_SIGMA


def _is_integer_valued(resp: np.ndarray) -> bool:
    """True when the responses are whole levels (uint8 data, or float data that came from it)."""
    sample = resp.reshape(-1)[:: max(1, resp.size // 4096)]
    return bool(np.all(np.abs(sample - np.round(sample)) < 1e-3))


def _noise_sigma_grey(grey: np.ndarray, valid: np.ndarray) -> float:
    resp = cv2.filter2D(grey, cv2.CV_32F, _IMMERKAER, borderType=cv2.BORDER_REFLECT_101)
    return _robust_sigma(resp, valid, _is_integer_valued(resp))


def estimate_noise_sigma(image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Noise standard deviation in 0..255 levels (Immerkær's operator, robust median form).

    Immerkær (1996) filters the image with ``[[1,-2,1],[-2,4,-2],[1,-2,1]]``, which
    removes smooth structure and maps i.i.d. noise of std ``s`` to std ``6 s``.
    Instead of his mean absolute response we take the median (``s = median|r| /
    (0.6745 * 6)``), which ignores edges and texture as long as they cover less than
    about half of the region.  Colour images are measured per channel and the RMS
    of the three sigmas is returned, so both luminance noise (equal in R, G, B) and
    independent per-channel noise of std ``s`` read ``s``.

    Args:
        image: ``uint8 (H, W, 3)``/``(H, W)`` or ``float32`` in ``[0, 1]``.
        mask: optional bool-like ``(H, W)``; only pixels whose 3x3 neighbourhood is
            inside the mask are used.
    Returns:
        sigma >= 0 in levels, or ``nan`` when fewer than 64 pixels are usable.
    """
    _check_image(image, allow_grey=True)
    m = _check_mask(mask, image.shape[:2])
    valid = _valid_interior(m, image.shape[:2])
    resp = cv2.filter2D(_to_levels(image), cv2.CV_32F, _IMMERKAER, borderType=cv2.BORDER_REFLECT_101)
    integer_valued = _is_integer_valued(resp)
    if resp.ndim == 2:
        return _robust_sigma(resp, valid, integer_valued)
    sigmas = [_robust_sigma(resp[..., c], valid, integer_valued) for c in range(resp.shape[2])]
    return float(np.sqrt(np.mean(np.square(sigmas))))


_ABS_TO_SIGMA = math.sqrt(math.pi / 2.0) / 6.0  # Immerkær: sigma = sqrt(pi/2) mean|r| / 6


def _block_sigmas(levels: np.ndarray, valid: np.ndarray, block: int) -> np.ndarray:
    """Immerkær sigma (mean-absolute form, RMS over channels) of each ``block``-px tile
    with at least 3/4 of its pixels valid; float64 (n,)."""
    h, w = valid.shape
    hb, wb = h // block, w // block
    if hb == 0 or wb == 0:
        return np.zeros(0)
    resp = cv2.filter2D(levels[: hb * block, : wb * block], cv2.CV_32F, _IMMERKAER,
                        borderType=cv2.BORDER_REFLECT_101)
    np.abs(resp, out=resp)
    v = valid[: hb * block, : wb * block].astype(np.float32)
    resp *= v if resp.ndim == 2 else v[..., None]
    # an area resize by a whole factor is the exact mean of each tile
    sums = cv2.resize(resp, (wb, hb), interpolation=cv2.INTER_AREA).reshape(hb * wb, -1).astype(np.float64)
    shares = cv2.resize(v, (wb, hb), interpolation=cv2.INTER_AREA).reshape(-1).astype(np.float64)
    keep = shares >= 0.75
    mean_abs = sums[keep] / shares[keep][:, None]
    return np.sqrt(np.mean(np.square(mean_abs * _ABS_TO_SIGMA), axis=1))


@functools.lru_cache(maxsize=8)
def _floor_bias(block: int, quantile: float) -> float:
    """The ``quantile`` of block sigmas over unit white noise (fixed seed): the low
    quantile of a texture-free image reads this fraction of the true sigma."""
    noise = np.random.default_rng(0).standard_normal((512, 512, 3)).astype(np.float32)
    return float(np.quantile(_block_sigmas(noise, np.ones((512, 512), bool), block), quantile))


def estimate_noise_floor(image: np.ndarray, mask: np.ndarray | None = None, *, block: int = 16,
                         quantile: float = 0.1, min_blocks: int = 8) -> float:
    """Noise standard deviation in levels, read in the flattest parts of the image.

    :func:`estimate_noise_sigma` takes the median response over the whole region, which
    fine texture (hair, fabric, foliage) inflates when it covers much of it.  Here the
    region is cut into ``block`` x ``block`` tiles, each gets its own Immerkær sigma, and
    the ``quantile`` of those (the flattest tiles: skin, a wall, a sky) is divided by
    what that quantile reads on pure white noise, so a texture-free image reads its true
    sigma.  Clipped pixels (0 or 255 in a channel) are left out: they carry no noise.

    Args:
        image: ``uint8 (H, W, 3)``/``(H, W)`` or ``float32`` in ``[0, 1]``.
        mask: optional bool-like ``(H, W)``; only pixels whose 3x3 neighbourhood is inside
            it (and unclipped) count.
        block: tile side in px, >= 4.
        quantile: in ``(0, 1)``.
        min_blocks: fewer usable tiles than this gives ``nan``.
    Returns:
        sigma >= 0 in levels, or ``nan``.
    """
    _check_image(image, allow_grey=True)
    if not (block >= 4 and 0.0 < quantile < 1.0 and min_blocks >= 1):
        raise ValueError(f"need block >= 4, 0 < quantile < 1, min_blocks >= 1; got {block!r}, {quantile!r}, "
                         f"{min_blocks!r}")
    m = _check_mask(mask, image.shape[:2])
    if m is not None:  # only the tiles around the region: its box, a tile more, on the tile grid
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        if rows.size == 0:
            return float("nan")
        y0, x0 = max(int(rows[0]) // block - 1, 0) * block, max(int(cols[0]) // block - 1, 0) * block
        y1, x1 = (int(rows[-1]) // block + 2) * block, (int(cols[-1]) // block + 2) * block
        image, m = image[y0:y1, x0:x1], m[y0:y1, x0:x1]
    if image.dtype == np.uint8:
        levels = image  # the Immerkær filter takes uint8 and answers in float32
        lo, hi = ((1,) * image.shape[2], (254,) * image.shape[2]) if image.ndim == 3 else (1, 254)
        unclipped = cv2.inRange(image, lo, hi) > 0
    else:
        levels = _to_levels(image)
        clipped = (levels <= 0.5) | (levels >= 254.5)
        unclipped = ~(clipped.any(axis=2) if clipped.ndim == 3 else clipped)
    valid = _valid_interior(unclipped if m is None else unclipped & m, image.shape[:2])
    sigmas = _block_sigmas(levels, valid, block)
    if sigmas.size < min_blocks:
        return float("nan")
    return float(np.quantile(sigmas, quantile)) / _floor_bias(block, quantile)


_DX = np.array([[-0.5, 0.0, 0.5]], dtype=np.float32)
_LAPLACE = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float32)
_PRESMOOTH = 1.0  # px; the scale at which sharpness is measured


@functools.lru_cache(maxsize=1)
def _noise_gains() -> tuple[float, float]:
    """Energy added to (|grad|^2, lap^2) by unit white noise after the pre-smoothing."""
    r = int(math.ceil(4 * _PRESMOOTH))
    g = cv2.getGaussianKernel(2 * r + 1, _PRESMOOTH, cv2.CV_64F)
    g2 = np.pad(g @ g.T, 2)
    taps = [
        cv2.filter2D(g2, -1, k.astype(np.float64), borderType=cv2.BORDER_CONSTANT)
        for k in (_DX, _DX.T, _LAPLACE)
    ]
    return float(np.sum(taps[0] ** 2) + np.sum(taps[1] ** 2)), float(np.sum(taps[2] ** 2))


def _sharpness_grey(grey: np.ndarray, valid: np.ndarray) -> float:
    n = int(np.count_nonzero(valid))
    if n < _MIN_PIXELS:
        return float("nan")
    var = _noise_sigma_grey(grey, valid) ** 2
    smooth = cv2.GaussianBlur(grey, (0, 0), _PRESMOOTH, borderType=cv2.BORDER_REFLECT_101)
    gx = cv2.filter2D(smooth, cv2.CV_32F, _DX, borderType=cv2.BORDER_REFLECT_101)
    gy = cv2.filter2D(smooth, cv2.CV_32F, _DX.T, borderType=cv2.BORDER_REFLECT_101)
    lap = cv2.filter2D(smooth, cv2.CV_32F, _LAPLACE, borderType=cv2.BORDER_REFLECT_101)
    gain_g, gain_l = _noise_gains()
    grad_energy = float(np.mean(gx[valid] ** 2 + gy[valid] ** 2, dtype=np.float64)) - gain_g * var
    lap_energy = max(float(np.mean(lap[valid] ** 2, dtype=np.float64)) - gain_l * var, 0.0)
    if grad_energy < 1e-3:  # flat region (up to noise): no structure, no sharpness
        return 0.0
    return math.sqrt(lap_energy / grad_energy)


def estimate_sharpness(image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Contrast-invariant, noise-compensated sharpness of the luma, in 1/px.

    ``sqrt(E[(lap g)^2] / E[|grad g|^2])`` on the luma ``g`` pre-smoothed by a
    Gaussian of 1 px: the power-weighted RMS spatial frequency of the gradient
    field.  It does not change when the contrast is scaled (so a low-contrast
    background and a high-contrast foreground can be compared) and it falls
    monotonically with blur: a step edge blurred by a Gaussian of std ``s`` reads
    ``1 / sqrt(2 (s^2 + 1))``, i.e. about 0.71 for a perfectly sharp edge, 0.5 at
    ``s = 1``, 0.17 at ``s = 4``.  The energy that white noise adds to both terms is
    subtracted using :func:`estimate_noise_sigma`'s estimate on the luma, so noise
    and sharpness are measured (nearly) independently.

    Args:
        image: ``uint8 (H, W, 3)``/``(H, W)`` or ``float32`` in ``[0, 1]``.
        mask: optional bool-like ``(H, W)``; filters see the whole image, statistics
            use pixels whose 3x3 neighbourhood is inside the mask.
    Returns:
        sharpness >= 0 (0 for a flat region), ``nan`` when fewer than 64 pixels are usable.
    """
    _check_image(image, allow_grey=True)
    m = _check_mask(mask, image.shape[:2])
    return _sharpness_grey(_grey_levels(image), _valid_interior(m, image.shape[:2]))


# --------------------------------------------------------------------------- defocus


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
    """float32 (H, W, C) convolved with the disk; large disks at a lower resolution (see defocus)."""
    if exact or radius_px <= _DEFOCUS_WORK_RADIUS:
        return cv2.filter2D(image, -1, _disk_kernel(int(round(radius_px * 1000))), borderType=cv2.BORDER_REFLECT_101)

    def blur(small: np.ndarray, factor: float) -> np.ndarray:
        # the area shrink and the bilinear enlargement blur too: together about as much as a
        # disk of radius 1 (variance 1/4 small px^2), taken off the disk's variance r^2 / 4
        radius_small = math.sqrt(max((radius_px * factor) ** 2 - 1.0, 1.0))
        kernel = _disk_kernel(int(round(radius_small * 1000)))
        return cv2.filter2D(small, -1, kernel, borderType=cv2.BORDER_REFLECT_101)

    return apply_shrunk(image, radius_px / _DEFOCUS_WORK_RADIUS, blur)


def apply_shrunk(image: np.ndarray, shrink: float,
                 fn: Callable[[np.ndarray, float], np.ndarray]) -> np.ndarray:
    """``fn`` applied at a lower resolution, for filters whose output is smooth anyway.

    ``image`` (``float32 (H, W, C)``, ``C <= 4``) is shrunk ``shrink`` times (area average),
    ``fn(small, factor)`` filters it (``factor``: small px per image px, the smaller of the
    two axes' after rounding), and the result is enlarged back to ``(H, W)`` (bilinear).
    """
    h, w = image.shape[:2]
    sw, sh = max(1, round(w / shrink)), max(1, round(h / shrink))
    small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    return cv2.resize(fn(small, min(sw / w, sh / h)), (w, h), interpolation=cv2.INTER_LINEAR)


def defocus(image: np.ndarray, radius_px: float, *, linear_light: bool = False, exact: bool = False) -> np.ndarray:
    """Lens-like defocus: convolution with an anti-aliased disk (bokeh) kernel, not a Gaussian.

    A disk larger than 4 px is applied where it is 4 px: the image is shrunk by
    ``radius_px / 4`` (area average), convolved, and enlarged back (bilinear). A large
    disk removes every detail the shrinking removes, so this is 2.5-4x faster at 1024 px
    for 0.4-0.8 levels RMS from the full-resolution convolution (real photos); only the
    rims of bright bokeh discs come out a little softer (1 pixel in 1000 differs by 2-9
    levels).
    ``exact=True`` convolves at full resolution.

    Args:
        image: ``uint8 (H, W, 3)`` or ``float32 (H, W, 3)`` in ``[0, 1]``.
        radius_px: disk radius in pixels, ``>= 0``; 0 returns an unchanged copy.
        linear_light: blur in (approximately, gamma 2.2) linear light, so that
            highlights bloom into discs as they do through a lens (slower).
        exact: full-resolution convolution whatever the radius (slower).
    Returns:
        same shape and dtype as ``image``.
    """
    _check_image(image)
    if not (math.isfinite(radius_px) and radius_px >= 0):
        raise ValueError(f"radius_px must be a finite number >= 0, got {radius_px!r}")
    if radius_px == 0:
        return image.copy()
    x = image.astype(np.float32) * np.float32(1.0 / 255.0) if image.dtype == np.uint8 else image
    if linear_light:
        x = np.power(np.clip(x, 0.0, 1.0), np.float32(2.2))
    out = _disk_blur(x, radius_px, exact)
    if linear_light:
        out = np.power(np.clip(out, 0.0, 1.0), np.float32(1.0 / 2.2))
    return _from_float01(out, image.dtype)


# --------------------------------------------------------------------------- sensor noise


@dataclass(frozen=True)
class NoiseParams:
    """Parameters of the sensor-noise model (see :func:`add_sensor_noise`).

    Attributes:
        sigma: total noise std in 0..255 levels at mid grey (0 = no noise).
        shot_fraction: share in [0, 1] of the mid-grey variance that is signal
            dependent (Poisson-like, variance proportional to intensity); the rest is
            read noise (constant variance).
        chroma: in [0, 1]; 0 = luminance noise only (same value in R, G, B),
            1 = independent noise per channel.
        grain_px: std in px of a Gaussian that spatially correlates the noise
            (demosaicing, in-camera processing); 0 = white noise.  Variance is
            preserved.
        denoise: smoothing applied *before* the noise ("none", "gaussian",
            "bilateral"), to remove the background's own noise so that F and B end
            with the same noise.
        denoise_strength: Gaussian std in px ("gaussian") or range sigma in
            levels ("bilateral"); ignored for "none".
    """

    sigma: float = 0.0
    shot_fraction: float = 0.5
    chroma: float = 0.3
    grain_px: float = 0.0
    denoise: str = "none"
    denoise_strength: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.sigma) and 0.0 <= self.sigma <= 255.0):
            raise ValueError(f"NoiseParams.sigma must be in [0, 255], got {self.sigma!r}")
        for name in ("shot_fraction", "chroma"):
            v = getattr(self, name)
            if not (0.0 <= v <= 1.0):
                raise ValueError(f"NoiseParams.{name} must be in [0, 1], got {v!r}")
        if not (math.isfinite(self.grain_px) and 0.0 <= self.grain_px <= 16.0):
            raise ValueError(f"NoiseParams.grain_px must be in [0, 16], got {self.grain_px!r}")
        if self.denoise not in _DENOISE_KINDS:
            raise ValueError(f"NoiseParams.denoise must be one of {_DENOISE_KINDS}, got {self.denoise!r}")
        if not (math.isfinite(self.denoise_strength) and self.denoise_strength >= 0.0):
            raise ValueError(f"NoiseParams.denoise_strength must be >= 0, got {self.denoise_strength!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_range(name: str, value: tuple[float, float], lo: float, hi: float) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (low, high) pair, got {value!r}") from None
    if not (lo <= a <= b <= hi):
        raise ValueError(f"{name} must satisfy {lo} <= low <= high <= {hi}, got {value!r}")
    return a, b


def sample_noise(
    rng: np.random.Generator,
    sigma: tuple[float, float] = (0.0, 6.0),
    *,
    shot_fraction: tuple[float, float] = (0.3, 0.8),
    chroma: tuple[float, float] = (0.1, 0.5),
    grain_px: tuple[float, float] = (0.0, 0.6),
    denoise: DenoiseKind = "none",
    denoise_strength: tuple[float, float] = (0.0, 0.0),
    p: float = 1.0,
) -> NoiseParams:
    """Draw sensor-noise parameters; each field uniform in its (low, high) range.

    With probability ``1 - p`` the result has ``sigma = 0`` (no noise) but the
    generator is advanced identically, so later draws do not depend on the outcome.

    Args:
        rng: the sample's generator.
        sigma: range of the mid-grey noise std in levels, within [0, 255].
        shot_fraction, chroma: ranges within [0, 1] (see :class:`NoiseParams`).
        grain_px: range within [0, 16] of the noise correlation std in px.
        denoise: smoothing before the noise.
        denoise_strength: range of its strength (px for gaussian, levels for bilateral).
        p: probability in [0, 1] of adding noise at all.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    s_lo, s_hi = _check_range("sigma", sigma, 0.0, 255.0)
    f_lo, f_hi = _check_range("shot_fraction", shot_fraction, 0.0, 1.0)
    c_lo, c_hi = _check_range("chroma", chroma, 0.0, 1.0)
    g_lo, g_hi = _check_range("grain_px", grain_px, 0.0, 16.0)
    d_lo, d_hi = _check_range("denoise_strength", denoise_strength, 0.0, 255.0)
    if denoise not in _DENOISE_KINDS:
        raise ValueError(f"denoise must be one of {_DENOISE_KINDS}, got {denoise!r}")
    if not (0.0 <= p <= 1.0):
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    u = rng.uniform(size=6)
    apply = u[0] < p
    return NoiseParams(
        sigma=float(s_lo + (s_hi - s_lo) * u[1]) if apply else 0.0,
        shot_fraction=float(f_lo + (f_hi - f_lo) * u[2]),
        chroma=float(c_lo + (c_hi - c_lo) * u[3]),
        grain_px=float(g_lo + (g_hi - g_lo) * u[4]),
        denoise=denoise if apply else "none",
        denoise_strength=float(d_lo + (d_hi - d_lo) * u[5]) if apply else 0.0,
    )


@functools.lru_cache(maxsize=1)
def _normal_quantiles() -> np.ndarray:
    """The 65 536 quantiles ``Phi^-1((k + 0.5) / 65536)`` of the standard normal, rescaled to
    unit variance (float32; they reach +-4.3)."""
    from scipy.special import ndtri

    q = ndtri((np.arange(65536, dtype=np.float64) + 0.5) / 65536.0)
    return (q / q.std()).astype(np.float32)


def unit_normals(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """float32 standard-normal noise of ``shape``, 3-4x faster than ``rng.standard_normal``.

    Inverse-CDF sampling from uniform 16-bit integers: the values are the 65 536 normal
    quantiles, so the tails stop at 4.3 sigma (one draw in 60 000 would lie further out),
    which image noise of a few levels cannot show. Deterministic given ``rng``.
    """
    return _normal_quantiles()[rng.integers(0, 65536, size=shape, dtype=np.uint16)]


def _correlate(noise: np.ndarray, grain_px: float) -> np.ndarray:
    """Gaussian-correlate unit-variance white noise and restore unit variance."""
    if grain_px <= 0:
        return noise
    k = cv2.getGaussianKernel(2 * int(math.ceil(3 * grain_px)) + 1, grain_px, cv2.CV_32F)
    out = cv2.sepFilter2D(noise, -1, k, k, borderType=cv2.BORDER_REFLECT_101)
    # a separable blur with 1-D taps k scales the std of white noise by sum(k^2)
    out *= np.float32(1.0 / float(np.sum(k.astype(np.float64) ** 2)))
    return out


def add_sensor_noise(
    params: NoiseParams, image: np.ndarray, rng_or_seed: np.random.Generator | int
) -> np.ndarray:
    """Add Poisson-Gaussian-like sensor noise to the composite ``I`` (after compositing).

    Model, with ``x`` the (optionally pre-denoised) intensity in ``[0, 1]`` per channel:
    ``var(x) = (sigma/255)^2 * ((1 - f) + f * x / 0.5)`` with ``f = shot_fraction``
    (so the std is ``sigma`` levels at mid grey, ``sigma*sqrt(1-f)`` in black).  The
    unit noise field is ``sqrt(1-c) * n_lum + sqrt(c) * n_rgb`` with ``c = chroma``,
    optionally spatially correlated (``grain_px``).  Applied to the whole composite
    so that foreground and background carry the same noise.

    Args:
        params: from :func:`sample_noise`.
        image: ``uint8 (H, W, 3)`` or ``float32 (H, W, 3)`` in ``[0, 1]``.
        rng_or_seed: generator or integer seed of the noise realisation; the same
            seed gives the same bytes.
    Returns:
        same shape and dtype as ``image``.
    """
    _check_image(image)
    if not isinstance(params, NoiseParams):
        raise ValueError(f"params must be NoiseParams, got {type(params).__name__}")
    if isinstance(rng_or_seed, np.random.Generator):
        rng = rng_or_seed
    elif isinstance(rng_or_seed, (int, np.integer)) and not isinstance(rng_or_seed, bool):
        rng = np.random.default_rng(int(rng_or_seed))
    else:
        raise ValueError(f"rng_or_seed must be a numpy Generator or an int, got {type(rng_or_seed).__name__}")

    work = image
    if params.denoise == "gaussian" and params.denoise_strength > 0:
        work = cv2.GaussianBlur(image, (0, 0), params.denoise_strength, borderType=cv2.BORDER_REFLECT_101)
    elif params.denoise == "bilateral" and params.denoise_strength > 0:
        src = image if image.dtype == np.uint8 else image * np.float32(255.0)
        work = cv2.bilateralFilter(src, 5, params.denoise_strength, 2.0)
        if image.dtype == np.float32:
            work = work / np.float32(255.0)
    if params.sigma == 0:
        return work.copy() if work is image else work

    h, w = image.shape[:2]
    x = work.astype(np.float32) * np.float32(1.0 / 255.0) if work.dtype == np.uint8 else work.astype(np.float32)
    c = params.chroma
    lum = rgb = None  # unit fields: one shared by the channels (luminance), one per channel
    if c < 1.0:
        lum = _correlate(unit_normals(rng, (h, w)), params.grain_px)
        lum *= np.float32(math.sqrt(1.0 - c))
    if c > 0.0:
        rgb = _correlate(unit_normals(rng, (h, w, 3)), params.grain_px)
        rgb *= np.float32(math.sqrt(c))
    s = np.float32(params.sigma / 255.0)
    f = params.shot_fraction
    # std(x) = s * sqrt((1 - f) + 2 f x)
    std = np.clip(x, 0.0, 1.0) * np.float32(2.0 * f)
    std += np.float32(1.0 - f)
    np.sqrt(std, out=std)
    std *= s
    if rgb is None:  # the luminance field broadcast over the channels (no 3-channel copy of it)
        noise = std * lum[..., None]
    else:
        noise = rgb
        if lum is not None:
            noise += lum[..., None]
        noise *= std
    noise += x
    return _from_float01(noise, image.dtype)


# --------------------------------------------------------------------------- JPEG, resolution, sharpness


def jpeg_recompress(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG encode/decode round trip (4:2:0, like cameras), for the composite ``I`` only.

    Args:
        image: ``uint8 (H, W, 3)`` RGB or ``float32 (H, W, 3)`` in ``[0, 1]``.
        quality: JPEG quality, int in [1, 100].
    Returns:
        same shape and dtype as ``image``.
    """
    _check_image(image)
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an int in [1, 100], got {quality!r}")
    u8 = image if image.dtype == np.uint8 else _from_float01(image, np.dtype(np.uint8))
    bgr = cv2.cvtColor(u8, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"JPEG encoding failed for an image of shape {image.shape}")
    out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    if image.dtype == np.float32:
        return out.astype(np.float32) / np.float32(255.0)
    return out


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
    _check_image(fg, "fg")
    if not (math.isfinite(upscale) and upscale > 0):
        raise ValueError(f"upscale must be a finite number > 0, got {upscale!r}")
    if upscale <= 1.0:
        return fg.copy()
    h, w = fg.shape[:2]
    sw, sh = max(1, int(round(w / upscale))), max(1, int(round(h / upscale)))
    small = cv2.resize(fg, (sw, sh), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _fg_region(alpha: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    region = alpha > threshold
    if np.count_nonzero(region) < _MIN_PIXELS:
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
    _check_image(fg, "fg")
    _check_alpha(alpha, fg.shape[:2])
    if not (math.isfinite(target_sharpness) and target_sharpness >= 0):
        raise ValueError(f"target_sharpness must be a finite number >= 0, got {target_sharpness!r}")
    if not (math.isfinite(max_sigma) and max_sigma > 0):
        raise ValueError(f"max_sigma must be > 0, got {max_sigma!r}")
    region = _fg_region(alpha)
    ys, xs = np.nonzero(region)
    if ys.size < _MIN_PIXELS:
        return 0.0
    pad = int(math.ceil(3 * max_sigma)) + 2
    h, w = alpha.shape
    y0, y1 = max(0, int(ys.min()) - pad), min(h, int(ys.max()) + 1 + pad)
    x0, x1 = max(0, int(xs.min()) - pad), min(w, int(xs.max()) + 1 + pad)
    grey = _grey_levels(fg[y0:y1, x0:x1])
    valid = _valid_interior(region[y0:y1, x0:x1], grey.shape)

    def sharp(sigma: float) -> float:
        g = grey if sigma == 0 else cv2.GaussianBlur(grey, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
        return _sharpness_grey(g, valid)

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
    sigma = match_sharpness_sigma(fg, alpha, target_sharpness, **kwargs)
    if sigma <= 0:
        return fg.copy()
    return cv2.GaussianBlur(fg, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
