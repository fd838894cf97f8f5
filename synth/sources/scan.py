"""Listing the inputs a recipe points at (local folders, globs or fsspec URLs).

Scanning only lists and pairs files; reading, hashing and validating them is the
preparation stage's job. Files that cannot be paired (a foreground without its alpha)
are returned as skipped inputs with the reason; a folder that does not exist or cannot
be read is an error (skipping a whole source would silently lose data).
"""
from __future__ import annotations

import glob as globlib
from dataclasses import dataclass
from pathlib import PurePosixPath

import fsspec

from ..recipe import (
    FgAlphaSource,
    FolderBackgrounds,
    ImageAlphaSource,
    ProceduralBackgrounds,
    ProceduralForegrounds,
    RgbaSource,
)
from .imageio import IMAGE_SUFFIXES, InputError

__all__ = ["FgInput", "BgInput", "Skipped", "scan_foregrounds", "scan_backgrounds", "list_images"]


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class FgInput:
    """One foreground before preparation. `paths` depend on `kind`:
    fg_alpha: (fg, alpha); image_alpha: (image, alpha); rgba: (rgba,); procedural: ()."""

    source: str
    kind: str
    paths: tuple[str, ...]
    index: int = -1  # procedural item index
    size: tuple[int, int] = (0, 0)  # procedural size
    seed: int = 0  # procedural seed
    rel: str = ""  # path relative to the source root: stable provenance for meta.json

    @property
    def name(self) -> str:
        return self.paths[0] if self.paths else f"procedural:{self.source}:{self.index}"


@dataclass(frozen=True)
class BgInput:
    source: str
    path: str | None
    index: int = -1
    size: tuple[int, int] = (0, 0)
    seed: int = 0
    rel: str = ""

    @property
    def name(self) -> str:
        return self.path if self.path is not None else f"procedural:{self.source}:{self.index}"


def _is_glob(path: str) -> bool:
    return any(ch in path for ch in "*?[")


def list_images(location: str) -> list[str]:
    """Sorted image files under a folder (recursive), a glob, or an fsspec URL of either."""
    if "://" in location:
        fs, _, roots = fsspec.get_fs_token_paths(location)
        protocol = location.split("://", 1)[0]
        if _is_glob(location):
            found = fs.glob(roots[0]) if len(roots) == 1 else roots
        else:
            if not fs.isdir(roots[0]):
                raise InputError(location, "folder does not exist or is not a folder")
            found = fs.find(roots[0])
        files = [f"{protocol}://{p}" if "://" not in p else p for p in found]
    else:
        if _is_glob(location):
            files = globlib.glob(location, recursive=True)
        else:
            import os

            if not os.path.isdir(location):
                raise InputError(location, "folder does not exist or is not a folder")
            if not os.access(location, os.R_OK | os.X_OK):
                raise InputError(location, "folder is not readable (permission denied)")
            files = []
            for root, dirs, names in os.walk(location, onerror=_raise_walk_error):
                dirs.sort()
                files.extend(os.path.join(root, n) for n in names)
    return sorted(f for f in files if PurePosixPath(f).suffix.lower() in IMAGE_SUFFIXES)


def _raise_walk_error(err: OSError) -> None:
    raise InputError(str(err.filename), f"cannot list folder ({err.strerror})")


def _root(location: str) -> str:
    """The non-glob folder prefix of a location."""
    parts = location.split("/")
    for i, part in enumerate(parts):
        if _is_glob(part):
            return "/".join(parts[:i])
    return location


def relative_name(path: str, location: str) -> str:
    """`path` relative to the source root `location` (POSIX separators)."""
    root = _root(location).rstrip("/")
    return path[len(root) + 1:] if root and path.startswith(root + "/") else PurePosixPath(path).name


def _stem(path: str) -> str:
    return PurePosixPath(path).stem


def _pair_by_stem(first: list[str], second: list[str], first_dir: str, second_dir: str,
                  what: str) -> tuple[list[tuple[str, str]], list[Skipped]]:
    by_stem: dict[str, str] = {}
    skipped: list[Skipped] = []
    for path in second:
        stem = _stem(path)
        if stem in by_stem:
            skipped.append(Skipped(path, f"duplicate stem {stem!r} in {second_dir} (also {by_stem[stem]})"))
            continue
        by_stem[stem] = path
    pairs, used = [], set()
    for path in first:
        stem = _stem(path)
        match = by_stem.get(stem)
        if match is None:
            skipped.append(Skipped(path, f"missing alpha: no image with stem {stem!r} in {second_dir}"))
        elif stem in used:
            skipped.append(Skipped(path, f"duplicate stem {stem!r} in {first_dir}"))
        else:
            used.add(stem)
            pairs.append((path, match))
    for stem, path in sorted(by_stem.items()):
        if stem not in used:
            skipped.append(Skipped(path, f"alpha without {what}: no image with stem {stem!r} in {first_dir}"))
    return pairs, skipped


def _list_source(location: str, field: str) -> list[str]:
    """`list_images` of a recipe field's location; an unusable location's error names the
    field and how to set it."""
    try:
        return list_images(location)
    except InputError as err:
        raise InputError(err.path, f"{err.reason} (recipe field {field}); point it at your data with "
                                   f"--set {field}=/path/to/your/data, or try recipes/demo.yaml "
                                   "(procedural data, nothing to download)") from None


def scan_foregrounds(sources) -> tuple[list[FgInput], list[Skipped]]:
    """All foreground inputs of the recipe's foreground sources, in a stable order."""
    items: list[FgInput] = []
    skipped: list[Skipped] = []
    for n, src in enumerate(sources):
        if isinstance(src, ProceduralForegrounds):
            items.extend(FgInput(src.name, "procedural", (), i, tuple(src.size), src.seed, f"{i:06d}")
                         for i in range(src.count))
        elif isinstance(src, RgbaSource):
            items.extend(FgInput(src.name, "rgba", (p,), rel=relative_name(p, src.path))
                         for p in _list_source(src.path, f"foregrounds.{n}.path"))
        elif isinstance(src, (FgAlphaSource, ImageAlphaSource)):
            first_field = "fg_dir" if isinstance(src, FgAlphaSource) else "image_dir"
            first_dir = getattr(src, first_field)
            what = "foreground" if isinstance(src, FgAlphaSource) else "image"
            pairs, skip = _pair_by_stem(_list_source(first_dir, f"foregrounds.{n}.{first_field}"),
                                        _list_source(src.alpha_dir, f"foregrounds.{n}.alpha_dir"), first_dir,
                                        src.alpha_dir, what)
            items.extend(FgInput(src.name, src.kind, pair, rel=relative_name(pair[0], first_dir)) for pair in pairs)
            skipped.extend(skip)
        else:  # pragma: no cover - the recipe model admits no other kinds
            raise TypeError(f"unknown foreground source {src!r}")
    return items, skipped


def scan_backgrounds(sources) -> list[BgInput]:
    """All background inputs; raises InputError when a pool is empty."""
    items: list[BgInput] = []
    for n, src in enumerate(sources):
        if isinstance(src, ProceduralBackgrounds):
            items.extend(BgInput(src.name, None, i, tuple(src.size), src.seed, f"{i:06d}") for i in range(src.count))
        elif isinstance(src, FolderBackgrounds):
            found = _list_source(src.path, f"backgrounds.{n}.path")
            if not found:
                raise InputError(src.path, f"background pool {src.name!r} contains no JPEG/PNG/WebP images "
                                           f"(recipe field backgrounds.{n}.path)")
            items.extend(BgInput(src.name, p, rel=relative_name(p, src.path)) for p in found)
        else:  # pragma: no cover
            raise TypeError(f"unknown background source {src!r}")
    return items
