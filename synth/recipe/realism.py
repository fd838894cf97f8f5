"""Recipe sections `harmonization` and `realism`: matching F to B, and the camera's traces."""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from augment.degrade.glare import GLARE_RADIUS, GLARE_STRENGTH
from augment.degrade.noise import NOISE_P, NOISE_SIGMA
from augment.harmonize.params import (
    DEFAULT_HARMONIZATION_METHODS,
    HARMONIZATION_P,
    HARMONIZATION_STRENGTH,
    HarmonizationMethod,
)

from .base import SpecModel, bounded_range

__all__ = ["GUIDED_CHOICES", "BackdropSpec", "DefocusSpec", "DiversitySpec", "GlareSpec", "GuidedSpec",
           "HarmonizationSpec", "JpegSpec", "NoiseSpec", "RealismSpec"]


UnitRange = bounded_range(0.0, 1.0)
RadiusRange = bounded_range(0.0, 64.0)  # px at a 1024-px long side
RatioRange = bounded_range(0.05, 4.0)
SigmaRange = bounded_range(0.0, 50.0)  # levels
GlareRange = bounded_range(0.0, 0.5)


class HarmonizationSpec(SpecModel):
    """Shift F toward the background's colour and light (F only, before compositing).

    ``von_kries`` / ``exposure`` / ``relight`` change only the light on F (its colour, its
    intensity, both); the others move F's whole colour distribution toward B's.
    """

    p: float = Field(HARMONIZATION_P, ge=0.0, le=1.0)
    methods: list[HarmonizationMethod] = Field(default_factory=lambda: list(DEFAULT_HARMONIZATION_METHODS),
                                               min_length=1)
    strength: UnitRange = HARMONIZATION_STRENGTH


class DefocusSpec(SpecModel):
    """Lens-like (disk) defocus of the background; radius in px at a 1024-px long side."""

    p: float = Field(0.4, ge=0.0, le=1.0)
    radius: RadiusRange = (1.0, 8.0)


class BackdropSpec(SpecModel):
    """Lower the background's contrast toward a ratio to the subject's (augment.backdrop).

    With probability `p`, a target ratio is drawn uniformly from `ratio`: the lightness std
    of the background in a band 4 % of the canvas wide just outside the subject's outline,
    over the subject's in the same band just inside. A background above it has its lightness
    contrast scaled down to it, by no less than `min_factor` (stronger reductions look like
    fog); one below keeps its own. Off by default; the defaults are the values measured best
    in `benchmarks/bench_realism.py` (see `recipes/portrait.yaml`).
    """

    p: float = Field(0.0, ge=0.0, le=1.0)
    ratio: RatioRange = (0.8, 1.6)
    min_factor: float = Field(0.6, ge=0.0, le=1.0)  # never scale the contrast by less than this


class NoiseSpec(SpecModel):
    """Sensor-like noise added to the composite after compositing (F and B share it).

    `compensate` first adds the missing noise to the cleaner layer (alpha-weighted) so the
    foreground and background regions carry the same noise level before the common noise;
    each layer's level is read in its flattest tiles (`augment.estimate.estimate_noise_floor`),
    so that fine texture (hair, fabric) is not taken for noise.
    """

    p: float = Field(NOISE_P, ge=0.0, le=1.0)
    sigma: SigmaRange = NOISE_SIGMA
    compensate: bool = False
    max_compensation: float = Field(6.0, ge=0.0, le=50.0)


class GlareSpec(SpecModel):
    """Veiling glare of one lens over the whole composite, after compositing and before the
    noise (`augment.degrade.glare`): the subject's edge takes on a little of the new scene's
    light, as in a photograph. `strength`: share of the light scattered; `radius`: the
    halo's Gaussian sigma as a fraction of the canvas's long side."""

    p: float = Field(0.0, ge=0.0, le=1.0)
    strength: GlareRange = GLARE_STRENGTH
    radius: GlareRange = GLARE_RADIUS


class JpegSpec(SpecModel):
    """JPEG re-compression of the composite only."""

    p: float = Field(0.3, ge=0.0, le=1.0)
    quality: tuple[int, int] = (70, 95)

    @field_validator("quality")
    @classmethod
    def _quality(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not (10 <= v[0] <= v[1] <= 100):
            raise ValueError(f"quality must satisfy 10 <= low <= high <= 100, got {list(v)}")
        return v


class RealismSpec(SpecModel):
    """Realism matching after RSSN: resolution, sharpness, noise, compression."""

    resolution_match: bool = True
    defocus: DefocusSpec = DefocusSpec()
    sharpness_match_p: float = Field(0.5, ge=0.0, le=1.0)  # when not defocused: blur F down to B's sharpness
    backdrop: BackdropSpec = BackdropSpec()
    glare: GlareSpec = GlareSpec()
    noise: NoiseSpec = NoiseSpec()
    jpeg: JpegSpec = JpegSpec()
    guided: "GuidedSpec | None" = None  # composition guided by the composite detector (docs/critic.md)


class DiversitySpec(SpecModel):
    """The guided build's diversity guard (docs/critic.md#guided-composition).

    A fraction ``min_share`` of each split's samples (every sample ``i`` with
    ``floor((i + 1) * min_share) > floor(i * min_share)``) has its background pinned by a keyed
    balanced cycle over the split's backgrounds (each once per cycle, freshly shuffled), so every
    background is used at least ``floor(floor(n * min_share) / n_bg)`` times: about ``min_share``
    of its fair share, whatever the detector prefers. The other samples draw each candidate's
    background from the planned assignment (their foreground's row of the context plan, or
    uniformly in ``random`` mode); only placement, harmonisation, defocus, backdrop and noise
    vary on the pinned ones.
    """

    min_share: float = Field(0.5, ge=0.0, le=1.0)


#: The choices a guided candidate can draw afresh (``realism.guided.redraw``), in canonical order.
GUIDED_CHOICES = ("background", "placement", "harmonize", "defocus", "backdrop", "noise")
GuidedChoice = Literal[GUIDED_CHOICES]  # the same names (a subscript tuple is the argument list)


class GuidedSpec(SpecModel):
    """Composition guided by the composite detector (synth.critic.guide).

    Each sample draws ``candidates`` variants of the choices that decide realism (background,
    its crop and flip, the subject's placement, harmonisation, defocus / sharpness, backdrop,
    noise) from keyed generators of its own (candidate 0 is what the unguided recipe draws),
    scores ``patches`` boundary patches of each with the detector in ``weights`` (a critic
    weights file, synth.critic.weights) on CPU, and keeps the least detectable. ``sha256`` is
    the weights file's; filled in from the file when absent, checked against it when given.
    ``redraw`` names the choices the candidates draw afresh (:data:`GUIDED_CHOICES`; default
    all); the others are the sample's own, e.g. ``[harmonize, noise]`` lets the detector pick
    the subject's colour and the noise but not an easier background, placement or blur.
    ``keep_difficulty``: only candidates no easier to matte than candidate 0 may win (boundary
    contrast not higher, background texture not lower; synth.critic.difficulty), so the
    detector cannot pick easy composites.
    """

    weights: str
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    candidates: int = Field(4, ge=1, le=32)
    patches: int = Field(16, ge=1, le=256)
    diversity: DiversitySpec = DiversitySpec()
    redraw: tuple[GuidedChoice, ...] = GUIDED_CHOICES
    keep_difficulty: bool = False

    @field_validator("redraw")
    @classmethod
    def _redraw(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError(f"redraw must name at least one of {', '.join(GUIDED_CHOICES)}")
        if len(set(v)) != len(v):
            raise ValueError(f"redraw names a choice twice: {list(v)}")
        return tuple(c for c in GUIDED_CHOICES if c in v)  # canonical order: one hash per set

    @model_validator(mode="after")
    def _weights_hash(self) -> "GuidedSpec":
        path = Path(self.weights).expanduser()
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as err:
            raise ValueError(f"weights: cannot read {self.weights!r} ({err.strerror or err})") from None
        if self.sha256 is None:
            object.__setattr__(self, "sha256", digest)
        elif self.sha256 != digest:
            raise ValueError(f"weights: {self.weights!r} has sha256 {digest}, but sha256 says {self.sha256}")
        if importlib.util.find_spec("torch") is None:  # the detector runs in torch; say so before building
            raise ValueError("guided composition runs the detector with PyTorch, which is not installed: "
                             'pip install -e ".[loader]"')
        return self


RealismSpec.model_rebuild()
