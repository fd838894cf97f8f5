"""The dataset manifest: ``manifest.json`` beside the shards, written last.

It lists every shard (path relative to the manifest's folder, split, sample
count, byte size, sha256 and the global index of its first sample), the
recipe and its hash, the samples per split and every input that was skipped
and why. It is written atomically and deterministically (sorted keys, indent
2, trailing newline), so the same build gives the same bytes.
"""
from __future__ import annotations

import json
import os
import posixpath
from pathlib import Path
from typing import Any

import fsspec
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .atomic import atomic_write_bytes

__all__ = [
    "MANIFEST_NAME",
    "ShardEntry",
    "SkippedInput",
    "Manifest",
    "write_manifest",
    "read_manifest",
    "manifest_location",
    "shard_url",
    "shard_filename",
]

MANIFEST_NAME = "manifest.json"


def shard_filename(split: str, index: int) -> str:
    """``{split}-{index:06d}.tar``, the name of shard ``index`` of ``split``."""
    return f"{split}-{index:06d}.tar"


class ShardEntry(BaseModel):
    """One shard: ``path`` is relative to the manifest's folder (POSIX separators)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1)
    split: str = Field(min_length=1)
    samples: int = Field(ge=0)
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    first_index: int = Field(ge=0)

    @field_validator("path")
    @classmethod
    def _relative(cls, v: str) -> str:
        if "://" in v or v.startswith("/") or "\\" in v or ".." in v.split("/"):
            raise ValueError(f"shard path must be relative, POSIX and inside the folder: {v!r}")
        return v


class SkippedInput(BaseModel):
    """An input the build skipped, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    reason: str


class Manifest(BaseModel):
    """The whole manifest; ``splits`` maps split name to its sample count."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    recipe: dict[str, Any]
    recipe_sha256: str
    splits: dict[str, int]
    shards: list[ShardEntry]
    skipped: list[SkippedInput] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _each_shard_once(self) -> "Manifest":
        """A shard listed twice (by path, or the same bytes under two names) would be read twice."""
        paths: set[str] = set()
        hashes: dict[str, str] = {}
        for e in self.shards:
            if e.path in paths:
                raise ValueError(f"shard {e.path!r} is listed more than once (its samples would be read twice)")
            paths.add(e.path)
            if e.samples and e.sha256 in hashes:
                raise ValueError(f"shards {hashes[e.sha256]!r} and {e.path!r} have the same sha256 "
                                 "(one shard listed under two names; its samples would be read twice)")
            hashes[e.sha256] = e.path
        return self

    def shards_of(self, split: str) -> list[ShardEntry]:
        """The shards of ``split`` in manifest order; ``ValueError`` naming the split if none."""
        out = [s for s in self.shards if s.split == split]
        if not out:
            known = sorted({s.split for s in self.shards})
            raise ValueError(f"no shards for split {split!r} in manifest (splits: {known})")
        return out


def _dumps(manifest: Manifest) -> str:
    return json.dumps(manifest.model_dump(mode="json"), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write_manifest(outdir: str | os.PathLike, manifest: Manifest) -> Path:
    """Write ``outdir/manifest.json`` atomically (temp file, fsync, ``os.replace``); return its path."""
    folder = Path(outdir)
    final = folder / MANIFEST_NAME
    atomic_write_bytes(final, _dumps(manifest).encode("utf-8"))
    return final


def _is_url(s: str) -> bool:
    return "://" in s


def manifest_location(path_or_url: str | os.PathLike) -> str:
    """The manifest file for a folder, a ``manifest.json`` path or an fsspec URL."""
    s = os.fspath(path_or_url)
    if _is_url(s):
        if s.endswith(".json"):
            return s
        return s.rstrip("/") + "/" + MANIFEST_NAME
    p = Path(s)
    if p.is_dir():
        return str(p / MANIFEST_NAME)
    return str(p)


def read_manifest(path_or_url: str | os.PathLike) -> Manifest:
    """Read and validate a manifest from a folder, a ``manifest.json`` path or an fsspec URL.

    Raises ``FileNotFoundError`` or ``ValueError`` naming the file when it is
    missing or invalid.
    """
    loc = manifest_location(path_or_url)
    try:
        with fsspec.open(loc, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"manifest not found: {loc}") from None
    except IsADirectoryError:
        raise FileNotFoundError(f"manifest not found: {loc} is a directory") from None
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"invalid manifest {loc}: not UTF-8 JSON ({e})") from None
    try:
        return Manifest.model_validate(obj)
    except ValidationError as e:
        raise ValueError(f"invalid manifest {loc}: {e}") from None


def shard_url(manifest_loc: str | os.PathLike, entry: ShardEntry | str) -> str:
    """The location of ``entry`` (or a relative shard path) for a manifest location.

    ``manifest_loc`` is anything :func:`read_manifest` accepts; the result is a
    local path for local manifests and a URL of the same protocol otherwise.
    """
    rel = entry.path if isinstance(entry, ShardEntry) else str(entry)
    loc = manifest_location(manifest_loc)
    if _is_url(loc):
        base = loc.rsplit("/", 1)[0]
        return base + "/" + rel
    return str(Path(posixpath.dirname(Path(loc).as_posix()) or ".") / rel)
