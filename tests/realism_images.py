"""Synthetic test images shared by the realism tests (augment.estimate, augment.degrade,
augment.mismatch, augment.bands)."""
from __future__ import annotations

import cv2
import numpy as np


def smooth_image(h=256, w=256):
    """float64 (h, w, 3) smooth gradients (no edges), levels about 60..160."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack(
        [110 + 50 * np.sin(xx / 40), 120 + 40 * np.cos(yy / 30), 100 + 30 * np.sin((xx + yy) / 50)], -1
    )



def detailed_image(h=256, w=256, seed=0):
    """Sharp-edged rectangles and discs plus fine texture: plenty of high frequencies."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 128, np.float32)
    for _ in range(60):
        x, y = rng.integers(0, w), rng.integers(0, h)
        col = tuple(float(c) for c in rng.uniform(20, 235, 3))
        if rng.random() < 0.5:
            cv2.rectangle(img, (int(x), int(y)), (int(x + rng.integers(4, 40)), int(y + rng.integers(4, 40))), col, -1)
        else:
            cv2.circle(img, (int(x), int(y)), int(rng.integers(3, 20)), col, -1)
    img += cv2.GaussianBlur(rng.normal(0, 12, (h, w, 3)).astype(np.float32), (0, 0), 0.8)
    return np.clip(img, 0, 255).astype(np.uint8)




def soft_disc(size=192):
    """float32 (size, size) alpha: a disc blurred by 1.5 px."""
    alpha = np.zeros((size, size), np.float32)
    cv2.circle(alpha, (size // 2, size // 2), size // 3, 1.0, -1)
    return cv2.GaussianBlur(alpha, (0, 0), 1.5)
