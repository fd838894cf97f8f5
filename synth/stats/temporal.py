"""Realism in time of a clip dataset (video): the temporal F/B indicators of every clip.

A clip sample (``clip.json`` plus ``image_{t:03d}.*`` and ``alpha_{t:03d}.png`` per frame,
docs/format.md) is measured by :func:`augment.temporal_mismatch.temporal_mismatch` on its
frames decoded at analysis resolution (reduced like the still statistics, so that datasets of
different canvas sizes are measured alike) with rings :data:`TEMPORAL_BAND_PX` wide at an
800-px long side.  :func:`measure_clip_members` gives one clip's ``temporal.*`` scalars (used
by ``synth stats``), :func:`measure_clip_dataset` every clip of a built dataset (used by
``benchmarks/bench_realism.py --video``), and :func:`mismatch_table` the comparison of
datasets against a baseline: per indicator the mean distance to "no mismatch" (0) and its
ratio against the baseline's.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from augment.temporal_mismatch import TEMPORAL_INDICATORS, temporal_mismatch
from shards.clip_names import is_clip_member
from shards.codec import decode_alpha, decode_rgb, sniff_format

from .realism_report import dataset_samples

__all__ = ["TEMPORAL_BAND_PX", "TEMPORAL_IMPL", "clip_layers", "clip_still_view", "is_clip", "measure_clip_dataset",
           "measure_clip_members", "mismatch_table", "mean_distance"]

#: The temporal measures' implementation, named in the stats report.
TEMPORAL_IMPL = "augment.temporal_mismatch.temporal_mismatch"
#: Ring width in px at an 800-px long side (scaled with the analysed frames' long side).
TEMPORAL_BAND_PX = 48.0
_BAND_REFERENCE = 800.0
_REDUCE_FLAGS = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


def is_clip(members: Mapping[str, bytes]) -> bool:
    """Whether a sample's members are a clip's (it has ``clip.json``)."""
    return "clip.json" in members


def clip_still_view(members: Mapping[str, bytes]) -> dict[str, bytes]:
    """A clip's middle frame as a still sample's members (``meta.json``, ``image.*``, ``alpha.png``,
    ``trimap.png``), for the still statistics. ValueError when the clip has no frames."""
    names = _frame_names(members)
    frames = sorted(names.get("image", {}))
    if not frames:
        raise ValueError("clip without image_NNN members")
    mid = frames[len(frames) // 2]
    out = {k: v for k, v in members.items() if k == "meta.json"}
    for stem, by_frame in names.items():
        if mid in by_frame and stem in ("image", "alpha", "trimap"):
            out[f"{stem}.{by_frame[mid].split('.', 1)[1]}"] = members[by_frame[mid]]
    return out


def _frame_names(members: Mapping[str, bytes]) -> dict[str, dict[int, str]]:
    out: dict[str, dict[int, str]] = {}
    for name in members:
        stem = name.split(".", 1)[0]
        found = is_clip_member(stem)
        if found is not None:
            out.setdefault(found[0], {})[found[1]] = name
    return out


def clip_layers(members: Mapping[str, bytes], analysis_side: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A clip's frames and alphas at analysis resolution.

    The frames are reduced by ``r`` in (1, 2, 4, 8), the largest that keeps their long side
    ``>= analysis_side`` (JPEG frames by DCT scaling, PNG ones by area averaging); the alphas
    are area-averaged to the same size.

    Returns:
        ``(frames uint8 (T, h, w, 3) RGB, alphas float32 (T, h, w) in [0, 1])``.
    Raises:
        ValueError naming the member when a frame's image or alpha is missing, undecodable or
        of another size.
    """
    names = _frame_names(members)
    images, alphas = names.get("image", {}), names.get("alpha", {})
    if not images:
        raise ValueError("clip without image_NNN members")
    if sorted(images) != list(range(len(images))) or sorted(alphas) != sorted(images):
        raise ValueError(f"clip frames are not numbered 0..{len(images) - 1} in both image_NNN "
                         f"({len(images)}) and alpha_NNN ({len(alphas)}) members")
    frames_out, alphas_out = [], []
    size: tuple[int, int] | None = None
    reduce = 1
    for t in range(len(images)):
        alpha = decode_alpha(bytes(members[alphas[t]]))
        if size is None:
            size = alpha.shape
            while reduce < 8 and max(size) / (2 * reduce) >= analysis_side:
                reduce *= 2
        if alpha.shape != size:
            raise ValueError(f"{alphas[t]} is {alpha.shape[1]}x{alpha.shape[0]}, frame 0's {size[1]}x{size[0]}")
        data = bytes(members[images[t]])
        want = (-(-size[0] // reduce), -(-size[1] // reduce))
        if reduce > 1 and sniff_format(data) == "jpg":
            bgr = cv2.imdecode(np.frombuffer(data, np.uint8), _REDUCE_FLAGS[reduce])
            if bgr is None:
                raise ValueError(f"{images[t]}: cannot decode {len(data)} bytes")
            image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        else:
            image = decode_rgb(data)
            if image.shape[:2] != size:
                raise ValueError(f"{images[t]} is {image.shape[1]}x{image.shape[0]}, its alpha {size[1]}x{size[0]}")
            if reduce > 1:
                image = cv2.resize(image, (want[1], want[0]), interpolation=cv2.INTER_AREA)
        if image.shape[:2] != want:
            raise ValueError(f"{images[t]} does not match its alpha's size {size[1]}x{size[0]}")
        if reduce > 1:
            alpha = cv2.resize(alpha, (want[1], want[0]), interpolation=cv2.INTER_AREA)
        frames_out.append(image)
        alphas_out.append(alpha)
    return np.stack(frames_out), np.stack(alphas_out).astype(np.float32)


def measure_clip_members(members: Mapping[str, bytes], analysis_side: int = 256) -> dict[str, float]:
    """The temporal indicators of one clip sample, as ``{"temporal.<key>": value}``
    (:data:`augment.temporal_mismatch.TEMPORAL_KEYS`; ``nan`` where not measurable)."""
    frames, alphas = clip_layers(members, analysis_side)
    band = TEMPORAL_BAND_PX * max(frames.shape[1:3]) / _BAND_REFERENCE
    return {f"temporal.{k}": float(v) for k, v in temporal_mismatch(frames, alphas, band_px=band).items()}


def _clip_member(member: str) -> bool:
    return member == "clip.json" or member.startswith(("image_", "alpha_"))


def measure_clip_dataset(path: str | os.PathLike, *, limit: int | None = None,
                         analysis_side: int = 256) -> list[dict[str, float]]:
    """The temporal indicators (keys without the ``temporal.`` prefix) of every clip (or the first
    ``limit``) of a built clip dataset (folder or manifest). ValueError naming the sample for a
    sample that is not a clip."""
    out = []
    for key, members in dataset_samples(path, limit, _clip_member):
        if not is_clip(members):
            raise ValueError(f"{path}: sample {key} is not a clip (no clip.json): build a recipe with a video section")
        try:
            measures = measure_clip_members(members, analysis_side)
        except ValueError as e:
            raise ValueError(f"{path}: sample {key}: {e}") from None
        out.append({k.split(".", 1)[1]: v for k, v in measures.items()})
    return out


def mean_distance(measures: Sequence[Mapping[str, float]], key: str) -> tuple[float, int]:
    """(mean ``|value|`` of ``key`` over the clips where it is finite: the distance to "no
    mismatch", i.e. the Wasserstein-1 distance to a point mass at 0; the number of such clips)."""
    v = np.array([float(m.get(key, math.nan)) for m in measures], np.float64)
    v = v[np.isfinite(v)]
    return (float(np.mean(np.abs(v))) if v.size else math.nan), int(v.size)


def mismatch_table(datasets: Mapping[str, Sequence[Sequence[Mapping[str, float]]]], baseline: str,
                   indicators: Sequence[str] = TEMPORAL_INDICATORS) -> tuple[str, dict[str, dict[str, list[float]]]]:
    """Plain-text table of each indicator's mean distance to "no mismatch" per dataset and seed,
    and its ratio against ``baseline`` measured on the same seed.

    Args:
        datasets: name -> one list of clip measures per seed (the same number of seeds each).
        baseline: the dataset the others are divided by (the naive one).
    Returns:
        (the table, ``{indicator: {name: [ratio per seed]}}``); a ratio is ``nan`` where the
        baseline's distance is 0 or not measurable.
    """
    if baseline not in datasets:
        raise ValueError(f"baseline {baseline!r} is not among the datasets {sorted(datasets)}")
    seeds = len(datasets[baseline])
    if any(len(v) != seeds for v in datasets.values()):
        raise ValueError("every dataset needs one list of clip measures per seed, the same number of seeds")
    others = [n for n in datasets if n != baseline]
    head = ["indicator"] + [f"|{n}| (mean over seeds)" for n in datasets] + [f"{n}/{baseline} per seed" for n in others]
    rows, ratios = [], {}
    for key in indicators:
        dist = {n: [mean_distance(per_seed, key)[0] for per_seed in v] for n, v in datasets.items()}
        ratios[key] = {n: [d / b if math.isfinite(d) and math.isfinite(b) and b > 0 else math.nan
                           for d, b in zip(dist[n], dist[baseline])] for n in others}
        rows.append([key] + [f"{np.nanmean(dist[n]):.3f}" if np.isfinite(dist[n]).any() else "nan" for n in datasets]
                    + [" ".join(f"{r:.2f}" for r in ratios[key][n]) for n in others])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = [" | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in [head] + rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines), ratios
