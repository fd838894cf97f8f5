"""Colour and light harmonisation of a foreground toward its new background.

A foreground photographed under one light and pasted onto a background lit by another
carries a colour cast and brightness that do not match: a shortcut a matting model
learns.  These functions shift F (only F: alpha is read, never modified or returned)
toward the background: :mod:`~augment.harmonize.transfer` moves F's whole colour
distribution (Reinhard LAB, histogram matching, albumentations' domain adaptation);
:mod:`~augment.harmonize.light` changes only the light on F (von Kries, exposure,
relight); :mod:`~augment.harmonize.params` draws and applies one decision.
Images are ``uint8 (H, W, 3)`` RGB, alpha ``float32 (H, W)`` in ``[0, 1]``; the
background may have any size.
"""
from augment.harmonize.light import apply_gains, exposure, light_gains, relight, von_kries
from augment.harmonize.params import (
    DEFAULT_HARMONIZATION_METHODS,
    HARMONIZATION_METHODS,
    HARMONIZATION_P,
    HARMONIZATION_STRENGTH,
    HarmonizationMethod,
    HarmonizationParams,
    apply_harmonization,
    harmonize_with_details,
    sample_harmonization,
)
from augment.harmonize.transfer import albu_domain_adaptation, histogram_match, reinhard_lab

__all__ = [
    "DEFAULT_HARMONIZATION_METHODS",
    "HARMONIZATION_METHODS",
    "HARMONIZATION_P",
    "HARMONIZATION_STRENGTH",
    "HarmonizationMethod",
    "HarmonizationParams",
    "albu_domain_adaptation",
    "apply_gains",
    "apply_harmonization",
    "exposure",
    "harmonize_with_details",
    "histogram_match",
    "light_gains",
    "reinhard_lab",
    "relight",
    "sample_harmonization",
    "von_kries",
]
