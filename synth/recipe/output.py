"""Recipe sections `splits`, `trimap`, `output` and `inputs`: what is written, and input limits."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from .base import SpecModel

__all__ = ["TARGETS", "InputLimits", "OutputSpec", "SplitSpec", "TrimapSpec"]

#: Optional targets a build can write besides image, alpha, trimap, fg and bg (docs/format.md):
#: ``instances``: per-instance visible and amodal alphas with instances.json; ``guidance``: a
#: coarse mask (mask-guided models); ``semantic``, ``detail``: trimap-free models' targets.
TARGETS: tuple[str, ...] = ("instances", "guidance", "semantic", "detail")


class SplitSpec(SpecModel):
    """One split: its share of the foregrounds (by identity) and how many samples it gets."""

    name: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    fraction: float = Field(gt=0.0, le=1.0)
    samples: int = Field(ge=0, le=100_000_000)


class TrimapSpec(SpecModel):
    """Unknown band width in pixels at `reference` long side, scaled with resolution."""

    band: tuple[int, int] = (1, 29)
    reference: int = Field(640, ge=16, le=16384)

    @field_validator("band")
    @classmethod
    def _band(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not (0 <= v[0] <= v[1] <= 512):
            raise ValueError(f"band must satisfy 0 <= low <= high <= 512, got {list(v)}")
        return v


class OutputSpec(SpecModel):
    """What each sample stores and how (docs/format.md). ``layers``: write the F and B layers
    (``fg.*``, ``bg.*``); ``false`` makes the composite from F and B in memory and writes neither,
    for models that train without them (no fg/bg outputs, no re-compositing in the loader)."""

    image_format: Literal["jpg", "png"] = "jpg"
    jpeg_quality: int = Field(95, ge=50, le=100)
    layers: bool = True
    layer_format: Literal["jpg", "png"] = "jpg"
    alpha_bits: Literal[8, 16] = 8
    samples_per_shard: int = Field(256, ge=1, le=1_000_000)
    max_shard_bytes: int | None = Field(None, ge=1 << 20)
    targets: tuple[str, ...] = ()  # optional targets from TARGETS (checked by Recipe.cross_field_errors)


class InputLimits(SpecModel):
    max_pixels: int = Field(80_000_000, ge=1024)
    min_side: int = Field(16, ge=1)
