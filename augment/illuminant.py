"""The colour of the light on a scene: the grey-edge illuminant estimate (linear RGB).

Shared by background choice (``synth.bg_descriptors``, which matches the colour of the
light) and harmonisation (:mod:`augment.harmonize.light`, which adapts F to B's light).
Images are ``uint8 (H, W, 3)`` sRGB; linear light is ``float32`` in ``[0, 1]``.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from augment.checks import check_rgb
from augment.colour import srgb_to_linear

__all__ = ["estimate_illuminant"]

_GREY_EDGE_SIGMA = 1.0  # Gaussian pre-smoothing (px at the caller's resolution, 256 px long side)
_GREY_EDGE_P = 6.0  # Minkowski norm of the gradient magnitudes (van de Weijer 2007)
_GREY_EDGE_EPS = 1e-4  # added to the per-channel norms: no structure -> neutral (0, 0)
_CLIPPED = 250  # sRGB level at or above which a channel counts as clipped (no light information)


def _grey_edge(image: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Grey-edge light chromaticity of a uint8 RGB image; `weights` float32 (H, W) >= 0.

    Pixels within the derivative filters' reach of a clipped pixel get weight 0; the
    weights are eroded the same way (the caller's region must not see outside pixels).
    """
    radius = int(math.ceil(3 * _GREY_EDGE_SIGMA))  # Gaussian kernel radius
    reach = 2 * (radius + 1) + 1  # Gaussian + 3x3 Sobel, as a square erosion kernel
    kernel = np.ones((reach, reach), np.uint8)
    unclipped = (image.max(axis=2) < _CLIPPED).astype(np.float32)
    w = cv2.erode(np.minimum(weights, unclipped), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    total = float(w.sum())
    if not total > 0:
        return 0.0, 0.0
    lin = cv2.GaussianBlur(srgb_to_linear(image), (2 * radius + 1, 2 * radius + 1), _GREY_EDGE_SIGMA,
                           borderType=cv2.BORDER_REFLECT_101)
    gx = cv2.Sobel(lin, cv2.CV_32F, 1, 0, ksize=3) * np.float32(0.125)
    gy = cv2.Sobel(lin, cv2.CV_32F, 0, 1, ksize=3) * np.float32(0.125)
    mag = np.sqrt(gx * gx + gy * gy).reshape(-1, 3).astype(np.float64)
    wf = w.reshape(-1).astype(np.float64) / total
    e = (wf @ mag**_GREY_EDGE_P) ** (1.0 / _GREY_EDGE_P) + _GREY_EDGE_EPS  # float64: no underflow
    return float(math.log(e[0] / e[1])), float(math.log(e[2] / e[1]))


def estimate_illuminant(image: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float]:
    """Chromaticity of the light falling on a scene, by the grey-edge hypothesis.

    Van de Weijer, Gevers & Gijsenij (2007): the average *difference* of reflectances
    is achromatic, so the Minkowski mean (p = 6) of each channel's gradient magnitude
    (linear light, Gaussian pre-smoothing sigma 1 px) is proportional to that channel's
    illuminant ``e_c``.  Unlike the mean colour (grey world), this does not follow the
    scene's own colours: a red shirt or a green wall is flat inside and only its edges,
    scaled by the light, count.  Pixels near clipped ones (any channel >= 250) are
    left out.  A region without structure gives ``(0, 0)`` (neutral, no evidence).
    Limits: the hypothesis needs several materials; on one subject the shading and
    texture inside a single coloured material (skin, a red jumper) carry that colour,
    so a foreground's estimate still leans toward its albedo.  The filters are sized
    for a copy of about 256 px on the long side (callers downscale first).

    Args:
        image: ``uint8 (H, W, 3)`` sRGB, non-empty (under 9 px on a side there is no
            pixel the eroded weights keep: ``(0, 0)``).
        weights: optional ``float32 (H, W)`` in ``[0, 1]``, e.g. alpha; eroded by the
            filters' reach (4 px) so nothing outside the region contributes.
    Returns:
        ``(ln(e_R / e_G), ln(e_B / e_G))``; ``(0, 0)`` for white light, ``ln(R/G) > 0 >
        ln(B/G)`` for warm (tungsten-like) light.
    """
    check_rgb(image, "image")
    if weights is None:
        weights = np.ones(image.shape[:2], np.float32)
    elif not isinstance(weights, np.ndarray) or weights.dtype != np.float32 or weights.shape != image.shape[:2]:
        desc = f"{weights.dtype} {weights.shape}" if isinstance(weights, np.ndarray) else type(weights).__name__
        raise ValueError(f"weights must be float32 {image.shape[:2]} in [0, 1], got {desc}")
    elif not (float(weights.min()) >= 0.0 and float(weights.max()) <= 1.0):
        raise ValueError(f"weights must be in [0, 1], got [{weights.min()}, {weights.max()}]")
    return _grey_edge(image, weights)
