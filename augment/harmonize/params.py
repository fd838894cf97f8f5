"""Harmonisation decisions: which method, how strongly; drawn, then applied.

:func:`sample_harmonization` draws a frozen :class:`HarmonizationParams`;
:func:`apply_harmonization` applies it (:func:`harmonize_with_details` also reports what
the method derived from the images).  Every method takes ``strength`` in ``[0, 1]``
(0 = identity, 1 = full transfer).  The defaults here are the recipe's
(``harmonization`` section of :mod:`synth.recipe`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from augment.checks import check_layers, check_range, check_rng, check_unit
from augment.colour import LUMINANCE_WEIGHTS
from augment.harmonize.light import apply_gains, light_gains
from augment.harmonize.transfer import albu_domain_adaptation, histogram_match, reinhard_lab
from augment.targets import Params

__all__ = [
    "HARMONIZATION_METHODS",
    "HARMONIZATION_P",
    "HARMONIZATION_STRENGTH",
    "DEFAULT_HARMONIZATION_METHODS",
    "HarmonizationMethod",
    "HarmonizationParams",
    "apply_harmonization",
    "harmonize_with_details",
    "sample_harmonization",
]

HarmonizationMethod = Literal["reinhard_lab", "histogram_match", "albu_histogram", "albu_fda", "albu_pda",
                              "von_kries", "exposure", "relight"]
HARMONIZATION_METHODS: tuple[str, ...] = get_args(HarmonizationMethod)
#: Defaults of :func:`sample_harmonization` and of the recipe's ``harmonization`` section.
DEFAULT_HARMONIZATION_METHODS: tuple[str, ...] = ("reinhard_lab", "histogram_match")
HARMONIZATION_STRENGTH: tuple[float, float] = (0.2, 0.7)
HARMONIZATION_P: float = 0.7
_NO_METHOD = "none"


@dataclass(frozen=True)
class HarmonizationParams(Params):
    """One harmonisation decision: ``method`` ("none" = not applied) and ``strength`` in [0, 1]."""

    method: str = _NO_METHOD
    strength: float = 0.0

    def __post_init__(self) -> None:
        if self.method != _NO_METHOD and self.method not in HARMONIZATION_METHODS:
            raise ValueError(
                f"HarmonizationParams.method must be 'none' or one of {HARMONIZATION_METHODS}, got {self.method!r}"
            )
        check_unit(self.strength, "HarmonizationParams.strength")


def sample_harmonization(
    rng: np.random.Generator,
    methods: Sequence[str] = DEFAULT_HARMONIZATION_METHODS,
    strength: tuple[float, float] = HARMONIZATION_STRENGTH,
    p: float = HARMONIZATION_P,
) -> HarmonizationParams:
    """Draw whether to harmonise (probability ``p``), which method (uniform), how strongly.

    Always consumes the same three draws from ``rng`` whatever the outcome.

    Args:
        rng: the sample's generator.
        methods: non-empty subset of :data:`HARMONIZATION_METHODS`.
        strength: (low, high) with ``0 <= low <= high <= 1``, uniform.
        p: probability in [0, 1] of harmonising at all.
    """
    check_rng(rng)
    methods = tuple(methods)
    if not methods:
        raise ValueError("methods must not be empty")
    bad = [m for m in methods if m not in HARMONIZATION_METHODS]
    if bad:
        raise ValueError(f"unknown harmonisation methods {bad}; known: {HARMONIZATION_METHODS}")
    lo, hi = check_range(strength, "strength", low=0.0, high=1.0)
    check_unit(p, "p")
    u_apply, u_method, u_strength = rng.uniform(size=3)
    if u_apply >= p:
        return HarmonizationParams()
    method = methods[min(int(u_method * len(methods)), len(methods) - 1)]
    return HarmonizationParams(method=method, strength=float(lo + (hi - lo) * u_strength))


def apply_harmonization(
    params: HarmonizationParams, fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray
) -> np.ndarray:
    """Apply ``params`` to F (``uint8 (H, W, 3)``) with alpha (``float32 (H, W)``, read only)
    toward bg (``uint8 (h, w, 3)``); returns a new ``uint8 (H, W, 3)``."""
    return harmonize_with_details(params, fg, alpha, bg)[0]


def harmonize_with_details(
    params: HarmonizationParams, fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray
) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`apply_harmonization` plus what the method derived from the images.

    The light methods (``von_kries``, ``exposure``, ``relight``) report
    ``{"gains": [g_R, g_G, g_B], "stops": log2(Y(g))}``: the linear-light gains applied to
    F and the exposure change in stops; the distribution transfers report ``{}``.
    Returns ``(new uint8 (H, W, 3) F, details)``.
    """
    if not isinstance(params, HarmonizationParams):
        raise ValueError(f"params must be HarmonizationParams, got {type(params).__name__}")
    if params.method == _NO_METHOD or params.strength == 0:
        check_layers(fg, alpha, bg, params.strength)
        return fg.copy(), {}
    if params.method == "reinhard_lab":
        return reinhard_lab(fg, alpha, bg, params.strength), {}
    if params.method == "histogram_match":
        return histogram_match(fg, alpha, bg, params.strength), {}
    parts = {"von_kries": (True, False), "exposure": (False, True), "relight": (True, True)}.get(params.method)
    if parts is not None:
        gains = light_gains(fg, alpha, bg, params.strength, chromatic=parts[0], intensity=parts[1])
        stops = math.log2(float(np.dot(LUMINANCE_WEIGHTS, gains)))
        return apply_gains(fg, alpha, gains), {"gains": [float(g) for g in gains], "stops": stops}
    albu = {"albu_histogram": "histogram", "albu_fda": "fda", "albu_pda": "pda"}[params.method]
    return albu_domain_adaptation(fg, alpha, bg, params.strength, method=albu), {}  # type: ignore[arg-type]
