"""Photometric jitter of the composite image only (never alpha, trimap)."""
from __future__ import annotations

import numpy as np

from augment.aligned import import_albumentations
from augment.checks import check_rgb, check_unit

__all__ = ["photometric_jitter"]


def photometric_jitter(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Random colour jitter of a uint8 RGB (H, W, 3) image -> uint8 (H, W, 3).

    At strength 1: brightness/contrast/saturation factors in [0.7, 1.3] and hue shifts up to
    ±0.05 turn (albumentations ColorJitter, p=0.8), then gamma in [0.7, 1.3] (RandomGamma,
    p=0.5); ranges scale linearly with `strength` in [0, 1]. Strength 0 returns `image`
    itself and draws nothing; otherwise one seed is drawn from `rng` (deterministic). The
    input is never modified, but is returned as is when no step fired.
    """
    check_rgb(image, "image")
    check_unit(strength, "strength")
    if strength == 0.0:
        return image
    A = import_albumentations()
    s = float(strength)
    transform = A.Compose(
        [
            A.ColorJitter(brightness=0.3 * s, contrast=0.3 * s, saturation=0.3 * s, hue=0.05 * s, p=0.8),
            A.RandomGamma(gamma_limit=(100 - 30 * s, 100 + 30 * s), p=0.5),
        ],
        seed=int(rng.integers(0, 2**31)),
    )
    return transform(image=image)["image"]
