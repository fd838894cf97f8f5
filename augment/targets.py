"""Target kinds, the interpolation each one gets, and the parameter-dataclass mixin.

Every geometric op takes a `Kind` so that the *same* parameters can be applied to
all aligned targets of a sample:

- ``"image"``: uint8 (H, W, C) or float32; smooth interpolation, INTER_AREA when shrinking.
- ``"alpha"``: float32 (H, W) in [0, 1]; smooth like images, never nearest.
- ``"trimap"``: uint8 (H, W) in {0, 128, 255}; nearest only.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal, TypeVar, get_args

import cv2
import numpy as np

Kind = Literal["image", "alpha", "trimap"]
KINDS: tuple[str, ...] = get_args(Kind)


Side = Literal["top", "bottom", "left", "right"]
#: The four sides of a frame (placement pins them, rotation crops them), in this order.
SIDES: tuple[Side, ...] = get_args(Side)


def interpolation(kind: Kind, shrinking: bool) -> int:
    """OpenCV interpolation flag for resampling a target of `kind`.

    image/alpha: INTER_AREA when shrinking (antialiased), else INTER_LINEAR (no overshoot,
    so no clipping needed). trimap: INTER_NEAREST always. Valid for both `cv2.resize`
    and `cv2.warpAffine` (resize in this package swaps in INTER_NEAREST_EXACT, see
    `augment.resize`).
    """
    if kind not in KINDS:  # augment.checks.check_kind builds on this module, so it cannot be used here
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "trimap":
        return cv2.INTER_NEAREST
    return cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR


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
