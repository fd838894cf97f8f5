"""Degradations that give F and B one camera: defocus, sensor noise, JPEG, resolution and
sharpness matching (after GFM's RSSN, extended)."""
from augment.degrade.defocus import defocus
from augment.degrade.jpeg import jpeg_recompress
from augment.degrade.matching import gaussian_blur, match_resolution, match_sharpness, match_sharpness_sigma
from augment.degrade.noise import (
    DENOISE_KINDS,
    NOISE_P,
    NOISE_SIGMA,
    NoiseParams,
    add_sensor_noise,
    normals_for_draw,
    quantile_normals,
    sample_noise,
    unit_normals,
)

__all__ = [
    "DENOISE_KINDS",
    "NOISE_P",
    "NOISE_SIGMA",
    "NoiseParams",
    "add_sensor_noise",
    "defocus",
    "gaussian_blur",
    "jpeg_recompress",
    "match_resolution",
    "match_sharpness",
    "match_sharpness_sigma",
    "normals_for_draw",
    "quantile_normals",
    "sample_noise",
    "unit_normals",
]
