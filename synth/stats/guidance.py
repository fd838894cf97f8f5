"""Guidance-mask quality of one sample: how far the coarse masks of mask-guided training are
from the alpha (IoU and boundary F-score, :mod:`augment.guidance`).

The mask is the stored ``guidance.png`` when the dataset has one (``output.targets:
[guidance]``), else the one the loader draws for the sample at epoch 0 with ``seed=0`` and
``crop=None`` (its defaults; the same :class:`augment.guidance.GuidanceSpec`). Measured at most
:data:`SIDE` pixels on the long side (the mask's sizes are relative to the short side).
"""
from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from augment.guidance import GuidanceSpec, boundary_fscore, mask_iou
from shards.codec import decode_alpha_stored
from shards.online_augment import guidance_mask
from shards.order import sample_seed

__all__ = ["measure_guidance", "SIDE"]

#: Long side of the measurement (pixels).
SIDE = 512


def _shrink(arr: np.ndarray) -> np.ndarray:
    h, w = arr.shape
    r = max(h, w) / SIDE
    if r <= 1:
        return arr
    return cv2.resize(arr, (max(1, round(w / r)), max(1, round(h / r))), interpolation=cv2.INTER_AREA)


def measure_guidance(members: Mapping[str, bytes], alpha: np.ndarray, index: int) -> dict[str, float]:
    """``{"guidance.iou", "guidance.boundary_f", "guidance.stored"}`` of sample ``index``.

    ``alpha``: its decoded ``alpha.png``, ``uint8`` or ``uint16 (H, W)``. ``ValueError`` when a
    stored ``guidance.png`` is undecodable or of another size than the alpha.
    """
    unit = 1.0 / (255.0 if alpha.dtype == np.uint8 else 65535.0)
    a = _shrink(alpha.astype(np.float32) * np.float32(unit))
    stored = members.get("guidance.png")
    if stored is not None:
        g = decode_alpha_stored(stored, "guidance.png")
        if g.shape != alpha.shape:
            raise ValueError(f"guidance.png is {g.shape[1]}x{g.shape[0]} but alpha.png is "
                             f"{alpha.shape[1]}x{alpha.shape[0]}")
        mask = _shrink(g.astype(np.float32) * np.float32(1.0 / 255.0))
    else:
        mask = guidance_mask(a, sample_seed(0, 0, int(index)), GuidanceSpec())
    return {"guidance.iou": mask_iou(mask, a), "guidance.boundary_f": boundary_fscore(mask, a),
            "guidance.stored": float(stored is not None)}
