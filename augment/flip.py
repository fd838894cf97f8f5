"""Horizontal / vertical flips."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from augment.checks import check_array
from augment.targets import Params, keep_channels

__all__ = ["Flip", "apply_flip", "sample_flip"]


@dataclass(frozen=True)
class Flip(Params):
    """Mirror left-right (`horizontal`) and/or top-bottom (`vertical`)."""

    horizontal: bool
    vertical: bool


def sample_flip(rng: np.random.Generator, p_horizontal: float = 0.5, p_vertical: float = 0.0) -> Flip:
    """Independent flips with the given probabilities; always draws two numbers."""
    for name, p in (("p_horizontal", p_horizontal), ("p_vertical", p_vertical)):
        if not (0.0 <= p <= 1.0):
            raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
    u = rng.random(2)
    return Flip(horizontal=bool(u[0] < p_horizontal), vertical=bool(u[1] < p_vertical))


def apply_flip(params: Flip, arr: np.ndarray) -> np.ndarray:
    """Flip (H, W[, C]) `arr`; the same for every kind. No flip returns `arr` itself,
    otherwise a new contiguous array."""
    check_array(arr)
    if params.horizontal and params.vertical:
        code = -1
    elif params.horizontal:
        code = 1
    elif params.vertical:
        code = 0
    else:
        return arr
    return keep_channels(cv2.flip(arr, code), arr)
