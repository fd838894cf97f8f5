"""Light harmonisation: per-channel linear-light gains that change only the light on F.

What a subject and its scene share in a real photo is the *light*, not their colours;
these methods scale F's linear RGB (sRGB decoded), so F's own colours are re-lit, never
replaced by B's:

* :func:`von_kries`: chromatic adaptation of F from its grey-edge illuminant to B's
  (:func:`augment.illuminant.estimate_illuminant`), luminance of neutrals kept;
* :func:`exposure`: one gain moving F's mean luminance toward B's (in stops),
  chromaticity kept;
* :func:`relight`: both, the natural single choice (a change of light changes its
  colour and its intensity).

Images are ``uint8 (H, W, 3)`` RGB, alpha ``float32 (H, W)`` in ``[0, 1]`` (read only).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from augment.bands import subject_box
from augment.checks import check_layers, check_positive
from augment.colour import (
    LUMINANCE_WEIGHTS,
    mean_luminance,
    srgb_level_tables,
    srgb_to_linear,
    subsample,
    subsample_weighted,
)
from augment.estimate import estimate_noise_sigma
from augment.illuminant import estimate_illuminant
from augment.planes import per_channel

__all__ = ["apply_gains", "exposure", "light_gains", "relight", "von_kries"]

_ILLUMINANT_SIDE = 256  # long side of the copies the grey-edge illuminant is estimated on
_LEVELS = np.arange(256, dtype=np.uint8)


def _illuminant(image: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Grey-edge ``(ln(e_R/e_G), ln(e_B/e_G))`` as float64 (2,), on a <= 256 px copy (INTER_AREA)."""
    h, w = image.shape[:2]
    scale = _ILLUMINANT_SIDE / max(h, w)
    if scale < 1:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        if weights is not None:
            weights = cv2.resize(weights, size, interpolation=cv2.INTER_AREA)
    if weights is not None:
        weights = np.clip(weights, 0.0, 1.0).astype(np.float32, copy=False)
    return np.asarray(estimate_illuminant(image, weights), np.float64)


def light_gains(
    fg: np.ndarray,
    alpha: np.ndarray,
    bg: np.ndarray,
    strength: float,
    *,
    chromatic: bool = True,
    intensity: bool = True,
    max_log_gain: float = 0.7,
    max_stops: float = 2.0,
) -> np.ndarray:
    """Per-channel linear-light gains that move the light on F toward the light on B.

    Chromatic part (von Kries): with ``E = (ln(e_R/e_G), ln(e_B/e_G))`` the grey-edge
    illuminant of F (alpha-weighted, bounding box of ``alpha > 0``) and of B (all of
    it: in the pipeline B is the visible backdrop of the canvas, and the grey-edge
    hypothesis needs as many materials as possible), ``d = clip(E_B - E_F, +-max_log_gain)``
    and ``g = exp(strength * (d_R, 0, d_B))`` divided by ``Y(g)``, so a neutral
    surface keeps its luminance.  So the gains move F's illuminant estimate the
    fraction ``strength`` of the way to B's, and F's own colours (albedo) are only
    re-lit, never replaced by B's.

    Intensity part (exposure): ``k = 2 ** (strength * clip(log2(Y_B / Y_F), +-max_stops))``
    with ``Y_F`` F's alpha-weighted mean linear luminance after the chromatic gains
    and ``Y_B`` B's mean: F's mean luminance moves the fraction ``strength`` of the
    way to B's in stops (up to clipping at white).  ``Y_F`` or ``Y_B`` under 1e-4
    (black) give ``k = 1``.

    Args:
        fg: ``uint8 (H, W, 3)``; alpha: ``float32 (H, W)`` in ``[0, 1]``, read only;
        bg: ``uint8 (h, w, 3)`` (any size); strength: in ``[0, 1]``.
        chromatic, intensity: which parts to include (at least one).
        max_log_gain: > 0, bound on ``|E_B - E_F|`` per chromaticity (0.7: a factor 2).
        max_stops: > 0, bound on ``|log2(Y_B / Y_F)|``.
    Returns:
        ``float64 (3,)`` gains for linear R, G, B; ``(1, 1, 1)`` at strength 0.
    """
    check_layers(fg, alpha, bg, strength)
    check_positive(max_log_gain, "max_log_gain")
    check_positive(max_stops, "max_stops")
    if not (chromatic or intensity):
        raise ValueError("light_gains needs chromatic=True or intensity=True (or both)")
    gains = np.ones(3)
    s = float(strength)
    if s == 0:
        return gains
    ys, xs = subject_box(alpha)
    crop, weights = fg[ys, xs], alpha[ys, xs]
    if chromatic:
        d = np.clip(_illuminant(bg, None) - _illuminant(crop, weights), -max_log_gain, max_log_gain)
        gains = np.exp(s * np.array([d[0], 0.0, d[1]]))
        gains /= float(np.dot(LUMINANCE_WEIGHTS, gains))
    if intensity:  # mean luminances on strided subsamples (about 0.26 Mpx each)
        crop, weights = subsample_weighted(crop, weights)
        lin = srgb_to_linear(crop)
        if not np.all(gains == 1.0):  # (a product with ones changes nothing)
            per_channel(np.multiply, lin, gains.astype(np.float32))
        y_f = mean_luminance(lin, weights)
        y_b = mean_luminance(srgb_to_linear(subsample(bg)), None)
        if y_f > 1e-4 and y_b > 1e-4:
            gains = gains * 2.0 ** (s * float(np.clip(math.log2(y_b / y_f), -max_stops, max_stops)))
    return gains


def _noise_free_levels(crop: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
    """uint8 ``crop`` (RGB) with its sensor noise smoothed away, or ``None`` when F shows no
    measurable noise (under 0.3 level inside ``weights > 0.95``).

    An edge-preserving bilateral filter, applied twice (5x5, spatial std 1.5 px, colour
    std 4 noise sigmas), on the uint8 sRGB levels (each pass rounds to whole levels, which
    moves the result by at most one level, in under a tenth of the pixels, from a float
    filter's; the 8-bit filter is about twice as fast): differences that large are edges
    and texture, kept as signal. It leaves about a fifth of the noise in the flat parts.
    The noise is measured on the middle 256 rows (enough pixels for a median, a quarter
    of the cost at 1024 px).
    """
    top = max(0, (crop.shape[0] - 256) // 2)
    band = slice(top, top + 256)
    sigma = estimate_noise_sigma(crop[band], weights[band] > 0.95)
    if not (math.isfinite(sigma) and sigma >= 0.3):
        return None
    base = crop
    for _ in range(2):  # on whole levels: OpenCV's 8-bit filter reads its colour weights from an exact table
        base = cv2.bilateralFilter(base, 5, 4.0 * sigma, 1.5, borderType=cv2.BORDER_REFLECT_101)
    return base


def apply_gains(fg: np.ndarray, alpha: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """F with its bounding box of ``alpha > 0`` scaled by ``gains`` in linear light; a new array.

    F's own noise is scaled by ``sqrt(gains)``, not ``gains``. Photon
    noise grows with the square root of the light, so a subject lit 4x brighter shows
    twice (not 4x) its noise; scaling the noise with the signal would give brightened
    subjects more noise than their new backgrounds. The noise is what an edge-preserving
    filter removes (:func:`_noise_free_levels`; what it leaves gets the full gain, so 4x
    the light gives about 2.2x the noise); F without measurable noise is scaled as is.
    With ``L`` F's linear light, ``B`` that of the smoothed F and ``g`` a channel's gain,
    the new linear light is ``B g + (L - B) sqrt(g)`` (or ``L g``), in float32, encoded by
    ``augment.colour.linear_to_srgb``: one compiled pass (:func:`augment.kernels.gained_srgb`).
    """
    from augment.kernels import gained_srgb  # numba: imported on first use, not with augment

    out = fg.copy()
    if np.all(gains == 1.0):
        return out
    ys, xs = subject_box(alpha)
    crop = fg[ys, xs]
    base = _noise_free_levels(crop, alpha[ys, xs])
    g = gains.astype(np.float32)
    lo, thresholds = srgb_level_tables()
    gained_srgb(np.ascontiguousarray(fg), np.zeros((0, 0, 3), np.uint8) if base is None else base, ys.start,
                xs.start, srgb_to_linear(_LEVELS), g, np.sqrt(g), lo, thresholds, out[ys, xs])
    return out


def von_kries(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, strength: float, *,
              max_log_gain: float = 0.7) -> np.ndarray:
    """Chromatic adaptation of F to B's illuminant (von Kries gains in linear RGB).

    Scales F's linear R, G, B by ``(e_B / e_F) ** strength`` (grey-edge illuminants,
    F's weighted by alpha, B's over all of it), normalised so that neutral surfaces
    keep their luminance: F's light changes colour, F's own colours stay its own.
    See :func:`light_gains` (``intensity=False``).

    Args:
        fg: ``uint8 (H, W, 3)``; alpha: ``float32 (H, W)`` in ``[0, 1]``, read only;
        bg: ``uint8 (h, w, 3)`` (any size); strength: in ``[0, 1]`` (0 = unchanged copy).
        max_log_gain: > 0, bound on the illuminant difference per chromaticity.
    Returns:
        ``uint8 (H, W, 3)``, a new array; pixels outside the box of ``alpha > 0`` unchanged.
    """
    gains = light_gains(fg, alpha, bg, strength, intensity=False, max_log_gain=max_log_gain)
    return apply_gains(fg, alpha, gains)


def exposure(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, strength: float, *,
             max_stops: float = 2.0) -> np.ndarray:
    """Change F's exposure toward B's: one linear-light gain, chromaticity unchanged.

    F's alpha-weighted mean linear luminance moves the fraction ``strength`` of the
    way (in stops) to B's mean, what a brighter or dimmer light on F does; channels
    that would exceed white are clipped at 255. F's own noise changes with the square
    root of the gain, as photon noise does (see :func:`apply_gains`).  See :func:`light_gains`
    (``chromatic=False``).

    Args:
        fg: ``uint8 (H, W, 3)``; alpha: ``float32 (H, W)`` in ``[0, 1]``, read only;
        bg: ``uint8 (h, w, 3)`` (any size); strength: in ``[0, 1]`` (0 = unchanged copy).
        max_stops: > 0, bound on ``|log2(Y_B / Y_F)|``.
    Returns:
        ``uint8 (H, W, 3)``, a new array; pixels outside the box of ``alpha > 0`` unchanged.
    """
    gains = light_gains(fg, alpha, bg, strength, chromatic=False, max_stops=max_stops)
    return apply_gains(fg, alpha, gains)


def relight(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, strength: float, *,
            max_log_gain: float = 0.7, max_stops: float = 2.0) -> np.ndarray:
    """:func:`von_kries` then :func:`exposure` at the same strength, as one set of gains.

    Args and return as in :func:`light_gains` / :func:`von_kries`.
    """
    gains = light_gains(fg, alpha, bg, strength, max_log_gain=max_log_gain, max_stops=max_stops)
    return apply_gains(fg, alpha, gains)
