"""Recipe sections `foregrounds` and `backgrounds`: where the inputs come from."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, field_validator

from .base import SpecModel
from .video import BackgroundClips, FgAlphaClips, ImageAlphaClips

__all__ = ["BackgroundSource", "FgAlphaSource", "FolderBackgrounds", "ForegroundSource", "ImageAlphaSource",
           "ProceduralBackgrounds", "ProceduralForegrounds", "RgbaSource"]


class FgAlphaSource(SpecModel):
    """Separate foreground and alpha folders matched by file stem (Adobe DIM, Distinctions-646)."""

    kind: Literal["fg_alpha"]
    name: str = "fg_alpha"
    fg_dir: str
    alpha_dir: str


class RgbaSource(SpecModel):
    """RGBA images (PNG/WebP/TIFF) whose alpha channel is the matte; `path` is a folder or glob."""

    kind: Literal["rgba"]
    name: str = "rgba"
    path: str


class ImageAlphaSource(SpecModel):
    """Photo + alpha (AM-2k, P3M, alphamatting.com): F is estimated from the photo and alpha."""

    kind: Literal["image_alpha"]
    name: str = "image_alpha"
    image_dir: str
    alpha_dir: str


class ProceduralForegrounds(SpecModel):
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
    Union[FgAlphaSource, RgbaSource, ImageAlphaSource, ProceduralForegrounds, FgAlphaClips, ImageAlphaClips],
    Field(discriminator="kind"),
]


class FolderBackgrounds(SpecModel):
    """A folder (searched recursively) or a glob of JPEG/PNG/WebP photos (BG-20k, COCO, VOC)."""

    kind: Literal["folder"]
    name: str = "folder"
    path: str


class ProceduralBackgrounds(SpecModel):
    """Synthetic textured backgrounds (gradients, noise textures, stripes, blobs)."""

    kind: Literal["procedural"]
    name: str = "procedural"
    count: int = Field(32, ge=1, le=100_000)
    size: tuple[int, int] = (480, 640)
    seed: int = 0


BackgroundSource = Annotated[
    Union[FolderBackgrounds, ProceduralBackgrounds, BackgroundClips], Field(discriminator="kind")
]
