"""Recipe sections `canvas`, `composition` and `foreground_augment`: how a sample is put together."""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

from pydantic import Field, model_validator

from ..fg_estimation import FgMethod
from .base import SpecModel, bounded_range

__all__ = ["FIT_WEIGHTS", "AlbumentationsStep", "BackgroundChoiceSpec", "BackgroundSpec", "CanvasSpec",
           "CompositionSpec", "FitWeights", "ForegroundAugment", "FramingSpec", "GroupSpec", "MultiForegroundSpec",
           "PlacementSpec", "RotationSpec"]

ScaleRange = bounded_range(0.05, 4.0)  # a subject's size relative to the canvas
ZoomRange = bounded_range(1.0, 8.0)  # a background's extra zoom over covering the canvas
ShareRange = bounded_range(0.0, 1.0)  # a share of a size

#: Default weight of each fit-score term (``w_<term>`` of
#: :func:`synth.bg_assignment.fit_scores`, and the defaults of ``composition.background_choice.weights``).
FIT_WEIGHTS: Mapping[str, float] = MappingProxyType({
    "light": 1.0,
    "contrast": 0.5,
    "colour": 0.0,  # mean (a, b): the subject's own colours, not the light's
    "temperature": 0.0,  # mean R/B (grey world): mostly albedo too
    "illuminant": 1.0,  # grey-edge colour of the light
    "clutter": 1.0,
    "resolution": 1.0,
})


class CanvasSpec(SpecModel):
    height: int = Field(512, ge=32, le=8192)
    width: int = Field(512, ge=32, le=8192)


class PlacementSpec(SpecModel):
    """Foreground size (fraction of the canvas, longest relative side) and position.

    `cut_edges`: ``border`` keeps a side of the subject that its photo's frame cuts on the
    canvas border (augment.placement.cut_sides), so no straight cut through the subject
    shows inside the picture; ``anywhere`` places it freely (the field's composites).
    """

    scale: ScaleRange = (0.6, 1.0)
    max_outside: float = Field(0.0, ge=0.0, le=0.5)
    anchor: Literal["any", "bottom"] = "any"
    cut_edges: Literal["border", "anywhere"] = "border"


class RotationSpec(SpecModel):
    p: float = Field(0.5, ge=0.0, le=1.0)
    max_angle: float = Field(15.0, ge=0.0, le=180.0)


class AlbumentationsStep(SpecModel):
    """An albumentations transform applied to F and alpha together, e.g. `{name: Affine, params: {...}}`."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class ForegroundAugment(SpecModel):
    flip_p: float = Field(0.5, ge=0.0, le=1.0)
    rotation: RotationSpec = RotationSpec()
    albumentations: list[AlbumentationsStep] = Field(default_factory=list)


class BackgroundSpec(SpecModel):
    """How a background is fitted to the canvas: scale to cover (never stretched), then crop.

    `fit: stretch` resizes the whole background to the canvas ignoring its aspect ratio: the
    field's common (and wrong) default, offered only to reproduce naive pipelines.
    """

    fit: Literal["cover", "stretch"] = "cover"
    zoom: ZoomRange = (1.0, 1.25)
    flip_p: float = Field(0.5, ge=0.0, le=1.0)


class FitWeights(SpecModel):
    """Weights of the fit score's terms (`synth.bg_assignment.fit_scores`, whose defaults
    `FIT_WEIGHTS` these are); 0 switches one off."""

    light: float = Field(FIT_WEIGHTS["light"], ge=0.0, le=100.0)
    contrast: float = Field(FIT_WEIGHTS["contrast"], ge=0.0, le=100.0)
    colour: float = Field(FIT_WEIGHTS["colour"], ge=0.0, le=100.0)
    temperature: float = Field(FIT_WEIGHTS["temperature"], ge=0.0, le=100.0)
    illuminant: float = Field(FIT_WEIGHTS["illuminant"], ge=0.0, le=100.0)
    clutter: float = Field(FIT_WEIGHTS["clutter"], ge=0.0, le=100.0)
    resolution: float = Field(FIT_WEIGHTS["resolution"], ge=0.0, le=100.0)


class BackgroundChoiceSpec(SpecModel):
    """Which background a foreground gets.

    `context`: backgrounds are scored for fit with each foreground (colour and light,
    temperature, clutter, resolution) and drawn from softmax(score / temperature), balanced
    by Sinkhorn scaling: each background's expected use is at least `balance` times its fair
    share (`balance: 1`: all used equally often; `0`: plain softmax, best fits only).
    `random`: uniform, the field's default.
    """

    mode: Literal["context", "random"] = "context"
    temperature: float = Field(0.5, gt=0.01, le=100.0)
    balance: float = Field(0.5, ge=0.0, le=1.0)
    max_share: float | None = Field(4.0, ge=1.0, le=1000.0)  # cap on any background's use, x fair share
    weights: FitWeights = Field(default_factory=FitWeights)


class GroupSpec(SpecModel):
    """How the members of a group stand relative to each other (``multi_foreground.layout: group``).

    Each extra member takes one relation to an already placed member (augment.group_placement):
    ``side`` (beside it, about its size, on the same ground line, overlapping by ``overlap`` of
    the narrower width), ``behind`` (further away: ``depth_scale`` of its height, feet higher
    up, partly hidden by it) or ``border`` (closer, in front of everyone: ``border_scale`` of
    its height, ``border_outside`` of its width beyond the left or right canvas side). The
    relation is drawn with the weights ``side``, ``behind``, ``border``.
    """

    side: float = Field(1.0, ge=0.0, le=100.0)
    behind: float = Field(1.0, ge=0.0, le=100.0)
    border: float = Field(0.5, ge=0.0, le=100.0)
    overlap: ShareRange = (0.0, 0.4)
    side_scale: ScaleRange = (0.85, 1.15)
    depth_scale: ScaleRange = (0.5, 0.85)
    border_scale: ScaleRange = (1.0, 1.4)
    border_outside: ShareRange = (0.3, 0.7)

    @model_validator(mode="after")
    def _weights(self) -> "GroupSpec":
        if self.side + self.behind + self.border <= 0.0:
            raise ValueError(f"group relation weights side, behind, border must not all be 0, got "
                             f"{[self.side, self.behind, self.border]}")
        return self


class MultiForegroundSpec(SpecModel):
    """Extra foregrounds over-composited with the first; the target alpha is their union.

    A sample gets ``min_count``..``max_count`` foregrounds in all with probability ``p``.
    ``layout: independent`` places each extra by its own draw at ``scale`` (in front or,
    with ``behind_p``, behind); ``layout: group`` arranges them as a group (``group``).
    """

    p: float = Field(0.0, ge=0.0, le=1.0)
    min_count: int = Field(2, ge=2, le=6)
    max_count: int = Field(2, ge=2, le=6)
    scale: ScaleRange = (0.3, 0.7)
    behind_p: float = Field(0.5, ge=0.0, le=1.0)  # chance an extra one goes behind (is occluded)
    layout: Literal["independent", "group"] = "independent"
    group: GroupSpec = GroupSpec()

    @model_validator(mode="after")
    def _counts(self) -> "MultiForegroundSpec":
        if self.min_count > self.max_count:
            raise ValueError(f"min_count must be <= max_count, got min_count={self.min_count}, "
                             f"max_count={self.max_count}")
        return self


class FramingSpec(SpecModel):
    """Where on the background the subject stands: the calmest of `candidates` placements.

    Each candidate is drawn from `placement`; the one whose background is calmest
    (lowest lightness std within `reach` of the outline, as a fraction of the canvas's long
    side) is kept, as a photographer avoids cutting an edge or an object with the subject's
    outline. `candidates: 1` (the default) places the subject where the first draw says.
    """

    candidates: int = Field(1, ge=1, le=16)
    reach: float = Field(0.04, gt=0.0, le=0.5)


class CompositionSpec(SpecModel):
    fg_estimation: FgMethod = "ml"
    placement: PlacementSpec = PlacementSpec()
    framing: FramingSpec = FramingSpec()
    background: BackgroundSpec = BackgroundSpec()
    background_choice: BackgroundChoiceSpec = BackgroundChoiceSpec()
    multi_foreground: MultiForegroundSpec = MultiForegroundSpec()
