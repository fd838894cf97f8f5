"""Where every random generator and keyed ordering of a build comes from.

One scheme: a generator is ``np.random.default_rng(key)`` with ``key`` a list of
non-negative integers that starts with the recipe's (or the source's) seed. A name in a
key (a split, a step) enters as :func:`name_code`, the first 4 bytes of its sha256,
little-endian: stable across processes and machines, unlike Python's salted ``hash()``.
Fixed integer tags tell apart generators whose other key parts could coincide.

=========================  ==================================================
generator                  key
=========================  ==================================================
:func:`step_rng`           ``[seed, name_code(split), index, name_code(step)]``
:func:`cycle_rng`          ``[seed, name_code(split), cycle, TAG_FG_CYCLE]``
:func:`procedural_rng`     ``[seed, index, TAG_PROCEDURAL_FG | _BG]``
:func:`seeded_rng`         ``seed`` (a recorded or user-given seed)
:func:`clip_rng`           ``[seed, name_code(split), clip, name_code(step), TAG_VIDEO_CLIP]``
:func:`frame_rng`          ``[seed, name_code(split), clip, frame, name_code(step), TAG_VIDEO_FRAME]``
:func:`candidate_rng`      ``[seed, name_code(split), index, name_code(step), TAG_GUIDED, k]`` (k >= 1;
                           candidate 0 is :func:`step_rng`)
:func:`bg_cycle_rng`       ``[seed, name_code(split), cycle, TAG_BG_CYCLE]``
=========================  ==================================================

:func:`keyed_rank` is the one keyed ordering that is not a generator: items sorted by the
sha256 of ``"{salt}:{seed}:{item}"`` (split assignment by identity).

Every function here reproduces the keys the builds have always used, so outputs keep
their bytes; a new derivation gets a new tag or step name, never a changed old one.
"""
from __future__ import annotations

import hashlib

import numpy as np

__all__ = [
    "TAG_BG_CYCLE",
    "TAG_FG_CYCLE",
    "TAG_GUIDED",
    "TAG_PROCEDURAL_BG",
    "TAG_PROCEDURAL_FG",
    "TAG_VIDEO_CLIP",
    "TAG_VIDEO_FRAME",
    "bg_cycle_rng",
    "candidate_rng",
    "clip_rng",
    "cycle_rng",
    "frame_rng",
    "keyed_rank",
    "name_code",
    "procedural_rng",
    "seeded_rng",
    "step_rng",
]

TAG_FG_CYCLE = 0xF6  # the per-cycle shuffle of a split's foregrounds
TAG_PROCEDURAL_FG = 0x46_47  # "FG": a procedural foreground
TAG_PROCEDURAL_BG = 0x42_47  # "BG": a procedural background
TAG_VIDEO_CLIP = 0x56_43  # "VC": a step drawn once per clip (video)
TAG_VIDEO_FRAME = 0x56_46  # "VF": a step drawn per frame of a clip (video)
TAG_BG_CYCLE = 0xB6  # the per-cycle shuffle of a split's backgrounds (a guided build's pinned samples)
TAG_GUIDED = 0x47_43  # "GC": a guided build's candidate k >= 1 of a step (synth.critic.guide)


def name_code(name: str) -> int:
    """A stable integer in [0, 2**32) for a name: sha256's first 4 bytes, little-endian."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def step_rng(seed: int, split: str, index: int, step: str) -> np.random.Generator:
    """The generator of one random step (e.g. ``"background"``, ``"foreground_flip"``) of
    sample ``index`` of ``split``: independent across steps, samples and splits."""
    return np.random.default_rng([seed, name_code(split), index, name_code(step)])


def candidate_rng(seed: int, split: str, index: int, step: str, k: int) -> np.random.Generator:
    """The generator of step ``step`` for candidate ``k`` of sample ``index`` of ``split`` in a
    guided build: candidate 0 is the sample's own :func:`step_rng` (what an unguided build
    draws), candidates ``k >= 1`` get keys of their own (tagged, so no other key is reused)."""
    if k < 0:
        raise ValueError(f"candidate_rng: candidate k must be >= 0, got {k}")
    if k == 0:
        return step_rng(seed, split, index, step)
    return np.random.default_rng([seed, name_code(split), index, name_code(step), TAG_GUIDED, k])


def clip_rng(seed: int, split: str, clip: int, step: str) -> np.random.Generator:
    """The generator of a step drawn once for clip ``clip`` of ``split`` (video)."""
    return np.random.default_rng([seed, name_code(split), clip, name_code(step), TAG_VIDEO_CLIP])


def frame_rng(seed: int, split: str, clip: int, frame: int, step: str) -> np.random.Generator:
    """The generator of a step drawn for frame ``frame`` of clip ``clip`` of ``split`` (video):
    any frame's draws without the others'."""
    return np.random.default_rng([seed, name_code(split), clip, frame, name_code(step), TAG_VIDEO_FRAME])


def cycle_rng(seed: int, split: str, cycle: int) -> np.random.Generator:
    """The generator of cycle ``cycle``'s shuffle of the foregrounds of ``split``."""
    return np.random.default_rng([seed, name_code(split), cycle, TAG_FG_CYCLE])


def bg_cycle_rng(seed: int, split: str, cycle: int) -> np.random.Generator:
    """The generator of cycle ``cycle``'s shuffle of the backgrounds of ``split`` (the
    balanced cycle of a guided build's pinned samples)."""
    return np.random.default_rng([seed, name_code(split), cycle, TAG_BG_CYCLE])


def procedural_rng(seed: int, index: int, kind: str) -> np.random.Generator:
    """The generator of procedural item ``index`` of a source; ``kind`` is ``"fg"`` or ``"bg"``."""
    tags = {"fg": TAG_PROCEDURAL_FG, "bg": TAG_PROCEDURAL_BG}
    if kind not in tags:
        raise ValueError(f"procedural_rng: kind must be 'fg' or 'bg', got {kind!r}")
    return np.random.default_rng([seed, index, tags[kind]])


def seeded_rng(seed: int) -> np.random.Generator:
    """The generator of a single seed (a seed recorded in meta.json, or a user's ``--seed``)."""
    return np.random.default_rng(seed)


def keyed_rank(salt: str, seed: int, item: str) -> str:
    """Sort key of ``item`` in a seeded order that does not depend on listing order."""
    return hashlib.sha256(f"{salt}:{seed}:{item}".encode()).hexdigest()
