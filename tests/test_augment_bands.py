"""augment.bands: the band along the alpha boundary and the busyness measured in it."""
from __future__ import annotations

import numpy as np
import pytest

from augment.bands import boundary_bands
from augment.mismatch import realism_mismatch

from realism_images import soft_disc


def test_boundary_bands_and_small_images():
    alpha = soft_disc()
    fg_ring, bg_ring = boundary_bands(alpha, band_px=10, margin_px=3)
    assert not (fg_ring & bg_ring).any()
    assert np.all(alpha[fg_ring] >= 0.95) and np.all(alpha[bg_ring] <= 0.05)
    tiny = realism_mismatch(np.zeros((12, 12, 3), np.uint8), np.zeros((12, 12), np.float32))
    assert np.isnan(tiny["noise_log_ratio"]) and tiny["fg_pixels"] == 0
    with pytest.raises(ValueError, match="alpha must have shape"):
        realism_mismatch(np.zeros((12, 12, 3), np.uint8), np.zeros((12, 13), np.float32))
