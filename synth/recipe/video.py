"""Recipe section `video` and the clip sources: building clips instead of still composites.

With a ``video`` section every sample is a clip of ``frames`` frames (docs/video.md). Still
foregrounds move along a smooth random path (``motion``), still backgrounds are filmed by a
simulated camera (``camera``); foreground and background clips (folders of frames) play
as they are. Absent (the default), a recipe builds still images as before.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import SpecModel, bounded_range

__all__ = ["BackgroundClips", "CameraSpec", "FgAlphaClips", "ImageAlphaClips", "MotionBlurSpec", "MotionSpec",
           "VideoSpec"]


class FgAlphaClips(SpecModel):
    """Foreground clips with their mattes (VideoMatte240K): ``fg_dir/CLIP/NNNN.jpg`` and
    ``alpha_dir/CLIP/NNNN.jpg``, one sub-folder per clip, frames numbered without gaps."""

    kind: Literal["fg_alpha_clips"]
    name: str = "fg_alpha_clips"
    fg_dir: str
    alpha_dir: str


class ImageAlphaClips(SpecModel):
    """Photo + alpha frame folders (``image_dir/CLIP/NNNN.png`` + ``alpha_dir/CLIP/NNNN.png``):
    F is estimated per frame with ``composition.fg_estimation``."""

    kind: Literal["image_alpha_clips"]
    name: str = "image_alpha_clips"
    image_dir: str
    alpha_dir: str


class BackgroundClips(SpecModel):
    """Background clips: ``path/CLIP/NNNN.jpg``, one sub-folder of numbered frames per clip."""

    kind: Literal["clips"]
    name: str = "clips"
    path: str


ShutterRange = bounded_range(0.0, 1.0)


class MotionSpec(SpecModel):
    """Smooth random motion of a still foreground: a constant drift plus a few slow
    oscillations, bounded in velocity and acceleration (per frame, in canvas fractions for
    translation, log-scale for scale, degrees for rotation)."""

    max_speed: float = Field(0.02, ge=0.0, le=0.5)  # canvas (long side) fractions per frame
    max_accel: float = Field(0.004, ge=0.0, le=0.5)  # canvas fractions per frame^2
    max_scale_rate: float = Field(0.01, ge=0.0, le=0.5)  # |d log(scale)/dt| per frame
    max_rotation_speed: float = Field(0.5, ge=0.0, le=20.0)  # degrees per frame
    enter_exit_p: float = Field(0.1, ge=0.0, le=1.0)  # a clip where the subject enters or leaves the frame
    still_p: float = Field(0.1, ge=0.0, le=1.0)  # a clip where the subject does not move
    clip_scale: float = Field(0.0, ge=0.0, le=1.0)  # the same motion on foreground clips, scaled (0: fixed)


class CameraSpec(SpecModel):
    """The simulated camera over a still background: smooth pan, zoom and roll, hand shake."""

    max_pan: float = Field(0.01, ge=0.0, le=0.2)  # canvas fractions per frame
    max_zoom_rate: float = Field(0.004, ge=0.0, le=0.1)  # |d log(zoom)/dt| per frame
    max_roll: float = Field(0.1, ge=0.0, le=5.0)  # degrees per frame
    shake_px: float = Field(1.0, ge=0.0, le=20.0)  # hand-shake amplitude, px at a 1024-px long side
    still_p: float = Field(0.2, ge=0.0, le=1.0)  # a tripod: no pan, zoom, roll or shake


class MotionBlurSpec(SpecModel):
    """Motion blur over the exposure (``shutter``: a fraction of the frame interval, drawn per
    clip; 0 = off): each layer smeared along its motion while the shutter is open."""

    shutter: ShutterRange = (0.3, 0.5)


class VideoSpec(SpecModel):
    """Clips of ``frames`` frames, one sample each (docs/video.md)."""

    frames: int = Field(16, ge=1, le=512)
    fps: float = Field(25.0, gt=0.0, le=1000.0)
    source_stride: int = Field(1, ge=1, le=16)  # every n-th frame of a source clip
    motion: MotionSpec = MotionSpec()
    camera: CameraSpec = CameraSpec()
    motion_blur: MotionBlurSpec = MotionBlurSpec()
    drift: float = Field(0.05, ge=0.0, le=0.5)  # slow light drift over a clip (relative gain amplitude)
    fixed_pattern: float = Field(0.3, ge=0.0, le=1.0)  # share of the noise variance fixed per clip
    # where the per-frame sensor noise goes: the whole frame (a camera's), or the subject layer only
    # (a filmed subject over a still photo whose grain stays frozen: the naive composite)
    noise_layer: Literal["composite", "foreground"] = "composite"
    # the still pipeline's pre-composite choices (harmonisation, defocus, sharpness, backdrop) drawn
    # once per clip, or afresh every frame (an image pipeline run frame by frame: the naive composite)
    decisions: Literal["clip", "frame"] = "clip"

    @model_validator(mode="after")
    def _noise_layer_pattern(self) -> "VideoSpec":
        if self.noise_layer == "foreground" and self.fixed_pattern > 0:
            raise ValueError(f"video.fixed_pattern must be 0 with video.noise_layer: foreground (the fixed pattern is "
                             f"the camera's, on the whole frame), got {self.fixed_pattern}")
        return self
