"""Apply an albumentations transform consistently to aligned matting targets."""
from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from augment.compose import alpha_to_float

if TYPE_CHECKING:  # albumentations is imported lazily: it is slow to import (and imports torch)
    import albumentations

__all__ = ["apply_albumentations", "import_albumentations"]

_RESERVED = frozenset({"image", "alpha", "trimap", "mask", "masks", "images", "volume", "applied_transforms"})


def import_albumentations() -> Any:
    """Import albumentations without its on-import network version check (one HTTP request
    per Ray worker otherwise), unless the user configured NO_ALBUMENTATIONS_UPDATE."""
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    import albumentations

    return albumentations


def _same_params(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same_params(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same_params(x, y) for x, y in zip(a, b))
    return bool(a == b)


def apply_albumentations(
    transform: albumentations.BasicTransform | albumentations.BaseCompose,
    rng: np.random.Generator,
    *,
    image: np.ndarray,
    alpha: np.ndarray,
    trimap: np.ndarray | None = None,
    extra_images: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Run `transform` with one set of random parameters on all aligned targets.

    image: uint8 (H, W, C) (or float32); alpha: float32 (H, W) in [0, 1] (uint8/uint16 are
    converted, see `alpha_to_float`), passed as an albumentations *mask* resampled with
    INTER_LINEAR (albumentations 2 keeps float32 masks float32, unclipped, so α stays in
    [0, 1]); trimap: uint8 (H, W) {0, 128, 255}, resampled with INTER_NEAREST;
    extra_images (e.g. ``{"fg": F, "bg": B}``): (H, W, C) arrays that get everything
    `image` gets, photometric steps included.

    Seeded from one number drawn from `rng`, so the same rng state gives the same result;
    `transform` itself is not modified (a deep copy is run). Areas uncovered by a warp get
    image 0, alpha 0, trimap 0. A trimap needs a second pass (albumentations uses one mask
    interpolation per call) whose sampled parameters are checked to match the first; a
    transform whose parameters depend on the mask content raises ValueError then.
    Returns ``{"image", "alpha", ["trimap"], *extra_images}``.
    """
    A = import_albumentations()
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        raise ValueError(f"image must be an (H, W[, C]) array, got {getattr(image, 'shape', image)}")
    hw = image.shape[:2]
    alpha = alpha_to_float(alpha)
    named: dict[str, np.ndarray] = {"alpha": alpha}
    if trimap is not None:
        if not isinstance(trimap, np.ndarray) or trimap.dtype != np.uint8 or trimap.ndim != 2:
            raise ValueError(f"trimap must be uint8 (H, W), got {getattr(trimap, 'dtype', type(trimap))} "
                             f"{getattr(trimap, 'shape', '')}")
        named["trimap"] = trimap
    extras = dict(extra_images or {})
    for name, arr in extras.items():
        if name in _RESERVED:
            raise ValueError(f"extra_images key {name!r} is reserved; reserved keys: {sorted(_RESERVED)}")
        if not isinstance(arr, np.ndarray) or arr.ndim not in (2, 3):
            raise ValueError(f"extra_images[{name!r}] must be an (H, W[, C]) array, got {getattr(arr, 'shape', arr)}")
    named.update({f"extra_images[{k!r}]": v for k, v in extras.items()})
    for name, arr in named.items():
        if arr.shape[:2] != hw:
            raise ValueError(f"{name} has height/width {arr.shape[:2]} but image has {hw}")

    seed = int(rng.integers(0, 2**31))
    t = copy.deepcopy(transform)
    keys = {f"extra_{i}": name for i, name in enumerate(extras)}  # avoid clashes with albumentations keys
    first = A.Compose(
        [t],
        additional_targets={k: "image" for k in keys},
        mask_interpolation=cv2.INTER_LINEAR,
        seed=seed,
        save_applied_params=trimap is not None,
    )
    res = first(image=image, mask=alpha, **{k: extras[name] for k, name in keys.items()})
    out_alpha = np.asarray(res["mask"], dtype=np.float32)
    if not np.may_share_memory(out_alpha, alpha):  # untouched input: already in [0, 1]
        np.clip(out_alpha, 0.0, 1.0, out=out_alpha)
    out: dict[str, np.ndarray] = {"image": res["image"], "alpha": out_alpha}
    if trimap is not None:
        second = A.Compose([t], mask_interpolation=cv2.INTER_NEAREST, seed=seed, save_applied_params=True)
        res2 = second(image=image, mask=trimap)
        if not _same_params(res["applied_transforms"], res2["applied_transforms"]):
            raise ValueError(
                "the transform sampled different parameters for the trimap pass; its parameters "
                "depend on the mask content, so pass trimap=None and rebuild it with make_trimap"
            )
        out["trimap"] = res2["mask"]
    out.update({name: res[k] for k, name in keys.items()})
    return out
