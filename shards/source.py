"""The shards of one split a :class:`shards.MattingDataset` reads: from a manifest, or
from a list of shard URLs."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .manifest import manifest_location, read_manifest, shard_url
from .reader import count_samples

__all__ = ["ShardSet"]


@dataclass(frozen=True)
class ShardSet:
    """Shard ``i`` is ``urls[i]``, holds ``sizes[i]`` samples, the first being sample
    ``first_index[i]`` of the split; ``sha256`` (manifest only) the expected hashes;
    ``fingerprint`` identifies the split and its shards (resume states carry it)."""

    source: str | None
    split: str
    urls: list[str]
    sizes: list[int]
    first_index: list[int]
    sha256: list[str] | None
    fingerprint: str

    @classmethod
    def resolve(cls, source: str | os.PathLike | Sequence[str], split: str, *, verify: bool = False
                ) -> "ShardSet":
        """``source``: a manifest (its folder, the ``manifest.json`` path, or an fsspec URL
        of either) or a list of shard URLs (each shard is then scanned once to count its
        samples, and ``split`` is only a label; ``verify`` needs a manifest)."""
        if isinstance(source, (str, os.PathLike)):
            loc = manifest_location(source)
            entries = read_manifest(loc).shards_of(split)
            ident: list[list] = [[e.path, e.samples, e.sha256, e.first_index] for e in entries]
            return cls(os.fspath(source), split, [shard_url(loc, e) for e in entries],
                       [e.samples for e in entries], [e.first_index for e in entries],
                       [e.sha256 for e in entries], _fingerprint(split, ident))
        urls = [os.fspath(u) for u in source]
        if not urls or not all(isinstance(u, str) for u in urls):
            raise ValueError(f"source must be a manifest location or a non-empty list of shard URLs, got {source!r}")
        sizes = [count_samples(u) for u in urls]
        first = [int(x) for x in np.cumsum([0] + sizes[:-1])]
        if verify:
            raise ValueError("verify=True needs a manifest (shard URLs carry no sha256)")
        ident = [[os.path.basename(u), n] for u, n in zip(urls, sizes)]
        return cls(None, split, urls, sizes, first, None, _fingerprint(split, ident))


def _fingerprint(split: str, ident: list[list]) -> str:
    return hashlib.sha256(json.dumps({"split": split, "shards": ident}, sort_keys=True).encode()).hexdigest()
