"""Trimaps from alpha: definite regions eroded by a band of unknown pixels."""
from __future__ import annotations

import cv2
import numpy as np

from augment.compose import alpha_to_float
from augment.checks import check_hw, check_range

__all__ = ["alpha_to_uint8", "make_trimap", "sample_band_px"]


def alpha_to_uint8(alpha: np.ndarray, *, validate: bool = True) -> np.ndarray:
    """Quantise alpha (H, W) to uint8: uint8 as is, otherwise rint(255·α) with α from
    `alpha_to_float` (float in [0, 1] or uint16). `validate=False` (float32 alpha, hot
    loops): the same values without the range scan; the caller guarantees α >= 0, and
    values over 1 saturate to 255."""
    if alpha.dtype == np.uint8:
        return alpha
    if not validate and alpha.dtype == np.float32:
        return cv2.convertScaleAbs(alpha, alpha=255.0)
    out = np.multiply(alpha_to_float(alpha), np.float32(255.0))  # validates dtype and range
    np.rint(out, out=out)
    return out.astype(np.uint8)


_SQUARE = np.ones((3, 3), np.uint8)


def _edge(a8: np.ndarray) -> np.ndarray:
    """Where the matte is not definite: 0 < α_u8 < 255, plus definite pixels 8-adjacent to
    the other definite value (hard 0/255 steps). uint8 (H, W), 255 on the edge, else 0.

    A definite pixel touches the other value exactly where its 3x3 neighbourhood holds both 0
    and 255: where the morphological gradient (max - min over the 3x3, within the image) is 255."""
    # (inRange, not compare: compare rejects 1x1 arrays)
    steps = cv2.inRange(cv2.morphologyEx(a8, cv2.MORPH_GRADIENT, _SQUARE), 255, 255)
    return cv2.bitwise_or(cv2.inRange(a8, 1, 254), steps)


def make_trimap(alpha: np.ndarray, band_px: int, outer_px: int | None = None) -> np.ndarray:
    """Trimap uint8 (H, W) in {0, 128, 255} from alpha (float32 in [0, 1] or uint8) (H, W).

    Unknown (128): every pixel within `band_px` (Euclidean, 5x5 chamfer) of the *edge*:
    the pixels with 0 < α_u8 < 255 and the definite pixels touching the other definite
    value (8-neighbourhood). Elsewhere α_u8 (255 or 0). So every 0 < α_u8 < 255 is 128,
    `band_px=0` keeps exactly the quantised definite regions, and for `band_px >= 1` this
    is the definite regions eroded by a disc of radius `band_px` (to within one pixel at
    hard 0/255 steps). The image border does not erode.

    ``outer_px`` (None: ``band_px``): the band's reach on the background side (pixels whose
    α_u8 is 0), ``band_px`` then being its reach on the subject side (α_u8 255), as a
    trimap drawn by hand or by eroding the two definite regions apart is rarely symmetric.

    One distance transform, on the bounding box of the edge grown by the wider side + 1: O(H·W)
    whatever the band (cv2.erode with a (2r+1) ellipse is O(H·W·r)).
    """
    if not isinstance(alpha, np.ndarray) or alpha.ndim != 2 or alpha.size == 0:
        raise ValueError(f"alpha must be a non-empty 2-D array (H, W), got {getattr(alpha, 'shape', alpha)}")
    if int(band_px) != band_px or band_px < 0:
        raise ValueError(f"band_px must be an integer >= 0, got {band_px!r}")
    if outer_px is not None and (int(outer_px) != outer_px or outer_px < 0):
        raise ValueError(f"outer_px must be an integer >= 0 or None, got {outer_px!r}")
    inner, outer = int(band_px), int(band_px if outer_px is None else outer_px)
    a8 = alpha_to_uint8(alpha)
    trimap = a8.copy()
    if inner == outer == 0:
        np.copyto(trimap, np.uint8(128), where=(cv2.inRange(a8, 1, 254) != 0))
        return trimap
    edge = _edge(a8)
    x, y, w, h = cv2.boundingRect(edge)
    if w == 0 or h == 0:  # all definite, one value: nothing to erode
        return trimap
    reach = max(inner, outer)
    hh, ww = a8.shape
    y0, y1 = max(0, y - reach - 1), min(hh, y + h + reach + 1)
    x0, x1 = max(0, x - reach - 1), min(ww, x + w + reach + 1)
    # distance of each non-edge pixel to the nearest edge pixel (every edge pixel is in the box,
    # and every pixel within `reach` of one; edge pixels themselves get 0)
    dist = cv2.distanceTransform(cv2.bitwise_not(edge[y0:y1, x0:x1]), cv2.DIST_L2, cv2.DIST_MASK_5)
    if inner == outer:
        near = dist <= reach
    else:  # each side by its own reach (soft pixels are edge: dist 0); a zero side keeps its definite pixels
        box = a8[y0:y1, x0:x1]
        near = np.where(box == 0, dist <= outer, dist <= inner)
        if outer == 0:
            near &= box != 0
        if inner == 0:
            near &= box != 255
    np.copyto(trimap[y0:y1, x0:x1], np.uint8(128), where=near)
    return trimap


def sample_band_px(
    rng: np.random.Generator,
    image_hw: tuple[int, int],
    band: tuple[int, int] = (1, 29),
    *,
    reference: int = 640,
) -> int:
    """Unknown-band width: an integer ~ U{band[0]..band[1]} at a long side of `reference` px,
    scaled by max(h, w) / reference and rounded, at least 1. Always draws one number."""
    h, w = check_hw(image_hw, "image_hw")
    lo, hi = check_range(band, "band", low=0)
    if lo != int(lo) or hi != int(hi):
        raise ValueError(f"band must be a pair of integers, got {band!r}")
    if reference <= 0:
        raise ValueError(f"reference must be > 0, got {reference!r}")
    width = int(rng.integers(int(lo), int(hi) + 1))
    return max(1, round(width * max(h, w) / reference))
