"""Trimaps from alpha: definite regions eroded by a band of unknown pixels."""
from __future__ import annotations

import cv2
import numpy as np

from augment.compose import alpha_to_float
from augment.targets import check_hw, check_range

__all__ = ["alpha_to_uint8", "make_trimap", "sample_band_px"]


def alpha_to_uint8(alpha: np.ndarray) -> np.ndarray:
    """Quantise alpha (H, W) to uint8: uint8 as is, otherwise rint(255·α) with α from
    `alpha_to_float` (float in [0, 1] or uint16)."""
    if alpha.dtype == np.uint8:
        return alpha
    out = np.multiply(alpha_to_float(alpha), np.float32(255.0))  # validates dtype and range
    np.rint(out, out=out)
    return out.astype(np.uint8)


def _erode(region: np.ndarray, band_px: int) -> np.ndarray:
    """Pixels of `region` (uint8 0/1) farther than `band_px` from any pixel outside it.

    That is erosion by a disc of radius `band_px` (the image border does not erode),
    via a 5x5-chamfer Euclidean distance transform: O(H·W) whatever the band, where
    cv2.erode with a (2r+1) elliptical kernel costs O(H·W·r) (35 ms vs 2.5 ms at r=46,
    1024², one core); the two differ only in a few boundary pixels.
    """
    dist = cv2.distanceTransform(region, cv2.DIST_L2, cv2.DIST_MASK_5)
    return dist > band_px


def make_trimap(alpha: np.ndarray, band_px: int) -> np.ndarray:
    """Trimap uint8 (H, W) in {0, 128, 255} from alpha (float32 in [0, 1] or uint8) (H, W).

    255: α_u8 == 255 eroded by a disc of radius `band_px`; 0: α_u8 == 0 eroded likewise;
    128 elsewhere. So every 0 < α_u8 < 255 is 128, and `band_px=0` keeps exactly the
    quantised definite regions. The image border does not erode. About 3 ms at 1024², any band.
    """
    if not isinstance(alpha, np.ndarray) or alpha.ndim != 2 or alpha.size == 0:
        raise ValueError(f"alpha must be a non-empty 2-D array (H, W), got {getattr(alpha, 'shape', alpha)}")
    if int(band_px) != band_px or band_px < 0:
        raise ValueError(f"band_px must be an integer >= 0, got {band_px!r}")
    a8 = alpha_to_uint8(alpha)
    fg = a8 == 255
    bg = a8 == 0
    if band_px > 0:
        fg = _erode(fg.view(np.uint8), int(band_px))
        bg = _erode(bg.view(np.uint8), int(band_px))
    trimap = np.full(a8.shape, 128, dtype=np.uint8)
    trimap[fg] = 255
    trimap[bg] = 0
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
