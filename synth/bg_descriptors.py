"""Background and foreground descriptors, computed once per item at preparation time.

Pasting a dim, warm indoor portrait onto a bright blue beach, or onto a street full of
people, gives composites no camera takes. Each background is described once
(:func:`describe_background`: colour, light, clutter, noise, sharpness, size) and each
foreground once (:func:`describe_foreground`); the descriptors are cached with the
prepared items and matched at plan time (:mod:`synth.bg_assignment`).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np
from scipy.ndimage import uniform_filter

from augment.estimate import estimate_noise_sigma, estimate_sharpness
from augment.illuminant import estimate_illuminant
from augment.resize import shrink_long_side

__all__ = ["BgDescriptor", "FgDescriptor", "describe_background", "describe_foreground"]

_DESCRIBE_SIDE = 256  # long side of the copy colour/clutter statistics are computed on
_SALIENCY_SIDE = 64  # spectral residual works at this scale (Hou & Zhang 2007)
_CROP_SIDE = 512  # noise/sharpness: native-resolution centre crop of at most this side
_EDGE_DENSITY_FULL = 0.15  # edge density that counts as fully cluttered


@dataclass(frozen=True)
class BgDescriptor:
    """What a background looks like, for matching (all plain floats/ints, JSON-able).

    Attributes:
        lab_mean, lab_std: CIELAB (L in [0, 100]) mean and std per channel.
        brightness: mean L / 100, in [0, 1].
        temperature: ``ln((mean R + 1) / (mean B + 1))`` on 0..255 values; > 0 warm.
            Mean colour: albedo and light together.
        illuminant: ``(ln(e_R / e_G), ln(e_B / e_G))``, the chromaticity of the light's
            colour by the grey-edge hypothesis (:func:`estimate_illuminant`); ``(0, 0)``
            is white light, independent of the scene's own colours.
        edge_density: share of Canny edge pixels at a 256 px long side, in [0, 1].
        saliency_concentration: in [0, 1]; how much of the spectral-residual saliency
            sits in its top 5 % of pixels (0 = spread evenly or no structure, 1 = all
            in one small spot): a salient-object proxy.
        clutter: ``0.5 min(edge_density / 0.15, 1) + 0.5 saliency_concentration``, in [0, 1].
        noise_sigma: noise std in levels (native resolution).
        sharpness: :func:`augment.estimate.estimate_sharpness` at native resolution.
        height, width: native resolution in px.
    """

    lab_mean: tuple[float, float, float]
    lab_std: tuple[float, float, float]
    brightness: float
    temperature: float
    illuminant: tuple[float, float]
    edge_density: float
    saliency_concentration: float
    clutter: float
    noise_sigma: float
    sharpness: float
    height: int
    width: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FgDescriptor:
    """What a foreground looks like: alpha-weighted colour statistics and its capture quality.

    Attributes:
        lab_mean, lab_std: alpha-weighted CIELAB mean/std per channel.
        brightness: alpha-weighted mean L / 100, in [0, 1].
        temperature: ``ln((mean R + 1) / (mean B + 1))``, alpha-weighted.
        illuminant: grey-edge light chromaticity ``(ln(e_R / e_G), ln(e_B / e_G))`` of the
            opaque interior (:func:`estimate_illuminant`).
        noise_sigma, sharpness: measured on the opaque part (alpha > 0.95, or
            alpha > 0.5 if that is small); nan if too small.
        height, width: size of the foreground image in px.
        coverage: mean alpha, in [0, 1].
    """

    lab_mean: tuple[float, float, float]
    lab_std: tuple[float, float, float]
    brightness: float
    temperature: float
    illuminant: tuple[float, float]
    noise_sigma: float
    sharpness: float
    height: int
    width: int
    coverage: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_rgb(image: np.ndarray, name: str) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        desc = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"{name} must be uint8 (H, W, 3) RGB, got {desc}")
    if min(image.shape[:2]) < 8:
        raise ValueError(f"{name} is too small to describe (need at least 8x8), got {image.shape}")


def _colour_stats(image: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, float]:
    """(lab mean (3,), lab std (3,), temperature) of a uint8 RGB image, optionally weighted."""
    f = image.astype(np.float32) * np.float32(1.0 / 255.0)
    lab = cv2.cvtColor(f, cv2.COLOR_RGB2Lab).reshape(-1, 3).astype(np.float64)
    rgb = image.reshape(-1, 3).astype(np.float64)
    if weights is None:
        w = np.full(lab.shape[0], 1.0 / lab.shape[0])
    else:
        w = weights.reshape(-1).astype(np.float64)
        total = w.sum()
        if not total > 0:
            raise ValueError("alpha has no foreground pixels (all zero): cannot describe the foreground")
        w = w / total
    mean = w @ lab
    std = np.sqrt(np.maximum(w @ (lab * lab) - mean * mean, 0.0))
    mean_rgb = w @ rgb
    temperature = math.log((mean_rgb[0] + 1.0) / (mean_rgb[2] + 1.0))
    return mean, std, temperature


def _spectral_residual_concentration(grey_u8: np.ndarray, top: float = 0.05) -> float:
    """Share of spectral-residual saliency in its top ``top`` pixels, rescaled to [0, 1]."""
    if float(grey_u8.std()) < 1.0:  # flat: nothing salient
        return 0.0
    small = cv2.resize(grey_u8, (_SALIENCY_SIDE, _SALIENCY_SIDE), interpolation=cv2.INTER_AREA).astype(np.float64)
    spec = np.fft.fft2(small)
    log_amp = np.log(np.abs(spec) + 1e-8)
    residual = log_amp - uniform_filter(log_amp, size=3, mode="wrap")  # the spectrum is periodic
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spec)))) ** 2
    sal = cv2.GaussianBlur(sal, (0, 0), 2.5)
    total = sal.sum()
    if not total > 0:
        return 0.0
    k = max(1, int(round(top * sal.size)))
    share = np.partition(sal.ravel(), sal.size - k)[-k:].sum() / total
    return float(np.clip((share - top) / (1.0 - top), 0.0, 1.0))


def _centre_crop(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    y0, x0 = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return image[y0 : y0 + side, x0 : x0 + side]


def describe_background(image: np.ndarray) -> BgDescriptor:
    """Describe a background photo once (cache the result).

    Colour, illuminant and clutter statistics on a copy downscaled (INTER_AREA) to a
    256 px long side; Canny edges (thresholds 50/150 after a 1 px Gaussian) on that copy;
    spectral-residual saliency at 64x64; noise and sharpness on a native-resolution
    centre crop of at most 512x512 (downscaling would hide both).

    Args:
        image: ``uint8 (H, W, 3)`` RGB, at least 8x8.
    """
    _check_rgb(image, "image")
    small = shrink_long_side(image, _DESCRIBE_SIDE)
    mean, std, temperature = _colour_stats(small, None)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(cv2.GaussianBlur(grey, (0, 0), 1.0), 50, 150)
    edge_density = float(np.count_nonzero(edges)) / edges.size
    concentration = _spectral_residual_concentration(grey)
    clutter = 0.5 * min(edge_density / _EDGE_DENSITY_FULL, 1.0) + 0.5 * concentration
    crop = _centre_crop(image, _CROP_SIDE)
    h, w = image.shape[:2]
    return BgDescriptor(
        lab_mean=tuple(float(v) for v in mean),  # type: ignore[arg-type]
        lab_std=tuple(float(v) for v in std),  # type: ignore[arg-type]
        brightness=float(mean[0] / 100.0),
        temperature=float(temperature),
        illuminant=estimate_illuminant(small),
        edge_density=edge_density,
        saliency_concentration=concentration,
        clutter=float(clutter),
        noise_sigma=estimate_noise_sigma(crop),
        sharpness=estimate_sharpness(crop),
        height=int(h),
        width=int(w),
    )


def describe_foreground(fg: np.ndarray, alpha: np.ndarray) -> FgDescriptor:
    """Describe a foreground once: alpha-weighted colour statistics, noise, sharpness, size.

    Colour statistics and the illuminant (grey edge on the alpha-weighted interior) on a
    copy downscaled to a 256 px long side (alpha resized the same way, INTER_AREA); noise and sharpness at native resolution on the opaque
    region.

    Args:
        fg: ``uint8 (H, W, 3)`` RGB foreground colours.
        alpha: ``float32 (H, W)`` in ``[0, 1]`` with some foreground.
    """
    _check_rgb(fg, "fg")
    if not isinstance(alpha, np.ndarray) or alpha.dtype != np.float32 or alpha.shape != fg.shape[:2]:
        desc = f"{alpha.dtype} {alpha.shape}" if isinstance(alpha, np.ndarray) else type(alpha).__name__
        raise ValueError(f"alpha must be float32 {fg.shape[:2]} in [0, 1], got {desc}")
    small = shrink_long_side(fg, _DESCRIBE_SIDE)
    small_alpha = alpha if small is fg else cv2.resize(alpha, small.shape[1::-1], interpolation=cv2.INTER_AREA)
    mean, std, temperature = _colour_stats(small, small_alpha)
    opaque = alpha > 0.95
    if np.count_nonzero(opaque) < 256:
        opaque = alpha > 0.5
    h, w = fg.shape[:2]
    return FgDescriptor(
        lab_mean=tuple(float(v) for v in mean),  # type: ignore[arg-type]
        lab_std=tuple(float(v) for v in std),  # type: ignore[arg-type]
        brightness=float(mean[0] / 100.0),
        temperature=float(temperature),
        illuminant=estimate_illuminant(small, np.clip(small_alpha, 0.0, 1.0)),
        noise_sigma=estimate_noise_sigma(fg, opaque),
        sharpness=estimate_sharpness(fg, opaque),
        height=int(h),
        width=int(w),
        coverage=float(alpha.mean()),
    )
