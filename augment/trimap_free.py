"""Targets of trimap-free matting models, from the alpha alone.

Semantic + detail models (SHM, MODNet, late-fusion matting) learn a coarse *semantic*
prediction and a *detail* prediction in the transition band, and fuse them:

- :func:`semantic_classes`: three classes per pixel, ``uint8 (H, W)``: 0 background,
  1 transition, 2 foreground (SHM's T-Net target), from a trimap;
- :func:`semantic_lowres`: a low-resolution soft mask, ``float32 (ceil(H/s), ceil(W/s))``
  in [0, 1]: the alpha area-downsampled ``s`` times and Gaussian-blurred (MODNet's
  semantic target, ``s = 16``);
- :func:`detail_band`: the transition band, ``float32 (H, W)`` in {0, 1}: where the
  trimap is unknown (the pixels a detail branch is supervised on).

The band is the trimap's, so the targets of one sample agree with its trimap.
"""
from __future__ import annotations

import cv2
import numpy as np

from augment.checks import check_alpha

__all__ = ["semantic_classes", "semantic_lowres", "detail_band", "SEMANTIC_KINDS"]

#: The forms of the semantic target.
SEMANTIC_KINDS = ("classes", "lowres")

_CLASSES = np.ones(256, np.uint8)  # trimap value -> class (a lookup table: one pass)
_CLASSES[0], _CLASSES[255] = 0, 2
_CLASSES.setflags(write=False)


def _check_trimap(trimap: np.ndarray) -> None:
    if not isinstance(trimap, np.ndarray) or trimap.dtype != np.uint8 or trimap.ndim != 2:
        raise ValueError(f"trimap must be uint8 (H, W), got {getattr(trimap, 'dtype', type(trimap))} "
                         f"{getattr(trimap, 'shape', '')}")


def semantic_classes(trimap: np.ndarray) -> np.ndarray:
    """``trimap: uint8 (H, W)`` in {0, 128, 255} -> ``uint8 (H, W)``: 0 bg, 1 transition, 2 fg."""
    _check_trimap(trimap)
    return _CLASSES[trimap]


def semantic_lowres(alpha: np.ndarray, scale: int = 16, sigma: float = 1.0) -> np.ndarray:
    """``alpha: float32 (H, W)`` -> its ``scale``-times area-downsampled, Gaussian-blurred
    (``sigma`` low-res pixels; 0 = none) copy, ``float32 (ceil(H/scale), ceil(W/scale))``."""
    h, w = check_alpha(alpha)
    if not 1 <= int(scale) <= 256:
        raise ValueError(f"semantic scale must be in [1, 256], got {scale}")
    size = (max(1, -(-w // scale)), max(1, -(-h // scale)))
    small = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA) if size != (w, h) else alpha.copy()
    if sigma > 0:
        small = cv2.GaussianBlur(small, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    return np.clip(small, 0.0, 1.0).astype(np.float32, copy=False)


def detail_band(trimap: np.ndarray) -> np.ndarray:
    """``trimap: uint8 (H, W)`` -> ``float32 (H, W)``: 1 where unknown (128), else 0."""
    _check_trimap(trimap)
    return (trimap == 128).astype(np.float32)
