"""Scoring a composite with a pinned detector on CPU, deterministically (guided builds, tuning).

:func:`load_critic` reads a weights file (synth.critic.weights) once per process and path and
checks its sha256; :func:`score_composite` cuts a few boundary patches of a composite at the
detector's training resolution and returns their mean logit. Inference runs with one torch
thread (restored afterwards), so a score is a pure function
of the picture, the alpha and the patch generator on a given machine. Imports torch.

The network's ops in eval mode (convolutions, batch norm with stored statistics, ReLU, mean
and max pooling, one linear layer) have no nondeterministic CPU kernel, so inference does not
switch on ``torch.use_deterministic_algorithms``: with it, the CPU convolutions take a path
about ten times slower (and the test suite checks that the flag changes no score).
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

__all__ = ["Critic", "boundary_patches", "load_critic", "score_composite"]


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


def boundary_patches(critic: Critic, image: np.ndarray, alpha: np.ndarray, rng: np.random.Generator,
                     n: int) -> np.ndarray:
    """Up to ``n`` patches straddling the subject's boundary, as the detector saw them in
    training: at a canvas whose long side is ``critic.canvas``. The centres are drawn on the alpha
    shrunk to that size (bilinear: it only places them); each window is then cut from the
    full-resolution composite (``patch / scale`` px, inside the picture) and shrunk alone with an
    area filter, which costs a few small resizes instead of shrinking the whole composite.

    image: uint8 (H, W, 3); alpha: float32 (H, W) in [0, 1]. Returns uint8 (K, P, P, 3), K <= n.
    """
    p = critic.patch
    h, w = alpha.shape
    scale = critic.canvas / max(h, w)
    empty = np.zeros((0, p, p, 3), np.uint8)
    if scale >= 1.0:
        if min(h, w) < p:
            return empty
        return cut_patches(image, boundary_centres(alpha, rng, n, p), p)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if min(size) < p:
        return empty
    centres = boundary_centres(cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR), rng, n, p)
    side = min(round(p / scale), h, w)
    out = np.empty((len(centres), p, p, 3), np.uint8)
    for k, (y, x) in enumerate(centres):
        top = min(max(round((int(y) - p // 2) / scale), 0), h - side)
        left = min(max(round((int(x) - p // 2) / scale), 0), w - side)
        out[k] = cv2.resize(image[top:top + side, left:left + side], (p, p), interpolation=cv2.INTER_AREA)
    return out


def score_composite(critic: Critic, image: np.ndarray, alpha: np.ndarray, rng: np.random.Generator,
                    n: int) -> float:
    """Mean detector logit over up to ``n`` patches straddling the subject's boundary
    (:func:`boundary_patches`, at the detector's canvas size): higher = more detectable.

    image: uint8 (H, W, 3) RGB composite; alpha: float32 (H, W) in [0, 1]. NaN when no patch
    straddles the boundary (the subject is too small or fills the picture).
    """
    import torch

    from .model import to_tensor

    patches = boundary_patches(critic, image, alpha, rng, n)
    if len(patches) == 0:
        return float("nan")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            logits = critic.model(to_tensor(patches)).numpy().astype(np.float64)
    finally:
        torch.set_num_threads(threads)
    return float(np.mean(logits))
