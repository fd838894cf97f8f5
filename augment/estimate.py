"""Measurements of an image's noise level and sharpness (no change to the image).

Images are ``uint8 (H, W, 3)``/``(H, W)`` or ``float32`` in ``[0, 1]``; noise is given in
0..255 levels whatever the dtype; sharpness in 1/px.  Masks are bool-like ``(H, W)``.
"""
from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from augment.checks import check_image, check_mask
from augment.colour import grey_levels, to_levels
from augment.planes import multiply_by_plane

__all__ = [
    "MIN_PIXELS",
    "estimate_noise_floor",
    "estimate_noise_sigma",
    "estimate_sharpness",
    "sharpness_of_levels",
    "valid_interior",
]

# Immerkær's operator: the difference of two Laplacians, = outer([1,-2,1], [1,-2,1]).
# It annihilates anything linear along x or y; on i.i.d. noise of std s its response
# has std 6 s (sum of squared taps = 36).
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
_SECOND_DIFF = np.array([1, -2, 1], dtype=np.float32)  # the operator is outer(_SECOND_DIFF, _SECOND_DIFF)
_MAD_TO_SIGMA = 1.0 / (0.6744897501960817 * 6.0)
_MEDIAN_SAMPLES = 262_144  # median over at most this many responses (strided subsample)
MIN_PIXELS = 64  # fewer usable pixels than this: not measurable (nan)
_KERNEL_3X3 = np.ones((3, 3), np.uint8)


def valid_interior(mask: np.ndarray | None, hw: tuple[int, int]) -> np.ndarray:
    """bool (H, W): pixels whose 3x3 neighbourhood lies inside the image (and inside `mask`, bool-like or None)."""
    if mask is None:
        valid = np.zeros(hw, bool)
        valid[1:-1, 1:-1] = True
        return valid
    return _interior(mask.astype(np.uint8)).astype(bool)


def _interior(region: np.ndarray) -> np.ndarray:
    """uint8 ``region`` (H, W) eroded by 3x3 with nothing outside the image: the pixels whose
    neighbourhood lies inside it, with its values (0/1 in, 0/1 out)."""
    return cv2.erode(region, _KERNEL_3X3, borderType=cv2.BORDER_CONSTANT, borderValue=0)


def _robust_sigma(response: np.ndarray, valid: np.ndarray, integer_valued: bool) -> float:
    """sigma from the median absolute Immerkær response.

    Responses of uint8 images are integers, whose plain median moves in steps of
    1/4 level of sigma; for those the grouped-data (interpolated) median is used:
    value k stands for the interval [k - 1/2, k + 1/2] (k = 0 for [0, 1/2]).
    """
    vals = response[valid]
    n = vals.size
    if n < MIN_PIXELS:
        return float("nan")
    if not integer_valued:
        if n > _MEDIAN_SAMPLES:
            vals = vals[:: n // _MEDIAN_SAMPLES]
        return float(np.median(np.abs(vals))) * _MAD_TO_SIGMA
    vals = np.abs(vals)
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
    check_image(image, allow_grey=True)
    m = check_mask(mask, image.shape[:2])
    valid = valid_interior(m, image.shape[:2])
    resp = cv2.filter2D(to_levels(image), cv2.CV_32F, _IMMERKAER, borderType=cv2.BORDER_REFLECT_101)
    integer_valued = _is_integer_valued(resp)
    if resp.ndim == 2:
        return _robust_sigma(resp, valid, integer_valued)
    sigmas = [_robust_sigma(resp[..., c], valid, integer_valued) for c in range(resp.shape[2])]
    return float(np.sqrt(np.mean(np.square(sigmas))))


_ABS_TO_SIGMA = math.sqrt(math.pi / 2.0) / 6.0  # Immerkær: sigma = sqrt(pi/2) mean|r| / 6


def _block_sigmas(levels: np.ndarray, valid: np.ndarray, block: int, row_step: int = 1) -> np.ndarray:
    """Immerkær sigma (mean-absolute form, RMS over channels) of each ``block``-px tile
    with at least 3/4 of its pixels valid (``valid``: bool or 0/1 uint8 ``(H, W)``), in
    every ``row_step``-th row of tiles (each tile's value as when all are measured);
    float64 (n,)."""
    h, w = valid.shape
    hb, wb = h // block, w // block
    if hb == 0 or wb == 0:
        return np.zeros(0)
    levels, valid = levels[: hb * block, : wb * block], valid[: hb * block, : wb * block]
    pad = 0
    if row_step > 1:  # the kept bands of tiles, each with the row above and below it, stacked
        padded = cv2.copyMakeBorder(levels, 1, 1, 0, 0, cv2.BORDER_REFLECT_101)
        kept = range(0, hb, row_step)
        levels = np.concatenate([padded[r * block: (r + 1) * block + 2] for r in kept])
        valid = valid.reshape(hb, block, -1)[::row_step].reshape(-1, valid.shape[1])
        hb, pad = len(kept), 1
    tile_mean_abs = _tile_mean_abs_u8 if levels.dtype == np.uint8 else _tile_mean_abs_float
    mean_abs = tile_mean_abs(levels, valid, block, (hb, wb), pad)
    return np.sqrt(np.mean(np.square(mean_abs * _ABS_TO_SIGMA), axis=1))


def _unpad_bands(resp: np.ndarray, hb: int, pad: int) -> np.ndarray:
    """``resp`` of ``hb`` stacked bands with ``pad`` borrowed rows above and below each, without them."""
    if pad == 0:
        return resp
    bands = resp.reshape(hb, -1, *resp.shape[1:])[:, pad:-pad]
    return np.ascontiguousarray(bands).reshape(-1, *resp.shape[1:])


def _tile_mean_abs_u8(levels: np.ndarray, valid: np.ndarray, block: int, grid: tuple[int, int],
                      pad: int) -> np.ndarray:
    """Mean |Immerkær response| over the valid pixels of each tile with at least 3/4 of them
    valid, of uint8 ``levels``: float64 (n, C). Whole-number responses (|r| <= 1020) in int16
    and tile sums in int32, all exact, so it equals the float path's tile means (float32
    sums of whole numbers below 2^24, divided by a power of two for power-of-two blocks)."""
    hb, wb = grid
    resp = cv2.sepFilter2D(levels, cv2.CV_16S, _SECOND_DIFF, _SECOND_DIFF, borderType=cv2.BORDER_REFLECT_101)
    resp = np.abs(_unpad_bands(resp, hb, pad))
    mask = np.ascontiguousarray(valid).view(np.uint8)
    resp = cv2.bitwise_and(resp, resp, mask=mask)  # 0 outside the valid pixels
    sums = _tile_sums(resp, (hb, wb), block, 1020).reshape(hb * wb, -1)
    counts = _tile_sums(mask, (hb, wb), block, 1).reshape(-1)
    keep = counts * 4 >= 3 * block * block
    return sums[keep] / counts[keep][:, None]


def _tile_sums(x: np.ndarray, grid: tuple[int, int], block: int, top: int) -> np.ndarray:
    """int32 ``(hb, wb, C)`` sums over the ``block`` x ``block`` tiles of non-negative whole
    numbers ``x`` (``(hb block, wb block[, C])``, at most ``top``): each band's rows summed in
    the narrowest integer that holds the sum (long contiguous runs), then each tile's columns."""
    hb, wb = grid
    narrow = next(t for t in (np.uint8, np.int16, np.int32) if block * top <= np.iinfo(t).max)
    rows = x.reshape(hb, block, -1).sum(axis=1, dtype=np.promote_types(narrow, x.dtype))
    return np.einsum("ijkl->ijl", rows.astype(np.int32).reshape(hb, wb, block, -1))


def _tile_mean_abs_float(levels: np.ndarray, valid: np.ndarray, block: int, grid: tuple[int, int],
                         pad: int) -> np.ndarray:
    """:func:`_tile_mean_abs_u8` of float32 ``levels`` (float32 tile means by an area resize)."""
    hb, wb = grid
    resp = cv2.filter2D(levels, cv2.CV_32F, _IMMERKAER, borderType=cv2.BORDER_REFLECT_101)
    resp = _unpad_bands(resp, hb, pad)
    np.abs(resp, out=resp)
    v = valid.astype(np.float32)
    multiply_by_plane(resp, v)
    # an area resize by a whole factor is the exact mean of each tile
    sums = cv2.resize(resp, (wb, hb), interpolation=cv2.INTER_AREA).reshape(hb * wb, -1).astype(np.float64)
    shares = cv2.resize(v, (wb, hb), interpolation=cv2.INTER_AREA).reshape(-1).astype(np.float64)
    keep = shares >= 0.75
    return sums[keep] / shares[keep][:, None]


@functools.lru_cache(maxsize=8)
def _floor_bias(block: int, quantile: float) -> float:
    """The ``quantile`` of block sigmas over unit white noise (fixed seed): the low
    quantile of a texture-free image reads this fraction of the true sigma."""
    noise = np.random.default_rng(0).standard_normal((512, 512, 3)).astype(np.float32)
    return float(np.quantile(_block_sigmas(noise, np.ones((512, 512), bool), block), quantile))


def estimate_noise_floor(image: np.ndarray, mask: np.ndarray | None = None, *, block: int = 16,
                         quantile: float = 0.1, min_blocks: int = 8, row_step: int = 1) -> float:
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
        row_step: >= 1; only every ``row_step``-th row of tiles is measured (a sample of
            the tiles, each measured exactly as with 1: faster, a slightly noisier quantile).
    Returns:
        sigma >= 0 in levels, or ``nan``.
    """
    check_image(image, allow_grey=True)
    if not (block >= 4 and 0.0 < quantile < 1.0 and min_blocks >= 1 and row_step >= 1):
        raise ValueError(f"need block >= 4, 0 < quantile < 1, min_blocks >= 1, row_step >= 1; got {block!r}, "
                         f"{quantile!r}, {min_blocks!r}, {row_step!r}")
    m = check_mask(mask, image.shape[:2])
    if m is not None:  # only the tiles around the region: its box, a tile more, on the tile grid
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        if rows.size == 0:
            return float("nan")
        y0, x0 = max(int(rows[0]) // block - 1, 0) * block, max(int(cols[0]) // block - 1, 0) * block
        y1, x1 = (int(rows[-1]) // block + 2) * block, (int(cols[-1]) // block + 2) * block
        image, m = image[y0:y1, x0:x1], m[y0:y1, x0:x1]
    if image.dtype == np.uint8:
        levels = image  # the Immerkær filter takes uint8 and answers in whole numbers
        lo, hi = ((1,) * image.shape[2], (254,) * image.shape[2]) if image.ndim == 3 else (1, 254)
        unclipped = cv2.inRange(image, lo, hi)  # 255 where unclipped: & 1 (or & the mask's 0/1) gives 0/1
        region = (np.bitwise_and(unclipped, 1, out=unclipped) if m is None else
                  cv2.bitwise_and(unclipped, np.ascontiguousarray(m).view(np.uint8)))
        valid = _interior(region)  # valid_interior's pixels, as 0/1 bytes
    else:
        levels = to_levels(image)
        clipped = (levels <= 0.5) | (levels >= 254.5)
        unclipped = ~(clipped.any(axis=2) if clipped.ndim == 3 else clipped)
        valid = valid_interior(unclipped if m is None else unclipped & m, image.shape[:2])
    sigmas = _block_sigmas(levels, valid, block, row_step)
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


def sharpness_of_levels(grey: np.ndarray, valid: np.ndarray) -> float:
    """:func:`estimate_sharpness` of a ``float32 (H, W)`` luma on the 0..255 scale over the bool
    ``(H, W)`` pixels ``valid`` (see :func:`valid_interior`); the kernel, no validation."""
    n = int(np.count_nonzero(valid))
    if n < MIN_PIXELS:
        return float("nan")
    var = _noise_sigma_grey(grey, valid) ** 2
    smooth = cv2.GaussianBlur(grey, (0, 0), _PRESMOOTH, borderType=cv2.BORDER_REFLECT_101)
    gx = cv2.filter2D(smooth, cv2.CV_32F, _DX, borderType=cv2.BORDER_REFLECT_101)
    gy = cv2.filter2D(smooth, cv2.CV_32F, _DX.T, borderType=cv2.BORDER_REFLECT_101)
    lap = cv2.filter2D(smooth, cv2.CV_32F, _LAPLACE, borderType=cv2.BORDER_REFLECT_101)
    gain_g, gain_l = _noise_gains()
    g2, y2, l2 = gx[valid], gy[valid], lap[valid]  # squared in place: the values gx[valid] ** 2 ... give
    g2 *= g2
    y2 *= y2
    g2 += y2
    l2 *= l2
    grad_energy = float(np.mean(g2, dtype=np.float64)) - gain_g * var
    lap_energy = max(float(np.mean(l2, dtype=np.float64)) - gain_l * var, 0.0)
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
    check_image(image, allow_grey=True)
    m = check_mask(mask, image.shape[:2])
    return sharpness_of_levels(grey_levels(image), valid_interior(m, image.shape[:2]))
