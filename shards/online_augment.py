"""Per-epoch augmentation of one decoded sample, drawn from ``(seed, epoch, index)``.

Steps, in order, each with its own generator
``np.random.default_rng([*sample_seed(seed, epoch, index), step])`` so that
switching one step on or off never changes the draws of the others:

1. **Scale jitter and crop** (``crop`` set): a scale ``s`` drawn from
   ``scale`` (raised so the image covers the crop), then a window of
   ``crop / s`` stored pixels centred on a uniformly drawn unknown pixel
   (``0 < alpha < 1``; uniform over the image when there is none). Only the
   window is resized to ``crop``, with one scale for both axes (aspect
   preserved): image, fg, bg with the image interpolation, alpha smoothly,
   a stored trimap by nearest neighbour.
2. **Flips**: horizontal with probability ``flip_p``.
3. **Trimap**: a fresh one from the augmented alpha every epoch, with a band
   width drawn from ``band`` pixels at ``band_reference`` long side (scaled
   to the resolution of the jittered image), or the stored one.
4. **Re-compositing** (probability ``recomposite_p``): the stored fg is
   composited onto a different stored bg (another sample's, chosen by the
   stream), cover-cropped to the output size; ``bg`` becomes that bg.
5. **Photometric jitter** (``photometric`` > 0): the image only; alpha, fg,
   bg and trimap are never touched.

Arrays follow CONVENTIONS.md: uint8 (H, W, 3) RGB, alpha float32 (H, W) in
[0, 1], trimap uint8 (H, W) in {0, 128, 255}.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from augment.compose import composite
from augment.crop import apply_crop, sample_scale_jitter, sample_unknown_crop
from augment.flip import apply_flip, sample_flip
from augment.photometric import photometric_jitter
from augment.resize import apply_cover_crop, resize_to, sample_cover_crop
from augment.trimap import make_trimap, sample_band_px

from .codec import decode_alpha, decode_rgb, decode_trimap

__all__ = ["AugmentConfig", "augment_sample", "OUTPUTS"]

#: What a sample can output.
OUTPUTS = ("image", "alpha", "trimap", "fg", "bg")

# Step numbers appended to the sample seed (fixed forever: changing them changes every draw).
_STEP_SCALE, _STEP_CROP, _STEP_FLIP, _STEP_BAND, _STEP_RECOMP, _STEP_PHOTO = 1, 2, 3, 4, 5, 6


class AugmentConfig(BaseModel):
    """Online augmentation settings (validated, bounded).

    ``scale``: range of the zoom factor applied before the crop (1 = stored
    resolution, > 1 zooms in); ``band``: unknown band width range in pixels at
    ``band_reference`` long side; ``photometric``: jitter strength in [0, 1]
    (0 = off); ``recomposite_p``: probability of re-compositing fg onto
    another sample's bg.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    scale: tuple[float, float] = (0.75, 1.5)
    flip_p: float = Field(0.5, ge=0.0, le=1.0)
    trimap: str = Field("fresh", pattern="^(fresh|stored)$")
    band: tuple[int, int] = (1, 29)
    band_reference: int = Field(640, ge=16, le=16384)
    photometric: float = Field(0.0, ge=0.0, le=1.0)
    recomposite_p: float = Field(0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ranges(self) -> "AugmentConfig":
        lo, hi = self.scale
        if not (0.05 <= lo <= hi <= 20.0):
            raise ValueError(f"scale must satisfy 0.05 <= lo <= hi <= 20, got {self.scale}")
        b0, b1 = self.band
        if not (0 <= b0 <= b1 <= 512):
            raise ValueError(f"band must satisfy 0 <= lo <= hi <= 512, got {self.band}")
        return self


def _rng(seed: list[int], step: int) -> np.random.Generator:
    return np.random.default_rng([*seed, step])


def _find(members: Mapping[str, bytes], stem: str) -> bytes | None:
    for ext in ("jpg", "png", "jpeg"):
        data = members.get(f"{stem}.{ext}")
        if data is not None:
            return data
    return None


def _require(members: Mapping[str, bytes], stem: str) -> bytes:
    data = _find(members, stem)
    if data is None:
        raise ValueError(f"sample has no {stem}.jpg / {stem}.png member (members: {sorted(members)})")
    return data


# ----------------------------------------------------------------- the sample
def augment_sample(
    members: Mapping[str, bytes],
    seed: list[int],
    *,
    crop: tuple[int, int] | None,
    config: AugmentConfig,
    outputs: frozenset[str] | tuple[str, ...] = OUTPUTS,
    alt_bg: bytes | None = None,
) -> dict[str, np.ndarray]:
    """Decode and augment one sample; returns the requested ``outputs`` as arrays.

    ``members``: the sample's encoded members (``image.jpg|png``,
    ``alpha.png``, ``trimap.png``, ``fg.*``, ``bg.*``). ``seed``: the
    sample's seed sequence (see :func:`shards.order.sample_seed`).
    ``alt_bg``: another sample's encoded bg for re-compositing (or ``None``).
    Raises ``ValueError`` for missing or undecodable members. Returned arrays
    may be views into the decoded ones (not contiguous): the collate makes the
    one copy into the batch.
    """
    outputs = frozenset(outputs)
    alpha = decode_alpha(members["alpha.png"]) if "alpha.png" in members else None
    if alpha is None:
        raise ValueError(f"sample has no alpha.png member (members: {sorted(members)})")
    h, w = alpha.shape

    recomposite = False
    if config.recomposite_p > 0 and alt_bg is not None:
        recomposite = bool(_rng(seed, _STEP_RECOMP).random() < config.recomposite_p)

    arrays: dict[str, np.ndarray] = {"alpha": alpha}
    if "image" in outputs and not recomposite:
        arrays["image"] = decode_rgb(_require(members, "image"))
    if "fg" in outputs or recomposite:
        arrays["fg"] = decode_rgb(_require(members, "fg"))
    if "bg" in outputs and not recomposite:
        arrays["bg"] = decode_rgb(_require(members, "bg"))
    if "trimap" in outputs and config.trimap == "stored":
        data = members.get("trimap.png")
        if data is None:
            raise ValueError(f"sample has no trimap.png member (members: {sorted(members)})")
        arrays["trimap"] = decode_trimap(data)
    for name, arr in arrays.items():
        if arr.shape[:2] != (h, w):
            raise ValueError(f"member {name} is {arr.shape[:2]} but alpha is {(h, w)}")

    # 1. scale jitter + unknown-centred crop (only the window is resized)
    full_hw = (h, w)
    if crop is not None:
        ch, cw = crop
        s = sample_scale_jitter(_rng(seed, _STEP_SCALE), (h, w), (ch, cw), config.scale)
        win = (min(h, max(1, round(ch / s))), min(w, max(1, round(cw / s))))
        window = sample_unknown_crop(_rng(seed, _STEP_CROP), alpha, win)
        for name, arr in arrays.items():
            kind = "alpha" if name == "alpha" else "trimap" if name == "trimap" else "image"
            arrays[name] = resize_to(apply_crop(window, arr), (ch, cw), kind)
        full_hw = (max(1, round(h * s)), max(1, round(w * s)))

    # 2. flips
    flip = sample_flip(_rng(seed, _STEP_FLIP), config.flip_p, 0.0)
    for name, arr in arrays.items():
        arrays[name] = apply_flip(flip, arr)

    # 3. trimap
    if "trimap" in outputs and config.trimap == "fresh":
        band = sample_band_px(_rng(seed, _STEP_BAND), full_hw, tuple(config.band), reference=config.band_reference)
        arrays["trimap"] = make_trimap(arrays["alpha"], band)

    # 4. re-compositing onto another sample's bg
    if recomposite:
        bg = decode_rgb(alt_bg)  # type: ignore[arg-type]
        out_hw = arrays["alpha"].shape[:2]
        cover = sample_cover_crop(_rng(seed, _STEP_RECOMP + 100), bg.shape[:2], out_hw)
        bg = np.ascontiguousarray(apply_cover_crop(cover, bg, "image"))
        if "image" in outputs:
            arrays["image"] = composite(arrays["fg"], arrays["alpha"], bg)
        if "bg" in outputs:
            arrays["bg"] = bg

    # 5. photometric jitter, image only
    if config.photometric > 0 and "image" in arrays:
        arrays["image"] = photometric_jitter(np.ascontiguousarray(arrays["image"]), _rng(seed, _STEP_PHOTO),
                                   config.photometric)

    return {k: arrays[k] for k in OUTPUTS if k in outputs}
