"""Scoring a composite with a pinned detector on CPU, deterministically (guided builds, tuning).

:func:`load_critic` reads a weights file (synth.critic.weights) once per process and path and
checks its sha256; :func:`score_composite` cuts a few boundary patches of a composite at the
detector's training resolution and returns their mean logit. Inference runs with one torch
thread and deterministic algorithms (both restored afterwards), so a score is a pure function
of the picture, the alpha and the patch generator on a given machine. Imports torch.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .patches import boundary_centres, cut_patches
from .weights import file_sha256, load_model

__all__ = ["Critic", "load_critic", "score_composite", "downscale"]


@dataclass(frozen=True)
class Critic:
    """A loaded detector: the network, its file's sha256, the patch side and the canvas long
    side it was trained at, and the file's header."""

    model: Any
    sha256: str
    patch: int
    canvas: int
    header: dict


@functools.lru_cache(maxsize=4)
def _load(path: str, sha256: str) -> Critic:
    actual = file_sha256(path)
    if actual != sha256:
        raise ValueError(f"{path}: detector weights changed (sha256 {actual}, the recipe says {sha256})")
    model, header = load_model(path)
    return Critic(model, actual, int(header["patch"]), int(header["canvas"]), header)


def load_critic(path: str | os.PathLike, sha256: str | None = None) -> Critic:
    """The detector in ``path`` (cached per process by path and sha256); ValueError when the
    file's sha256 is not ``sha256`` (None: whatever it is now)."""
    return _load(str(path), sha256 or file_sha256(path))


def downscale(image: np.ndarray, alpha: np.ndarray, long_side: int) -> tuple[np.ndarray, np.ndarray]:
    """Image (uint8 (H, W, 3)) and alpha (float32 (H, W)) shrunk (area filter) so the long side is
    at most ``long_side``; returned as they are when already that small."""
    h, w = alpha.shape
    scale = long_side / max(h, w)
    if scale >= 1.0:
        return image, alpha
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return (cv2.resize(image, size, interpolation=cv2.INTER_AREA),
            cv2.resize(alpha.astype(np.float32), size, interpolation=cv2.INTER_AREA))


def score_composite(critic: Critic, image: np.ndarray, alpha: np.ndarray, rng: np.random.Generator,
                    n: int) -> float:
    """Mean detector logit over up to ``n`` patches straddling the subject's boundary (cut at
    the detector's canvas size, ``critic.canvas`` long side): higher = more detectable.

    image: uint8 (H, W, 3) RGB composite; alpha: float32 (H, W) in [0, 1]. NaN when no patch
    straddles the boundary (the subject is too small or fills the picture).
    """
    import torch

    from .model import to_tensor

    small, small_alpha = downscale(image, alpha, critic.canvas)
    if min(small_alpha.shape) < critic.patch:
        return float("nan")
    centres = boundary_centres(small_alpha, rng, n, critic.patch)
    if len(centres) == 0:
        return float("nan")
    patches = cut_patches(small, centres, critic.patch)
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.no_grad():
            logits = critic.model(to_tensor(patches)).numpy().astype(np.float64)
    finally:
        torch.use_deterministic_algorithms(det)
        torch.set_num_threads(threads)
    return float(np.mean(logits))
