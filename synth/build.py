"""`synth build`: recipe -> prepared inputs -> plan -> shards -> manifest (written last).

Stages: scan the sources; prepare every foreground and background once (validated, F
estimated, cached by content hash); assign splits and lay out shards; render each shard
with the pure function `build_shard(plan, spec, outdir)`; write `manifest.json` last.
A killed build leaves only whole shards (each is renamed into place when complete), and
`resume=True` skips them and redoes the rest to byte-identical output.

Any executor runs the preparation and render stages (serial in-process, or Ray tasks; see
`executors.py`); outputs are identical whatever runs them. The output folder may be a local
path (the fast path) or an fsspec URL: a shard is then written to a local temporary file and
uploaded under a temporary name, then moved to its final name, and the manifest goes last.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shards.manifest import MANIFEST_NAME, Manifest, ShardEntry, SkippedInput, write_manifest
from shards.tar_writer import ShardInfo, sha256_file, write_shard

from .executors import Executor, SerialExecutor, TaskError
from .plan import BuildPlan, ShardSpec, make_plan, sample_key
from .prepare import PreparedBg, PreparedFg, atomic_write_bytes, default_cache_dir, prepare_background, prepare_foreground
from .recipe import Recipe, recipe_sha256
from .sample import render_sample, step_rng
from .sources.imageio import InputError, SizeLimits
from .sources.scan import BgInput, FgInput, Skipped, scan_backgrounds, scan_foregrounds

__all__ = ["BuildError", "BuildReport", "build", "build_shard", "prepare_inputs", "software_fingerprint",
           "STATE_NAME"]

STATE_NAME = ".build-state.json"


class BuildError(RuntimeError):
    """The build cannot go on; the message says which file or setting and why."""


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


def _prepare_fg(item: FgInput, estimator: str, cache_dir: str, limits: SizeLimits) -> PreparedFg | Skipped:
    try:
        return prepare_foreground(item, estimator=estimator, cache_dir=cache_dir, limits=limits)
    except InputError as err:
        return Skipped(err.path, err.reason)
    except Exception as err:  # a bug or an environment problem: stop, naming the item
        raise BuildError(f"{' + '.join(item.paths) or item.name}: preparing foreground failed "
                         f"({type(err).__name__}: {err})") from None


def _prepare_bg(item: BgInput, cache_dir: str, limits: SizeLimits) -> PreparedBg | Skipped:
    try:
        return prepare_background(item, cache_dir=cache_dir, limits=limits)
    except InputError as err:
        return Skipped(err.path, err.reason)
    except Exception as err:
        raise BuildError(f"{item.path or item.name}: preparing background failed ({type(err).__name__}: {err})") from None


def _apply_chunk(fn: Callable, chunk: list) -> list:
    return [fn(item) for item in chunk]


_MAX_CHUNK = 64


def _chunk_size(n: int, parallelism: int) -> int:
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
    size = _chunk_size(len(items), executor.parallelism)
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
    cache = str(Path(cache_dir).expanduser().resolve())  # workers may run in another folder
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


# ------------------------------------------------------------------ output folder


def _temp_name(name: str) -> str:
    """A temporary name for `name` no other writer uses (removed by `remove_partials` if left)."""
    return f".{name}.{uuid.uuid4().hex[:16]}.partial"


def _is_partial(name: str) -> bool:
    return name.startswith(".") and name.endswith(".partial")


class _Output:
    """The output folder: a local path (written in place) or an fsspec URL (written through a
    local temporary file, uploaded under a temporary name, then moved to its final name)."""

    def __init__(self, location: str | os.PathLike) -> None:
        s = os.fspath(location)
        self.fs = None
        if "://" in s or "::" in s:
            import fsspec
            from fsspec.implementations.local import LocalFileSystem

            fs, path = fsspec.core.url_to_fs(s)
            if not isinstance(fs, LocalFileSystem):
                self.fs = fs
                self.root = path.rstrip("/") or "/"
                self.location = s.rstrip("/")
                return
            s = path
        self.local = Path(s).expanduser().resolve()
        self.location = str(self.local)

    @property
    def protocol(self) -> str:
        if self.fs is None:
            return "file"
        proto = self.fs.protocol
        return proto if isinstance(proto, str) else proto[0]

    def _path(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"

    def url(self, name: str) -> str:
        return str(self.local / name) if self.fs is None else f"{self.location}/{name}"

    def names(self) -> list[str]:
        if self.fs is None:
            return sorted(p.name for p in self.local.iterdir() if p.is_file()) if self.local.is_dir() else []
        if not self.fs.exists(self.root):
            return []
        return sorted(e["name"].rstrip("/").rsplit("/", 1)[-1] for e in self.fs.ls(self.root, detail=True)
                      if e.get("type") == "file")

    def makedirs(self) -> None:
        if self.fs is None:
            self.local.mkdir(parents=True, exist_ok=True)
        else:
            self.fs.makedirs(self.root, exist_ok=True)

    def exists(self, name: str) -> bool:
        return (self.local / name).exists() if self.fs is None else self.fs.exists(self._path(name))

    def remove(self, name: str) -> None:
        if self.fs is None:
            (self.local / name).unlink(missing_ok=True)
        elif self.fs.exists(self._path(name)):
            self.fs.rm(self._path(name))

    def read_bytes(self, name: str) -> bytes:
        return (self.local / name).read_bytes() if self.fs is None else self.fs.cat_file(self._path(name))

    def write_bytes(self, name: str, data: bytes) -> None:
        """Atomic: readers see the old content or the whole new one."""
        if self.fs is None:
            atomic_write_bytes(self.local / name, data)
            return
        tmp = self._path(_temp_name(name))
        self.fs.pipe_file(tmp, data)
        self.fs.mv(tmp, self._path(name))

    def upload(self, local: Path, name: str) -> None:
        """Put a local file under `name`, atomically (temporary name, then move)."""
        tmp = self._path(_temp_name(name))
        self.fs.put_file(str(local), tmp)
        self.fs.mv(tmp, self._path(name))

    def shard_info(self, name: str, count: int) -> ShardInfo:
        if self.fs is None:
            path = self.local / name
            return ShardInfo(str(path), count, path.stat().st_size, sha256_file(path))
        h, size = hashlib.sha256(), 0
        with self.fs.open(self._path(name), "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
                size += len(block)
        return ShardInfo(self.url(name), count, size, h.hexdigest())

    def remove_partials(self) -> None:
        for name in self.names():
            if _is_partial(name):
                self.remove(name)


# ------------------------------------------------------------------ shards


def _inputs_of(plan: BuildPlan, split: str, index: int) -> str:
    """The input files sample `index` of `split` uses (for error messages)."""
    try:
        fg_index = plan.foreground_index(split, index)
        fg = plan.foregrounds[split][fg_index]
        bg = plan.backgrounds[split][plan.background_index(split, fg_index, step_rng(plan.recipe.seed, split, index,
                                                                                     "background"))]
        return f"foreground {fg.name} ({fg.fg_path}), background {bg.path}"
    except Exception:  # pragma: no cover - best effort only
        return "inputs unknown"


def build_shard(plan: BuildPlan, spec: ShardSpec, outdir: str | Path,
                on_sample: Callable[[], None] | None = None) -> ShardInfo:
    """Render and write one shard: a pure function of (plan, spec). Atomic: whole or absent.

    `outdir` is a local folder or an fsspec URL. Raises BuildError naming the shard, the
    sample and its input files when a sample cannot be rendered or the shard written.
    """
    out = _Output(outdir)

    def samples():
        for i in range(spec.first, spec.first + spec.count):
            try:
                s = render_sample(plan, spec.split, i)
            except InputError as err:  # names the file already
                raise BuildError(f"{spec.filename}: sample {sample_key(spec.split, i)}: {err}") from None
            except Exception as err:
                raise BuildError(f"{spec.filename}: sample {sample_key(spec.split, i)} "
                                 f"({_inputs_of(plan, spec.split, i)}): {type(err).__name__}: {err}") from None
            yield s.key, s.members
            if on_sample is not None:
                on_sample()

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


def _existing_outputs(out: _Output) -> list[str]:
    return [n for n in out.names() if n.endswith(".tar") or n in (MANIFEST_NAME, STATE_NAME)]


def _clear(out: _Output) -> None:
    for name in out.names():
        if name.endswith(".tar") or name in (MANIFEST_NAME, STATE_NAME) or name.endswith(".partial"):
            out.remove(name)


def software_fingerprint() -> dict[str, str]:
    """What decides a shard's bytes besides the recipe and the inputs: the sha256 of this
    project's source (the ``augment``, ``shards`` and ``synth`` packages, every ``.py``
    file) and the versions of the libraries that encode (:func:`_versions`)."""
    import importlib

    h = hashlib.sha256()
    for name in ("augment", "shards", "synth"):
        root = Path(importlib.import_module(name).__file__).resolve().parent
        for path in sorted(root.rglob("*.py")):
            h.update(f"{name}/{path.relative_to(root).as_posix()}".encode() + b"\0")
            h.update(path.read_bytes())
    return {"code_sha256": h.hexdigest(), **_versions()}


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


def _write_manifest(out: _Output, manifest: Manifest) -> None:
    if out.fs is None:
        write_manifest(out.local, manifest)
        return
    with tempfile.TemporaryDirectory(prefix="synth-manifest-") as tmp:
        data = write_manifest(tmp, manifest).read_bytes()
    out.write_bytes(MANIFEST_NAME, data)


def build(recipe: Recipe, outdir: str | Path, *, overwrite: bool = False, resume: bool = False,
          limit: int | None = None, executor: Executor | None = None, cache_dir: str | Path | None = None,
          progress: bool = False, log: Callable[[str], None] = lambda s: None) -> BuildReport:
    """Build the dataset described by `recipe` into `outdir` (a folder or an fsspec URL); see
    the module docstring. The executor is used, not closed.

    Raises BuildError for an output folder that already holds a dataset (without `overwrite`
    or `resume`), for unusable inputs under `on_error: fail`, for a resume whose recipe or
    inputs changed since the interrupted build, and for a sample that fails to render (naming
    its shard, sample and input files). On any exception (Ctrl-C included) pending tasks are
    cancelled and no temporary shard file is left; complete shards stay for `resume`.
    """
    if overwrite and resume:
        raise BuildError("choose either overwrite or resume, not both")
    t0 = time.perf_counter()
    out = _Output(outdir)
    executor = executor or SerialExecutor()
    if out.fs is not None and out.protocol == "memory" and not isinstance(executor, SerialExecutor):
        raise BuildError(f"{out.location}: a memory:// output lives in this process only; "
                         "use it with the serial executor (--workers 0)")
    existing = _existing_outputs(out)
    if existing and not (overwrite or resume):
        raise BuildError(f"{out.location} already contains a dataset ({existing[0]}, ...); "
                         "pass --overwrite to replace it or --resume to finish an interrupted build")
    out.makedirs()
    if overwrite:
        _clear(out)
    out.remove_partials()

    cache = Path(cache_dir or recipe.cache_dir or default_cache_dir()).expanduser().resolve()
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

    software = software_fingerprint()
    if resume and out.exists(STATE_NAME):
        state = json.loads(out.read_bytes(STATE_NAME))
        if state.get("fingerprint") != fingerprint:
            raise BuildError(f"{out.location}: cannot resume: the recipe or its inputs changed since the "
                             "interrupted build (use --overwrite to start again)")
        before = state.get("software") or {}
        if before != software:
            changed = sorted(k for k in set(before) | set(software) if before.get(k) != software.get(k))
            raise BuildError(f"{out.location}: cannot resume: the software changed since the interrupted build "
                             f"({', '.join(changed)}), so new shards would not match the finished ones "
                             "(use --overwrite to start again)")
    elif resume and _existing_outputs(out):
        raise BuildError(f"{out.location}: cannot resume: no build state found (use --overwrite to start again)")
    out.write_bytes(STATE_NAME, json.dumps({"fingerprint": fingerprint, "recipe_sha256": sha,
                                            "software": software}).encode())

    done: dict[ShardSpec, ShardInfo] = {}
    todo: list[ShardSpec] = []
    present = set(out.names()) if resume else set()
    for spec in plan.shards:
        if spec.filename in present:
            done[spec] = out.shard_info(spec.filename, spec.count)
        else:
            todo.append(spec)
    reused = len(done)
    if reused:
        log(f"resuming: {reused} complete shard(s) kept, {len(todo)} to build")

    from tqdm import tqdm

    total = sum(s.count for s in todo)
    serial = isinstance(executor, SerialExecutor)
    try:
        with tqdm(total=total, desc="building", unit="sample", disable=not progress, smoothing=0.1) as bar:
            fn = functools.partial(build_shard, plan, outdir=out.location,
                                   on_sample=(lambda: bar.update(1)) if serial else None)
            with contextlib.closing(executor.imap_unordered(fn, todo)) as results:
                for pos, info in results:
                    done[todo[pos]] = info
                    if not serial:
                        bar.update(todo[pos].count)
                    if executor.failures:
                        bar.set_postfix(failures=executor.failures, refresh=False)
    except BaseException as err:
        # Pending tasks were cancelled when `results` closed; whole shards stay for --resume.
        with contextlib.suppress(Exception):
            out.remove_partials()
        if isinstance(err, TaskError):
            raise BuildError(f"{todo[err.position].filename}: {err}") from None
        raise
    out.remove_partials()  # what writers killed mid-shard left (their retries wrote the shard)
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
    _write_manifest(out, manifest)
    t_end = time.perf_counter()
    return BuildReport(out.location, dict(plan.samples), len(todo), reused, skipped, t_end - t0, manifest,
                       {"prepare": t_prep - t0, "render": t_build - t_prep, "total": t_end - t0},
                       executor=executor.name, failures=executor.failures)
