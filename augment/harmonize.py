"""Colour and light harmonisation of a foreground toward its new background.

A foreground photographed under one light and pasted onto a background lit by
another carries a colour cast and brightness that do not match: a shortcut a
matting model learns.  These functions shift F (only F: alpha is read, never
modified or returned) toward the background's colour statistics:

* :func:`reinhard_lab`: LAB mean/std transfer (Reinhard et al. 2001) with F's
  statistics weighted by alpha, so the old background around F does not count;
* :func:`histogram_match`: per-channel CDF matching of F's alpha-weighted
  histogram to the background's;
* :func:`albu_domain_adaptation`: albumentations 2.0.8's ``HistogramMatching``,
  ``FDA`` and ``PixelDistributionAdaptation`` with the background as reference.

These move F's whole colour distribution, its own colours (albedo) included, toward
B's: a red jumper in front of a green wall turns greenish.  What a subject and its
scene share in a real photo is the *light*, not their colours; three methods change
only the light falling on F, in linear RGB (sRGB decoded), as per-channel gains:

* :func:`von_kries`: chromatic adaptation of F from its grey-edge illuminant to B's
  (:func:`augment.illuminant.estimate_illuminant`), luminance of neutrals kept;
* :func:`exposure`: one gain moving F's mean luminance toward B's (in stops),
  chromaticity kept;
* :func:`relight`: both, the natural single choice (a change of light changes its
  colour and its intensity).

Every method takes ``strength`` in ``[0, 1]`` (0 = identity, 1 = full transfer).
:func:`sample_harmonization` draws a frozen :class:`HarmonizationParams`;
:func:`apply_harmonization` applies it.  Images are ``uint8 (H, W, 3)`` RGB,
alpha is ``float32 (H, W)`` in ``[0, 1]``; the background may have any size.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import cv2
import numpy as np

from .illuminant import (
    LUMINANCE_WEIGHTS,
    estimate_illuminant,
    linear_to_srgb,
    srgb_levels_to_linear,
    srgb_to_linear,
)
from .realism import estimate_noise_sigma

__all__ = [
    "HARMONIZATION_METHODS",
    "HarmonizationParams",
    "albu_domain_adaptation",
    "apply_harmonization",
    "exposure",
    "harmonize_with_details",
    "histogram_match",
    "lab_stats",
    "light_gains",
    "reinhard_lab",
    "relight",
    "sample_harmonization",
    "von_kries",
]

HARMONIZATION_METHODS: tuple[str, ...] = (
    "reinhard_lab",
    "histogram_match",
    "albu_histogram",
    "albu_fda",
    "albu_pda",
    "von_kries",
    "exposure",
    "relight",
)
_NO_METHOD = "none"
_ILLUMINANT_SIDE = 256  # long side of the copies the grey-edge illuminant is estimated on


# --------------------------------------------------------------------------- validation


def _check_rgb(image: np.ndarray, name: str) -> None:
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must have shape (H, W, 3), got {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8, got {image.dtype}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{name} is empty, shape {image.shape}")


def _check_inputs(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, strength: float) -> None:
    _check_rgb(fg, "fg")
    _check_rgb(bg, "bg")
    if not isinstance(alpha, np.ndarray) or alpha.dtype != np.float32:
        got = alpha.dtype if isinstance(alpha, np.ndarray) else type(alpha).__name__
        raise ValueError(f"alpha must be a float32 array, got {got}")
    if alpha.shape != fg.shape[:2]:
        raise ValueError(f"alpha must have shape {fg.shape[:2]} (fg's H, W), got {alpha.shape}")
    if not (isinstance(strength, (int, float, np.floating)) and 0.0 <= float(strength) <= 1.0):
        raise ValueError(f"strength must be in [0, 1], got {strength!r}")


def _fg_bbox(alpha: np.ndarray) -> tuple[slice, slice]:
    """Bounding box of alpha > 0; ValueError when there is no foreground."""
    rows = np.flatnonzero(np.any(alpha > 0, axis=1))
    if rows.size == 0:
        raise ValueError("alpha has no foreground pixels (all zero): nothing to harmonise")
    cols = np.flatnonzero(np.any(alpha[rows[0] : rows[-1] + 1] > 0, axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


# --------------------------------------------------------------------------- statistics


def _to_lab(image: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float32 CIELAB (L in [0, 100], a/b roughly [-128, 127])."""
    return cv2.cvtColor(image.astype(np.float32) * np.float32(1.0 / 255.0), cv2.COLOR_RGB2Lab)


def _from_lab(lab: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    return np.clip(rgb * np.float32(255.0) + np.float32(0.5), 0, 255).astype(np.uint8)


def _weighted_stats(x: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (weighted) mean and std of a float32 (..., 3) array, as float64 (3,).

    Sums are accumulated in float64 by OpenCV (no cancellation trouble in E[x^2] - E[x]^2).
    """
    img = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 1, 3)
    if weights is None:
        mean, std = cv2.meanStdDev(img)
        return mean.reshape(3).astype(np.float64), std.reshape(3).astype(np.float64)
    w = np.ascontiguousarray(weights, dtype=np.float32).reshape(-1, 1)
    total = float(cv2.sumElems(w)[0])
    if not total > 0:
        raise ValueError("weights sum to zero: no pixels to compute statistics over")
    xw = cv2.multiply(img, cv2.merge([w, w, w]))
    mean = np.array(cv2.sumElems(xw)[:3]) / total
    second = np.array(cv2.sumElems(cv2.multiply(xw, img))[:3]) / total
    return mean, np.sqrt(np.maximum(second - mean * mean, 0.0))


def _subsample(image: np.ndarray, max_pixels: int = 262_144) -> np.ndarray:
    """Strided subsample (no smoothing, so mean and std stay unbiased) of at most ~max_pixels."""
    step = max(1, int(math.ceil(math.sqrt(image.shape[0] * image.shape[1] / max_pixels))))
    return image[::step, ::step]


def lab_stats(image: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (weighted) mean and std of an image in CIELAB.

    Args:
        image: ``uint8 (H, W, 3)`` RGB.
        weights: optional ``(H, W)`` non-negative weights (e.g. alpha); None = uniform.
    Returns:
        ``(mean, std)``, each ``float64 (3,)`` as (L, a, b), L in [0, 100].
    """
    _check_rgb(image, "image")
    if weights is not None:
        weights = np.asarray(weights)
        if weights.shape != image.shape[:2]:
            raise ValueError(f"weights must have shape {image.shape[:2]}, got {weights.shape}")
    return _weighted_stats(_to_lab(image), weights)


# --------------------------------------------------------------------------- methods


def reinhard_lab(
    fg: np.ndarray,
    alpha: np.ndarray,
    bg: np.ndarray,
    strength: float,
    *,
    std_ratio_range: tuple[float, float] = (0.5, 2.0),
) -> np.ndarray:
    """LAB mean/std transfer of F toward B, with F's statistics weighted by alpha.

    Per LAB channel: ``x' = (x - mu_F) * r + mu_B`` with ``r = sigma_B / sigma_F``
    clipped to ``std_ratio_range`` (a plain background must not flatten F's
    texture away), then ``out = x + strength * (x' - x)``, so F's alpha-weighted
    mean moves to ``mu_F + strength (mu_B - mu_F)`` and its std to
    ``sigma_F (1 + strength (r - 1))``, both linear in strength (up to the clipping
    to the RGB gamut).  Only the bounding box of ``alpha > 0`` is processed.

    Args:
        fg: ``uint8 (H, W, 3)`` foreground colours.
        alpha: ``float32 (H, W)`` in ``[0, 1]``, read only.
        bg: ``uint8 (h, w, 3)`` background (any size); statistics over all of it.
        strength: in ``[0, 1]``; 0 returns an unchanged copy.
        std_ratio_range: (low, high) bounds of ``r``, ``0 < low <= 1 <= high``.
    Returns:
        ``uint8 (H, W, 3)``, a new array.
    """
    _check_inputs(fg, alpha, bg, strength)
    lo, hi = std_ratio_range
    if not (0 < lo <= 1 <= hi):
        raise ValueError(f"std_ratio_range must satisfy 0 < low <= 1 <= high, got {std_ratio_range!r}")
    out = fg.copy()
    if strength == 0:
        return out
    ys, xs = _fg_bbox(alpha)
    lab = _to_lab(fg[ys, xs])
    mu_f, sd_f = _weighted_stats(lab, alpha[ys, xs])
    mu_b, sd_b = _weighted_stats(_to_lab(_subsample(bg)), None)
    ratio = np.clip(sd_b / np.maximum(sd_f, 1e-6), lo, hi)
    s = float(strength)
    gain = 1.0 + s * (ratio - 1.0)
    offset = s * (mu_b - ratio * mu_f)
    lab *= gain.astype(np.float32)
    lab += offset.astype(np.float32)
    out[ys, xs] = _from_lab(lab)
    return out


def _cdf_mid(hist: np.ndarray) -> np.ndarray:
    """Mid-point CDF of a histogram: fraction below each level plus half the level's own."""
    total = hist.sum()
    cdf = np.cumsum(hist) / total
    return cdf - 0.5 * hist / total


def histogram_match(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, strength: float) -> np.ndarray:
    """Per-channel (R, G, B) CDF matching of F's alpha-weighted histogram to B's.

    For each channel a 256-entry look-up table maps level ``v`` to the background
    level at the same (mid-point) CDF value, with F's histogram weighted by alpha;
    ``out = v + strength (LUT[v] - v)``, rounded.

    Args:
        fg: ``uint8 (H, W, 3)``.
        alpha: ``float32 (H, W)`` in ``[0, 1]``, read only.
        bg: ``uint8 (h, w, 3)`` (any size).
        strength: in ``[0, 1]``; 0 returns an unchanged copy.
    Returns:
        ``uint8 (H, W, 3)``, a new array.
    """
    _check_inputs(fg, alpha, bg, strength)
    if strength == 0:
        return fg.copy()
    ys, xs = _fg_bbox(alpha)
    crop, w = fg[ys, xs], alpha[ys, xs].reshape(-1).astype(np.float64)
    levels = np.arange(256, dtype=np.float64)
    out = fg.copy()
    s = float(strength)
    for c in range(3):
        h_f = np.bincount(crop[..., c].reshape(-1), weights=w, minlength=256)
        h_b = np.bincount(bg[..., c].reshape(-1), minlength=256).astype(np.float64)
        nz = h_b > 0
        lut = np.interp(_cdf_mid(h_f), _cdf_mid(h_b)[nz], levels[nz])
        lut = np.clip(np.rint(levels + s * (lut - levels)), 0, 255).astype(np.uint8)
        out[ys, xs, c] = lut[crop[..., c]]
    return out


AlbuMethod = Literal["histogram", "fda", "pda"]


def albu_domain_adaptation(
    fg: np.ndarray,
    alpha: np.ndarray,
    bg: np.ndarray,
    strength: float,
    *,
    method: AlbuMethod,
    fda_beta: float = 0.03,
    pda_transform: Literal["pca", "standard", "minmax"] = "standard",
) -> np.ndarray:
    """albumentations domain adaptation of F toward B (B passed as the reference image).

    albumentations 2.0.8 takes reference images through the data dictionary under
    the transform's ``metadata_key`` (``read_fn``/``reference_images`` are
    deprecated); with a single reference, fixed (low == high) ranges and a fixed
    seed the transforms are deterministic.  They see the whole bounding box of
    ``alpha > 0`` without weights, so pixels outside the foreground inside that box
    take part in the source statistics; prefer :func:`reinhard_lab` and
    :func:`histogram_match`, which weight by alpha.

    * ``"histogram"``: ``A.HistogramMatching(blend_ratio=(s, s))``.
    * ``"fda"``: ``A.FDA(beta_limit=(b, b))`` with ``b = fda_beta`` (half the side of
      the swapped low-frequency window, as a fraction of the size), blended with
      ``strength`` here (the swap includes the DC term, so any window moves the
      mean all the way: beta is no strength knob).
    * ``"pda"``: ``A.PixelDistributionAdaptation(transform_type=pda_transform)``
      at blend 1 on float32 input, blended with ``strength`` here: 2.0.8 returns
      near-black output for uint8 input and mis-scales blends below 1.

    Args:
        fg: ``uint8 (H, W, 3)``; alpha: ``float32 (H, W)``, read only;
        bg: ``uint8 (h, w, 3)``; strength: in ``[0, 1]`` (0 = unchanged copy).
    Returns:
        ``uint8 (H, W, 3)``, a new array; pixels outside the box are unchanged.
    """
    import albumentations as A

    _check_inputs(fg, alpha, bg, strength)
    if method not in ("histogram", "fda", "pda"):
        raise ValueError(f"method must be 'histogram', 'fda' or 'pda', got {method!r}")
    if not (0.0 < fda_beta <= 0.5):
        raise ValueError(f"fda_beta must be in (0, 0.5], got {fda_beta!r}")
    out = fg.copy()
    if strength == 0:
        return out
    ys, xs = _fg_bbox(alpha)
    crop = np.ascontiguousarray(fg[ys, xs])
    s = float(strength)
    key = "harmonize_reference"
    if method == "histogram":
        t = A.HistogramMatching(blend_ratio=(s, s), metadata_key=key, p=1.0)
        t.set_random_seed(0)
        res = t(image=crop, **{key: [bg]})["image"]
    elif method == "fda":
        t = A.FDA(beta_limit=(fda_beta, fda_beta), metadata_key=key, p=1.0)
        t.set_random_seed(0)
        adapted = t(image=crop, **{key: [bg]})["image"].astype(np.float32)
        res = crop.astype(np.float32)
        res += np.float32(s) * (adapted - res)
        res = np.clip(res + np.float32(0.5), 0, 255).astype(np.uint8)
    else:
        ref = cv2.resize(bg, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_AREA)
        t = A.PixelDistributionAdaptation(
            blend_ratio=(1.0, 1.0), transform_type=pda_transform, metadata_key=key, p=1.0
        )
        t.set_random_seed(0)
        src = crop.astype(np.float32) / np.float32(255.0)
        adapted = t(image=src, **{key: [ref.astype(np.float32) / np.float32(255.0)]})["image"]
        res = src + np.float32(s) * (np.clip(adapted, 0.0, 1.0) - src)
    if res.dtype != np.uint8:
        res = np.clip(res * np.float32(255.0) + np.float32(0.5), 0, 255).astype(np.uint8)
    out[ys, xs] = res
    return out


# --------------------------------------------------------------------------- light (linear RGB gains)


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


def _mean_luminance(linear: np.ndarray, weights: np.ndarray | None) -> float:
    """(Weighted) mean linear luminance of a float32 (..., 3) linear-light array."""
    mean, _ = _weighted_stats(linear, weights)
    return float(np.dot(LUMINANCE_WEIGHTS, mean))


def _check_limit(value: float, name: str) -> None:
    if not (isinstance(value, (int, float, np.floating)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


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
    _check_inputs(fg, alpha, bg, strength)
    _check_limit(max_log_gain, "max_log_gain")
    _check_limit(max_stops, "max_stops")
    if not (chromatic or intensity):
        raise ValueError("light_gains needs chromatic=True or intensity=True (or both)")
    gains = np.ones(3)
    s = float(strength)
    if s == 0:
        return gains
    ys, xs = _fg_bbox(alpha)
    crop, weights = fg[ys, xs], alpha[ys, xs]
    if chromatic:
        d = np.clip(_illuminant(bg, None) - _illuminant(crop, weights), -max_log_gain, max_log_gain)
        gains = np.exp(s * np.array([d[0], 0.0, d[1]]))
        gains /= float(np.dot(LUMINANCE_WEIGHTS, gains))
    if intensity:
        y_f = _mean_luminance(srgb_to_linear(crop) * gains.astype(np.float32), weights)
        y_b = _mean_luminance(srgb_to_linear(_subsample(bg)), None)
        if y_f > 1e-4 and y_b > 1e-4:
            gains = gains * 2.0 ** (s * float(np.clip(math.log2(y_b / y_f), -max_stops, max_stops)))
    return gains


def _noise_free_linear(crop: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
    """Linear light of ``crop`` (uint8 RGB) with its sensor noise smoothed away, or ``None``
    when F shows no measurable noise (under 0.3 level inside ``weights > 0.95``).

    An edge-preserving bilateral filter, applied twice (5x5, spatial std 1.5 px, colour
    std 4 noise sigmas), in sRGB levels: differences that large are edges and texture,
    kept as signal. It leaves about a fifth of the noise in the flat parts.
    The noise is measured on the middle 256 rows (enough pixels for a median, a quarter
    of the cost at 1024 px).
    """
    top = max(0, (crop.shape[0] - 256) // 2)
    band = slice(top, top + 256)
    sigma = estimate_noise_sigma(crop[band], weights[band] > 0.95)
    if not (math.isfinite(sigma) and sigma >= 0.3):
        return None
    base = crop.astype(np.float32)
    for _ in range(2):
        base = cv2.bilateralFilter(base, 5, 4.0 * sigma, 1.5, borderType=cv2.BORDER_REFLECT_101)
    return srgb_levels_to_linear(base)


def _apply_gains(fg: np.ndarray, alpha: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """F with its bounding box of ``alpha > 0`` scaled by ``gains`` in linear light; a new array.

    F's own noise is scaled by ``sqrt(gains)``, not ``gains``. Photon
    noise grows with the square root of the light, so a subject lit 4x brighter shows
    twice (not 4x) its noise; scaling the noise with the signal would give brightened
    subjects more noise than their new backgrounds. The noise is what an edge-preserving
    filter removes (:func:`_noise_free_linear`; what it leaves gets the full gain, so 4x
    the light gives about 2.2x the noise); F without measurable noise is scaled as is.
    """
    out = fg.copy()
    if np.all(gains == 1.0):
        return out
    ys, xs = _fg_bbox(alpha)
    crop = fg[ys, xs]
    lin = srgb_to_linear(crop)
    g = gains.astype(np.float32)
    base = _noise_free_linear(crop, alpha[ys, xs])
    if base is None:
        lin *= g
    else:
        lin = base * g + (lin - base) * np.sqrt(g)
    out[ys, xs] = linear_to_srgb(lin)
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
    return _apply_gains(fg, alpha, gains)


def exposure(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, strength: float, *,
             max_stops: float = 2.0) -> np.ndarray:
    """Change F's exposure toward B's: one linear-light gain, chromaticity unchanged.

    F's alpha-weighted mean linear luminance moves the fraction ``strength`` of the
    way (in stops) to B's mean, what a brighter or dimmer light on F does; channels
    that would exceed white are clipped at 255. F's own noise changes with the square
    root of the gain, as photon noise does (see :func:`_apply_gains`).  See :func:`light_gains`
    (``chromatic=False``).

    Args:
        fg: ``uint8 (H, W, 3)``; alpha: ``float32 (H, W)`` in ``[0, 1]``, read only;
        bg: ``uint8 (h, w, 3)`` (any size); strength: in ``[0, 1]`` (0 = unchanged copy).
        max_stops: > 0, bound on ``|log2(Y_B / Y_F)|``.
    Returns:
        ``uint8 (H, W, 3)``, a new array; pixels outside the box of ``alpha > 0`` unchanged.
    """
    gains = light_gains(fg, alpha, bg, strength, chromatic=False, max_stops=max_stops)
    return _apply_gains(fg, alpha, gains)


def relight(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, strength: float, *,
            max_log_gain: float = 0.7, max_stops: float = 2.0) -> np.ndarray:
    """:func:`von_kries` then :func:`exposure` at the same strength, as one set of gains.

    Args and return as in :func:`light_gains` / :func:`von_kries`.
    """
    gains = light_gains(fg, alpha, bg, strength, max_log_gain=max_log_gain, max_stops=max_stops)
    return _apply_gains(fg, alpha, gains)


# --------------------------------------------------------------------------- sampling / applying


@dataclass(frozen=True)
class HarmonizationParams:
    """One harmonisation decision: ``method`` ("none" = not applied) and ``strength`` in [0, 1]."""

    method: str = _NO_METHOD
    strength: float = 0.0

    def __post_init__(self) -> None:
        if self.method != _NO_METHOD and self.method not in HARMONIZATION_METHODS:
            raise ValueError(
                f"HarmonizationParams.method must be 'none' or one of {HARMONIZATION_METHODS}, got {self.method!r}"
            )
        if not (math.isfinite(self.strength) and 0.0 <= self.strength <= 1.0):
            raise ValueError(f"HarmonizationParams.strength must be in [0, 1], got {self.strength!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sample_harmonization(
    rng: np.random.Generator,
    methods: Sequence[str] = ("reinhard_lab",),
    strength: tuple[float, float] = (0.2, 0.6),
    p: float = 0.5,
) -> HarmonizationParams:
    """Draw whether to harmonise (probability ``p``), which method (uniform), how strongly.

    Always consumes the same three draws from ``rng`` whatever the outcome.

    Args:
        rng: the sample's generator.
        methods: non-empty subset of :data:`HARMONIZATION_METHODS`.
        strength: (low, high) with ``0 <= low <= high <= 1``, uniform.
        p: probability in [0, 1] of harmonising at all.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    methods = tuple(methods)
    if not methods:
        raise ValueError("methods must not be empty")
    bad = [m for m in methods if m not in HARMONIZATION_METHODS]
    if bad:
        raise ValueError(f"unknown harmonisation methods {bad}; known: {HARMONIZATION_METHODS}")
    try:
        lo, hi = (float(v) for v in strength)
    except (TypeError, ValueError):
        raise ValueError(f"strength must be a (low, high) pair, got {strength!r}") from None
    if not (0.0 <= lo <= hi <= 1.0):
        raise ValueError(f"strength must satisfy 0 <= low <= high <= 1, got {strength!r}")
    if not (0.0 <= p <= 1.0):
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    u_apply, u_method, u_strength = rng.uniform(size=3)
    if u_apply >= p:
        return HarmonizationParams()
    method = methods[min(int(u_method * len(methods)), len(methods) - 1)]
    return HarmonizationParams(method=method, strength=float(lo + (hi - lo) * u_strength))


def apply_harmonization(
    params: HarmonizationParams, fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray
) -> np.ndarray:
    """Apply ``params`` to F (``uint8 (H, W, 3)``) with alpha (``float32 (H, W)``, read only)
    toward bg (``uint8 (h, w, 3)``); returns a new ``uint8 (H, W, 3)``."""
    return harmonize_with_details(params, fg, alpha, bg)[0]


def harmonize_with_details(
    params: HarmonizationParams, fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray
) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`apply_harmonization` plus what the method derived from the images.

    The light methods (``von_kries``, ``exposure``, ``relight``) report
    ``{"gains": [g_R, g_G, g_B], "stops": log2(Y(g))}``: the linear-light gains applied to
    F and the exposure change in stops; the distribution transfers report ``{}``.
    Returns ``(new uint8 (H, W, 3) F, details)``.
    """
    if not isinstance(params, HarmonizationParams):
        raise ValueError(f"params must be HarmonizationParams, got {type(params).__name__}")
    if params.method == _NO_METHOD or params.strength == 0:
        _check_inputs(fg, alpha, bg, params.strength)
        return fg.copy(), {}
    if params.method == "reinhard_lab":
        return reinhard_lab(fg, alpha, bg, params.strength), {}
    if params.method == "histogram_match":
        return histogram_match(fg, alpha, bg, params.strength), {}
    parts = {"von_kries": (True, False), "exposure": (False, True), "relight": (True, True)}.get(params.method)
    if parts is not None:
        gains = light_gains(fg, alpha, bg, params.strength, chromatic=parts[0], intensity=parts[1])
        stops = math.log2(float(np.dot(LUMINANCE_WEIGHTS, gains)))
        return _apply_gains(fg, alpha, gains), {"gains": [float(g) for g in gains], "stops": stops}
    albu = {"albu_histogram": "histogram", "albu_fda": "fda", "albu_pda": "pda"}[params.method]
    return albu_domain_adaptation(fg, alpha, bg, params.strength, method=albu), {}  # type: ignore[arg-type]
