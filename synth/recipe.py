"""Recipes: typed, validated build configuration loaded from YAML.

A recipe says where foregrounds and backgrounds come from, how samples are composed and
augmented, how many samples each split gets, and how shards are written. Everything is
validated up front (unknown keys rejected, ranges checked); errors name the file, the field
path and the bad value.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from augment.degrade.noise import NOISE_P, NOISE_SIGMA
from augment.harmonize.params import (
    DEFAULT_HARMONIZATION_METHODS,
    HARMONIZATION_P,
    HARMONIZATION_STRENGTH,
    HarmonizationMethod,
)

__all__ = [
    "Recipe",
    "RecipeError",
    "load_recipe",
    "parse_recipe",
    "apply_overrides",
    "recipe_sha256",
]


class RecipeError(ValueError):
    """A recipe file that cannot be used; the message names the file, field and value."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Range = tuple[float, float]


def _check_range(value: Range, lo: float, hi: float, name: str) -> Range:
    a, b = value
    if not (lo <= a <= b <= hi):
        raise ValueError(f"{name} must satisfy {lo} <= low <= high <= {hi}, got {list(value)}")
    return value


# --------------------------------------------------------------------------- sources


class FgAlphaSource(_Model):
    """Separate foreground and alpha folders matched by file stem (Adobe DIM, Distinctions-646)."""

    kind: Literal["fg_alpha"]
    name: str = "fg_alpha"
    fg_dir: str
    alpha_dir: str


class RgbaSource(_Model):
    """RGBA images (PNG/WebP/TIFF) whose alpha channel is the matte; `path` is a folder or glob."""

    kind: Literal["rgba"]
    name: str = "rgba"
    path: str


class ImageAlphaSource(_Model):
    """Photo + alpha (AM-2k, P3M, alphamatting.com): F is estimated from the photo and alpha."""

    kind: Literal["image_alpha"]
    name: str = "image_alpha"
    image_dir: str
    alpha_dir: str


class ProceduralForegrounds(_Model):
    """Synthetic foregrounds with soft, hair-like and semi-transparent edges (no data needed)."""

    kind: Literal["procedural"]
    name: str = "procedural"
    count: int = Field(24, ge=1, le=100_000)
    size: tuple[int, int] = (512, 384)  # (height, width)
    seed: int = 0

    @field_validator("size")
    @classmethod
    def _size(cls, v: tuple[int, int]) -> tuple[int, int]:
        if min(v) < 32 or max(v) > 8192:
            raise ValueError(f"size must be within 32..8192 pixels, got {list(v)}")
        return v


ForegroundSource = Annotated[
    Union[FgAlphaSource, RgbaSource, ImageAlphaSource, ProceduralForegrounds],
    Field(discriminator="kind"),
]


class FolderBackgrounds(_Model):
    """A folder (searched recursively) or a glob of JPEG/PNG/WebP photos (BG-20k, COCO, VOC)."""

    kind: Literal["folder"]
    name: str = "folder"
    path: str


class ProceduralBackgrounds(_Model):
    """Synthetic textured backgrounds (gradients, noise textures, stripes, blobs)."""

    kind: Literal["procedural"]
    name: str = "procedural"
    count: int = Field(32, ge=1, le=100_000)
    size: tuple[int, int] = (480, 640)
    seed: int = 0


BackgroundSource = Annotated[
    Union[FolderBackgrounds, ProceduralBackgrounds], Field(discriminator="kind")
]


# --------------------------------------------------------------------------- splits


class SplitSpec(_Model):
    """One split: its share of the foregrounds (by identity) and how many samples it gets."""

    name: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    fraction: float = Field(gt=0.0, le=1.0)
    samples: int = Field(ge=0, le=100_000_000)


# --------------------------------------------------------------------------- composition


class CanvasSpec(_Model):
    height: int = Field(512, ge=32, le=8192)
    width: int = Field(512, ge=32, le=8192)


class PlacementSpec(_Model):
    """Foreground size (fraction of the canvas, longest relative side) and position.

    `cut_edges`: ``border`` keeps a side of the subject that its photo's frame cuts on the
    canvas border (augment.placement.cut_sides), so no straight cut through the subject
    shows inside the picture; ``anywhere`` places it freely (the field's composites).
    """

    scale: Range = (0.6, 1.0)
    max_outside: float = Field(0.0, ge=0.0, le=0.5)
    anchor: Literal["any", "bottom"] = "any"
    cut_edges: Literal["border", "anywhere"] = "border"

    @field_validator("scale")
    @classmethod
    def _scale(cls, v: Range) -> Range:
        return _check_range(v, 0.05, 4.0, "scale")


class RotationSpec(_Model):
    p: float = Field(0.5, ge=0.0, le=1.0)
    max_angle: float = Field(15.0, ge=0.0, le=180.0)


class AlbumentationsStep(_Model):
    """An albumentations transform applied to F and alpha together, e.g. `{name: Affine, params: {...}}`."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class ForegroundAugment(_Model):
    flip_p: float = Field(0.5, ge=0.0, le=1.0)
    rotation: RotationSpec = RotationSpec()
    albumentations: list[AlbumentationsStep] = Field(default_factory=list)


class BackgroundSpec(_Model):
    """How a background is fitted to the canvas: scale to cover (never stretched), then crop.

    `fit: stretch` resizes the whole background to the canvas ignoring its aspect ratio: the
    field's common (and wrong) default, offered only to reproduce naive pipelines.
    """

    fit: Literal["cover", "stretch"] = "cover"
    zoom: Range = (1.0, 1.25)
    flip_p: float = Field(0.5, ge=0.0, le=1.0)

    @field_validator("zoom")
    @classmethod
    def _zoom(cls, v: Range) -> Range:
        return _check_range(v, 1.0, 8.0, "zoom")


class BackgroundChoiceSpec(_Model):
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
    weights: "FitWeights" = Field(default_factory=lambda: FitWeights())


class FitWeights(_Model):
    """Weights of the fit score's terms (see `synth.bg_choice.fit_scores`); 0 switches one off."""

    light: float = Field(1.0, ge=0.0, le=100.0)
    contrast: float = Field(0.5, ge=0.0, le=100.0)
    colour: float = Field(0.0, ge=0.0, le=100.0)  # mean (a, b): the subject's own colours, not the light's
    temperature: float = Field(0.0, ge=0.0, le=100.0)  # mean R/B (grey world): mostly albedo too
    illuminant: float = Field(1.0, ge=0.0, le=100.0)  # grey-edge colour of the light
    clutter: float = Field(1.0, ge=0.0, le=100.0)
    resolution: float = Field(1.0, ge=0.0, le=100.0)


BackgroundChoiceSpec.model_rebuild()


class MultiForegroundSpec(_Model):
    """Extra foregrounds over-composited with the first; the target alpha is their union."""

    p: float = Field(0.0, ge=0.0, le=1.0)
    max_count: int = Field(2, ge=2, le=4)
    scale: Range = (0.3, 0.7)
    behind_p: float = Field(0.5, ge=0.0, le=1.0)  # chance an extra one goes behind (is occluded)

    @field_validator("scale")
    @classmethod
    def _scale(cls, v: Range) -> Range:
        return _check_range(v, 0.05, 4.0, "scale")


class FramingSpec(_Model):
    """Where on the background the subject stands: the calmest of `candidates` placements.

    Each candidate is drawn from `placement`; the one whose background is calmest
    (lowest lightness std within `reach` of the outline, as a fraction of the canvas's long
    side) is kept, as a photographer avoids cutting an edge or an object with the subject's
    outline. `candidates: 1` (the default) places the subject where the first draw says.
    """

    candidates: int = Field(1, ge=1, le=16)
    reach: float = Field(0.04, gt=0.0, le=0.5)


class CompositionSpec(_Model):
    fg_estimation: Literal["blur_fusion", "ml", "photo"] = "ml"
    placement: PlacementSpec = PlacementSpec()
    framing: FramingSpec = FramingSpec()
    background: BackgroundSpec = BackgroundSpec()
    background_choice: BackgroundChoiceSpec = BackgroundChoiceSpec()
    multi_foreground: MultiForegroundSpec = MultiForegroundSpec()


class HarmonizationSpec(_Model):
    """Shift F toward the background's colour and light (F only, before compositing).

    ``von_kries`` / ``exposure`` / ``relight`` change only the light on F (its colour, its
    intensity, both); the others move F's whole colour distribution toward B's.
    """

    p: float = Field(HARMONIZATION_P, ge=0.0, le=1.0)
    methods: list[HarmonizationMethod] = Field(default_factory=lambda: list(DEFAULT_HARMONIZATION_METHODS),
                                               min_length=1)
    strength: Range = HARMONIZATION_STRENGTH

    @field_validator("strength")
    @classmethod
    def _strength(cls, v: Range) -> Range:
        return _check_range(v, 0.0, 1.0, "strength")


class DefocusSpec(_Model):
    """Lens-like (disk) defocus of the background; radius in px at a 1024-px long side."""

    p: float = Field(0.4, ge=0.0, le=1.0)
    radius: Range = (1.0, 8.0)

    @field_validator("radius")
    @classmethod
    def _radius(cls, v: Range) -> Range:
        return _check_range(v, 0.0, 64.0, "radius")


class BackdropSpec(_Model):
    """Lower the background's contrast toward a ratio to the subject's (augment.backdrop).

    With probability `p`, a target ratio is drawn uniformly from `ratio`: the lightness std
    of the background in a band 4 % of the canvas wide just outside the subject's outline,
    over the subject's in the same band just inside. A background above it has its lightness
    contrast scaled down to it, by no less than `min_factor` (stronger reductions look like
    fog); one below keeps its own. Off by default; the defaults are the values measured best
    in `benchmarks/bench_realism.py` (see `recipes/portrait.yaml`).
    """

    p: float = Field(0.0, ge=0.0, le=1.0)
    ratio: Range = (0.8, 1.6)
    min_factor: float = Field(0.6, ge=0.0, le=1.0)  # never scale the contrast by less than this

    @field_validator("ratio")
    @classmethod
    def _ratio(cls, v: Range) -> Range:
        return _check_range(v, 0.05, 4.0, "ratio")


class NoiseSpec(_Model):
    """Sensor-like noise added to the composite after compositing (F and B share it).

    `compensate` first adds the missing noise to the cleaner layer (alpha-weighted) so the
    foreground and background regions carry the same noise level before the common noise;
    each layer's level is read in its flattest tiles (`augment.estimate.estimate_noise_floor`),
    so that fine texture (hair, fabric) is not taken for noise.
    """

    p: float = Field(NOISE_P, ge=0.0, le=1.0)
    sigma: Range = NOISE_SIGMA
    compensate: bool = False
    max_compensation: float = Field(6.0, ge=0.0, le=50.0)

    @field_validator("sigma")
    @classmethod
    def _sigma(cls, v: Range) -> Range:
        return _check_range(v, 0.0, 50.0, "sigma")


class JpegSpec(_Model):
    """JPEG re-compression of the composite only."""

    p: float = Field(0.3, ge=0.0, le=1.0)
    quality: tuple[int, int] = (70, 95)

    @field_validator("quality")
    @classmethod
    def _quality(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not (10 <= v[0] <= v[1] <= 100):
            raise ValueError(f"quality must satisfy 10 <= low <= high <= 100, got {list(v)}")
        return v


class RealismSpec(_Model):
    """Realism matching after RSSN: resolution, sharpness, noise, compression."""

    resolution_match: bool = True
    defocus: DefocusSpec = DefocusSpec()
    sharpness_match_p: float = Field(0.5, ge=0.0, le=1.0)  # when not defocused: blur F down to B's sharpness
    backdrop: BackdropSpec = BackdropSpec()
    noise: NoiseSpec = NoiseSpec()
    jpeg: JpegSpec = JpegSpec()


class TrimapSpec(_Model):
    """Unknown band width in pixels at `reference` long side, scaled with resolution."""

    band: tuple[int, int] = (1, 29)
    reference: int = Field(640, ge=16, le=16384)

    @field_validator("band")
    @classmethod
    def _band(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not (0 <= v[0] <= v[1] <= 512):
            raise ValueError(f"band must satisfy 0 <= low <= high <= 512, got {list(v)}")
        return v


class OutputSpec(_Model):
    image_format: Literal["jpg", "png"] = "jpg"
    jpeg_quality: int = Field(95, ge=50, le=100)
    layer_format: Literal["jpg", "png"] = "jpg"
    alpha_bits: Literal[8, 16] = 8
    samples_per_shard: int = Field(256, ge=1, le=1_000_000)
    max_shard_bytes: int | None = Field(None, ge=1 << 20)


class InputLimits(_Model):
    max_pixels: int = Field(80_000_000, ge=1024)
    min_side: int = Field(16, ge=1)


# --------------------------------------------------------------------------- recipe


class Recipe(_Model):
    """A whole build. `seed` drives every random choice (see DESIGN.md, determinism contract)."""

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


_LOCATION_FIELDS = {"fg_dir", "alpha_dir", "image_dir", "path"}


def recipe_sha256(recipe: Recipe) -> str:
    """sha256 of the recipe's canonical JSON (sorted keys), locations left out.

    Data paths and the cache folder say *where* inputs are, not what is built (inputs are
    identified by content hash in every sample's meta), so moving the data or cloning the
    project elsewhere does not change the hash or the shards.
    """
    data = recipe.to_json_dict()
    data.pop("cache_dir", None)
    for section in ("foregrounds", "backgrounds"):
        data[section] = [{k: v for k, v in item.items() if k not in _LOCATION_FIELDS} for item in data[section]]
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _format_validation_error(source: str, err: ValidationError) -> str:
    lines = [f"{source}: invalid recipe ({err.error_count()} problem(s))"]
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "<root>"
        value = e.get("input")
        shown = json.dumps(value, default=str) if not isinstance(value, dict) else "{...}"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        lines.append(f"  {path}: {e['msg']} (got {shown})")
    return "\n".join(lines)


def _parse_scalar(text: str) -> Any:
    """Parse an override value as YAML (so `3`, `0.5`, `[1, 2]`, `true`, `null` work)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str], source: str = "--set") -> dict[str, Any]:
    """Apply `path.to.field=value` overrides to a raw recipe dict (list items by index).

    Values are parsed as YAML. Returns a new dict; raises RecipeError on a malformed override
    or a path that walks through a non-container.
    """
    data = json.loads(json.dumps(data))  # deep copy of plain data
    for item in overrides:
        if "=" not in item:
            raise RecipeError(f"{source}: override {item!r} is not of the form path.to.field=value")
        path, raw = item.split("=", 1)
        keys = [k for k in path.strip().split(".") if k]
        if not keys:
            raise RecipeError(f"{source}: override {item!r} has an empty field path")
        node: Any = data
        for depth, key in enumerate(keys):
            last = depth == len(keys) - 1
            where = ".".join(keys[: depth + 1])
            if isinstance(node, list):
                if not key.isdigit() or int(key) >= len(node):
                    raise RecipeError(f"{source}: {where}: no list item {key!r} (list has {len(node)})")
                idx = int(key)
                if last:
                    node[idx] = _parse_scalar(raw)
                else:
                    node = node[idx]
            elif isinstance(node, dict):
                if last:
                    node[key] = _parse_scalar(raw)
                else:
                    node = node.setdefault(key, {})
            else:
                raise RecipeError(f"{source}: {where}: cannot set a field inside a {type(node).__name__}")
    return data


def parse_recipe(data: Any, source: str = "<recipe>") -> Recipe:
    """Validate a raw recipe dict; errors name `source`, each bad field path and value."""
    if not isinstance(data, dict):
        raise RecipeError(f"{source}: a recipe must be a mapping at the top level, got {type(data).__name__}")
    try:
        return Recipe.model_validate(data)
    except ValidationError as err:
        raise RecipeError(_format_validation_error(source, err)) from None


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read, override and validate a YAML recipe. Relative data paths resolve against its folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise RecipeError(f"{path}: cannot read recipe ({err.strerror or err})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise RecipeError(f"{path}: not valid YAML: {err}") from None
    if data is None:
        raise RecipeError(f"{path}: recipe is empty")
    if overrides:
        data = apply_overrides(data, overrides)
    data = _resolve_paths(data, path.resolve().parent)
    return parse_recipe(data, str(path))


def _resolve_paths(data: Any, base: Path) -> Any:
    """Make relative source paths absolute against the recipe's folder (URLs untouched)."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for section in ("foregrounds", "backgrounds"):
        items = out.get(section)
        if not isinstance(items, list):
            continue
        resolved = []
        for item in items:
            if isinstance(item, dict):
                item = dict(item)
                for key in _LOCATION_FIELDS & item.keys():
                    value = item[key]
                    if isinstance(value, str) and "://" not in value and not Path(value).expanduser().is_absolute():
                        item[key] = str((base / value).resolve())
                    elif isinstance(value, str) and "://" not in value:
                        item[key] = str(Path(value).expanduser())
            resolved.append(item)
        out[section] = resolved
    return out
