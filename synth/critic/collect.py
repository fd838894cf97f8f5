"""Labelled patch sets from a built dataset: composite boundaries against real ones.

For every sample of a dataset (built with ``background_split: disjoint`` and two splits, so
the splits share neither subjects nor backgrounds) :func:`collect_patches` cuts:

- ``composite`` (label 1): patches of the composite ``image.*`` straddling the pasted
  subject's alpha boundary;
- ``real_scene`` (label 0): patches of *the same composite picture* at real edges of the
  background, far from the subject (same picture, camera, upscaling, defocus, noise and
  JPEG as the composite side);
- ``real_subject`` (label 0): patches of the subject's own original photograph at its
  ground-truth alpha boundary (a real subject in front of a real background), resized by
  the same factor as the subject in this composite and put through the same JPEG history
  (the composite's post-composite JPEG, if any, then the stored image's JPEG quality).

``hard_paste=True`` replaces each composite by the broken control: the stored F pasted on
the stored B with the alpha thresholded at 0.5 (no blending at all).
:func:`matched` then subsamples, per split, both labels to the same edge-contrast histogram.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from augment.degrade import jpeg_recompress
from augment.resize import resize_by_scale, resize_to
from shards.codec import decode_alpha, decode_rgb, encode_rgb
from shards.manifest import read_manifest, shard_url
from shards.reader import find_member, iter_shard_samples
from synth.sources.imageio import decode_alpha as read_alpha
from synth.sources.imageio import decode_rgb as read_rgb
from synth.sources.imageio import read_bytes

from .patches import (
    boundary_centres,
    cut_patches,
    edge_centres,
    edge_contrast,
    edge_sharpness,
    match_contrast,
    match_joint,
)

__all__ = ["PatchSet", "collect_patches", "hard_paste", "real_subject_view", "matched", "relabel_real", "check_disjoint"]

KINDS = ("composite", "real_scene", "real_subject")


@dataclass(frozen=True)
class PatchSet:
    """Patches with their provenance, one row per patch.

    patches: uint8 (N, P, P, 3) RGB; label: int8 (N,), 1 = composite, 0 = real; kind, group
    (the picture: a sample key), subject (foreground id), background (background id) and
    split: str arrays (N,).
    """

    patches: np.ndarray
    label: np.ndarray
    kind: np.ndarray
    group: np.ndarray
    subject: np.ndarray
    background: np.ndarray
    split: np.ndarray

    def __len__(self) -> int:
        return int(self.label.shape[0])

    def take(self, index: np.ndarray) -> "PatchSet":
        """The rows at ``index`` (int indices or a bool mask), in that order."""
        return PatchSet(*(getattr(self, f)[index] for f in _FIELDS))

    @staticmethod
    def concat(parts: "list[PatchSet]", size: int) -> "PatchSet":
        """Rows of every part in order (an empty list gives an empty set of ``size`` px patches)."""
        if not parts:
            empty = np.zeros(0, dtype=object).astype(str)
            return PatchSet(np.zeros((0, size, size, 3), np.uint8), np.zeros(0, np.int8),
                            empty, empty, empty, empty, empty)
        return PatchSet(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))


_FIELDS = ("patches", "label", "kind", "group", "subject", "background", "split")


def _rows(patches: np.ndarray, label: int, kind: str, key: str, subject: str, background: str,
          split: str) -> PatchSet:
    n = len(patches)

    def col(v: str) -> np.ndarray:
        return np.array([v] * n, dtype=object).astype(str) if n else np.zeros(0, dtype=object).astype(str)

    return PatchSet(patches, np.full(n, label, dtype=np.int8), col(kind), col(key), col(subject),
                    col(background), col(split))


def hard_paste(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """The broken control: F where ``alpha >= threshold``, else B; uint8 (H, W, 3) RGB.

    fg, bg: uint8 (H, W, 3); alpha: float32 (H, W) in [0, 1].
    """
    if fg.shape != bg.shape or fg.shape[:2] != alpha.shape or fg.ndim != 3:
        raise ValueError(f"hard_paste: fg {fg.shape}, bg {bg.shape} and alpha {alpha.shape} must align")
    return np.where((alpha >= threshold)[..., None], fg, bg).astype(np.uint8)


def _place_op(meta: dict) -> dict:
    for op in meta.get("ops", []):
        if op.get("op") == "place" and op.get("target") == "foreground":
            return op
    raise ValueError(f"sample {meta.get('key')}: meta.json has no foreground 'place' op")


def _jpeg_history(image: np.ndarray, meta: dict, stored_quality: int | None) -> np.ndarray:
    """The composite's post-composite JPEG re-compressions, then its storage as JPEG."""
    for op in meta.get("post_composite", []):
        if op.get("op") == "jpeg":
            image = jpeg_recompress(image, int(op["quality"]))
    if stored_quality is not None:
        image = decode_rgb(encode_rgb(image, "jpg", stored_quality))
    return image


def real_subject_view(photo: np.ndarray, alpha: np.ndarray, meta: dict,
                      stored_quality: int | None) -> tuple[np.ndarray, np.ndarray]:
    """A subject's original photo as its composite saw it: resized to the sample's foreground
    ``place`` op's ``size_hw`` (by its factor ``size_hw / src_hw`` where the photo was rotated
    and cropped first), then through the composite's JPEG
    history (its post-composite JPEG, then storage at ``stored_quality``; None: not stored as JPEG).

    photo: uint8 (H, W, 3); alpha: float32 (H, W) in [0, 1]; meta: the sample's ``meta.json``.
    Returns (uint8 (h, w, 3), float32 (h, w)); the alpha is only resized.
    """
    op = _place_op(meta)
    if tuple(photo.shape[:2]) == tuple(op["src_hw"]):  # exactly the placed size
        hw = (int(op["size_hw"][0]), int(op["size_hw"][1]))
        small, small_alpha = resize_to(photo, hw, "image"), resize_to(alpha, hw, "alpha")
    else:  # rotated and cropped before placing: the same factor
        scale = float(op["size_hw"][0]) / float(op["src_hw"][0])
        small, small_alpha = resize_by_scale(photo, scale, "image"), resize_by_scale(alpha, scale, "alpha")
    return _jpeg_history(small, meta, stored_quality), small_alpha


class _Photos:
    """The subjects' original photos and alphas by file name, decoded once."""

    def __init__(self, image_dir: Path, alpha_dir: Path) -> None:
        self.image_dir, self.alpha_dir, self.cache = image_dir, alpha_dir, {}

    def get(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self.cache:
            stem = Path(name).stem
            alphas = sorted(self.alpha_dir.glob(stem + ".*"))
            image_path = self.image_dir / name
            if not image_path.is_file() or not alphas:
                raise ValueError(f"collect_patches: no photo {image_path} with an alpha {self.alpha_dir}/{stem}.*")
            photo = read_rgb(read_bytes(image_path), str(image_path))
            alpha = read_alpha(read_bytes(alphas[0]), str(alphas[0]))
            self.cache[name] = (photo, alpha)
        return self.cache[name]


def collect_patches(dataset: str | os.PathLike, image_dir: str | os.PathLike, alpha_dir: str | os.PathLike, *,
                    seed: int, size: int = 32, per_sample: int = 6, hard: bool = False,
                    stored_quality: int | None = 95, limit: int | None = None) -> PatchSet:
    """Composite and real patches of every sample of a built dataset (every split).

    dataset: the dataset folder. image_dir / alpha_dir: the subjects' original photos and
    alphas (files matched to ``meta.json["foreground"]["file"]`` by name and stem). Each
    sample gives up to ``per_sample`` patches of each kind, drawn by
    ``np.random.default_rng([seed, sample index, split number])``. ``hard``: the
    broken control (:func:`hard_paste` of the stored layers). ``stored_quality``: the JPEG
    quality of the dataset's ``image.jpg`` (None for PNG images).
    """
    photos = _Photos(Path(image_dir), Path(alpha_dir))
    manifest = read_manifest(dataset)
    parts, n = [], 0
    splits: dict[str, int] = {}
    for entry in manifest.shards:
        for _, (key, members, error) in iter_shard_samples(shard_url(dataset, entry)):
            if error is not None:
                raise ValueError(f"{entry.path}: sample {key}: {error}")
            if limit is not None and n >= limit:
                break
            n += 1
            meta = json.loads(members["meta.json"])
            split = str(meta["split"])
            rng = np.random.default_rng([seed, int(meta["index"]), splits.setdefault(split, len(splits))])
            alpha = decode_alpha(members["alpha.png"])
            image_name = next(m for m in sorted(members) if m.startswith("image."))
            image = decode_rgb(members[image_name])
            if hard:
                fg, bg = find_member(members, "fg"), find_member(members, "bg")
                if fg is None or bg is None:
                    raise ValueError(f"{entry.path}: sample {key}: the hard-paste control needs the fg and bg "
                                     "members (a dataset built with output.layers: false has none)")
                image = hard_paste(decode_rgb(fg), alpha, decode_rgb(bg))
                image = _jpeg_history(image, {}, stored_quality)
            ids = (key, str(meta["foreground"]["id"]), str(meta["background"]["id"]), split)
            comp = boundary_centres(alpha, rng, per_sample, size)
            parts.append(_rows(cut_patches(image, comp, size), 1, "composite", *ids))
            scene = edge_centres(image, rng, per_sample, size, avoid=alpha)
            parts.append(_rows(cut_patches(image, scene, size), 0, "real_scene", *ids))
            small, small_alpha = real_subject_view(*photos.get(str(meta["foreground"]["file"])), meta, stored_quality)
            if min(small_alpha.shape) >= size:
                own = boundary_centres(small_alpha, rng, per_sample, size)
                parts.append(_rows(cut_patches(small, own, size), 0, "real_subject", *ids))
    return PatchSet.concat(parts, size)


def matched(ps: PatchSet, rng: np.random.Generator, *, bins: int = 8, sharpness_bins: int = 0) -> PatchSet:
    """Per split, both labels subsampled to the same edge-contrast histogram
    (:func:`~synth.critic.patches.match_contrast`); rows keep their order. ``sharpness_bins``
    > 0: to the same joint histogram of contrast and
    :func:`~synth.critic.patches.edge_sharpness` (``bins`` x ``sharpness_bins`` cells), so that
    "a sharp edge" alone tells no composite from a real patch (the defocus control)."""
    contrast = edge_contrast(ps.patches)
    stats = np.stack([contrast, edge_sharpness(ps.patches)], axis=1) if sharpness_bins > 0 else None
    keep = []
    for split in sorted(set(ps.split.tolist())):
        pos = np.flatnonzero((ps.split == split) & (ps.label == 1))
        neg = np.flatnonzero((ps.split == split) & (ps.label == 0))
        if stats is not None:
            ka, kb = match_joint(stats[pos], stats[neg], rng, (bins, sharpness_bins))
        else:
            ka, kb = match_contrast(contrast[pos], contrast[neg], rng, bins=bins)
        keep += [pos[ka], neg[kb]]
    return ps.take(np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64))


def relabel_real(ps: PatchSet, rng: np.random.Generator) -> PatchSet:
    """The real-vs-real control: only the real patches, each picture (group) labelled 1 or 0
    at random (about half each, per split), so there is nothing to learn."""
    real = ps.take(ps.label == 0)
    label = np.zeros(len(real), dtype=np.int8)
    for split in sorted(set(real.split.tolist())):
        groups = sorted(set(real.group[real.split == split].tolist()))
        chosen = set(rng.permutation(np.array(groups, dtype=object))[: len(groups) // 2].tolist())
        label[(real.split == split) & np.isin(real.group, list(chosen))] = 1
    return PatchSet(real.patches, label, real.kind, real.group, real.subject, real.background, real.split)


def check_disjoint(train: PatchSet, test: PatchSet) -> None:
    """Raise ValueError if train and test share a picture, a subject or a background."""
    for field in ("group", "subject", "background"):
        common = set(getattr(train, field).tolist()) & set(getattr(test, field).tolist())
        if common:
            raise ValueError(f"train and test share {len(common)} {field} id(s), e.g. {sorted(common)[0]!r}")
