"""Distribution transfers: F's whole colour distribution moved toward B's.

* :func:`reinhard_lab`: LAB mean/std transfer (Reinhard et al. 2001) with F's
  statistics weighted by alpha, so the old background around F does not count;
* :func:`histogram_match`: per-channel CDF matching of F's alpha-weighted
  histogram to the background's;
* :func:`albu_domain_adaptation`: albumentations 2.0.8's ``HistogramMatching``,
  ``FDA`` and ``PixelDistributionAdaptation`` with the background as reference.

These move F's own colours (albedo) too: a red jumper in front of a green wall turns
greenish (:mod:`augment.harmonize.light` changes only the light).  Images are ``uint8
(H, W, 3)`` RGB, alpha ``float32 (H, W)`` in ``[0, 1]`` (read only); B may have any size.
"""
from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from augment.bands import subject_box
from augment.checks import check_layers
from augment.colour import from_lab, subsample, subsample_weighted, to_lab, weighted_stats

__all__ = ["AlbuMethod", "albu_domain_adaptation", "histogram_match", "reinhard_lab"]


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
    check_layers(fg, alpha, bg, strength)
    lo, hi = std_ratio_range
    if not (0 < lo <= 1 <= hi):
        raise ValueError(f"std_ratio_range must satisfy 0 < low <= 1 <= high, got {std_ratio_range!r}")
    out = fg.copy()
    if strength == 0:
        return out
    ys, xs = subject_box(alpha)
    lab = to_lab(fg[ys, xs])
    mu_f, sd_f = weighted_stats(*subsample_weighted(lab, alpha[ys, xs]))  # statistics on <= 0.26 Mpx
    mu_b, sd_b = weighted_stats(to_lab(subsample(bg)), None)
    ratio = np.clip(sd_b / np.maximum(sd_f, 1e-6), lo, hi)
    s = float(strength)
    gain = 1.0 + s * (ratio - 1.0)
    offset = s * (mu_b - ratio * mu_f)
    lab *= gain.astype(np.float32)
    lab += offset.astype(np.float32)
    out[ys, xs] = from_lab(lab)
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
    check_layers(fg, alpha, bg, strength)
    if strength == 0:
        return fg.copy()
    ys, xs = subject_box(alpha)
    crop, w = fg[ys, xs], alpha[ys, xs].reshape(-1).astype(np.float64)
    levels = np.arange(256, dtype=np.float64)
    out = fg.copy()
    s = float(strength)
    luts = np.empty((256, 1, 3), np.uint8)  # one table per channel, applied in one pass
    for c in range(3):
        h_f = np.bincount(crop[..., c].reshape(-1), weights=w, minlength=256)
        h_b = _level_counts(bg, c)
        nz = h_b > 0
        lut = np.interp(_cdf_mid(h_f), _cdf_mid(h_b)[nz], levels[nz])
        luts[:, 0, c] = np.clip(np.rint(levels + s * (lut - levels)), 0, 255).astype(np.uint8)
    out[ys, xs] = cv2.LUT(np.ascontiguousarray(crop), luts)
    return out


def _level_counts(image: np.ndarray, channel: int) -> np.ndarray:
    """float64 (256,) pixel counts per level of one channel of a uint8 (h, w, 3) image."""
    if image.shape[0] * image.shape[1] < 2**24:  # OpenCV's float32 counts are exact integers
        hist = cv2.calcHist([np.ascontiguousarray(image)], [channel], None, [256], [0, 256])
        return hist.reshape(-1).astype(np.float64)
    return np.bincount(image[..., channel].reshape(-1), minlength=256).astype(np.float64)


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

    check_layers(fg, alpha, bg, strength)
    if method not in ("histogram", "fda", "pda"):
        raise ValueError(f"method must be 'histogram', 'fda' or 'pda', got {method!r}")
    if not (0.0 < fda_beta <= 0.5):
        raise ValueError(f"fda_beta must be in (0, 0.5], got {fda_beta!r}")
    out = fg.copy()
    if strength == 0:
        return out
    ys, xs = subject_box(alpha)
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
