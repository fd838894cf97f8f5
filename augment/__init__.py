"""Pure image operations with explicit parameters and an explicit RNG.

Sampling is separate from applying: ``sample_x(rng, ...)`` returns a frozen, JSON-able
params dataclass; ``apply_x(params, array, kind)`` applies the same params to image,
alpha and trimap. `augment` imports neither `synth` nor `shards`.

Geometric ops (exported here): resize, rotate_crop, placement, crop, flip, trimap, compose.
Realism ops and measures (import from their modules): checks (validation), colour (CIELAB,
sRGB <-> linear), bands (the band along the alpha boundary, busyness), estimate (noise,
sharpness), illuminant, degrade/ (defocus, noise, JPEG, resolution/sharpness matching),
harmonize/ (colour and light transfer), backdrop, framing, mismatch (F/B realism indicators).
"""
from augment.aligned import apply_albumentations
from augment.compose import alpha_to_float, composite, over
from augment.crop import Crop, apply_crop, min_scale_to_cover, sample_crop_around, sample_scale_jitter, sample_unknown_crop
from augment.flip import Flip, apply_flip, sample_flip
from augment.photometric import photometric_jitter
from augment.placement import Placement, apply_placement, cut_sides, sample_placement
from augment.resize import (
    CoverCrop,
    apply_cover_crop,
    resize_by_scale,
    resize_long_side,
    resize_short_side,
    resize_to,
    sample_cover_crop,
    scaled_hw,
)
from augment.rotate_crop import (
    ROTATION_MARGIN_PX,
    Rotation,
    apply_rotation,
    expand_for_cuts,
    largest_valid_rect,
    rotation_output_hw,
    sample_rotation,
)
from augment.checks import check_kind
from augment.targets import Kind, interpolation
from augment.trimap import alpha_to_uint8, make_trimap, sample_band_px

__all__ = [
    "ROTATION_MARGIN_PX",
    "CoverCrop",
    "Crop",
    "Flip",
    "Kind",
    "Placement",
    "Rotation",
    "alpha_to_float",
    "alpha_to_uint8",
    "apply_albumentations",
    "apply_cover_crop",
    "apply_crop",
    "apply_flip",
    "apply_placement",
    "apply_rotation",
    "expand_for_cuts",
    "check_kind",
    "composite",
    "cut_sides",
    "interpolation",
    "largest_valid_rect",
    "make_trimap",
    "min_scale_to_cover",
    "over",
    "photometric_jitter",
    "resize_by_scale",
    "resize_long_side",
    "resize_short_side",
    "resize_to",
    "rotation_output_hw",
    "sample_band_px",
    "sample_cover_crop",
    "sample_flip",
    "sample_placement",
    "sample_rotation",
    "sample_scale_jitter",
    "sample_unknown_crop",
    "sample_crop_around",
    "scaled_hw",
]
