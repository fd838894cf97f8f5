"""Sensor noise on the composite (Poisson-Gaussian-like, optionally correlated and pre-denoised).

Sampling is separate from applying: :func:`sample_noise` draws a frozen
:class:`NoiseParams`, :func:`add_sensor_noise` applies it with an explicit generator or
seed.  Images are ``uint8 (H, W, 3)`` or ``float32 (H, W, 3)`` in ``[0, 1]``; sigmas are in
0..255 levels whatever the dtype.
"""
from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from augment.checks import check_choice, check_image, check_range, check_rng, check_unit, check_within
from augment.colour import from_float01
from augment.planes import multiply_by_plane
from augment.targets import Params

__all__ = ["DENOISE_KINDS", "DRAWS", "NOISE_P", "NOISE_SIGMA", "NoiseParams", "add_sensor_noise", "normals_for_draw",
           "quantile_normals", "sample_noise", "unit_normals"]

DenoiseKind = Literal["none", "gaussian", "bilateral"]
DENOISE_KINDS: tuple[str, ...] = ("none", "gaussian", "bilateral")
#: Default range of the mid-grey noise std in levels, and probability of adding noise at all
#: (the recipe's ``realism.noise`` defaults).
NOISE_SIGMA: tuple[float, float] = (0.5, 5.0)
NOISE_P: float = 0.7
#: The ways of drawing the unit fields (:class:`NoiseParams`.draw); the last is what new samples use.
DRAWS: tuple[int, ...] = (1, 2, 3)


@dataclass(frozen=True)
class NoiseParams(Params):
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
        draw: how the unit fields are drawn from the generator (same distribution, other
            values): 1, a luminance field and a per-channel field; 2, one per-channel field
            mixed to the same covariance (a quarter fewer normals when ``0 < chroma < 1``);
            3 (what :func:`sample_noise` gives), draw 2 with its normals from two byte
            look-ups (:func:`unit_normals`) instead of the 65 536-quantile table
            (:func:`quantile_normals`). 1 is the default, so that parameters recorded before
            ``draw`` existed replay as they were drawn; each draw replays as recorded.
    """

    sigma: float = 0.0
    shot_fraction: float = 0.5
    chroma: float = 0.3
    grain_px: float = 0.0
    denoise: str = "none"
    denoise_strength: float = 0.0
    draw: int = 1

    def __post_init__(self) -> None:
        check_within(self.sigma, "NoiseParams.sigma", 0.0, 255.0)
        check_unit(self.shot_fraction, "NoiseParams.shot_fraction")
        check_unit(self.chroma, "NoiseParams.chroma")
        check_within(self.grain_px, "NoiseParams.grain_px", 0.0, 16.0)
        check_choice(self.denoise, DENOISE_KINDS, "NoiseParams.denoise")
        check_within(self.denoise_strength, "NoiseParams.denoise_strength", 0.0)
        check_choice(self.draw, DRAWS, "NoiseParams.draw")


def sample_noise(
    rng: np.random.Generator,
    sigma: tuple[float, float] = NOISE_SIGMA,
    *,
    shot_fraction: tuple[float, float] = (0.3, 0.8),
    chroma: tuple[float, float] = (0.1, 0.5),
    grain_px: tuple[float, float] = (0.0, 0.6),
    denoise: DenoiseKind = "none",
    denoise_strength: tuple[float, float] = (0.0, 0.0),
    p: float = NOISE_P,
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
    check_rng(rng)
    s_lo, s_hi = check_range(sigma, "sigma", low=0.0, high=255.0)
    f_lo, f_hi = check_range(shot_fraction, "shot_fraction", low=0.0, high=1.0)
    c_lo, c_hi = check_range(chroma, "chroma", low=0.0, high=1.0)
    g_lo, g_hi = check_range(grain_px, "grain_px", low=0.0, high=16.0)
    d_lo, d_hi = check_range(denoise_strength, "denoise_strength", low=0.0, high=255.0)
    check_choice(denoise, DENOISE_KINDS, "denoise")
    check_unit(p, "p")
    u = rng.uniform(size=6)
    apply = u[0] < p
    return NoiseParams(
        sigma=float(s_lo + (s_hi - s_lo) * u[1]) if apply else 0.0,
        shot_fraction=float(f_lo + (f_hi - f_lo) * u[2]),
        chroma=float(c_lo + (c_hi - c_lo) * u[3]),
        grain_px=float(g_lo + (g_hi - g_lo) * u[4]),
        denoise=denoise if apply else "none",
        denoise_strength=float(d_lo + (d_hi - d_lo) * u[5]) if apply else 0.0,
        draw=DRAWS[-1],
    )


@functools.lru_cache(maxsize=1)
def _half_normal_table() -> np.ndarray:
    """float32 (1, 256) table ``t``: the sum of two independent uniform draws from it has mean 0,
    variance 1 and kurtosis 3, as a standard normal has.

    The 256 quantiles ``Phi^-1((k + 0.5) / 256)`` with the outermost pair moved out until the
    table's kurtosis is 3 (to about +-3.04 from +-2.89: a midpoint table lacks the mass of
    the tails beyond it), scaled to variance 1/2.
    """
    from scipy.optimize import brentq
    from scipy.special import ndtri

    q = ndtri((np.arange(256, dtype=np.float64) + 0.5) / 256.0)

    def scaled(edge: float) -> np.ndarray:
        t = q.copy()
        t[0], t[-1] = -edge, edge
        return t / t.std()

    edge = brentq(lambda e: float(np.mean(scaled(e) ** 4)) - 3.0, q[-1], 5.0)
    return (scaled(edge) / math.sqrt(2.0)).astype(np.float32).reshape(1, 256)


def unit_normals(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """float32 unit-variance normal noise of ``shape``, several times as fast as ``rng.standard_normal``.

    Each value is the sum of two table look-ups, ``t[u] + t[v]``, with ``u``, ``v`` uniform
    bytes read from the bit generator's raw 64-bit outputs (little-endian byte order, so
    the same on every machine) and ``t`` the 256 normal quantiles scaled to variance 1/2:
    one compiled pass of two small look-ups (:func:`augment.kernels.table_sums`) instead of
    a gather from a large table. The sum's distribution has a normal's first four moments
    (:func:`_half_normal_table`), quantiles within 0.02 of a normal's down to 1e-4, and
    tails that stop at 4.3 sigma (one normal draw in 60 000 lies further out), which image
    noise of a few levels cannot show.
    Deterministic given ``rng``; consumes ``ceil(2 n / 8)`` raw outputs for ``n`` values.
    """
    n = math.prod(shape)
    if n == 0:
        return np.zeros(shape, np.float32)
    from augment.kernels import table_sums  # numba: imported on first use, not with augment

    return table_sums(_byte_pairs(rng, n), _half_normal_table().ravel(), np.empty(n, np.float32)).reshape(shape)


def _byte_pairs(rng: np.random.Generator, n: int) -> np.ndarray:
    """uint8 (>= 2 n,): the little-endian bytes of ``ceil(2 n / 8)`` raw outputs of ``rng``'s
    bit generator, which :func:`unit_normals` reads as ``n`` pairs (``b[i]``, ``b[n + i]``)."""
    return rng.bit_generator.random_raw(-(-2 * n // 8)).astype("<u8", copy=False).view(np.uint8)


def normals_for_draw(rng: np.random.Generator, shape: tuple[int, ...], draw: int) -> np.ndarray:
    """The unit normal field of :class:`NoiseParams` ``draw``: :func:`unit_normals` for 3,
    :func:`quantile_normals` for 1 and 2 (how those samples were drawn)."""
    return unit_normals(rng, shape) if draw >= 3 else quantile_normals(rng, shape)


@functools.lru_cache(maxsize=1)
def _normal_quantiles() -> np.ndarray:
    """The 65 536 quantiles ``Phi^-1((k + 0.5) / 65536)`` of the standard normal, rescaled to
    unit variance (float32; they reach +-4.3)."""
    from scipy.special import ndtri

    q = ndtri((np.arange(65536, dtype=np.float64) + 0.5) / 65536.0)
    return (q / q.std()).astype(np.float32)


def quantile_normals(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """float32 standard-normal noise of ``shape`` as draws 1 and 2 take it: inverse-CDF
    sampling from uniform 16-bit integers into the 65 536 normal quantiles (tails at 4.3
    sigma). About half as fast as :func:`unit_normals`; kept so recorded samples replay."""
    return _normal_quantiles()[uniform_uint16(rng, shape)]


def uniform_uint16(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """``rng.integers(0, 65536, size=shape, dtype=np.uint16)``, the same values and the same
    generator state after, read straight from the bit generator's 64-bit outputs when that is
    exact: numpy fills 16-bit draws from buffered 32-bit ones (low half first), which PCG64
    fills from 64-bit ones (low half first), so on a little-endian machine, with no 32-bit
    half pending and a count divisible by 4, the draws are the raw outputs' 16-bit words.
    Otherwise it calls ``rng.integers``. About 1.7x as fast on a 1024² x 3 field."""
    n = math.prod(shape)
    bits = rng.bit_generator
    if (n % 4 == 0 and sys.byteorder == "little" and isinstance(bits, (np.random.PCG64, np.random.PCG64DXSM))
            and not bits.state["has_uint32"]):
        return bits.random_raw(n // 4).view(np.uint16).reshape(shape)
    return rng.integers(0, 65536, size=shape, dtype=np.uint16)


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
    params: NoiseParams, image: np.ndarray, rng_or_seed: np.random.Generator | int, *,
    extra_std: np.ndarray | None = None,
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
        extra_std: optional ``float32 (H, W)`` >= 0, in 0..1 units (levels / 255): the std
            of further white noise, independent per channel and pixel, added with the
            sensor noise in one rounding; needs ``params.draw >= 2`` and ``sigma > 0``.
    Returns:
        same shape and dtype as ``image``.
    """
    check_image(image)
    if not isinstance(params, NoiseParams):
        raise ValueError(f"params must be NoiseParams, got {type(params).__name__}")
    if isinstance(rng_or_seed, np.random.Generator):
        rng = rng_or_seed
    elif isinstance(rng_or_seed, (int, np.integer)) and not isinstance(rng_or_seed, bool):
        rng = np.random.default_rng(int(rng_or_seed))
    else:
        raise ValueError(f"rng_or_seed must be a numpy Generator or an int, got {type(rng_or_seed).__name__}")

    if extra_std is not None and (params.draw < 2 or params.sigma == 0):
        raise ValueError(f"extra_std needs NoiseParams.draw >= 2 and sigma > 0, got draw {params.draw}, "
                         f"sigma {params.sigma}")
    if extra_std is not None and extra_std.shape != image.shape[:2]:
        raise ValueError(f"extra_std must have shape {image.shape[:2]}, got {extra_std.shape}")
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

    if params.draw >= 2:
        return _add_mixed_noise(params, work, image.dtype, rng, extra_std)
    h, w = image.shape[:2]
    c = params.chroma
    lum = rgb = None  # unit fields: one shared by the channels (luminance), one per channel
    if c < 1.0:
        lum = _correlate(quantile_normals(rng, (h, w)), params.grain_px)
        lum *= np.float32(math.sqrt(1.0 - c))
    if c > 0.0:
        rgb = _correlate(quantile_normals(rng, (h, w, 3)), params.grain_px)
        rgb *= np.float32(math.sqrt(c))
    x, std = _levels_and_std_of(work, params)
    if rgb is None:  # the luminance field broadcast over the channels (no 3-channel copy of it)
        noise = std * lum[..., None]
    else:
        noise = rgb
        if lum is not None:
            noise += lum[..., None]
        noise *= std
    noise += x
    return from_float01(noise, image.dtype)


def _add_mixed_noise(params: NoiseParams, work: np.ndarray, dtype: np.dtype, rng: np.random.Generator,
                     extra_std: np.ndarray | None) -> np.ndarray:
    """``draw`` 2 and 3: one per-channel unit field ``n`` (grain-correlated), mixed by
    ``a I + b J`` (``J`` all ones) to the covariance ``c I + (1 - c) J`` of the luminance +
    chroma sum of draw 1: ``a = sqrt(c)``, ``2 a b + 3 b^2 = 1 - c``. ``extra_std`` adds
    white noise (no grain: it stands for a photo's own noise) from a second field."""
    h, w = work.shape[:2]
    c = params.chroma
    if c == 0.0:  # luminance only: one field, shared by the channels
        field = _correlate(normals_for_draw(rng, (h, w), params.draw), params.grain_px)
    else:
        field = _correlate(normals_for_draw(rng, (h, w, 3), params.draw), params.grain_px)
        if c < 1.0:
            a = math.sqrt(c)
            b = (-a + math.sqrt(a * a + 3.0 * (1.0 - c))) / 3.0
            field = cv2.transform(field, (a * np.eye(3) + b * np.ones((3, 3))).astype(np.float32))
    if work.dtype == np.uint8 and work.ndim == 3 and work.shape[2] == 3 and params.draw >= 3:
        return _noisy_levels(field, work, params, rng, extra_std)
    x, std = _levels_and_std_of(work, params)
    if c == 0.0:
        noise = std * field[..., None]
    else:
        noise = field
        noise *= std
    if extra_std is not None:
        white = normals_for_draw(rng, (h, w, 3), params.draw)
        multiply_by_plane(white, extra_std.astype(np.float32, copy=False))
        noise += white
    noise += x
    return from_float01(noise, dtype)


def _noisy_levels(field: np.ndarray, work: np.ndarray, params: NoiseParams, rng: np.random.Generator,
                  extra_std: np.ndarray | None) -> np.ndarray:
    """The end of :func:`_add_mixed_noise` for a uint8 RGB image and draw 3, in one compiled
    pass (:func:`augment.kernels.noisy_levels`): the same float32 operations in the same order,
    so the same bytes, without the full-canvas temporaries."""
    from augment.kernels import noisy_levels  # numba: imported on first use, not with augment

    x_of, std_of = _levels_and_std(np.arange(256, dtype=np.uint8), params)
    table = _half_normal_table().ravel()
    if extra_std is None:
        raw, extra = np.zeros(0, np.uint8), np.zeros(1, np.float32)
    else:  # the white field's bytes, drawn as unit_normals draws them
        raw = _byte_pairs(rng, work.size)
        extra = np.ascontiguousarray(extra_std, dtype=np.float32).reshape(-1)
    out = noisy_levels(np.ascontiguousarray(field).reshape(-1), field.ndim == 2, np.ascontiguousarray(work).reshape(-1),
                       x_of, std_of, raw, table, extra, np.empty(work.size, np.uint8))
    return out.reshape(work.shape)


def _levels_and_std_of(work: np.ndarray, params: NoiseParams) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_levels_and_std` of an image; uint8 ones through a per-level table (the same values)."""
    if work.dtype != np.uint8:
        return _levels_and_std(work, params)
    x_of, std_of = _levels_and_std(np.arange(256, dtype=np.uint8), params)
    work = np.ascontiguousarray(work)
    return cv2.LUT(work, x_of), cv2.LUT(work, std_of)


def _levels_and_std(work: np.ndarray, params: NoiseParams) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (float32 in [0, 1]) and the noise std ``s * sqrt((1 - f) + 2 f x)`` of ``work`` (uint8 or float32)."""
    x = work.astype(np.float32) * np.float32(1.0 / 255.0) if work.dtype == np.uint8 else work.astype(np.float32)
    s = np.float32(params.sigma / 255.0)
    f = params.shot_fraction
    std = np.clip(x, 0.0, 1.0) * np.float32(2.0 * f)
    std += np.float32(1.0 - f)
    np.sqrt(std, out=std)
    std *= s
    return x, std
