"""Per-epoch augmentation of one decoded sample, drawn from ``(seed, epoch, index)``.

Steps, in order, each with its own generator
``np.random.default_rng([*sample_seed(seed, epoch, index), step])`` so that
switching one step on or off never changes the draws of the others:

1. **Scale jitter and crop** (``crop`` set): a scale ``s`` drawn from
   ``scale`` (raised so the image covers the crop), then a window of
   ``crop / s`` stored pixels centred on a uniformly drawn unknown pixel
   (``0 < alpha < 1``; uniform over the image when there is none), chosen on
   the alpha before anything else is decoded (:mod:`shards.window`). Only the window is resized to
   ``crop``, with one scale for both axes (aspect preserved), on one output
   grid for every target: image, fg, bg and alpha bilinearly (INTER_LINEAR)
   when the window grows or shrinks by a factor >= ``LINEAR_MIN_SCALE`` (0.5),
   by INTER_AREA for stronger shrinks (alpha renormalised, never nearest); a
   stored trimap by pixel-centre nearest neighbour. When the window shrinks
   2x, 4x or 8x or more, JPEG members are decoded at 1/2, 1/4 or 1/8 size
   (DCT scaling; the window's corner and sides are then multiples of that
   factor, so it lies on the reduced pixel grid). JPEGs written with restart
   markers on their block grid (``synth build`` writes them so) are decoded
   only over the window (:mod:`shards.jpeg_window`; bit-identical to cutting a
   full decode). Only the members the requested ``outputs`` need are decoded.
2. **Trimap**: a fresh one from the augmented alpha every epoch, with a band
   width drawn from ``band`` pixels at ``band_reference`` long side (scaled
   to the resolution of the jittered image; with ``band_outer`` set, the
   background side's width is drawn from it on its own), or the stored one. A fresh one
   is computed on the crop plus a margin of the wider side + 1 output pixels (the
   alpha resampled on the same grid), so it equals the crop of the trimap of
   the whole jittered alpha, also at the crop border.
3. **Flips**: horizontal with probability ``flip_p``.
4. **Re-compositing** (probability ``recomposite_p``): the stored fg is
   composited onto a different stored bg (another sample's, chosen by the
   stream), cover-cropped to the output size; ``bg`` becomes that bg.
5. **Photometric jitter** (``photometric`` > 0): the image only; alpha, fg,
   bg and trimap are never touched.
6. **Targets made from the final alpha** (so aligned with it by construction):
   ``guidance``, a coarse mask drawn afresh every epoch (:mod:`augment.guidance`);
   ``semantic`` and ``detail``, the targets of trimap-free models
   (:mod:`augment.trimap_free`; they use this epoch's trimap band). Instance members
   (``instances``, ``amodal``: the per-instance alphas) go through the same window,
   resize and flip as the alpha (:mod:`shards.instances`); their boxes are recomputed
   after the crop.

Arrays follow CONVENTIONS.md: uint8 (H, W, 3) RGB, alpha float32 (H, W) in
[0, 1], trimap uint8 (H, W) in {0, 128, 255}.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from augment.compose import composite
from augment.crop import Crop, sample_scale_jitter
from augment.flip import Flip, apply_flip, sample_flip
from augment.guidance import Guidance, GuidanceSpec, apply_guidance, sample_guidance
from augment.photometric import photometric_jitter
from augment.resize import apply_cover_crop, sample_cover_crop
from augment.trimap import alpha_to_uint8, make_trimap, sample_band_px
from augment.trimap_free import detail_band, semantic_classes, semantic_lowres

from .codec import decode_rgb, decode_trimap
from .config import DEFAULT_OUTPUTS, OUTPUTS, AugmentConfig
from .instances import INSTANCE_OUTPUTS, decode_instances, instance_boxes
from .window import StoredAlpha, decode_rgb_window, reduction, resize_window, trimap_with_margin

__all__ = ["augment_sample", "augment_frame", "draw_geometry", "needs_trimap", "guidance_mask", "guidance_params",
           "photometric_rng", "Geometry"]

# Step numbers appended to the sample seed (fixed forever: changing them changes every draw).
_STEP_SCALE, _STEP_CROP, _STEP_FLIP, _STEP_BAND, _STEP_RECOMP, _STEP_PHOTO, _STEP_GUIDE = 1, 2, 3, 4, 5, 6, 7
_STEP_BAND_OUTER = 8


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


# ----------------------------------------------------------------- geometry
@dataclass(frozen=True)
class Geometry:
    """What is drawn once per sample (once per window of a clip): the crop ``window`` in
    stored pixels (None: the whole sample), the JPEG ``reduce`` factor, the size of the
    jittered image ``full_hw``, the trimap ``band`` (None: no fresh trimap), the flip and the
    band's reach on the background side ``band_outer`` (None: ``band``)."""

    window: Crop | None
    reduce: int
    full_hw: tuple[int, int]
    band: int | None
    flip: Flip
    band_outer: int | None = None

    @property
    def outer(self) -> int | None:
        """The band's reach on the background side (None: no fresh trimap)."""
        return self.band if self.band_outer is None else self.band_outer

    @property
    def reach(self) -> int | None:
        """The band's reach on its wider side (None: no fresh trimap)."""
        return None if self.band is None else max(self.band, self.outer)  # type: ignore[type-var]


def draw_geometry(alpha: StoredAlpha, seed: list[int], crop: tuple[int, int] | None, config: AugmentConfig,
                  fresh_trimap: bool) -> Geometry:
    """Scale jitter, unknown-centred crop window (on ``alpha``), band and flip of a sample."""
    h, w = alpha.shape
    full_hw = (h, w)
    window: Crop | None = None
    reduce = 1
    if crop is not None:
        ch, cw = crop
        s = sample_scale_jitter(_rng(seed, _STEP_SCALE), (h, w), (ch, cw), config.scale)
        win = (min(h, max(1, round(ch / s))), min(w, max(1, round(cw / s))))
        reduce = reduction(win, (ch, cw))
        if reduce > 1:  # window sides multiples of `reduce` (changes the scale by < reduce / win)
            win = (win[0] - win[0] % reduce, win[1] - win[1] % reduce)
        window = alpha.unknown_crop(_rng(seed, _STEP_CROP), win)
        if reduce > 1:  # ... and its corner too, so that it falls on the reduced pixel grid
            window = Crop(top=window.top - window.top % reduce, left=window.left - window.left % reduce,
                          h=window.h, w=window.w)
        full_hw = (max(1, round(h * s)), max(1, round(w * s)))
    band = outer = None
    if fresh_trimap:
        band = sample_band_px(_rng(seed, _STEP_BAND), full_hw, tuple(config.band), reference=config.band_reference)
        if config.band_outer is not None:
            outer = sample_band_px(_rng(seed, _STEP_BAND_OUTER), full_hw, tuple(config.band_outer),
                                   reference=config.band_reference)
    return Geometry(window, reduce, full_hw, band, sample_flip(_rng(seed, _STEP_FLIP), config.flip_p, 0.0), outer)


def guidance_params(alpha: np.ndarray, seed: list[int], spec: GuidanceSpec) -> Guidance:
    """The guidance mask's parameters for a sample (seed sequence ``seed``) with final
    ``alpha: float32 (H, W)`` (contiguous)."""
    return sample_guidance(_rng(seed, _STEP_GUIDE), alpha, spec)


def guidance_mask(alpha: np.ndarray, seed: list[int], spec: GuidanceSpec) -> np.ndarray:
    """The guidance mask of a sample (seed sequence ``seed``) with final ``alpha: float32 (H, W)``:
    ``float32 (H, W)`` in [0, 1] (:mod:`augment.guidance`)."""
    alpha = np.ascontiguousarray(alpha)
    return apply_guidance(guidance_params(alpha, seed, spec), alpha)


def photometric_rng(seed: list[int]) -> np.random.Generator:
    """The generator the photometric jitter of a sample draws from."""
    return _rng(seed, _STEP_PHOTO)


def needs_trimap(outputs: frozenset[str], config: AugmentConfig) -> bool:
    """Whether the outputs need this epoch's trimap (the trimap itself, or targets made from it)."""
    return "trimap" in outputs or "detail" in outputs or ("semantic" in outputs and config.semantic == "classes")


# ----------------------------------------------------------------- the sample
def augment_sample(
    members: Mapping[str, bytes],
    seed: list[int],
    *,
    crop: tuple[int, int] | None,
    config: AugmentConfig,
    outputs: frozenset[str] | tuple[str, ...] = DEFAULT_OUTPUTS,
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
    if "alpha.png" not in members:
        raise ValueError(f"sample has no alpha.png member (members: {sorted(members)})")
    alpha = StoredAlpha(members["alpha.png"])
    geo = draw_geometry(alpha, seed, crop, config, needs_trimap(outputs, config) and config.trimap == "fresh")
    return augment_frame(members, alpha, geo, seed, crop=crop, config=config, outputs=outputs, alt_bg=alt_bg)


def augment_frame(
    members: Mapping[str, bytes],
    alpha: StoredAlpha,
    geo: Geometry,
    seed: list[int],
    *,
    crop: tuple[int, int] | None,
    config: AugmentConfig,
    outputs: frozenset[str],
    alt_bg: bytes | None = None,
) -> dict[str, np.ndarray]:
    """:func:`augment_sample` with the geometry given: one image (or one frame of a clip)
    with its decoded ``alpha``; every step draws from ``seed`` as in a sample."""
    h, w = alpha.shape
    window, reduce = geo.window, geo.reduce
    recomposite = False
    if config.recomposite_p > 0 and alt_bg is not None:
        recomposite = bool(_rng(seed, _STEP_RECOMP).random() < config.recomposite_p)

    # What to decode: only the members the requested outputs need.
    wanted: dict[str, str] = {}
    if "image" in outputs and not recomposite:
        wanted["image"] = "image"
    if "fg" in outputs or recomposite:
        wanted["fg"] = "fg"
    if "bg" in outputs and not recomposite:
        wanted["bg"] = "bg"
    stored_trimap = needs_trimap(outputs, config) and config.trimap == "stored"

    # 1. the window (drawn by draw_geometry on the alpha) is decoded at reduced size
    # (JPEG DCT scaling) and resized.
    arrays: dict[str, np.ndarray] = {}
    for name, stem in wanted.items():
        arr, r, (y0, x0) = decode_rgb_window(_require(members, stem), reduce, (h, w), window, name)
        if window is None:
            arrays[name] = arr
        else:
            local = Crop(top=window.top - y0, left=window.left - x0, h=window.h, w=window.w)
            arrays[name] = resize_window(arr, local, r, crop, "image")  # type: ignore[arg-type]
    if window is None:
        arrays["alpha"] = alpha.float()
    else:
        rows, cols = slice(window.top, window.top + window.h), slice(window.left, window.left + window.w)
        arrays["alpha"] = resize_window(alpha.float(rows, cols), Crop(0, 0, window.h, window.w), 1,
                                         crop, "alpha")  # type: ignore[arg-type]
    if stored_trimap:
        data = members.get("trimap.png")
        if data is None:
            raise ValueError(f"sample has no trimap.png member (members: {sorted(members)})")
        trimap = decode_trimap(data)
        if trimap.shape != (h, w):
            raise ValueError(f"member trimap is {trimap.shape} but alpha is {(h, w)}")
        arrays["trimap"] = trimap if window is None else resize_window(trimap, window, 1, crop, "trimap")  # type: ignore[arg-type]

    inst: dict[str, np.ndarray] = {}
    if outputs & set(INSTANCE_OUTPUTS):
        def place(a: np.ndarray) -> np.ndarray:
            return a if window is None else resize_window(a, Crop(0, 0, window.h, window.w), 1, crop,  # type: ignore[arg-type]
                                                          "alpha")
        inst = decode_instances(members, (h, w), window, place, amodal="amodal" in outputs)

    # 2. trimap: a fresh one from the (cropped, resized) alpha, computed with a
    # margin around the crop so that the band is right at the crop border.
    if geo.band is not None:
        if window is None:
            arrays["trimap"] = make_trimap(alpha_to_uint8(arrays["alpha"], validate=False), geo.band, geo.band_outer)
        else:
            arrays["trimap"] = trimap_with_margin(alpha, window, arrays["alpha"], geo.band, geo.band_outer)

    # 3. flips (after the trimap: the trimap of a flipped alpha is the flipped trimap)
    for name, arr in arrays.items():
        arrays[name] = apply_flip(geo.flip, arr)
    for name in ("instances", "amodal"):
        if name in inst and inst[name].shape[2]:
            inst[name] = apply_flip(geo.flip, inst[name])

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
        arrays["image"] = photometric_jitter(np.ascontiguousarray(arrays["image"]), photometric_rng(seed),
                                             config.photometric)

    # 6. targets made from the final alpha (and this epoch's trimap)
    if "guidance" in outputs:
        arrays["guidance"] = guidance_mask(arrays["alpha"], seed, config.guidance)
    if "semantic" in outputs:
        arrays["semantic"] = (semantic_classes(arrays["trimap"]) if config.semantic == "classes" else
                              semantic_lowres(np.ascontiguousarray(arrays["alpha"]), config.semantic_scale))
    if "detail" in outputs:
        arrays["detail"] = detail_band(arrays["trimap"])
    if "instances" in inst:
        inst["instance_box"] = instance_boxes(inst["instances"])
    arrays.update(inst)
    return {k: arrays[k] for k in OUTPUTS if k in outputs}
