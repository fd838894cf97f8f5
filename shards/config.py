"""Loader settings, validated once: :class:`AugmentConfig` (online augmentation) and
:class:`DatasetConfig` (everything else :class:`shards.MattingDataset` takes besides the
source and the split)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from augment.guidance import GuidanceSpec
from augment.trimap_free import SEMANTIC_KINDS

from .clip_names import CLIP_OUTPUTS, is_clip_member
from .image_header import CANVAS_FACTOR, DEFAULT_MAX_PIXELS
from .instances import INSTANCE_OUTPUTS, is_instance_member
from .order import Balance
from .reader import MAX_MEMBER_BYTES, LoaderError, is_local_tar

__all__ = ["AugmentConfig", "DatasetConfig", "OUTPUTS", "DEFAULT_OUTPUTS", "DEVICE_DECODE", "DEVICE_OUTPUTS",
           "Handler", "BufferMode", "IMAGENET_MEAN", "IMAGENET_STD"]

#: The image normalisation defaults (``normalize=True``): ImageNet's channel means and stds.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: What a sample can output: the stored layers, targets made online from the alpha, the instances.
OUTPUTS = ("image", "alpha", "trimap", "fg", "bg", "guidance", "semantic", "detail", *INSTANCE_OUTPUTS)
#: What a sample outputs unless asked otherwise: what every dataset has.
DEFAULT_OUTPUTS = ("image", "alpha", "trimap", "fg", "bg")
#: What the device path (``device=``) makes; the other outputs need the CPU path.
DEVICE_OUTPUTS = ("image", "alpha", "trimap", "fg", "bg", "guidance", "semantic", "detail")
#: The layers whose JPEGs the device path can decode on the device (``device_decode``).
DEVICE_DECODE = ("image", "fg", "bg")

Handler = Literal["raise", "skip"] | Callable[[LoaderError], None]
BufferMode = Literal["auto", "bytes", "offsets"]


class AugmentConfig(BaseModel):
    """Online augmentation settings (validated, bounded).

    ``scale``: range of the zoom factor applied before the crop (1 = stored
    resolution, > 1 zooms in); ``band``: unknown band width range in pixels at
    ``band_reference`` long side; ``band_outer``: when set, the band's reach on the
    background side is drawn from this range on its own and ``band``'s draw is its reach
    on the subject side (None: one width both sides, symmetric about the edge, which lets a
    network read the edge off the band); ``photometric``: jitter strength in [0, 1]
    (0 = off); ``recomposite_p``: probability of re-compositing fg onto
    another sample's bg; ``guidance``: the ranges of the ``guidance`` output's coarse
    masks (an :class:`augment.guidance.GuidanceSpec` or a dict of its fields);
    ``semantic``: the ``semantic`` output's form, ``"classes"`` (uint8 0 bg / 1
    transition / 2 fg) or ``"lowres"`` (the alpha ``semantic_scale`` times smaller,
    blurred).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    scale: tuple[float, float] = (0.75, 1.5)
    flip_p: float = Field(0.5, ge=0.0, le=1.0)
    trimap: str = Field("fresh", pattern="^(fresh|stored)$")
    band: tuple[int, int] = (1, 29)
    band_outer: tuple[int, int] | None = None
    band_reference: int = Field(640, ge=16, le=16384)
    photometric: float = Field(0.0, ge=0.0, le=1.0)
    recomposite_p: float = Field(0.0, ge=0.0, le=1.0)
    guidance: GuidanceSpec = GuidanceSpec()
    semantic: str = Field("classes", pattern=f"^({'|'.join(SEMANTIC_KINDS)})$")
    semantic_scale: int = Field(16, ge=1, le=256)

    @field_validator("guidance", mode="before")
    @classmethod
    def _guidance(cls, v: Any) -> GuidanceSpec:
        if isinstance(v, GuidanceSpec):
            return v
        if not isinstance(v, Mapping):
            raise ValueError(f"guidance must be a GuidanceSpec or a dict of its fields, got {v!r}")
        try:
            return GuidanceSpec(**{k: tuple(x) if isinstance(x, list) else x for k, x in v.items()})
        except TypeError as e:
            raise ValueError(f"guidance: {e}") from None

    @model_validator(mode="after")
    def _ranges(self) -> "AugmentConfig":
        lo, hi = self.scale
        if not (0.05 <= lo <= hi <= 20.0):
            raise ValueError(f"scale must satisfy 0.05 <= lo <= hi <= 20, got {self.scale}")
        b0, b1 = self.band
        if not (0 <= b0 <= b1 <= 512):
            raise ValueError(f"band must satisfy 0 <= lo <= hi <= 512, got {self.band}")
        if self.band_outer is not None and not (0 <= self.band_outer[0] <= self.band_outer[1] <= 512):
            raise ValueError(f"band_outer must satisfy 0 <= lo <= hi <= 512, got {self.band_outer}")
        return self

    @classmethod
    def of(cls, augment: "AugmentConfig | Mapping[str, Any] | bool | None") -> "AugmentConfig":
        """``None``/``True``: the defaults; ``False``: no scale jitter, no flips, the stored
        trimap; a mapping: its fields."""
        if augment is None or augment is True:
            return cls()
        if augment is False:
            return cls(scale=(1.0, 1.0), flip_p=0.0, trimap="stored")
        if isinstance(augment, cls):
            return augment
        return cls(**dict(augment))


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class DatasetConfig:
    """The settings of a :class:`shards.MattingDataset`, checked and normalised on creation
    (``ValueError`` naming the field).

    Args:
        crop: output size (int or (h, w)), or ``None`` for full-size samples;
            normalised to an ``(h, w)`` tuple.
        seed: base seed of the order and of the augmentation (int >= 0).
        shuffle: ``False`` reads shards and samples in manifest order (no
            buffer), e.g. for validation; the rank/worker split is unchanged.
        rank, world_size: default to ``torch.distributed`` when initialised,
            else 0 and 1 (resolved when iterating).
        buffer_size: shuffle buffer capacity, in encoded samples (>= 1).
        buffer_initial: samples buffered before the first one is emitted (the
            buffer then grows to ``buffer_size``); ``None``: ``min(100, buffer_size)``.
        buffer: what the shuffle buffer holds: ``"bytes"`` (the encoded members:
            memory about ``buffer_size`` times the encoded sample size per
            worker), ``"offsets"`` (where each member lies in its shard, a few
            dozen bytes per sample; the bytes are read back with ``pread`` when
            the sample leaves the buffer, from the page cache the sequential
            read-through has just filled; local uncompressed ``.tar`` shards
            only), or ``"auto"``: offsets when every shard is a local ``.tar``
            (see :meth:`buffer_mode`).
        interleave: shards read at once by one stream (>= 1).
        balance: ``"drop"`` or ``"pad"``: how every rank gets the same count.
        augment: an :class:`AugmentConfig`, a dict of its fields, ``True``/``None``
            (defaults) or ``False`` (no scale jitter, no flips, stored trimap;
            ``crop`` still applies); normalised to an :class:`AugmentConfig`.
        outputs: which of :data:`OUTPUTS` to return (a frozenset; default ``image, alpha,
            trimap, fg, bg``): besides those, ``guidance`` (a coarse mask, fresh every
            epoch), ``semantic`` and ``detail`` (trimap-free targets), and for datasets built
            with instance targets ``instances``, ``amodal``, ``instance_id``,
            ``instance_depth``, ``instance_box`` (see :mod:`shards.collate`).
        normalize: return the image as normalised ``float32`` (``mean``/``std``).
        handler: ``"skip"`` (count, warn, go on), ``"raise"``, or a callable
            called with the :class:`LoaderError`; it skips when it returns.
        substitute: when samples are skipped (bad bytes, an unreadable shard), repeat
            other samples of the same stream in their place (counted as
            ``samples_substituted``), so every rank still yields ``len(dataset)``
            samples and DDP ranks stay in step; ``False`` yields fewer instead.
        verify: check each shard's sha256 against the manifest before reading.
        max_member_bytes: largest member read; a larger one is a bad sample.
        max_pixels: most pixels an image member may declare in its header (JPEG frame
            header, PNG ``IHDR``), checked before decoding; a larger one is a bad sample.
            ``None``: 4x the canvas of the manifest's recipe, or 64 MP without one.
        frames: read clips (video; see :mod:`shards.clips`): each sample is a window of
            this many frames of one clip, every output with a leading time axis
            (``(T, C, H, W)`` tensors); ``None`` (default): image samples.
        frame_stride: the range ``(lo, hi)`` the window's temporal stride is drawn from
            (lowered when the clip is too short for it).
        reverse_p: probability of playing the window backwards.
        transform: your own per-sample step, ``transform(arrays, rng) -> arrays``, run in the
            worker after the online augmentation and before the tensors: ``arrays`` maps
            ``image``/``fg``/``bg`` (uint8 (H, W, 3)), ``alpha`` (float32 (H, W) in [0, 1])
            and ``trimap`` (uint8 (H, W)) to arrays, and ``rng`` is a generator drawn from
            (seed, epoch, sample), so the step is as deterministic and resumable as the rest.
            It must be picklable for ``num_workers > 0``; a ValueError it raises counts as a
            bad sample.
        device: finish the augmentation on this torch device (``"cuda"``, ``"cuda:1"``;
            ``"cpu"`` runs the same torch code on the CPU): workers only read, decode the
            alpha and draw; :class:`shards.MattingLoader` decodes the JPEGs (nvJPEG),
            resizes, flips, jitters and makes trimaps and guidance on the device, batch by
            batch (:mod:`shards.device_stage`). Needs ``crop``; makes :data:`DEVICE_OUTPUTS`;
            no clips, re-compositing or ``transform``. ``None`` (default): all on the CPU.
        device_decode: with ``device=``, the layers (of ``image``, ``fg``, ``bg``) whose crop
            window is decoded on the device (default all); the workers decode the others' window
            and send pixels: less decoding in the main process, more bytes to it. The samples
            are the same either way (on a GPU within nvJPEG's rounding of libjpeg's).
    """

    crop: int | tuple[int, int] | None = 512
    seed: int = 0
    shuffle: bool = True
    rank: int | None = None
    world_size: int | None = None
    buffer_size: int = 2000
    buffer_initial: int | None = None
    buffer: BufferMode = "auto"
    interleave: int = 4
    balance: Balance = "drop"
    augment: AugmentConfig | Mapping[str, Any] | bool | None = None
    outputs: Sequence[str] = DEFAULT_OUTPUTS
    normalize: bool = False
    mean: Sequence[float] = IMAGENET_MEAN
    std: Sequence[float] = IMAGENET_STD
    handler: Handler = "skip"
    substitute: bool = True
    verify: bool = False
    max_member_bytes: int = MAX_MEMBER_BYTES
    max_pixels: int | None = None
    frames: int | None = None
    frame_stride: tuple[int, int] = (1, 1)
    reverse_p: float = 0.0
    transform: Callable[[dict[str, np.ndarray], np.random.Generator], dict[str, np.ndarray]] | None = None
    device: str | None = None
    device_decode: Sequence[str] = DEVICE_DECODE
    stems: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        crop = self.crop
        if isinstance(crop, int):
            crop = (crop, crop)
        if crop is not None:
            if len(crop) != 2 or min(crop) < 1:
                raise ValueError(f"crop must be a positive int, an (h, w) pair or None, got {crop!r}")
            crop = (int(crop[0]), int(crop[1]))
        _set(self, "crop", crop)
        if not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")
        _set(self, "seed", int(self.seed))
        _set(self, "shuffle", bool(self.shuffle))
        if self.buffer_size < 1:
            raise ValueError(f"buffer_size must be >= 1, got {self.buffer_size}")
        _set(self, "buffer_size", int(self.buffer_size))
        initial = self.buffer_initial
        _set(self, "buffer_initial", min(self.buffer_size, int(initial if initial is not None else 100)))
        if self.buffer_initial < 1:  # type: ignore[operator]
            raise ValueError(f"buffer_initial must be >= 1, got {initial}")
        if self.buffer not in ("auto", "bytes", "offsets"):
            raise ValueError(f"buffer must be 'auto', 'bytes' or 'offsets', got {self.buffer!r}")
        if self.interleave < 1:
            raise ValueError(f"interleave must be >= 1, got {self.interleave}")
        _set(self, "interleave", int(self.interleave))
        if self.balance not in ("drop", "pad"):
            raise ValueError(f"balance must be 'drop' or 'pad', got {self.balance!r}")
        _set(self, "augment", AugmentConfig.of(self.augment))
        outputs = tuple(self.outputs)
        bad = [o for o in outputs if o not in OUTPUTS]
        if bad or not outputs:
            raise ValueError(f"outputs must be a non-empty subset of {OUTPUTS}, got {outputs}")
        _set(self, "outputs", frozenset(outputs))
        _set(self, "normalize", bool(self.normalize))
        _set(self, "mean", tuple(float(x) for x in self.mean))
        _set(self, "std", tuple(float(x) for x in self.std))
        if not (self.handler in ("raise", "skip") or callable(self.handler)):
            raise ValueError(f"handler must be 'raise', 'skip' or a callable, got {self.handler!r}")
        _set(self, "substitute", bool(self.substitute))
        _set(self, "verify", bool(self.verify))
        _set(self, "max_member_bytes", int(self.max_member_bytes))
        if self.max_member_bytes < 1:
            raise ValueError(f"max_member_bytes must be >= 1, got {self.max_member_bytes}")
        if self.max_pixels is not None:
            if int(self.max_pixels) < 1:
                raise ValueError(f"max_pixels must be >= 1 or None, got {self.max_pixels}")
            _set(self, "max_pixels", int(self.max_pixels))
        if self.frames is not None:
            if int(self.frames) < 1:
                raise ValueError(f"frames must be >= 1 or None, got {self.frames}")
            _set(self, "frames", int(self.frames))
            bad = sorted(set(self.outputs) - set(CLIP_OUTPUTS))  # type: ignore[arg-type]
            if bad:
                raise ValueError(f"outputs {bad} are not available for clips (frames=); clips give {CLIP_OUTPUTS}")
            if self.augment.recomposite_p > 0:  # type: ignore[union-attr]
                raise ValueError("augment recomposite_p must be 0 for clips (frames=)")
        lo, hi = (int(x) for x in self.frame_stride)
        if not 1 <= lo <= hi:
            raise ValueError(f"frame_stride must be (lo, hi) with 1 <= lo <= hi, got {self.frame_stride!r}")
        _set(self, "frame_stride", (lo, hi))
        if not 0.0 <= float(self.reverse_p) <= 1.0:
            raise ValueError(f"reverse_p must be a probability in [0, 1], got {self.reverse_p!r}")
        if self.transform is not None and not callable(self.transform):
            raise ValueError(f"transform must be a callable (arrays, rng) -> arrays or None, got {self.transform!r}")
        if self.device is not None:
            self._check_device()
        elif tuple(self.device_decode) != DEVICE_DECODE:
            raise ValueError("device_decode is for the device path: it needs device=")
        _set(self, "stems", self._stems())

    def without_layers(self, outputs_given: bool) -> DatasetConfig:
        """This config for a dataset stored without its F and B layers (``output.layers: false``):
        the default outputs lose ``fg`` and ``bg``; asking for them (``outputs_given``) or for
        re-compositing is a ``ValueError`` saying so."""
        asked = sorted(set(self.outputs) & {"fg", "bg"})  # type: ignore[arg-type]
        if asked and outputs_given:
            raise ValueError(f"outputs {asked} need the fg/bg layers, but this dataset was built without them "
                             "(its recipe's output.layers is false): leave them out of outputs")
        if self.augment.recomposite_p > 0:  # type: ignore[union-attr]
            raise ValueError("re-compositing needs the fg/bg layers, but this dataset was built without them "
                             "(its recipe's output.layers is false): set augment recomposite_p to 0")
        if not asked:
            return self
        return dataclasses.replace(self, outputs=tuple(o for o in OUTPUTS if o in self.outputs and o not in asked))

    def _check_device(self) -> None:
        """``ValueError`` naming what the device path cannot do (the CPU path can)."""
        if not isinstance(self.device, str) or not self.device:
            raise ValueError(f"device must be a torch device name such as 'cuda' or None, got {self.device!r}")
        aug: AugmentConfig = self.augment  # type: ignore[assignment]
        if self.crop is None:
            raise ValueError("device= needs crop= (the device batches samples of one size)")
        bad = sorted(set(self.outputs) - set(DEVICE_OUTPUTS))  # type: ignore[arg-type]
        if bad:
            raise ValueError(f"outputs {bad} are not made by the device path (device=); it makes {DEVICE_OUTPUTS}")
        if self.frames is not None:
            raise ValueError("device= does not read clips (frames=); use the CPU path (device=None)")
        if aug.recomposite_p > 0:
            raise ValueError("device= does not re-composite: augment recomposite_p must be 0")
        if "semantic" in self.outputs and aug.semantic != "classes":  # type: ignore[operator]
            raise ValueError("device= makes semantic='classes' only")
        if self.transform is not None:
            raise ValueError("device= runs no per-sample transform (it works on arrays in the worker)")
        decode = self.device_decode
        if isinstance(decode, str) or not set(decode) <= set(DEVICE_DECODE) or len(set(decode)) != len(decode):
            raise ValueError(f"device_decode must be distinct layers of {DEVICE_DECODE}, got {decode!r}")
        _set(self, "device_decode", tuple(d for d in DEVICE_DECODE if d in decode))

    def _stems(self) -> frozenset[str]:
        """The members read from the shards (``alpha`` and what the outputs need)."""
        aug: AugmentConfig = self.augment  # type: ignore[assignment]
        stems = {"alpha"}
        if "image" in self.outputs:
            stems.add("image")
        if "fg" in self.outputs or aug.recomposite_p > 0:
            stems.add("fg")
        if "bg" in self.outputs or aug.recomposite_p > 0:
            stems.add("bg")
        trimap = "trimap" in self.outputs or "detail" in self.outputs or (
            "semantic" in self.outputs and aug.semantic == "classes")
        if trimap and aug.trimap == "stored":
            stems.add("trimap")
        return frozenset(stems)

    def keeps(self, member: str) -> bool:
        """Whether the loader reads member ``member`` (``"alpha.png"``) of a sample."""
        stem = member.partition(".")[0]
        if self.frames is not None:
            frame = is_clip_member(stem)
            return stem == "clip" or (frame is not None and frame[0] in self.stems)
        if stem in self.stems:
            return True
        if not is_instance_member(stem):
            return False
        if stem.startswith("amodal_"):
            return "amodal" in self.outputs
        return bool(self.outputs & set(INSTANCE_OUTPUTS))  # type: ignore[operator]

    def pixel_limit(self, canvas: tuple[int, int] | None) -> int:
        """The pixel limit per image member: ``max_pixels``, else derived from ``canvas``."""
        if self.max_pixels is not None:
            return self.max_pixels
        return CANVAS_FACTOR * canvas[0] * canvas[1] if canvas else DEFAULT_MAX_PIXELS

    def buffer_mode(self, urls: Sequence[str]) -> Literal["bytes", "offsets"]:
        """What the shuffle buffer holds for these shards (``"offsets"`` needs local ``.tar`` s)."""
        local = all(is_local_tar(u) for u in urls)
        if self.buffer == "offsets" and not local:
            bad = next(u for u in urls if not is_local_tar(u))
            raise ValueError(f"buffer='offsets' needs local uncompressed .tar shards, got {bad}")
        return "offsets" if self.buffer == "offsets" or (self.buffer == "auto" and local) else "bytes"
