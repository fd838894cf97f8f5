"""Veiling glare: the light a lens scatters across the whole picture, over the seam too.

Every lens spreads a few per cent of the light it gathers into a wide, faint halo (flare
from its surfaces and barrel, scatter in its glass): a photo is ``(1 - k) L + k (L * G)``
in linear light, ``G`` a wide point-spread tail. In a photograph the subject's edge therefore
carries a little of the light of what stands behind it, and the backdrop a little of the
subject's, both through the same lens. A composite pastes a subject from another picture:
its edge holds the light of its old scene, never the new one's. :func:`veiling_glare` gives
the composite one lens: it mixes a wide Gaussian blur of the whole composite into it, in
linear light, after compositing and before the sensor noise.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from augment.checks import check_range, check_rgb, check_rng, check_unit
from augment.colour import linear_to_srgb, srgb_to_linear
from augment.resize import apply_shrunk

__all__ = ["GlareParams", "sample_glare", "veiling_glare", "GLARE_STRENGTH", "GLARE_RADIUS"]

#: Default share of scattered light: a good lens 1-2 %, a zoom or a phone 3-5 %.
GLARE_STRENGTH = (0.01, 0.05)
#: Default width of the halo (Gaussian sigma) as a fraction of the picture's long side.
GLARE_RADIUS = (0.01, 0.05)
_WORK_SIGMA = 4.0  # px: wider blurs are computed where the sigma is this large (the halo is smooth)


@dataclass(frozen=True)
class GlareParams:
    """``strength``: share ``k`` of the light scattered, in [0, 0.5]; ``radius``: the halo's
    Gaussian sigma as a fraction of the long side. ``strength == 0``: no glare."""

    strength: float
    radius: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def sample_glare(rng: np.random.Generator, strength: tuple[float, float] = GLARE_STRENGTH,
                 radius: tuple[float, float] = GLARE_RADIUS, p: float = 1.0) -> GlareParams:
    """Draw glare parameters (always three uniforms; strength 0 when not applied, with
    probability ``1 - p``), rounded to 6 decimals as :meth:`GlareParams.to_dict` records them,
    so that a replay from ``meta.json`` applies exactly what the build applied."""
    check_rng(rng)
    s_lo, s_hi = check_range(strength, "strength", low=0.0, high=0.5)
    r_lo, r_hi = check_range(radius, "radius", low=0.0, high=0.5)
    check_unit(p, "p")
    u = rng.uniform(size=3)
    if not u[0] < p:
        return GlareParams(0.0, 0.0)
    return GlareParams(round(float(s_lo + (s_hi - s_lo) * u[1]), 6), round(float(r_lo + (r_hi - r_lo) * u[2]), 6))


def _gaussian(linear: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur of ``float32 (H, W, 3)``; a wide one computed on a shrunk copy."""
    if sigma_px <= _WORK_SIGMA:
        return cv2.GaussianBlur(linear, (0, 0), sigma_px, borderType=cv2.BORDER_REFLECT_101)

    def blur(small: np.ndarray, factor: float) -> np.ndarray:
        # the area shrink and bilinear enlargement add about 1/4 small px^2 of variance
        sigma_small = math.sqrt(max((sigma_px * factor) ** 2 - 0.25, 0.25))
        return cv2.GaussianBlur(small, (0, 0), sigma_small, borderType=cv2.BORDER_REFLECT_101)

    return apply_shrunk(linear, sigma_px / _WORK_SIGMA, blur)


def veiling_glare(image: np.ndarray, params: GlareParams) -> np.ndarray:
    """``(1 - k) L + k G_sigma(L)`` in linear light, back to sRGB.

    Args:
        image: ``uint8 (H, W, 3)`` sRGB composite.
        params: :class:`GlareParams`; ``sigma = radius * max(H, W)`` px.
    Returns:
        ``uint8 (H, W, 3)``; the image itself (unchanged) when ``strength`` is 0.
    """
    check_rgb(image, "image")
    if not 0.0 <= params.strength <= 0.5 or not 0.0 <= params.radius <= 0.5:
        raise ValueError(f"glare strength and radius must be in [0, 0.5], got {params}")
    if params.strength == 0.0 or params.radius == 0.0:
        return image
    linear = srgb_to_linear(image)
    halo = _gaussian(linear, params.radius * max(image.shape[:2]))
    k = np.float32(params.strength)
    linear *= np.float32(1.0) - k
    halo *= k
    linear += halo
    return linear_to_srgb(linear)
