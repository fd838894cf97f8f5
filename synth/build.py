"""`synth build`: recipe -> prepared inputs -> plan -> shards -> manifest (written last).

Stages: scan the sources; prepare every foreground and background once (validated, F
estimated, cached by content hash); assign splits and lay out shards; render each shard
with the pure function `build_shard(plan, spec, outdir)`; write `manifest.json` last.
A killed build leaves only whole shards (each is renamed into place when complete), and
`resume=True` skips them and redoes the rest to byte-identical output (`resume.py`).

Any executor runs the preparation and render stages (serial in-process, or Ray tasks; see
`synth.execution`); outputs are identical whatever runs them. The output folder may be a
local path or an fsspec URL (`output.py`).
"""
from __future__ import annotations

import contextlib
import functools
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shards.manifest import Manifest, ShardEntry, SkippedInput
from shards.tar_writer import ShardInfo, write_shard

from .albu import check_transforms
from shards.allocator import retain_freed_memory
from .build_output import BuildError, check_location, complete_shards, ready_output, record_state, refuse_dataset
from .duplicates import drop_duplicates
from .execution import Executor, SerialExecutor, TaskError
from .execution.progress import BoardWatcher
from .lock import LockError, OutputLock
from .output import OutputFolder
from .plan import BuildPlan, ShardSpec, make_plan, sample_key
from .prepare import PreparedBg, PreparedFg, default_cache_dir, prepare_background, prepare_foreground
from .recipe import Recipe, recipe_sha256
from .render import render_sample
from .resume import plan_fingerprint, versions
from .rng import clip_rng, step_rng
from .sources.imageio import InputError, SizeLimits
from .sources.scan import BgInput, FgInput, Skipped
from .video.render_clip import render_clip
from .video.sources import (
    ClipBgInput,
    ClipFgInput,
    prepare_clip_background,
    prepare_clip_foreground,
    scan_video_backgrounds,
    scan_video_foregrounds,
)

__all__ = ["BuildError", "BuildReport", "build", "build_shard", "chunk_size", "prepare_inputs"]


@dataclass
class BuildReport:
    outdir: str  # a local folder (absolute) or an fsspec URL
    samples: dict[str, int]
    shards_built: int
    shards_reused: int
    skipped: list[Skipped]
    seconds: float
    manifest: Manifest | None = None
    timings: dict[str, float] = field(default_factory=dict)
    executor: str = "serial"
    failures: int = 0  # task attempts lost to a dead worker and retried

    @property
    def total_samples(self) -> int:
        return sum(self.samples.values())


# ------------------------------------------------------------------ preparation


def _prepare_fg(item: FgInput | ClipFgInput, estimator: str, cache_dir: str, limits: SizeLimits) -> PreparedFg | Skipped:
    try:
        if isinstance(item, ClipFgInput):
            return prepare_clip_foreground(item, estimator=estimator, cache_dir=cache_dir, limits=limits)
        return prepare_foreground(item, estimator=estimator, cache_dir=cache_dir, limits=limits)
    except InputError as err:
        return Skipped(err.path, err.reason)
    except Exception as err:  # a bug or an environment problem: stop, naming the item
        raise BuildError(f"{' + '.join(item.paths) or item.name}: preparing foreground failed "
                         f"({type(err).__name__}: {err})") from None


def _prepare_bg(item: BgInput | ClipBgInput, cache_dir: str, limits: SizeLimits) -> PreparedBg | Skipped:
    try:
        if isinstance(item, ClipBgInput):
            return prepare_clip_background(item, cache_dir=cache_dir, limits=limits)
        return prepare_background(item, cache_dir=cache_dir, limits=limits)
    except InputError as err:
        return Skipped(err.path, err.reason)
    except Exception as err:
        raise BuildError(f"{item.path or item.name}: preparing background failed ({type(err).__name__}: {err})") from None


def _apply_chunk(fn: Callable, chunk: list) -> list:
    return [fn(item) for item in chunk]


_MAX_CHUNK = 64


def chunk_size(n: int, parallelism: int) -> int:
    """Items per task: about four tasks per worker, at most `_MAX_CHUNK` items (1 when serial)."""
    if parallelism <= 1:
        return 1
    return max(1, min(_MAX_CHUNK, math.ceil(n / (4 * parallelism))))


def _run_stage(executor: Executor, fn: Callable, items: list, desc: str, progress: bool) -> list:
    """Map `fn` over items (in chunks, so that 20k small items are not 20k tasks) with a
    progress bar that counts skipped items; results in item order."""
    from tqdm import tqdm

    results: list = [None] * len(items)
    if not items:
        return results
    size = chunk_size(len(items), executor.parallelism)
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    skipped = 0
    try:
        with tqdm(total=len(items), desc=desc, unit="item", disable=not progress, leave=False) as bar, \
                contextlib.closing(executor.imap_unordered(functools.partial(_apply_chunk, fn), chunks)) as done:
            for pos, chunk_results in done:
                results[pos * size: pos * size + len(chunk_results)] = chunk_results
                skipped += sum(isinstance(r, Skipped) for r in chunk_results)
                bar.update(len(chunk_results))
                if skipped or executor.failures:
                    bar.set_postfix(skipped=skipped, failures=executor.failures, refresh=False)
    except TaskError as err:
        names = ", ".join(_item_name(x) for x in chunks[err.position][:3])
        raise BuildError(f"{desc} ({names}{', ...' if len(chunks[err.position]) > 3 else ''}): {err}") from None
    return results


def _item_name(item) -> str:
    paths = getattr(item, "paths", None) or [getattr(item, "path", None)]
    return " + ".join(str(p) for p in paths if p) or item.name


def prepare_inputs(recipe: Recipe, cache_dir: str | Path, executor: Executor | None = None,
                   progress: bool = False) -> tuple[list[PreparedFg], list[PreparedBg], list[Skipped]]:
    """Scan and prepare every input once. Bad items are skipped (recorded) or stop the build,
    as `recipe.on_error` says; a missing folder or an empty background pool always stops it.
    An input with the content of an earlier one is recorded as its duplicate (`duplicates.py`)."""
    executor = executor or SerialExecutor()
    limits = SizeLimits(recipe.inputs.max_pixels, recipe.inputs.min_side)
    try:
        fg_inputs, skipped = scan_video_foregrounds(recipe)  # image sources alone: scan_foregrounds
        bg_inputs, bg_skipped = scan_video_backgrounds(recipe)
        skipped += bg_skipped
    except InputError as err:
        raise BuildError(str(err)) from None
    if skipped and recipe.on_error == "fail":
        raise BuildError(f"{skipped[0].path}: {skipped[0].reason} (on_error: fail)")
    cache = str(Path(cache_dir).expanduser().resolve())  # workers may run in another folder
    fg_results = _run_stage(executor, functools.partial(_prepare_fg, estimator=recipe.composition.fg_estimation,
                                                        cache_dir=cache, limits=limits),
                            fg_inputs, "preparing foregrounds", progress)
    bg_results = _run_stage(executor, functools.partial(_prepare_bg, cache_dir=cache, limits=limits),
                            bg_inputs, "preparing backgrounds", progress)
    bad = [r for r in fg_results + bg_results if isinstance(r, Skipped)]
    if bad and recipe.on_error == "fail":
        raise BuildError(f"{bad[0].path}: {bad[0].reason} (on_error: fail)")
    # Same content twice: the first in scan order is used, the others are recorded.
    fg_pairs, fg_dups = drop_duplicates([(i, r) for i, r in zip(fg_inputs, fg_results) if isinstance(r, PreparedFg)],
                                        key=lambda p: p[1].id, name=lambda p: p[0].name)
    bg_pairs, bg_dups = drop_duplicates([(i, r) for i, r in zip(bg_inputs, bg_results) if isinstance(r, PreparedBg)],
                                        key=lambda p: p[1].id, name=lambda p: p[0].name)
    fgs = [r for _, r in fg_pairs]
    bgs = [r for _, r in bg_pairs]
    if not fgs:
        raise BuildError(f"no usable foregrounds ({len(fg_inputs)} found, {len(fg_inputs)} unusable): "
                         + "; ".join(f"{s.path}: {s.reason}" for s in (skipped + bad)[:5]))
    if not bgs:
        raise BuildError(f"no usable backgrounds ({len(bg_inputs)} found, all unusable): "
                         + "; ".join(f"{s.path}: {s.reason}" for s in bad[:5]))
    return fgs, bgs, skipped + bad + fg_dups + bg_dups


# ------------------------------------------------------------------ shards


def _inputs_of(plan: BuildPlan, split: str, index: int) -> str:
    """The input files sample `index` of `split` uses (for error messages)."""
    try:
        fg_index = plan.foreground_index(split, index)
        fg = plan.foregrounds[split][fg_index]
        draw = (step_rng if plan.recipe.video is None else clip_rng)(plan.recipe.seed, split, index, "background")
        bg = plan.backgrounds[split][plan.background_index(split, fg_index, draw)]
        return f"foreground {fg.name} ({fg.fg_path}), background {bg.path}"
    except Exception:  # pragma: no cover - best effort only
        return "inputs unknown"


def _render(plan: BuildPlan, split: str, index: int):
    """Sample ``index`` of ``split``: a still composite, or a clip with a video section."""
    return (render_sample if plan.recipe.video is None else render_clip)(plan, split, index)


def build_shard(plan: BuildPlan, spec: ShardSpec, outdir: str | Path,
                on_sample: Callable[[str, int], None] | None = None) -> ShardInfo:
    """Render and write one shard: a pure function of (plan, spec). Atomic: whole or absent.

    `outdir` is a local folder or an fsspec URL; `on_sample(spec.filename, done)` is called
    after each sample with the number rendered so far. Raises BuildError naming the shard, the
    sample and its input files when a sample cannot be rendered or the shard written.
    Keeps freed memory in this worker process for the next sample (shards.allocator).
    """
    retain_freed_memory()  # once per process: each sample's large temporaries reuse freed heap
    out = OutputFolder(outdir)

    def samples():
        for i in range(spec.first, spec.first + spec.count):
            try:
                s = _render(plan, spec.split, i)
            except InputError as err:  # names the file already
                raise BuildError(f"{spec.filename}: sample {sample_key(spec.split, i)}: {err}") from None
            except Exception as err:
                raise BuildError(f"{spec.filename}: sample {sample_key(spec.split, i)} "
                                 f"({_inputs_of(plan, spec.split, i)}): {type(err).__name__}: {err}") from None
            yield s.key, s.members
            if on_sample is not None:
                on_sample(spec.filename, i - spec.first + 1)

    try:
        if out.fs is None:
            return write_shard(out.local / spec.filename, samples())
        with tempfile.TemporaryDirectory(prefix="synth-shard-") as tmp:
            info = write_shard(Path(tmp) / spec.filename, samples())
            out.upload(Path(tmp) / spec.filename, spec.filename)
        return ShardInfo(out.url(spec.filename), info.samples, info.bytes, info.sha256)
    except (OSError, ValueError) as err:
        raise BuildError(f"{out.url(spec.filename)}: cannot write shard ({type(err).__name__}: {err})") from None


_TAR_OVERHEAD = 512  # one header block per member (plus padding, below one block)


def _samples_per_shard_for_bytes(plan: BuildPlan, max_bytes: int, pilots: int = 8) -> int:
    """Samples per shard so that shards stay under `max_bytes`: the largest of a few pilot
    samples (rendered deterministically, spread over each split) with a 25 % margin."""
    largest = 0
    for split, n in plan.samples.items():
        for i in sorted({round(k * (n - 1) / max(pilots - 1, 1)) for k in range(min(pilots, n))}):
            members = _render(plan, split, i).members
            size = sum(len(b) + 2 * _TAR_OVERHEAD for b in members.values())
            largest = max(largest, size)
    fit = int(max_bytes // (largest * 1.25)) if largest else plan.recipe.output.samples_per_shard
    return max(1, min(plan.recipe.output.samples_per_shard, fit))


def _make_plan(recipe: Recipe, fgs: list[PreparedFg], bgs: list[PreparedBg], limit: int | None) -> BuildPlan:
    """The plan; with `output.max_shard_bytes`, laid out again with fewer samples per shard."""
    sha = recipe_sha256(recipe)
    try:
        plan = make_plan(recipe, sha, fgs, bgs, limit=limit)
        if recipe.output.max_shard_bytes is not None:
            per_shard = _samples_per_shard_for_bytes(plan, recipe.output.max_shard_bytes)
            plan = make_plan(recipe, sha, fgs, bgs, limit=limit, samples_per_shard=per_shard)
    except ValueError as err:
        raise BuildError(str(err)) from None
    return plan


def _render_shards(executor: Executor, plan: BuildPlan, out: OutputFolder, todo: list[ShardSpec],
                   progress: bool) -> dict[ShardSpec, ShardInfo]:
    """Render and write the shards in `todo` on the executor, with a progress bar.

    On any exception pending tasks are cancelled and no partial file is left."""
    from tqdm import tqdm

    done: dict[ShardSpec, ShardInfo] = {}
    board = executor.progress_board() if progress and todo else None  # samples reported as tasks run
    try:
        with tqdm(total=sum(s.count for s in todo), desc="building", unit="sample", disable=not progress,
                  smoothing=0.1) as bar, contextlib.ExitStack() as stack:
            watch = stack.enter_context(BoardWatcher(board, {s.filename: s.count for s in todo}, bar)) if board else None
            fn = functools.partial(build_shard, plan, outdir=out.location, on_sample=board and board.report)
            with contextlib.closing(executor.imap_unordered(fn, todo)) as results:
                for pos, info in results:
                    done[todo[pos]] = info
                    if watch is not None:
                        watch.finished(todo[pos].filename)
                    if executor.failures:
                        bar.set_postfix(failures=executor.failures, refresh=False)
    except BaseException as err:
        # Pending tasks were cancelled when `results` closed; whole shards stay for --resume.
        with contextlib.suppress(Exception):
            out.remove_partials()
        if isinstance(err, TaskError):
            raise BuildError(f"{todo[err.position].filename}: {err}") from None
        raise
    finally:
        if board is not None:
            with contextlib.suppress(Exception):
                board.close()
    out.remove_partials()  # what writers killed mid-shard left (their retries wrote the shard)
    return done


def _manifest(plan: BuildPlan, done: dict[ShardSpec, ShardInfo], skipped: list[Skipped], fingerprint: str,
              limit: int | None, log: Callable[[str], None]) -> Manifest:
    """The manifest of the finished build (shards in plan order); oversize shards are listed."""
    recipe = plan.recipe
    entries = [ShardEntry(path=spec.filename, split=spec.split, samples=spec.count, bytes=done[spec].bytes,
                          sha256=done[spec].sha256, first_index=spec.first) for spec in plan.shards]
    manifest = Manifest(
        recipe=recipe.to_json_dict(),
        recipe_sha256=plan.recipe_sha256,
        splits=dict(plan.samples),
        shards=entries,
        skipped=[SkippedInput(path=s.path, reason=s.reason) for s in skipped],
        extra={
            "name": recipe.name,
            "fingerprint": fingerprint,
            "limit": limit,
            "foregrounds": {k: len(v) for k, v in plan.foregrounds.items()},
            "backgrounds": {k: len(v) for k, v in plan.backgrounds.items()},
            "versions": versions(),
        },
    )
    if recipe.video is not None:  # one sample per clip
        frames = recipe.video.frames
        manifest.extra["video"] = {"clips": dict(plan.samples), "frames_per_clip": frames,
                                   "frames": {k: v * frames for k, v in plan.samples.items()}}
    max_bytes = recipe.output.max_shard_bytes
    if max_bytes is not None:
        over = [e.path for e in entries if e.bytes > max_bytes]
        if over:
            manifest.extra["oversize_shards"] = over
            log(f"warning: {len(over)} shard(s) exceed max_shard_bytes ({max_bytes}): {', '.join(over[:5])}")
    return manifest


def build(recipe: Recipe, outdir: str | Path, *, overwrite: bool = False, resume: bool = False,
          limit: int | None = None, executor: Executor | None = None, cache_dir: str | Path | None = None,
          progress: bool = False, log: Callable[[str], None] = lambda s: None) -> BuildReport:
    """Build the dataset described by `recipe` into `outdir` (a folder or an fsspec URL); see
    the module docstring. The executor is used, not closed.

    The output folder is locked for the whole build (`synth.lock`; taking the lock is also the
    check that it can be written, made before any input is read). Raises BuildError for an
    output folder that cannot be written, that another build holds, or that already holds a
    dataset (without `overwrite` or `resume`), for unusable inputs under `on_error: fail`, for a resume whose recipe or
    inputs changed since the interrupted build, and for a sample that fails to render (naming
    its shard, sample and input files). On any exception (Ctrl-C included) pending tasks are
    cancelled and no temporary shard file is left; complete shards stay for `resume`.
    """
    if overwrite and resume:
        raise BuildError("choose either overwrite or resume, not both")
    t0 = time.perf_counter()
    try:
        check_transforms(recipe.foreground_augment.albumentations)  # now, not at the first sample
    except ValueError as err:
        raise BuildError(str(err)) from None
    executor = executor or SerialExecutor()
    out = check_location(str(outdir), executor)
    lock = OutputLock(out, log)
    try:
        lock.acquire()  # also the check that the folder can be written, before any input is read
    except LockError as err:
        raise BuildError(str(err)) from None
    try:
        return _build_locked(recipe, out, overwrite=overwrite, resume=resume, limit=limit, executor=executor,
                             cache_dir=cache_dir, progress=progress, log=log, t0=t0)
    finally:
        lock.release()


def _build_locked(recipe: Recipe, out: OutputFolder, *, overwrite: bool, resume: bool, limit: int | None,
                  executor: Executor, cache_dir: str | Path | None, progress: bool, log: Callable[[str], None],
                  t0: float) -> BuildReport:
    """`build` once the output folder is locked."""
    refuse_dataset(out, overwrite=overwrite, resume=resume)
    cache = Path(cache_dir or recipe.cache_dir or default_cache_dir()).expanduser().resolve()
    log(f"preparing inputs (cache: {cache})")
    fgs, bgs, skipped = prepare_inputs(recipe, cache, executor, progress)
    t_prep = time.perf_counter()
    plan = _make_plan(recipe, fgs, bgs, limit)
    ready_output(out, overwrite=overwrite)  # only once the inputs are usable
    fingerprint = plan_fingerprint(plan, limit)
    record_state(out, plan, fingerprint, resume)
    done, todo = complete_shards(out, plan, resume)
    if done:
        log(f"resuming: {len(done)} complete shard(s) kept, {len(todo)} to build")
    reused = len(done)
    done.update(_render_shards(executor, plan, out, todo, progress))
    t_build = time.perf_counter()
    manifest = _manifest(plan, done, skipped, fingerprint, limit, log)
    out.write_manifest(manifest)
    t_end = time.perf_counter()
    return BuildReport(out.location, dict(plan.samples), len(todo), reused, skipped, t_end - t0, manifest,
                       {"prepare": t_prep - t0, "render": t_build - t_prep, "total": t_end - t0},
                       executor=executor.name, failures=executor.failures)
