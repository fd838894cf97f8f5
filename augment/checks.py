"""Validation of the arguments of augment's public functions (one copy of each check).

Every check raises ``ValueError`` naming the argument and the bad value, and returns
what the caller needs (the validated value, an (H, W), a bool mask).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from augment.targets import KINDS, SIDES, Kind, Side

__all__ = [
    "check_alpha",
    "check_array",
    "check_choice",
    "check_hw",
    "check_image",
    "check_kind",
    "check_layers",
    "check_mask",
    "check_positive",
    "check_range",
    "check_rgb",
    "check_rng",
    "check_sides",
    "check_unit",
    "check_within",
]


def check_choice(value: Any, choices: Sequence[Any], name: str) -> Any:
    """Return ``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_kind(kind: str) -> Kind:
    """Return `kind` if it is a valid target kind (:data:`augment.targets.KINDS`)."""
    return check_choice(kind, KINDS, "kind")


def check_sides(sides: tuple[str, ...], name: str = "cut") -> tuple[Side, ...]:
    """Return `sides` if every one is in :data:`augment.targets.SIDES`."""
    bad = [s for s in sides if s not in SIDES]
    if bad:
        raise ValueError(f"{name} sides must be among {SIDES}, got {bad!r}")
    return tuple(sides)  # type: ignore[return-value]


def check_array(arr: np.ndarray, name: str = "arr") -> tuple[int, int]:
    """Validate a (H, W) or (H, W, C) array with H, W >= 1; return (H, W)."""
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(arr).__name__}")
    if arr.ndim not in (2, 3) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have shape (H, W) or (H, W, C) with H, W >= 1, got {arr.shape}")
    return int(arr.shape[0]), int(arr.shape[1])


def check_hw(hw: tuple[int, int], name: str) -> tuple[int, int]:
    """Validate a (height, width) pair of positive ints; return it as a tuple of ints."""
    try:
        h, w = hw
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (height, width) pair, got {hw!r}") from None
    if int(h) != h or int(w) != w or h < 1 or w < 1:
        raise ValueError(f"{name} must be positive integers (height, width), got {hw!r}")
    return int(h), int(w)


def check_range(
    value: tuple[float, float], name: str, *, low: float | None = None, high: float | None = None
) -> tuple[float, float]:
    """Validate a (lo, hi) pair of finite numbers with ``low <= lo <= hi <= high`` (None: unbounded)."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (low, high) pair of numbers, got {value!r}") from None
    bounds = ("" if low is None else f"{low:g} <= ") + "low <= high" + ("" if high is None else f" <= {high:g}")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if lo > hi or (low is not None and lo < low) or (high is not None and hi > high):
        raise ValueError(f"{name} must satisfy {bounds}, got {value!r}")
    return lo, hi


def check_within(value: float, name: str, low: float, high: float = math.inf) -> float:
    """Return ``float(value)`` if it is a finite number with ``low <= value <= high``."""
    if not (isinstance(value, (int, float, np.floating)) and math.isfinite(value) and low <= float(value) <= high):
        raise ValueError(f"{name} must be in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def check_unit(value: float, name: str) -> float:
    """Return ``float(value)`` if it is a number in [0, 1] (a probability, a strength)."""
    return check_within(value, name, 0.0, 1.0)


def check_positive(value: float, name: str) -> float:
    """Return ``float(value)`` if it is a finite number > 0."""
    if not (isinstance(value, (int, float, np.floating)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_rng(rng: np.random.Generator) -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator``."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def check_image(image: np.ndarray, name: str = "image", *, allow_grey: bool = False,
                dtypes: tuple[type, ...] = (np.uint8, np.float32)) -> tuple[int, int]:
    """A non-empty ``(H, W, 3)`` (or, with ``allow_grey``, ``(H, W)``) array of one of ``dtypes``;
    returns (H, W)."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(image).__name__}")
    if not ((image.ndim == 3 and image.shape[2] == 3) or (allow_grey and image.ndim == 2)):
        want = "(H, W, 3) or (H, W)" if allow_grey else "(H, W, 3)"
        raise ValueError(f"{name} must have shape {want}, got {image.shape}")
    if image.dtype not in dtypes:
        names = " or ".join(np.dtype(d).name for d in dtypes)
        raise ValueError(f"{name} must be {names}, got {image.dtype}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{name} is empty, shape {image.shape}")
    return int(image.shape[0]), int(image.shape[1])


def check_rgb(image: np.ndarray, name: str = "image") -> tuple[int, int]:
    """A non-empty ``uint8 (H, W, 3)`` RGB image; returns (H, W)."""
    return check_image(image, name, dtypes=(np.uint8,))


def check_alpha(alpha: np.ndarray, hw: tuple[int, ...] | None = None, name: str = "alpha") -> tuple[int, int]:
    """A ``float32 (H, W)`` alpha, of shape ``hw`` (the image's) when given; returns (H, W)."""
    if not isinstance(alpha, np.ndarray) or alpha.dtype != np.float32:
        got = f"{alpha.dtype} {alpha.shape}" if isinstance(alpha, np.ndarray) else type(alpha).__name__
        raise ValueError(f"{name} must be a float32 (H, W) array, got {got}")
    if hw is not None and alpha.shape != tuple(hw):
        raise ValueError(f"{name} must have shape {tuple(hw)} (the H, W it shares with the image), "
                         f"got {alpha.shape}")
    if alpha.ndim != 2:
        raise ValueError(f"{name} must be a float32 (H, W) array, got {alpha.dtype} {alpha.shape}")
    return int(alpha.shape[0]), int(alpha.shape[1])


def check_mask(mask: np.ndarray | None, hw: tuple[int, int], name: str = "mask") -> np.ndarray | None:
    """None, or a bool view of ``mask`` after checking it has shape ``hw``."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != hw:
        raise ValueError(f"{name} must have shape {hw} (the image's H, W), got {mask.shape}")
    return mask.astype(bool, copy=False)


def check_layers(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, strength: float) -> None:
    """F ``uint8 (H, W, 3)``, its alpha ``float32 (H, W)``, B ``uint8 (h, w, 3)`` (any size),
    ``strength`` in [0, 1] (the arguments of every harmonisation method)."""
    check_rgb(fg, "fg")
    check_rgb(bg, "bg")
    check_alpha(alpha, fg.shape[:2])
    check_unit(strength, "strength")
