"""Foreground/background mismatch of one image: how a composite differs from a real photo.

In a real photo the subject and what is just behind it share one camera: the same
sensor noise, compression, light and (up to depth of field) similar sharpness.
:func:`realism_mismatch` measures, on thin regions on either side of the alpha
boundary, the differences that composites typically get wrong.  Real photos do
have non-zero mismatches (depth of field blurs the background, subject and
scenery differ in colour); the measure is meant for comparing the *distribution*
over a dataset of composites with the distribution over real photos.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from augment.bands import boundary_bands
from augment.checks import check_alpha, check_image
from augment.colour import to_lab, to_levels, weighted_stats
from augment.estimate import MIN_PIXELS, estimate_noise_sigma, estimate_sharpness
from augment.resize import apply_shrunk

__all__ = ["MISMATCH_KEYS", "realism_mismatch", "spill_residual", "straight_cut"]

MISMATCH_KEYS: tuple[str, ...] = (
    "noise_log_ratio",
    "sharpness_log_ratio",
    "lab_mean_dist",
    "luma_mean_diff",
    "chroma_mean_dist",
    "lab_std_log_ratio",
    "spill_residual",
    "straight_cut",
    "fg_noise_sigma",
    "bg_noise_sigma",
    "fg_sharpness",
    "bg_sharpness",
    "fg_pixels",
    "bg_pixels",
)


def spill_residual(image: np.ndarray, alpha: np.ndarray, sigma_px: float = 12.0) -> float:
    """Colour in the mixed pixels that is neither the nearby foreground nor background.

    A real photo's mixed pixels are ``alpha F + (1 - alpha) B`` with F and B the colours
    just inside and just outside the boundary.  A composite whose F still carries its
    old background (the photo used as F) shows that old colour there: the colour-spill
    halo.  For every pixel with ``0.05 < alpha < 0.95`` the local F and B are the
    Gaussian-weighted (std ``sigma_px``) means of the image over ``alpha >= 0.95`` and
    ``alpha <= 0.05``; the residual ``I - (alpha F + (1 - alpha) B)`` is taken across the
    F-B colour direction (an error along it is an alpha error, not spill; where F and B
    differ by under 8 levels the whole residual counts), and its length is averaged with
    weight ``alpha (1 - alpha)``.  Texture and noise give real photos a non-zero value.

    Args:
        image: ``uint8 (H, W, 3)`` RGB (or ``float32`` in ``[0, 1]``).
        alpha: ``float32 (H, W)`` in ``[0, 1]``.
        sigma_px: neighbourhood of the local F and B, px.
    Returns:
        Mean residual in 0..255 levels; ``nan`` with fewer than 64 mixed pixels that have
        both sides within reach.
    """
    check_image(image)
    check_alpha(alpha, image.shape[:2])
    if not sigma_px > 0:
        raise ValueError(f"sigma_px must be > 0, got {sigma_px!r}")
    mixed = (alpha > 0.05) & (alpha < 0.95)
    if np.count_nonzero(mixed) < MIN_PIXELS:
        return float("nan")
    # only the box around the mixed pixels, with the Gaussian's reach
    rows, cols = np.flatnonzero(mixed.any(axis=1)), np.flatnonzero(mixed.any(axis=0))
    reach = int(math.ceil(3 * sigma_px))
    ys = slice(max(int(rows[0]) - reach, 0), int(rows[-1]) + reach + 1)
    xs = slice(max(int(cols[0]) - reach, 0), int(cols[-1]) + reach + 1)
    alpha, mixed = alpha[ys, xs], mixed[ys, xs]
    levels = to_levels(image[ys, xs])
    f_mask = (alpha >= 0.95).astype(np.float32)[..., None]
    b_mask = (alpha <= 0.05).astype(np.float32)[..., None]
    f_sums = _smooth(np.concatenate([levels * f_mask, f_mask], axis=2), sigma_px)  # 4 channels: sum, weight
    b_sums = _smooth(np.concatenate([levels * b_mask, b_mask], axis=2), sigma_px)
    mixed &= (f_sums[..., 3] > 0.02) & (b_sums[..., 3] > 0.02)
    if np.count_nonzero(mixed) < MIN_PIXELS:
        return float("nan")
    a = alpha[mixed][:, None]
    f_at, b_at = f_sums[mixed], b_sums[mixed]
    f = f_at[:, :3] / f_at[:, 3:]
    b = b_at[:, :3] / b_at[:, 3:]
    residual = levels[mixed] - (a * f + (1.0 - a) * b)
    direction = f - b
    norm = np.linalg.norm(direction, axis=1, keepdims=True)
    unit = np.where(norm >= 8.0, direction / np.maximum(norm, 1e-6), 0.0).astype(np.float32)
    across = residual - np.sum(residual * unit, axis=1, keepdims=True) * unit
    w = (a * (1.0 - a))[:, 0]
    return float(np.sum(w * np.linalg.norm(across, axis=1)) / np.sum(w))


def _longest_run(mask: np.ndarray) -> int:
    """Longest run of True along axis 0 of a bool (N, M) array (0 if none)."""
    col = np.zeros((mask.shape[1], mask.shape[0] + 2), np.int8)
    col[:, 1:-1] = mask.T  # each column a row of its own, False-padded at both ends
    edges = np.flatnonzero(np.diff(col.ravel()))
    return int(np.max(edges[1::2] - edges[::2])) if edges.size else 0


def straight_cut(alpha: np.ndarray, *, step: float = 0.5, margin_px: int = 3) -> float:
    """The longest straight, axis-aligned subject edge inside the picture, as a share of
    the subject's extent along it.

    A subject cut by its own photo's frame and pasted inside a new picture shows that cut
    as a perfectly vertical or horizontal edge: the alpha drops from the subject to nothing
    between the same two columns (rows) for the cut's whole length.  A real photo's frame
    cuts only at its border, and natural outlines wander off a column within a few dozen
    pixels (man-made ones, a pole or a box, run longer).  An edge pixel is one where alpha
    changes by at least ``step`` to its right (below) neighbour; a cut that resampling left
    at a fractional position (1, p, 0) has its larger step always between the same two
    columns.  The result is the longest run of edge pixels in one column (row) at least
    ``margin_px`` from the border, over the height (width) of the box of ``alpha >= 0.5``:
    a share of the subject, the same for a subject filling its photo or shrunk onto a canvas.

    Args:
        alpha: ``float32 (H, W)`` in ``[0, 1]``.
        step: alpha change in ``(0, 1]`` between neighbours that makes an edge pixel.
        margin_px: >= 1; columns and rows this close to the border are the frame's own.
    Returns:
        in ``[0, 1]`` (or a little above, for a cut longer than the opaque box): 0 without
        any edge, 0-0.13 on the alphamatting.com photos (the 0.13 a broomstick), the cut
        side's share of the subject where a cut stands inside the picture; ``nan`` without
        any ``alpha >= 0.5``.
    """
    check_alpha(alpha)
    if not (0.0 < step <= 1.0 and margin_px >= 1):
        raise ValueError(f"need 0 < step <= 1 and margin_px >= 1, got {step!r}, {margin_px!r}")
    rows, cols = np.flatnonzero((alpha >= 0.5).any(axis=1)), np.flatnonzero((alpha >= 0.5).any(axis=0))
    if rows.size == 0:
        return float("nan")
    best = 0.0
    extents = (int(rows[-1] - rows[0]) + 1, int(cols[-1] - cols[0]) + 1)
    for a, length in zip((alpha, alpha.T), extents):  # vertical edges, then horizontal ones
        inner = a[:, margin_px - 1: a.shape[1] - margin_px + 1]  # steps between columns margin-1 | margin ...
        if inner.shape[1] < 2:
            continue
        edge = np.abs(np.diff(inner, axis=1)) >= step
        best = max(best, _longest_run(edge) / length)
    return float(best)


def _smooth(x: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur of a float32 (H, W, C <= 4) array; wide ones on a copy shrunk to sigma 3 px
    (area average down, bilinear up: a smooth result needs no more resolution)."""
    k = int(sigma_px // 3)
    if k < 2:
        return cv2.GaussianBlur(x, (0, 0), sigma_px, borderType=cv2.BORDER_REFLECT_101)
    return apply_shrunk(x, k, lambda small, factor: cv2.GaussianBlur(
        small, (0, 0), sigma_px * factor, borderType=cv2.BORDER_REFLECT_101))


def realism_mismatch(
    image: np.ndarray,
    alpha: np.ndarray,
    band_px: float = 24.0,
    margin_px: float = 3.0,
) -> dict[str, float]:
    """Noise, sharpness and colour mismatch between F and B near the alpha boundary.

    On the rings of :func:`augment.bands.boundary_bands` (foreground side ``alpha >= 0.95``,
    background side ``alpha <= 0.05``, ``margin_px`` to ``margin_px + band_px`` from
    the boundary):

    * ``noise_log_ratio`` = ``ln(sigma_F / sigma_B)`` (noise sigmas from
      :func:`~augment.estimate.estimate_noise_sigma`, floored at 0.1 level);
    * ``sharpness_log_ratio`` = ``ln(sharp_F / sharp_B)`` (from
      :func:`~augment.estimate.estimate_sharpness`, floored at 0.01);
    * ``lab_mean_dist``: Euclidean distance of the LAB means (Delta E 76),
      split into ``luma_mean_diff`` (``L_F - L_B``, signed) and
      ``chroma_mean_dist`` (distance of the (a, b) means);
    * ``lab_std_log_ratio``: ``ln`` of the ratio of the mean LAB channel stds;
    * ``spill_residual``: :func:`spill_residual` with ``sigma_px = band_px / 2``, in the
      mixed pixels between the rings (the colour-spill halo);
    * ``straight_cut``: :func:`straight_cut`, a frame's cut through the subject inside the
      picture (alpha only).

    Plus the raw ``fg_/bg_noise_sigma``, ``fg_/bg_sharpness`` and the ring sizes
    ``fg_pixels``/``bg_pixels``.  Values that cannot be measured (a ring under 64
    pixels) are ``nan``.

    Args:
        image: ``uint8 (H, W, 3)`` RGB composite or real photo (or ``float32`` in
            ``[0, 1]``).
        alpha: ``float32 (H, W)`` in ``[0, 1]``.
        band_px: ring width in px (at the image's resolution).
        margin_px: distance kept from the boundary, px.
    Returns:
        dict with the keys of :data:`MISMATCH_KEYS`, float values.
    """
    check_image(image)
    check_alpha(alpha, image.shape[:2])
    fg_ring, bg_ring = boundary_bands(alpha, band_px, margin_px)
    n_fg, n_bg = int(np.count_nonzero(fg_ring)), int(np.count_nonzero(bg_ring))
    nan = float("nan")
    out = dict.fromkeys(MISMATCH_KEYS, nan)
    out["fg_pixels"], out["bg_pixels"] = float(n_fg), float(n_bg)
    out["spill_residual"] = spill_residual(image, alpha, band_px / 2.0)
    if n_fg < MIN_PIXELS or n_bg < MIN_PIXELS:
        return out
    out["straight_cut"] = straight_cut(alpha)

    sig_f = estimate_noise_sigma(image, fg_ring)
    sig_b = estimate_noise_sigma(image, bg_ring)
    sh_f = estimate_sharpness(image, fg_ring)
    sh_b = estimate_sharpness(image, bg_ring)
    out.update(fg_noise_sigma=sig_f, bg_noise_sigma=sig_b, fg_sharpness=sh_f, bg_sharpness=sh_b)
    if math.isfinite(sig_f) and math.isfinite(sig_b):
        out["noise_log_ratio"] = math.log(max(sig_f, 0.1) / max(sig_b, 0.1))
    if math.isfinite(sh_f) and math.isfinite(sh_b):
        out["sharpness_log_ratio"] = math.log(max(sh_f, 0.01) / max(sh_b, 0.01))

    u8 = image if image.dtype == np.uint8 else np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    lab = to_lab(u8)
    mu_f, sd_f = weighted_stats(lab[fg_ring][None], None)
    mu_b, sd_b = weighted_stats(lab[bg_ring][None], None)
    out["lab_mean_dist"] = float(np.linalg.norm(mu_f - mu_b))
    out["luma_mean_diff"] = float(mu_f[0] - mu_b[0])
    out["chroma_mean_dist"] = float(np.linalg.norm(mu_f[1:] - mu_b[1:]))
    out["lab_std_log_ratio"] = float(math.log(max(sd_f.mean(), 0.1) / max(sd_b.mean(), 0.1)))
    return out
