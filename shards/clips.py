"""Clips for video matting: one sample holds the frames of a clip, the loader takes a window.

A clip sample has ``clip.json`` (``{"frames": n, ...}``) and, for each frame ``t`` in
``0 .. n-1``, the members of an image sample with the frame number in the name:
``image_{t:03d}.jpg``, ``alpha_{t:03d}.png``, ``fg_{t:03d}.jpg``, ``bg_{t:03d}.jpg`` and
optionally ``trimap_{t:03d}.png`` (see :func:`frame_member`).

:func:`augment_clip` draws, from the sample's seed, a window of ``frames`` frames (a
temporal stride from ``stride``, a start, a reversal with probability ``reverse_p``),
then one geometry for the whole window (scale jitter, a crop centred on the unknown
band of the window's middle frame, the trimap band, the flip) and renders every frame
with it (:func:`shards.online_augment.augment_frame`: the photometric jitter and the
guidance mask are drawn alike for every frame). Outputs get a leading time axis:
``(T, H, W[, C])``. A window never crosses clips: a sample is one clip.
"""
from __future__ import annotations

import json
from typing import Mapping

import numpy as np

from .clip_names import CLIP_OUTPUTS, frame_member, is_clip_member
from .config import AugmentConfig
from .online_augment import augment_frame, draw_geometry, needs_trimap
from .window import StoredAlpha

__all__ = ["augment_clip", "clip_window"]

_STEP_WINDOW = 8  # appended to the sample seed (after online_augment's steps 1-7)


def _frames(members: Mapping[str, bytes]) -> tuple[int, dict[int, dict[str, bytes]]]:
    """The clip's frame count (from ``clip.json``) and its members grouped by frame, renamed
    as an image sample's (``image_007.jpg`` -> frame 7's ``image.jpg``)."""
    data = members.get("clip.json")
    if data is None:
        raise ValueError(f"sample has no clip.json member (members: {sorted(members)[:8]}...); "
                         "is it a clip? (frames= reads clips only)")
    try:
        n = int(json.loads(bytes(data).decode("utf-8"))["frames"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"member clip.json is invalid: {e}") from None
    if n < 1:
        raise ValueError(f"member clip.json says {n} frames")
    by_frame: dict[int, dict[str, bytes]] = {}
    for name, value in members.items():
        stem, _, ext = name.partition(".")
        parsed = is_clip_member(stem)
        if parsed is not None:
            by_frame.setdefault(parsed[1], {})[f"{parsed[0]}.{ext}"] = value
    return n, by_frame


def clip_window(rng: np.random.Generator, n: int, frames: int, stride: tuple[int, int], reverse_p: float
                ) -> list[int]:
    """The frame numbers of a window of ``frames`` frames of an ``n``-frame clip: a stride
    drawn from ``stride`` (lowered until the window fits), a uniform start, reversed with
    probability ``reverse_p``. ``ValueError`` if the clip is shorter than ``frames``."""
    if n < frames:
        raise ValueError(f"clip has {n} frames, fewer than frames={frames}")
    step = int(rng.integers(stride[0], stride[1] + 1))
    if frames > 1:
        step = max(1, min(step, (n - 1) // (frames - 1)))
    span = (frames - 1) * step + 1
    start = int(rng.integers(0, n - span + 1))
    window = [start + i * step for i in range(frames)]
    if rng.random() < reverse_p:
        window.reverse()
    return window


def augment_clip(
    members: Mapping[str, bytes],
    seed: list[int],
    *,
    crop: tuple[int, int] | None,
    config: AugmentConfig,
    outputs: frozenset[str],
    frames: int,
    stride: tuple[int, int] = (1, 1),
    reverse_p: float = 0.0,
) -> dict[str, np.ndarray]:
    """A window of ``frames`` frames of a clip sample, augmented alike: every output with a
    leading time axis, ``(T, H, W[, C])``. ``ValueError`` for a short clip or missing,
    undecodable or mis-sized frame members (naming the frame)."""
    bad = sorted(set(outputs) - set(CLIP_OUTPUTS))
    if bad:
        raise ValueError(f"clips give {CLIP_OUTPUTS}, not {bad}")
    n, by_frame = _frames(members)
    window = clip_window(np.random.default_rng([*seed, _STEP_WINDOW]), n, frames, stride, reverse_p)
    mid = window[len(window) // 2]

    def frame(t: int) -> tuple[dict[str, bytes], StoredAlpha]:
        fm = by_frame.get(t, {})
        if "alpha.png" not in fm:
            raise ValueError(f"clip frame {t}: no {frame_member('alpha', t, 'png')} member")
        return fm, StoredAlpha(fm["alpha.png"])

    ref_members, ref = frame(mid)
    geo = draw_geometry(ref, seed, crop, config, needs_trimap(frozenset(outputs), config) and config.trimap == "fresh")
    out: dict[str, list[np.ndarray]] = {}
    for t in window:
        fm, alpha = (ref_members, ref) if t == mid else frame(t)
        if alpha.shape != ref.shape:
            raise ValueError(f"clip frame {t}: alpha is {alpha.shape}, frame {mid}'s {ref.shape}")
        try:
            arrays = augment_frame(fm, alpha, geo, seed, crop=crop, config=config, outputs=frozenset(outputs))
        except ValueError as e:
            raise ValueError(f"clip frame {t}: {e}") from None
        for k, v in arrays.items():
            out.setdefault(k, []).append(v)
    return {k: np.stack(v) for k, v in out.items()}
