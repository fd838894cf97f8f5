"""The whole recipe: :class:`Recipe`, its sections in YAML order."""
from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, model_validator

from .base import SpecModel
from .composition import CanvasSpec, CompositionSpec, ForegroundAugment
from .output import TARGETS, InputLimits, OutputSpec, SplitSpec, TrimapSpec
from .realism import HarmonizationSpec, RealismSpec
from .sources import BackgroundSource, ForegroundSource
from .video import BackgroundClips, FgAlphaClips, ImageAlphaClips, VideoSpec

__all__ = ["ADDED_FIELDS", "Recipe"]

#: Fields added after recipes were first hashed (paths of attribute names). While at their
#: default they are left out of the recipe's canonical JSON (manifest, ``recipe_sha256``), so a
#: recipe that does not use them keeps its hash and every built byte.
ADDED_FIELDS: tuple[tuple[str, ...], ...] = (
    ("composition", "multi_foreground", "min_count"),
    ("composition", "multi_foreground", "layout"),
    ("composition", "multi_foreground", "group"),
    ("output", "targets"),
    ("video",),
    ("realism", "guided"),
    ("video", "noise_layer"),
    ("video", "decisions"),
    ("realism", "guided", "redraw"),
    ("realism", "guided", "keep_difficulty"),
    ("realism", "glare"),
    ("output", "layers"),
)


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
    video: VideoSpec | None = None  # clips instead of still composites (docs/video.md)

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

    def cross_field_errors(self) -> list[str]:
        """One line per combination of fields that cannot be built, naming the fields and values."""
        errors = []
        targets = self.output.targets
        for name in targets:
            if name not in TARGETS:
                errors.append(f"output.targets: unknown target {name!r} (known: {', '.join(TARGETS)})")
        if len(set(targets)) != len(targets):
            errors.append(f"output.targets: a target is listed twice in {list(targets)}")
        mf = self.composition.multi_foreground
        if "instances" in self.output.targets and mf.p <= 0.0:
            errors.append(f"output.targets: 'instances' needs multi-foreground composites, but "
                          f"composition.multi_foreground.p is {mf.p:g} (set it > 0, e.g. with layout: group)")
        errors.extend(self._video_errors())
        return errors

    def _video_errors(self) -> list[str]:
        """What a video recipe (or clip sources without one) cannot build."""
        clips = [f"{section}.{n}" for section, items in (("foregrounds", self.foregrounds),
                                                        ("backgrounds", self.backgrounds))
                 for n, s in enumerate(items) if isinstance(s, (FgAlphaClips, ImageAlphaClips, BackgroundClips))]
        if self.video is None:
            return [f"{clips[0]}: clip sources need a video section (e.g. video: {{frames: 16}})"] if clips else []
        errors = []
        if self.composition.multi_foreground.p > 0:
            errors.append("video: composition.multi_foreground.p must be 0 (clips have one foreground)")
        if self.output.targets:
            errors.append(f"video: output.targets {list(self.output.targets)} are for still images only")
        if self.realism.noise.compensate:
            errors.append("video: realism.noise.compensate is for still images only (set it to false)")
        if self.realism.guided is not None:
            errors.append("video: realism.guided is for still images only (remove it)")
        if self.realism.glare.p > 0:
            errors.append("video: realism.glare is for still images only (set its p to 0)")
        if self.composition.background.fit != "cover":
            errors.append("video: composition.background.fit must be cover (the camera moves over the photo)")
        return errors

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists), as stored in the manifest; the
        :data:`ADDED_FIELDS` at their default are left out."""
        data = json.loads(self.model_dump_json())
        for *parents, leaf in ADDED_FIELDS:
            model: Any = self
            node = data
            for name in parents:
                model, node = getattr(model, name), node.get(name) if isinstance(node, dict) else None
            if model is None or node is None:  # inside an absent section (no video)
                continue
            default = type(model).model_fields[leaf].get_default(call_default_factory=True)
            if getattr(model, leaf) == default:
                node.pop(leaf)
        return data
