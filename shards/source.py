"""The shards of one split a :class:`shards.MattingDataset` reads: from a manifest, or
from a list of shard URLs."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .clip_names import is_clip_member
from .manifest import manifest_location, read_manifest, shard_url
from .reader import ShardError, count_samples

__all__ = ["ShardSet"]


@dataclass(frozen=True)
class ShardSet:
    """Shard ``i`` is ``urls[i]``, holds ``sizes[i]`` samples, the first being sample
    ``first_index[i]`` of the split; ``sha256`` (manifest only) the expected hashes;
    ``fingerprint`` identifies the split and its shards (resume states carry it);
    ``canvas`` the ``(height, width)`` of the samples when the manifest's recipe says;
    ``layers`` whether the samples have fg/bg members (the manifest's recipe says, else their
    member names; ``None``: nothing to tell by)."""

    source: str | None
    split: str
    urls: list[str]
    sizes: list[int]
    first_index: list[int]
    sha256: list[str] | None
    fingerprint: str
    canvas: tuple[int, int] | None = None
    layers: bool | None = None

    @classmethod
    def resolve(cls, source: str | os.PathLike | Sequence[str], split: str, *, verify: bool = False,
                on_bad: Callable[[ShardError], None] | None = None) -> "ShardSet":
        """``source``: a manifest (its folder, the ``manifest.json`` path, or an fsspec URL
        of either) or a list of shard URLs (each shard is then scanned once to count its
        samples, and ``split`` is only a label; ``verify`` needs a manifest).

        A listed shard that cannot be read or holds no sample goes to ``on_bad`` and counts
        as empty (``on_bad=None``: the :class:`ShardError` is raised). A shard listed
        twice is a ``ValueError``.
        """
        if isinstance(source, (str, os.PathLike)):
            loc = manifest_location(source)
            manifest = read_manifest(loc)
            entries = manifest.shards_of(split)
            ident: list[list] = [[e.path, e.samples, e.sha256, e.first_index] for e in entries]
            return cls(os.fspath(source), split, [shard_url(loc, e) for e in entries],
                       [e.samples for e in entries], [e.first_index for e in entries],
                       [e.sha256 for e in entries], _fingerprint(split, ident), _canvas(manifest.recipe),
                       _layers(manifest.recipe))
        urls = [os.fspath(u) for u in source]
        if not urls or not all(isinstance(u, str) for u in urls):
            raise ValueError(f"source must be a manifest location or a non-empty list of shard URLs, got {source!r}")
        twice = sorted({u for u in urls if urls.count(u) > 1})
        if twice:
            raise ValueError(f"shard listed more than once (its samples would be read twice): {twice[0]}")
        if verify:
            raise ValueError("verify=True needs a manifest (shard URLs carry no sha256)")
        stems: set[str] = set()
        sizes = [_count(u, on_bad, stems) for u in urls]
        first = [int(x) for x in np.cumsum([0] + sizes[:-1])]
        ident = [[os.path.basename(u), n] for u, n in zip(urls, sizes)]
        # no manifest to say whether the samples have layers: their members do (clips: fg_000)
        layers = {"fg", "bg"} <= {(is_clip_member(stem) or (stem,))[0] for stem in stems} if stems else None
        return cls(None, split, urls, sizes, first, None, _fingerprint(split, ident), layers=layers)


def _count(url: str, on_bad: Callable[[ShardError], None] | None, stems: set[str]) -> int:
    """Samples in a listed shard (their member stems go to ``stems``); an unreadable or empty
    one goes to ``on_bad`` and counts 0."""
    try:
        n = count_samples(url, stems)
        if n == 0:
            raise ShardError(f"shard holds no samples (an empty archive): {url}", url)
        return n
    except ShardError as e:
        if on_bad is None:
            raise
        on_bad(e)
        return 0


def _canvas(recipe: dict[str, Any]) -> tuple[int, int] | None:
    """``(height, width)`` of the recipe's canvas, or None if it does not say."""
    canvas = recipe.get("canvas") if isinstance(recipe, dict) else None
    try:
        h, w = int(canvas["height"]), int(canvas["width"])  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        return None
    return (h, w) if h > 0 and w > 0 else None


def _layers(recipe: dict[str, Any]) -> bool | None:
    """Whether the recipe writes the fg/bg layers (``output.layers``, true unless it says
    false; recipes from before the field always wrote them), or None if it is no recipe."""
    if not isinstance(recipe, dict):
        return None
    output = recipe.get("output")
    return not (isinstance(output, dict) and output.get("layers") is False)


def _fingerprint(split: str, ident: list[list]) -> str:
    return hashlib.sha256(json.dumps({"split": split, "shards": ident}, sort_keys=True).encode()).hexdigest()
