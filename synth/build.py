"""`synth build`: recipe -> prepared inputs -> plan -> shards -> manifest (written last).

Stages: scan the sources; prepare every foreground and background once (validated, F
estimated, cached by content hash); assign splits and lay out shards; render each shard
with the pure function `build_shard(plan, spec, outdir)`; write `manifest.json` last.
A killed build leaves only whole shards (each is renamed into place when complete), and
`resume=True` skips them and redoes the rest to byte-identical output.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shards.manifest import MANIFEST_NAME, Manifest, ShardEntry, SkippedInput, write_manifest
from shards.tar_writer import ShardInfo, sha256_file, write_shard

from .executors import Executor, SerialExecutor
from .plan import BuildPlan, ShardSpec, make_plan
from .prepare import PreparedBg, PreparedFg, atomic_write_bytes, default_cache_dir, prepare_background, prepare_foreground
from .recipe import Recipe, recipe_sha256
from .sample import render_sample
from .sources.imageio import InputError, SizeLimits
from .sources.scan import BgInput, FgInput, Skipped, scan_backgrounds, scan_foregrounds

__all__ = ["BuildError", "BuildReport", "build", "build_shard", "prepare_inputs", "STATE_NAME"]

STATE_NAME = ".build-state.json"


class BuildError(RuntimeError):
    """The build cannot go on; the message says which file or setting and why."""


@dataclass
class BuildReport:
    outdir: Path
    samples: dict[str, int]
    shards_built: int
    shards_reused: int
    skipped: list[Skipped]
    seconds: float
    manifest: Manifest | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def total_samples(self) -> int:
        return sum(self.samples.values())


# ------------------------------------------------------------------ preparation


def _prepare_fg(item: FgInput, estimator: str, cache_dir: str, limits: SizeLimits) -> PreparedFg | Skipped:
    try:
        return prepare_foreground(item, estimator=estimator, cache_dir=cache_dir, limits=limits)
    except InputError as err:
        return Skipped(err.path, err.reason)


def _prepare_bg(item: BgInput, cache_dir: str, limits: SizeLimits) -> PreparedBg | Skipped:
    try:
        return prepare_background(item, cache_dir=cache_dir, limits=limits)
    except InputError as err:
        return Skipped(err.path, err.reason)


def _run_stage(executor: Executor, fn: Callable, items: list, desc: str, progress: bool) -> list:
    """Map `fn` over items with a progress bar; results in item order."""
    from tqdm import tqdm

    results: list = [None] * len(items)
    with tqdm(total=len(items), desc=desc, unit="item", disable=not progress, leave=False) as bar:
        for pos, res in executor.imap_unordered(fn, items):
            results[pos] = res
            bar.update(1)
    return results


def prepare_inputs(recipe: Recipe, cache_dir: str | Path, executor: Executor | None = None,
                   progress: bool = False) -> tuple[list[PreparedFg], list[PreparedBg], list[Skipped]]:
    """Scan and prepare every input once. Bad items are skipped (recorded) or stop the build,
    as `recipe.on_error` says; a missing folder or an empty background pool always stops it."""
    executor = executor or SerialExecutor()
    limits = SizeLimits(recipe.inputs.max_pixels, recipe.inputs.min_side)
    try:
        fg_inputs, skipped = scan_foregrounds(recipe.foregrounds)
        bg_inputs = scan_backgrounds(recipe.backgrounds)
    except InputError as err:
        raise BuildError(str(err)) from None
    if skipped and recipe.on_error == "fail":
        raise BuildError(f"{skipped[0].path}: {skipped[0].reason} (on_error: fail)")
    cache = str(cache_dir)
    fg_results = _run_stage(executor, functools.partial(_prepare_fg, estimator=recipe.composition.fg_estimation,
                                                        cache_dir=cache, limits=limits),
                            fg_inputs, "preparing foregrounds", progress)
    bg_results = _run_stage(executor, functools.partial(_prepare_bg, cache_dir=cache, limits=limits),
                            bg_inputs, "preparing backgrounds", progress)
    bad = [r for r in fg_results + bg_results if isinstance(r, Skipped)]
    if bad and recipe.on_error == "fail":
        raise BuildError(f"{bad[0].path}: {bad[0].reason} (on_error: fail)")
    fgs = [r for r in fg_results if isinstance(r, PreparedFg)]
    bgs = [r for r in bg_results if isinstance(r, PreparedBg)]
    if not fgs:
        raise BuildError(f"no usable foregrounds ({len(fg_inputs)} found, {len(fg_inputs)} unusable): "
                         + "; ".join(f"{s.path}: {s.reason}" for s in (skipped + bad)[:5]))
    if not bgs:
        raise BuildError(f"no usable backgrounds ({len(bg_inputs)} found, all unusable): "
                         + "; ".join(f"{s.path}: {s.reason}" for s in bad[:5]))
    return fgs, bgs, skipped + bad


# ------------------------------------------------------------------ shards


def build_shard(plan: BuildPlan, spec: ShardSpec, outdir: str | Path,
                on_sample: Callable[[], None] | None = None) -> ShardInfo:
    """Render and write one shard: a pure function of (plan, spec). Atomic: whole or absent."""

    def samples():
        for i in range(spec.first, spec.first + spec.count):
            s = render_sample(plan, spec.split, i)
            yield s.key, s.members
            if on_sample is not None:
                on_sample()

    return write_shard(Path(outdir) / spec.filename, samples())


_TAR_OVERHEAD = 512  # one header block per member (plus padding, below one block)


def _samples_per_shard_for_bytes(plan: BuildPlan, max_bytes: int, pilots: int = 8) -> int:
    """Samples per shard so that shards stay under `max_bytes`: the largest of a few pilot
    samples (rendered deterministically, spread over each split) with a 25 % margin."""
    largest = 0
    for split, n in plan.samples.items():
        for i in sorted({round(k * (n - 1) / max(pilots - 1, 1)) for k in range(min(pilots, n))}):
            members = render_sample(plan, split, i).members
            size = sum(len(b) + 2 * _TAR_OVERHEAD for b in members.values())
            largest = max(largest, size)
    fit = int(max_bytes // (largest * 1.25)) if largest else plan.recipe.output.samples_per_shard
    return max(1, min(plan.recipe.output.samples_per_shard, fit))


def _fingerprint(plan: BuildPlan, limit: int | None) -> str:
    data = {
        "recipe_sha256": plan.recipe_sha256,
        "limit": limit,
        "foregrounds": {k: [f.id for f in v] for k, v in plan.foregrounds.items()},
        "backgrounds": {k: [b.id for b in v] for k, v in plan.backgrounds.items()},
        "shards": [[s.split, s.index, s.first, s.count] for s in plan.shards],
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _existing_outputs(outdir: Path) -> list[Path]:
    if not outdir.exists():
        return []
    return sorted(p for p in outdir.iterdir() if p.suffix == ".tar" or p.name in (MANIFEST_NAME, STATE_NAME))


def _clear(outdir: Path) -> None:
    for p in outdir.iterdir():
        if p.is_file() and (p.suffix == ".tar" or p.name in (MANIFEST_NAME, STATE_NAME) or p.name.endswith(".partial")):
            p.unlink()


def _remove_partials(outdir: Path) -> None:
    for p in outdir.glob(".*.partial"):
        p.unlink()


def _versions() -> dict[str, str]:
    """Library versions that can change encoded bytes (recorded for provenance)."""
    import cv2
    import numpy

    out = {"numpy": numpy.__version__, "opencv": cv2.__version__}
    try:
        import simplejpeg

        out["simplejpeg"] = simplejpeg.__version__
    except ImportError:
        pass
    return out


def _shard_info_from_disk(path: Path, count: int) -> ShardInfo:
    return ShardInfo(str(path), count, path.stat().st_size, sha256_file(path))


def build(recipe: Recipe, outdir: str | Path, *, overwrite: bool = False, resume: bool = False,
          limit: int | None = None, executor: Executor | None = None, cache_dir: str | Path | None = None,
          progress: bool = False, log: Callable[[str], None] = lambda s: None) -> BuildReport:
    """Build the dataset described by `recipe` into `outdir`; see the module docstring.

    Raises BuildError for an output folder that already holds a dataset (without `overwrite`
    or `resume`), for unusable inputs under `on_error: fail`, and for a resume whose recipe or
    inputs changed since the interrupted build.
    """
    if overwrite and resume:
        raise BuildError("choose either overwrite or resume, not both")
    t0 = time.perf_counter()
    outdir = Path(outdir)
    executor = executor or SerialExecutor()
    existing = _existing_outputs(outdir)
    if existing and not (overwrite or resume):
        raise BuildError(f"{outdir} already contains a dataset ({existing[0].name}, ...); "
                         "pass --overwrite to replace it or --resume to finish an interrupted build")
    outdir.mkdir(parents=True, exist_ok=True)
    if overwrite:
        _clear(outdir)
    _remove_partials(outdir)

    cache = Path(cache_dir or recipe.cache_dir or default_cache_dir())
    sha = recipe_sha256(recipe)
    log(f"preparing inputs (cache: {cache})")
    fgs, bgs, skipped = prepare_inputs(recipe, cache, executor, progress)
    t_prep = time.perf_counter()
    try:
        plan = make_plan(recipe, sha, fgs, bgs, limit=limit)
        if recipe.output.max_shard_bytes is not None:
            per_shard = _samples_per_shard_for_bytes(plan, recipe.output.max_shard_bytes)
            plan = make_plan(recipe, sha, fgs, bgs, limit=limit, samples_per_shard=per_shard)
    except ValueError as err:
        raise BuildError(str(err)) from None
    fingerprint = _fingerprint(plan, limit)

    state_path = outdir / STATE_NAME
    if resume and state_path.exists():
        state = json.loads(state_path.read_text())
        if state.get("fingerprint") != fingerprint:
            raise BuildError(f"{outdir}: cannot resume: the recipe or its inputs changed since the interrupted "
                             "build (use --overwrite to start again)")
    elif resume and _existing_outputs(outdir):
        raise BuildError(f"{outdir}: cannot resume: no build state found (use --overwrite to start again)")
    atomic_write_bytes(state_path, json.dumps({"fingerprint": fingerprint, "recipe_sha256": sha}).encode())

    done: dict[ShardSpec, ShardInfo] = {}
    todo: list[ShardSpec] = []
    for spec in plan.shards:
        path = outdir / spec.filename
        if resume and path.exists():
            done[spec] = _shard_info_from_disk(path, spec.count)
        else:
            todo.append(spec)
    reused = len(done)
    if reused:
        log(f"resuming: {reused} complete shard(s) kept, {len(todo)} to build")

    from tqdm import tqdm

    total = sum(s.count for s in todo)
    with tqdm(total=total, desc="building", unit="sample", disable=not progress, smoothing=0.1) as bar:
        serial = isinstance(executor, SerialExecutor)
        fn = functools.partial(build_shard, plan, outdir=outdir,
                               on_sample=(lambda: bar.update(1)) if serial else None)
        for pos, info in executor.imap_unordered(fn, todo):
            done[todo[pos]] = info
            if not serial:
                bar.update(todo[pos].count)
    t_build = time.perf_counter()

    entries = [ShardEntry(path=spec.filename, split=spec.split, samples=spec.count, bytes=done[spec].bytes,
                          sha256=done[spec].sha256, first_index=spec.first) for spec in plan.shards]
    manifest = Manifest(
        recipe=recipe.to_json_dict(),
        recipe_sha256=sha,
        splits=dict(plan.samples),
        shards=entries,
        skipped=[SkippedInput(path=s.path, reason=s.reason) for s in skipped],
        extra={
            "name": recipe.name,
            "fingerprint": fingerprint,
            "limit": limit,
            "foregrounds": {k: len(v) for k, v in plan.foregrounds.items()},
            "backgrounds": {k: len(v) for k, v in plan.backgrounds.items()},
            "versions": _versions(),
        },
    )
    max_bytes = recipe.output.max_shard_bytes
    if max_bytes is not None:
        over = [e.path for e in entries if e.bytes > max_bytes]
        if over:
            manifest.extra["oversize_shards"] = over
            log(f"warning: {len(over)} shard(s) exceed max_shard_bytes ({max_bytes}): {', '.join(over[:5])}")
    write_manifest(outdir, manifest)
    t_end = time.perf_counter()
    return BuildReport(outdir, dict(plan.samples), len(todo), reused, skipped, t_end - t0, manifest,
                       {"prepare": t_prep - t0, "render": t_build - t_prep, "total": t_end - t0})
