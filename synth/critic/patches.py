"""Patches for the composite detector: where to cut them, and how to match the two sides.

Two kinds of patch centre, both on plain arrays:

- :func:`boundary_centres`: an object boundary given by an alpha (a composite's pasted
  subject, or a real photo's own subject with its ground-truth alpha). The patch straddles
  it: it holds pixels of both sides (``alpha <= lo`` and ``alpha >= hi``) and its centre is
  in the transition (``lo < alpha < hi``) or right at the step of a binary alpha.
- :func:`edge_centres`: a real boundary inside a photo that has no alpha (a background
  photo, or the part of a composite where only the background shows): strong luminance
  edges, at least ``margin`` px away from any pixel where ``avoid`` is above ``lo``.

:func:`edge_contrast` is the statistic both sides are matched on (the spread of luminance in
the patch: a step between two regions and texture both raise it) and
:func:`match_contrast` subsamples two groups of patches to the same contrast histogram;
:func:`edge_sharpness` (the steepest gradient over the contrast: about ``1 / blur``) and
:func:`match_joint` match them on contrast and sharpness together (the defocus control).
All patches are ``uint8 (N, P, P, 3)`` RGB cut at the picture's own resolution; rescaling
and compression are the caller's business (both sides must share them).
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["boundary_centres", "edge_centres", "cut_patches", "edge_contrast", "edge_sharpness", "match_contrast",
           "match_joint"]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _check_size(size: int, shape: tuple[int, ...], name: str) -> None:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 4:
        raise ValueError(f"{name}: patch size must be an int >= 4, got {size!r}")
    if len(shape) < 2 or shape[0] < size or shape[1] < size:
        raise ValueError(f"{name}: picture of shape {tuple(shape)} is smaller than the patch ({size} px)")


def _interior(shape: tuple[int, int], size: int) -> np.ndarray:
    """bool (H, W): centres whose size x size patch (top-left at centre - size // 2) fits."""
    h, w = shape
    ok = np.zeros((h, w), dtype=bool)
    half = size // 2
    ok[half:h - (size - half) + 1, half:w - (size - half) + 1] = True
    return ok


def _window_extrema(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) of ``values`` over the size x size window whose top-left is at (y - size // 2,
    x - size // 2), as float32 (H, W) aligned with the centre (y, x)."""
    kernel = np.ones((size, size), dtype=np.uint8)
    anchor = (size // 2, size // 2)
    v = values.astype(np.float32)
    lo = cv2.erode(v, kernel, anchor=anchor, borderType=cv2.BORDER_REPLICATE)
    hi = cv2.dilate(v, kernel, anchor=anchor, borderType=cv2.BORDER_REPLICATE)
    return lo, hi


def _draw(mask: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    if ys.size == 0 or n <= 0:
        return np.zeros((0, 2), dtype=np.int64)
    pick = rng.choice(ys.size, size=min(n, ys.size), replace=False)
    pick.sort()
    return np.stack([ys[pick], xs[pick]], axis=1).astype(np.int64)


def boundary_centres(alpha: np.ndarray, rng: np.random.Generator, n: int, size: int, *,
                     lo: float = 0.1, hi: float = 0.9) -> np.ndarray:
    """Up to ``n`` distinct patch centres straddling the boundary of ``alpha``.

    alpha: float32 (H, W) in [0, 1]. Returns int64 (K, 2) of (y, x), K <= n, in raster order:
    every size x size patch at a centre (top-left ``centre - size // 2``) lies inside the
    picture, holds pixels with ``alpha <= lo`` and with ``alpha >= hi``, and its centre pixel
    has ``lo < alpha < hi`` or a 3x3 neighbourhood that crosses the step.
    """
    if alpha.ndim != 2:
        raise ValueError(f"boundary_centres: alpha must be (H, W), got shape {alpha.shape}")
    _check_size(size, alpha.shape, "boundary_centres")
    a = alpha.astype(np.float32)
    wmin, wmax = _window_extrema(a, size)
    nmin, nmax = _window_extrema(a, 3)
    centre = ((a > lo) & (a < hi)) | ((nmin <= lo) & (nmax >= hi))
    mask = centre & (wmin <= lo) & (wmax >= hi) & _interior(a.shape, size)
    return _draw(mask, n, rng)


def edge_centres(image: np.ndarray, rng: np.random.Generator, n: int, size: int, *,
                 avoid: np.ndarray | None = None, margin: int | None = None, lo: float = 0.01,
                 quantile: float = 0.9, min_gradient: float = 20.0) -> np.ndarray:
    """Up to ``n`` patch centres on strong luminance edges of a photo, away from ``avoid``.

    image: uint8 (H, W, 3) RGB. avoid: optional float32 (H, W) in [0, 1] (e.g. a composite's
    alpha); centres keep ``margin`` px (default: the patch diagonal) from every pixel where
    it exceeds ``lo``, so the whole patch shows only the photo. An edge is a pixel whose
    gradient magnitude (3x3 Sobel on the 8-bit luminance, after a 3x3 box blur against noise)
    is above ``quantile`` of the allowed pixels' and above ``min_gradient`` (so that noise in
    a flat photo is no edge), and a local maximum across its 3x3 neighbourhood. Returns int64 (K, 2) of (y, x), K <= n, in raster order.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"edge_centres: image must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
    _check_size(size, image.shape, "edge_centres")
    luma = cv2.blur(image.astype(np.float32) @ _LUMA, (3, 3))
    gx = cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.hypot(gx, gy)
    allowed = _interior(luma.shape, size)
    if avoid is not None:
        if avoid.shape != luma.shape:
            raise ValueError(f"edge_centres: avoid has shape {avoid.shape}, image {image.shape[:2]}")
        reach = int(np.ceil(size * 1.42)) if margin is None else int(margin)
        covered = (avoid > lo).astype(np.uint8)
        if reach > 0:
            covered = cv2.dilate(covered, np.ones((2 * reach + 1, 2 * reach + 1), dtype=np.uint8))
        allowed &= covered == 0
    if not allowed.any():
        return np.zeros((0, 2), dtype=np.int64)
    threshold = float(np.quantile(mag[allowed], quantile))
    peak = mag >= cv2.dilate(mag, np.ones((3, 3), dtype=np.uint8))
    mask = allowed & peak & (mag > max(threshold, min_gradient))
    return _draw(mask, n, rng)


def cut_patches(image: np.ndarray, centres: np.ndarray, size: int) -> np.ndarray:
    """The size x size patches of ``image`` (uint8 (H, W, 3)) at ``centres`` (int (K, 2) of
    (y, x), top-left ``centre - size // 2``, inside the picture): uint8 (K, size, size, 3)."""
    _check_size(size, image.shape, "cut_patches")
    out = np.empty((len(centres), size, size, 3), dtype=np.uint8)
    h, w = image.shape[:2]
    for k, (y, x) in enumerate(np.asarray(centres, dtype=np.int64)):
        top, left = int(y) - size // 2, int(x) - size // 2
        if top < 0 or left < 0 or top + size > h or left + size > w:
            raise ValueError(f"cut_patches: centre ({y}, {x}) puts the patch outside the {h}x{w} picture")
        out[k] = image[top:top + size, left:left + size]
    return out


def edge_contrast(patches: np.ndarray) -> np.ndarray:
    """Spread of luminance in each patch: the 90th minus the 10th percentile, in 8-bit levels.

    patches: uint8 (N, P, P, 3). Returns float32 (N,) in [0, 255].
    """
    if patches.ndim != 4 or patches.shape[-1] != 3:
        raise ValueError(f"edge_contrast: patches must be (N, P, P, 3), got shape {patches.shape}")
    if len(patches) == 0:
        return np.zeros(0, dtype=np.float32)
    luma = (patches.astype(np.float32) @ _LUMA).reshape(len(patches), -1)
    q = np.quantile(luma, [0.1, 0.9], axis=1)
    return (q[1] - q[0]).astype(np.float32)


def match_contrast(contrast_a: np.ndarray, contrast_b: np.ndarray, rng: np.random.Generator, *,
                   bins: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Subsample two groups to the same histogram of ``edge_contrast``.

    Bin edges are quantiles of both groups pooled (``bins`` bins); in every bin each group
    keeps ``min(count_a, count_b)`` of its patches, drawn without replacement. Returns the
    kept indices into a and into b (int64, sorted): equal counts in every bin, so equal sizes.
    """
    a = np.asarray(contrast_a, dtype=np.float64)
    b = np.asarray(contrast_b, dtype=np.float64)
    if bins < 1:
        raise ValueError(f"match_contrast: bins must be >= 1, got {bins}")
    if a.size == 0 or b.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    edges = np.unique(np.quantile(np.concatenate([a, b]), np.linspace(0, 1, bins + 1)))
    ba = np.clip(np.searchsorted(edges, a, side="right") - 1, 0, max(len(edges) - 2, 0))
    bb = np.clip(np.searchsorted(edges, b, side="right") - 1, 0, max(len(edges) - 2, 0))
    keep_a, keep_b = [], []
    for k in range(max(len(edges) - 1, 1)):
        ia, ib = np.flatnonzero(ba == k), np.flatnonzero(bb == k)
        m = min(ia.size, ib.size)
        if m:
            keep_a.append(rng.choice(ia, size=m, replace=False))
            keep_b.append(rng.choice(ib, size=m, replace=False))
    if not keep_a:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.sort(np.concatenate(keep_a)), np.sort(np.concatenate(keep_b))


def edge_sharpness(patches: np.ndarray) -> np.ndarray:
    """How steep the patch's edges are for their contrast: the 95th percentile of the luminance
    gradient magnitude (3x3 Sobel / 8, levels per px) over :func:`edge_contrast` (at least 1
    level). A step blurred by a Gaussian of sigma s gives about 0.4 / s, whatever its contrast.

    patches: uint8 (N, P, P, 3). Returns float32 (N,) >= 0.
    """
    if patches.ndim != 4 or patches.shape[-1] != 3:
        raise ValueError(f"edge_sharpness: patches must be (N, P, P, 3), got shape {patches.shape}")
    if len(patches) == 0:
        return np.zeros(0, dtype=np.float32)
    out = np.empty(len(patches), dtype=np.float32)
    contrast = np.maximum(edge_contrast(patches), 1.0)
    for k, patch in enumerate(patches):
        luma = patch.astype(np.float32) @ _LUMA
        g = np.hypot(cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
        out[k] = np.quantile(g[1:-1, 1:-1], 0.95) / contrast[k]
    return out


def _cells(values: np.ndarray, pooled: np.ndarray, bins: int) -> np.ndarray:
    edges = np.unique(np.quantile(pooled, np.linspace(0, 1, bins + 1)))
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, max(len(edges) - 2, 0))


def match_joint(stats_a: np.ndarray, stats_b: np.ndarray, rng: np.random.Generator,
                bins: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Subsample two groups to the same joint histogram of several statistics.

    stats_a: float (Na, D), stats_b: float (Nb, D); ``bins[d]`` quantile bins of both groups
    pooled on statistic d. In every cell of the D-dimensional grid each group keeps
    ``min(count_a, count_b)`` of its rows, drawn without replacement. Returns the kept indices
    into a and into b (int64, sorted): equal counts in every cell.
    """
    a, b = np.asarray(stats_a, dtype=np.float64), np.asarray(stats_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or a.shape[1] != len(bins) or min(bins) < 1:
        raise ValueError(f"match_joint: stats (Na, D) and (Nb, D) with D = len(bins) and bins >= 1, got "
                         f"{a.shape}, {b.shape}, bins {bins}")
    if len(a) == 0 or len(b) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ca, cb = np.zeros(len(a), np.int64), np.zeros(len(b), np.int64)
    for d, n in enumerate(bins):
        pooled = np.concatenate([a[:, d], b[:, d]])
        ca = ca * n + _cells(a[:, d], pooled, n)
        cb = cb * n + _cells(b[:, d], pooled, n)
    keep_a, keep_b = [], []
    for cell in np.intersect1d(ca, cb):
        ia, ib = np.flatnonzero(ca == cell), np.flatnonzero(cb == cell)
        m = min(ia.size, ib.size)
        keep_a.append(rng.choice(ia, size=m, replace=False))
        keep_b.append(rng.choice(ib, size=m, replace=False))
    if not keep_a:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.sort(np.concatenate(keep_a)), np.sort(np.concatenate(keep_b))
