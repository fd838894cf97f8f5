"""`synth validate`'s look at the inputs: every file read once, its header checked (readable,
an image, within the size limits), and inputs with the same content found, as the build
would find them."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from .duplicates import drop_duplicates
from .prepare import content_id
from .sources.imageio import InputError, SizeLimits, image_size, read_bytes
from .sources.scan import BgInput, FgInput, Skipped

__all__ = ["InputCheck", "check_inputs"]


@dataclass
class InputCheck:
    """files: input files looked at; bad: those the build would skip or stop at; duplicates:
    inputs with the content of an earlier one (the build records them as skipped)."""

    files: int = 0
    bad: list[InputError] = field(default_factory=list)
    duplicates: list[Skipped] = field(default_factory=list)


def _read(path: str, limits: SizeLimits, check: InputCheck) -> bytes | None:
    check.files += 1
    try:
        data = read_bytes(path)
        image_size(data, path, limits)
        return data
    except InputError as err:
        check.bad.append(err)
        return None


def check_inputs(fgs: list[FgInput], bgs: list[BgInput], limits: SizeLimits) -> InputCheck:
    """Header check and duplicate search over the scanned inputs (procedural ones need neither)."""
    check = InputCheck()
    fg_ids: list[tuple[FgInput, str]] = []
    for item in fgs:
        blobs = [_read(p, limits, check) for p in item.paths]
        if item.paths and all(b is not None for b in blobs):
            fg_ids.append((item, content_id(item.kind, blobs)))
    bg_ids: list[tuple[BgInput, str]] = []
    for bg in bgs:
        if bg.path is not None and (data := _read(bg.path, limits, check)) is not None:
            bg_ids.append((bg, hashlib.sha256(data).hexdigest()))
    for pairs in (fg_ids, bg_ids):
        check.duplicates += drop_duplicates(pairs, key=lambda p: p[1], name=lambda p: p[0].name)[1]
    return check
