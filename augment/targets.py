"""Target kinds and the interpolation each one gets.

Every geometric op takes a `Kind` so that the *same* parameters can be applied to
all aligned targets of a sample:

- ``"image"``: uint8 (H, W, C) or float32; smooth interpolation, INTER_AREA when shrinking.
- ``"alpha"``: float32 (H, W) in [0, 1]; smooth like images, never nearest.
- ``"trimap"``: uint8 (H, W) in {0, 128, 255}; nearest only.
"""
from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any, Literal, TypeVar, get_args

import cv2
import numpy as np

Kind = Literal["image", "alpha", "trimap"]
KINDS: tuple[str, ...] = get_args(Kind)


def check_kind(kind: str) -> Kind:
    """Return `kind` if it is a valid target kind, else raise ValueError."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return kind  # type: ignore[return-value]


Side = Literal["top", "bottom", "left", "right"]
#: The four sides of a frame (placement pins them, rotation crops them), in this order.
SIDES: tuple[Side, ...] = get_args(Side)


def check_sides(sides: tuple[str, ...], name: str = "cut") -> tuple[Side, ...]:
    """Return `sides` if every one is in :data:`SIDES`, else raise ValueError."""
    bad = [s for s in sides if s not in SIDES]
    if bad:
        raise ValueError(f"{name} sides must be among {SIDES}, got {bad!r}")
    return tuple(sides)  # type: ignore[return-value]


def interpolation(kind: Kind, shrinking: bool) -> int:
    """OpenCV interpolation flag for resampling a target of `kind`.

    image/alpha: INTER_AREA when shrinking (antialiased), else INTER_LINEAR (no overshoot,
    so no clipping needed). trimap: INTER_NEAREST always. Valid for both `cv2.resize`
    and `cv2.warpAffine` (resize in this package swaps in INTER_NEAREST_EXACT, see
    `augment.resize`).
    """
    check_kind(kind)
    if kind == "trimap":
        return cv2.INTER_NEAREST
    return cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR


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


def keep_channels(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    """OpenCV drops a trailing channel axis of size 1; put it back to match `like`."""
    if like.ndim == 3 and out.ndim == 2:
        return out[:, :, None]
    return out


_P = TypeVar("_P", bound="Params")


class Params:
    """Mixin for frozen parameter dataclasses: JSON-able `to_dict()` and `from_dict()`."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (tuples become lists) suitable for `json.dumps` / `meta.json`."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[_P], d: dict[str, Any]) -> _P:
        """Inverse of `to_dict`."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def check_range(
    value: tuple[float, float], name: str, *, low: float | None = None, high: float | None = None
) -> tuple[float, float]:
    """Validate a (lo, hi) pair with lo <= hi, both finite and within [low, high]."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (low, high) pair of numbers, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise ValueError(f"{name} must be finite with low <= high, got {value!r}")
    if (low is not None and lo < low) or (high is not None and hi > high):
        raise ValueError(f"{name} must lie within [{low}, {high}], got {value!r}")
    return lo, hi
