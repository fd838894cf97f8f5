"""Per-item preparation: read, hash, validate, estimate F, cache — once per item, not per composite.

A prepared foreground is a pair of cache files (F as an RGB PNG, alpha as an 8/16-bit PNG)
named by the item's content hash and the F estimator, so a rerun, a resume or another
recipe over the same data finds them again. A prepared background records its content
hash and size (and is validated by a full decode); procedural backgrounds are rendered
into the cache once.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from shards.atomic import atomic_write_bytes
from shards.codec import encode_alpha, encode_rgb

from .bg_descriptors import describe_background, describe_foreground
from .sources.imageio import (
    InputError,
    SizeLimits,
    decode_alpha,
    decode_rgb,
    decode_rgba,
    exif_orientation,
    image_size,
    read_bytes,
)
from .sources.procedural import procedural_background, procedural_foreground, procedural_id
from .sources.scan import BgInput, FgInput

__all__ = ["PreparedFg", "PreparedBg", "content_id", "prepare_foreground", "prepare_background", "default_cache_dir",
           "size_mismatch"]

CACHE_VERSION = "3"  # 3: descriptors carry the grey-edge illuminant


@dataclass(frozen=True)
class PreparedFg:
    """A foreground ready for compositing; `fg_path`/`alpha_path` are cache files."""

    id: str
    source: str
    kind: str
    name: str  # path relative to the source root (provenance, stable across machines)
    hw: tuple[int, int]
    alpha_bits: int
    estimator: str
    fg_path: str
    alpha_path: str
    descriptor: dict | None = None  # synth.bg_descriptors.FgDescriptor fields

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PreparedBg:
    """A validated background; `path` is the original file (or a cache file if procedural)."""

    id: str
    source: str
    name: str  # path relative to the source root
    path: str
    hw: tuple[int, int]
    file_sha256: str | None = None  # of the file's bytes, checked when read again (None: procedural)
    descriptor: dict | None = None  # synth.bg_descriptors.BgDescriptor fields

    def to_dict(self) -> dict:
        return asdict(self)


def default_cache_dir() -> Path:
    """`$SYNTH_CACHE_DIR`, else `$XDG_CACHE_HOME/matting-synth`, else `~/.cache/matting-synth`."""
    if os.environ.get("SYNTH_CACHE_DIR"):
        return Path(os.environ["SYNTH_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "matting-synth"


def content_id(kind: str, blobs: list[bytes]) -> str:
    """A foreground's id: sha256 over its kind and the sha256 of each of its files' bytes."""
    h = hashlib.sha256(kind.encode())
    for blob in blobs:
        h.update(hashlib.sha256(blob).digest())
    return h.hexdigest()


def _check_alpha(alpha: np.ndarray, name: str) -> None:
    if float(alpha.max()) < 0.5 / 255:
        raise InputError(name, "alpha is empty (all zero): nothing to composite")
    if float(alpha.min()) > 254.5 / 255:
        raise InputError(name, "alpha is fully opaque everywhere (all one): not a matte")


def _stored(w: int, h: int, orientation: int) -> str:
    """`WxH` of the file before an EXIF orientation that gave (w, h) was applied."""
    return f"{h}x{w}" if orientation in (5, 6, 7, 8) else f"{w}x{h}"


def size_mismatch(image_hw: tuple[int, int], alpha_hw: tuple[int, int], alpha_name: str, photo_orientation: int = 1,
                  alpha_orientation: int = 1) -> str:
    """The reason for a photo and its matte of different sizes (both as displayed), saying for
    each size which orientation it is in when EXIF orientation is involved."""
    (ih, iw), (ah, aw) = image_hw, alpha_hw
    if photo_orientation == 1 and alpha_orientation == 1:
        return f"size {iw}x{ih} does not match its alpha {alpha_name} ({aw}x{ah})"
    photo = f"image is {iw}x{ih} (WxH) as displayed"
    if photo_orientation != 1:
        photo += f" after its EXIF orientation {photo_orientation} (stored {_stored(iw, ih, photo_orientation)})"
    if alpha_orientation != 1:
        matte = (f"its alpha {alpha_name} is {aw}x{ah} as displayed after its own EXIF orientation "
                 f"{alpha_orientation} (stored {_stored(aw, ah, alpha_orientation)})")
    else:
        stored = _stored(aw, ah, photo_orientation)
        matte = (f"its alpha {alpha_name} is {aw}x{ah} after the photo's EXIF orientation {photo_orientation} was "
                 f"applied to it (stored {stored}, no orientation of its own)")
        if photo_orientation in (5, 6, 7, 8) and stored == f"{iw}x{ih}":
            matte += ("; the matte seems saved already rotated as displayed: save it in the photo's stored "
                      "orientation (a matte without its own EXIF orientation follows its photo's)")
    return f"size mismatch: {photo}; {matte}"


def _check_same_size(image: np.ndarray, alpha: np.ndarray, image_name: str, alpha_name: str,
                     photo_orientation: int, alpha_orientation: int) -> None:
    if image.shape[:2] != alpha.shape:
        raise InputError(image_name, size_mismatch(image.shape[:2], alpha.shape, alpha_name, photo_orientation,
                                                   alpha_orientation))


def _alpha_bits(alpha: np.ndarray) -> int:
    """16 when the stored alpha carries more than 8 bits of precision."""
    q8 = np.rint(alpha * 255.0) / 255.0
    return 16 if float(np.abs(q8 - alpha).max()) > 0.5 / 65535 + 1e-7 else 8


def prepare_foreground(item: FgInput, *, estimator: str, cache_dir: str | Path,
                       limits: SizeLimits = SizeLimits()) -> PreparedFg:
    """Read, validate and cache one foreground (estimating F for image+alpha sources).

    Raises InputError naming the file for anything unusable. A cache hit (same content hash,
    estimator and cache version) skips decoding and estimation.
    """
    cache = Path(cache_dir)
    if item.kind == "procedural":
        blobs: list[bytes] = []
        item_id = procedural_id("fg", item.seed, item.index, item.size)
    else:
        blobs = [read_bytes(p) for p in item.paths]
        item_id = content_id(item.kind, blobs)
    method = estimator if item.kind == "image_alpha" else "given"
    stem = cache / "fg" / item_id[:2] / f"{item_id}.{method}.v{CACHE_VERSION}"
    fg_path, alpha_path = Path(f"{stem}.fg.png"), Path(f"{stem}.alpha.png")
    meta_path = Path(f"{stem}.json")
    if fg_path.exists() and alpha_path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        return PreparedFg(item_id, item.source, item.kind, item.rel, tuple(meta["hw"]), meta["alpha_bits"],
                          method, str(fg_path), str(alpha_path), meta["descriptor"])

    if item.kind == "procedural":
        fg, alpha = procedural_foreground(item.seed, item.index, item.size)
        bits = 8
    elif item.kind == "rgba":
        fg, alpha = decode_rgba(blobs[0], item.paths[0], limits)
        bits = _alpha_bits(alpha)
    else:
        image_name, alpha_name = item.paths
        image = decode_rgb(blobs[0], image_name, limits)
        photo_orientation = exif_orientation(blobs[0], image_name, limits)
        alpha = decode_alpha(blobs[1], alpha_name, limits, orientation=photo_orientation)
        _check_same_size(image, alpha, image_name, alpha_name, photo_orientation,
                         exif_orientation(blobs[1], alpha_name, limits))
        bits = _alpha_bits(alpha)
        if item.kind == "image_alpha":
            _check_alpha(alpha, alpha_name)
            from .fg_estimation import estimate_foreground

            fg = estimate_foreground(image, alpha, method=estimator)
        else:
            fg = image
    _check_alpha(alpha, item.paths[-1] if item.paths else item.name)
    if bits == 8:
        alpha = np.rint(alpha * 255.0).astype(np.float32) / 255.0

    fg = np.ascontiguousarray(fg)
    descriptor = json.loads(json.dumps(describe_foreground(fg, alpha).to_dict()))  # as read back from the cache
    atomic_write_bytes(fg_path, encode_rgb(fg, "png", fast_png=True))
    atomic_write_bytes(alpha_path, encode_alpha(alpha, bits))
    meta = {"hw": list(alpha.shape), "alpha_bits": bits, "descriptor": descriptor}
    atomic_write_bytes(meta_path, json.dumps(meta, sort_keys=True).encode())  # written last: marks the entry whole
    return PreparedFg(item_id, item.source, item.kind, item.rel, tuple(alpha.shape), bits, method,
                      str(fg_path), str(alpha_path), descriptor)


def prepare_background(item: BgInput, *, cache_dir: str | Path, limits: SizeLimits = SizeLimits()) -> PreparedBg:
    """Validate one background by a full decode, describe it for background choice, and record
    its content hash and size. The result is cached by content hash."""
    cache = Path(cache_dir)
    if item.path is None:
        bg_id = procedural_id("bg", item.seed, item.index, item.size)
        path = cache / "bg" / bg_id[:2] / f"{bg_id}.v{CACHE_VERSION}.png"
        info_path = path.with_suffix(".json")
        if not (path.exists() and info_path.exists()):
            image = procedural_background(item.seed, item.index, item.size)
            atomic_write_bytes(path, encode_rgb(image, "png", fast_png=True))
            atomic_write_bytes(info_path, json.dumps(describe_background(image).to_dict(), sort_keys=True).encode())
        return PreparedBg(bg_id, item.source, item.rel, str(path), tuple(item.size), None,
                          json.loads(info_path.read_text()))
    data = read_bytes(item.path)
    digest = hashlib.sha256(data).hexdigest()
    info_path = cache / "bg" / digest[:2] / f"{digest}.v{CACHE_VERSION}.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
    else:
        image_size(data, item.path, limits)
        image = decode_rgb(data, item.path, limits)  # full decode: catches truncated files now, not mid-build
        info = json.loads(json.dumps({"hw": list(image.shape[:2]), "descriptor": describe_background(image).to_dict()}))
        atomic_write_bytes(info_path, json.dumps(info, sort_keys=True).encode())
    return PreparedBg(digest, item.source, item.rel, item.path, tuple(info["hw"]), digest, info["descriptor"])
