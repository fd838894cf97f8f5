"""Member names of clip samples (video): ``clip.json`` and ``{stem}_{t:03d}.{ext}`` per frame."""
from __future__ import annotations

import re

__all__ = ["CLIP_OUTPUTS", "frame_member", "is_clip_member"]

#: Outputs a clip can give (per frame).
CLIP_OUTPUTS = ("image", "alpha", "trimap", "fg", "bg", "guidance", "semantic", "detail")
_FRAME = re.compile(r"^(image|alpha|trimap|fg|bg)_(\d{3,6})$")


def frame_member(stem: str, t: int, ext: str) -> str:
    """The member name of frame ``t``'s ``stem`` (``"image"``, ``"alpha"``...): ``image_007.jpg``."""
    return f"{stem}_{t:03d}.{ext}"


def is_clip_member(stem: str) -> tuple[str, int] | None:
    """``("image", 7)`` for the stem ``"image_007"``; ``None`` for other stems."""
    m = _FRAME.match(stem)
    return (m.group(1), int(m.group(2))) if m else None
