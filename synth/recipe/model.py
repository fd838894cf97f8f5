"""The whole recipe: :class:`Recipe`, its sections in YAML order."""
from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, model_validator

from .base import SpecModel
from .composition import CanvasSpec, CompositionSpec, ForegroundAugment
from .output import InputLimits, OutputSpec, SplitSpec, TrimapSpec
from .realism import HarmonizationSpec, RealismSpec
from .sources import BackgroundSource, ForegroundSource

__all__ = ["Recipe"]


class Recipe(SpecModel):
    """A whole build. `seed` drives every random choice (see docs/architecture.md, determinism contract)."""

    name: str = "dataset"
    seed: int = Field(0, ge=0, lt=2**63)
    foregrounds: list[ForegroundSource] = Field(min_length=1)
    backgrounds: list[BackgroundSource] = Field(min_length=1)
    background_split: Literal["shared", "disjoint"] = "shared"
    splits: list[SplitSpec] = Field(min_length=1)
    canvas: CanvasSpec = CanvasSpec()
    composition: CompositionSpec = CompositionSpec()
    harmonization: HarmonizationSpec = HarmonizationSpec()
    realism: RealismSpec = RealismSpec()
    foreground_augment: ForegroundAugment = ForegroundAugment()
    trimap: TrimapSpec = TrimapSpec()
    output: OutputSpec = OutputSpec()
    inputs: InputLimits = InputLimits()
    on_error: Literal["skip", "fail"] = "skip"
    cache_dir: str | None = None

    @model_validator(mode="after")
    def _splits(self) -> "Recipe":
        names = [s.name for s in self.splits]
        if len(set(names)) != len(names):
            raise ValueError(f"split names must be unique, got {names}")
        total = sum(s.fraction for s in self.splits)
        if total > 1.0 + 1e-9:
            raise ValueError(f"split fractions must sum to at most 1, got {total:g}")
        for section in (self.foregrounds, self.backgrounds):
            source_names = [s.name for s in section]
            if len(set(source_names)) != len(source_names):
                raise ValueError(f"source names must be unique within a section, got {source_names}")
        return self

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists), as stored in the manifest."""
        return json.loads(self.model_dump_json())
