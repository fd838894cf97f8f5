"""Recipes: typed, validated build configuration loaded from YAML.

A recipe says where foregrounds and backgrounds come from, how samples are composed and
augmented, how many samples each split gets, and how shards are written. Everything is
validated up front (unknown keys rejected, ranges checked); errors name the file, the field
path and the bad value.

Modules, by recipe section: `sources` (foregrounds, backgrounds), `composition` (canvas,
composition, foreground_augment), `realism` (harmonization, realism), `output` (splits,
trimap, output, inputs), `model` (the whole `Recipe`), `loading` (YAML, `--set`
overrides, paths, hash), `base` (the error and the strict base model).
"""
from __future__ import annotations

from .base import Range, RecipeError
from .composition import (
    AlbumentationsStep,
    BackgroundChoiceSpec,
    BackgroundSpec,
    CanvasSpec,
    CompositionSpec,
    FitWeights,
    ForegroundAugment,
    FramingSpec,
    GroupSpec,
    MultiForegroundSpec,
    PlacementSpec,
    RotationSpec,
)
from .loading import apply_overrides, load_recipe, parse_recipe, recipe_sha256
from .model import Recipe
from .output import TARGETS, InputLimits, OutputSpec, SplitSpec, TrimapSpec
from .realism import (
    BackdropSpec,
    DefocusSpec,
    DiversitySpec,
    GuidedSpec,
    HarmonizationSpec,
    JpegSpec,
    NoiseSpec,
    RealismSpec,
)
from .sources import (
    BackgroundSource,
    FgAlphaSource,
    FolderBackgrounds,
    ForegroundSource,
    ImageAlphaSource,
    ProceduralBackgrounds,
    ProceduralForegrounds,
    RgbaSource,
)

__all__ = [
    "Recipe",
    "RecipeError",
    "load_recipe",
    "parse_recipe",
    "apply_overrides",
    "recipe_sha256",
    "Range",
    "AlbumentationsStep",
    "BackdropSpec",
    "BackgroundChoiceSpec",
    "BackgroundSource",
    "BackgroundSpec",
    "CanvasSpec",
    "CompositionSpec",
    "DefocusSpec",
    "DiversitySpec",
    "FgAlphaSource",
    "FitWeights",
    "FolderBackgrounds",
    "ForegroundAugment",
    "ForegroundSource",
    "FramingSpec",
    "GroupSpec",
    "GuidedSpec",
    "HarmonizationSpec",
    "ImageAlphaSource",
    "InputLimits",
    "JpegSpec",
    "MultiForegroundSpec",
    "NoiseSpec",
    "OutputSpec",
    "PlacementSpec",
    "ProceduralBackgrounds",
    "ProceduralForegrounds",
    "RealismSpec",
    "RgbaSource",
    "RotationSpec",
    "SplitSpec",
    "TARGETS",
    "TrimapSpec",
]
