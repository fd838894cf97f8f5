"""Resuming an interrupted build: the build state file and the fingerprints it checks.

`.build-state.json` (written before any shard) records the plan's fingerprint (recipe
hash, limit, the items of every split, the shard layout) and the software's (the sha256
of this project's source and the encoding libraries' versions). `--resume` keeps the
complete shards only when both are unchanged, so the finished dataset is byte-identical
to an uninterrupted build. A state with no shard and no manifest beside it is no dataset
(its build stopped before the first shard): a new build replaces it, and `--resume` starts
from scratch, as nothing is kept.
"""
from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path

from shards.manifest import MANIFEST_NAME

from .output import OutputFolder
from .plan import BuildPlan

__all__ = ["STATE_NAME", "ResumeError", "check_resumable", "clear_outputs", "existing_outputs", "plan_fingerprint",
           "software_fingerprint", "versions", "write_state"]

STATE_NAME = ".build-state.json"


class ResumeError(RuntimeError):
    """The folder cannot be resumed (no state, or the recipe, inputs or software changed)."""


def plan_fingerprint(plan: BuildPlan, limit: int | None) -> str:
    """sha256 of what decides which shards exist and what they hold (besides the software)."""
    data = {
        "recipe_sha256": plan.recipe_sha256,
        "limit": limit,
        "foregrounds": {k: [f.id for f in v] for k, v in plan.foregrounds.items()},
        "backgrounds": {k: [b.id for b in v] for k, v in plan.backgrounds.items()},
        "shards": [[s.split, s.index, s.first, s.count] for s in plan.shards],
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def software_fingerprint() -> dict[str, str]:
    """What decides a shard's bytes besides the recipe and the inputs: the sha256 of this
    project's source (the ``augment``, ``shards`` and ``synth`` packages, every ``.py``
    file) and the versions of the libraries that encode (:func:`versions`)."""
    h = hashlib.sha256()
    for name in ("augment", "shards", "synth"):
        root = Path(importlib.import_module(name).__file__).resolve().parent
        for path in sorted(root.rglob("*.py")):
            h.update(f"{name}/{path.relative_to(root).as_posix()}".encode() + b"\0")
            h.update(path.read_bytes())
    return {"code_sha256": h.hexdigest(), **versions()}


def versions() -> dict[str, str]:
    """Library versions that can change encoded bytes (recorded for provenance)."""
    import cv2
    import numpy
    import simplejpeg

    return {"numpy": numpy.__version__, "opencv": cv2.__version__, "simplejpeg": simplejpeg.__version__}


def existing_outputs(out: OutputFolder) -> list[str]:
    """Names in `out` that belong to a (possibly unfinished) dataset: shards and the manifest.
    A build state alone is not a dataset: the build that wrote it failed before its first
    shard, and nothing of it needs keeping."""
    return [n for n in out.names() if n.endswith(".tar") or n == MANIFEST_NAME]


def clear_outputs(out: OutputFolder) -> None:
    """Remove a previous dataset (shards, manifest, state, partial files) from `out`."""
    for name in out.names():
        if name.endswith(".tar") or name in (MANIFEST_NAME, STATE_NAME) or name.endswith(".partial"):
            out.remove(name)


def check_resumable(out: OutputFolder, fingerprint: str, software: dict[str, str]) -> None:
    """Raise ResumeError unless `out` holds the state of a build with the same fingerprints
    (a folder without shards or manifest may be "resumed" whatever its state says: nothing is
    kept, so the build starts from scratch)."""
    if not existing_outputs(out):
        return
    if out.exists(STATE_NAME):
        state = json.loads(out.read_bytes(STATE_NAME))
        if state.get("fingerprint") != fingerprint:
            raise ResumeError(f"{out.location}: cannot resume: the recipe or its inputs changed since the "
                              "interrupted build (use --overwrite to start again)")
        before = state.get("software") or {}
        if before != software:
            changed = sorted(k for k in set(before) | set(software) if before.get(k) != software.get(k))
            raise ResumeError(f"{out.location}: cannot resume: the software changed since the interrupted build "
                              f"({', '.join(changed)}), so new shards would not match the finished ones "
                              "(use --overwrite to start again)")
    elif existing_outputs(out):
        raise ResumeError(f"{out.location}: cannot resume: no build state found (use --overwrite to start again)")


def write_state(out: OutputFolder, fingerprint: str, recipe_sha: str, software: dict[str, str]) -> None:
    out.write_bytes(STATE_NAME, json.dumps({"fingerprint": fingerprint, "recipe_sha256": recipe_sha,
                                            "software": software}).encode())
