"""Streaming collection: read every shard once, measure samples, merge accumulators.

Each shard is read sequentially with :func:`shards.reader.iter_tar_samples` (bytes
only, nothing unpickled) through a hashing reader, so its sha256 is checked in the
same pass. Samples are measured with :func:`~synth.stats.measure.measure_sample` and
folded into an :class:`Accumulator` per shard; shard accumulators are merged in
manifest order, whatever ran them (in-process, a process pool or Ray tasks), so the
result does not depend on the executor or the number of workers. Memory is bounded
by one shard's samples plus, per measured sample, its key and 64-bit perceptual hash
(for the leakage check), and per foreground/background id a few counters.
"""
from __future__ import annotations

import hashlib
import io
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

import numpy as np

from shards.manifest import Manifest, ShardEntry, manifest_location, read_manifest, shard_url
from shards.reader import ShardError, iter_tar_samples, open_shard

from .accum import Moments, ScalarAcc, scalar_acc
from .measure import SampleMeasures, measure_sample
from .ops import OpsAcc, ParamAcc, flatten_params

__all__ = [
    "StatsOptions",
    "DatasetStats",
    "Accumulator",
    "ShardResult",
    "collect_stats",
    "select_positions",
]

#: Top-level meta.json keys interpreted here; any other key is summarised generically.
KNOWN_META_KEYS = frozenset({
    "key", "split", "index", "seed", "recipe_sha256", "size", "foreground", "background",
    "ops", "trimap", "post_composite",
})
_ITEM_KEYS = frozenset({"id", "source", "file", "kind", "estimator"})
_MAX_EXAMPLES = 5
_MAX_BAD = 1000


@dataclass(frozen=True)
class StatsOptions:
    """How to collect statistics.

    sample: measure only this many samples, spread uniformly over the dataset
        (deterministic); ``None`` measures all.
    window: side (analysis pixels) of the boundary window for the realism measures.
    check_trimaps: also decode every trimap for its unknown share and its consistency
        with the alpha (about 20 % more time; band widths come from meta.json anyway).
    contact: number of random samples (seeded by ``seed``) in the contact sheet.
    workers: 0 or 1 runs in this process; N >= 2 uses a process pool of N (or, with
        ``ray``, keeps N Ray tasks in flight; 0 then means "number of Ray CPUs").
    ray / ray_address: run one Ray task per shard on a local or existing cluster.
    verify: hash every shard that is read and compare with the manifest.
    phash_distance: Hamming threshold of near-duplicate composites across splits.
    overuse_factor / overuse_min_uses: warn when an item is used more than
        ``overuse_factor`` x the median and at least ``overuse_min_uses`` times.
    """

    sample: int | None = None
    window: int = 96
    check_trimaps: bool = False
    contact: int = 12
    thumb_height: int = 128
    seed: int = 0
    workers: int = 0
    ray: bool = False
    ray_address: str | None = None
    verify: bool = True
    phash_distance: int = 4
    overuse_factor: float = 3.0
    overuse_min_uses: int = 10
    progress: bool = False

    def __post_init__(self) -> None:
        checks = [
            ("sample", self.sample is None or self.sample >= 1, self.sample),
            ("window", 16 <= self.window <= 4096, self.window),
            ("contact", 0 <= self.contact <= 1000, self.contact),
            ("thumb_height", 16 <= self.thumb_height <= 1024, self.thumb_height),
            ("workers", self.workers >= 0, self.workers),
            ("phash_distance", 0 <= self.phash_distance <= 15, self.phash_distance),
            ("overuse_factor", self.overuse_factor > 0, self.overuse_factor),
            ("overuse_min_uses", self.overuse_min_uses >= 1, self.overuse_min_uses),
        ]
        for name, ok, value in checks:
            if not ok:
                raise ValueError(f"StatsOptions.{name}: invalid value {value!r}")


# ------------------------------------------------------------------ accumulator
def _issue(issues: dict[str, list], kind: str, key: str, n: int = 1) -> None:
    rec = issues.setdefault(kind, [0, []])
    rec[0] += n
    if len(rec[1]) < _MAX_EXAMPLES:
        rec[1].append(key)


@dataclass
class _Item:
    """One foreground or background id: display fields and uses per split."""

    info: dict[str, Any]
    by_split: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def use(self, split: str, key: str) -> None:
        self.by_split[split] = self.by_split.get(split, 0) + 1
        ex = self.examples.setdefault(split, [])
        if len(ex) < 3:
            ex.append(key)

    def merge(self, other: "_Item") -> None:
        for s, n in other.by_split.items():
            self.by_split[s] = self.by_split.get(s, 0) + n
        for s, keys in other.examples.items():
            ex = self.examples.setdefault(s, [])
            ex.extend(keys[: max(0, 3 - len(ex))])


@dataclass
class Accumulator:
    """Mergeable statistics of a set of samples (one shard, or a whole dataset after merging)."""

    measured: Counter = field(default_factory=Counter)
    bad: list[tuple[str, str, str]] = field(default_factory=list)
    bad_count: int = 0
    sizes: Counter = field(default_factory=Counter)
    image_members: Counter = field(default_factory=Counter)
    alpha_bits: Counter = field(default_factory=Counter)
    member_bytes: dict[str, Moments] = field(default_factory=dict)
    scalars: dict[tuple[str, str], ScalarAcc] = field(default_factory=dict)
    alpha_hist: dict[str, np.ndarray] = field(default_factory=dict)
    trimap_bad_pixels: int = 0
    trimaps_checked: int = 0
    fg: dict[str, _Item] = field(default_factory=dict)
    bg: dict[str, _Item] = field(default_factory=dict)
    fg_sources: Counter = field(default_factory=Counter)
    bg_sources: Counter = field(default_factory=Counter)
    fg_kinds: Counter = field(default_factory=Counter)
    fg_estimators: Counter = field(default_factory=Counter)
    recipe_sha: Counter = field(default_factory=Counter)
    ops: OpsAcc = field(default_factory=OpsAcc)
    meta_extra: dict[str, ParamAcc] = field(default_factory=dict)
    issues: dict[str, list] = field(default_factory=dict)
    keys: list[np.ndarray] = field(default_factory=list)
    splits: list[np.ndarray] = field(default_factory=list)
    phash: list[np.ndarray] = field(default_factory=list)
    thumbs: list[dict[str, Any]] = field(default_factory=list)
    # per-sample values waiting for flush()
    _pending: dict[tuple[str, str], list[float]] = field(default_factory=dict, repr=False)
    _pending_bytes: dict[str, list[float]] = field(default_factory=dict, repr=False)
    _pending_keys: list[str] = field(default_factory=list, repr=False)
    _pending_splits: list[str] = field(default_factory=list, repr=False)
    _pending_hash: list[int] = field(default_factory=list, repr=False)

    # -------------------------------------------------------------- adding
    def add_bad(self, split: str, key: str, reason: str) -> None:
        self.bad_count += 1
        if len(self.bad) < _MAX_BAD:
            self.bad.append((split, key, reason))

    def add(self, split: str, key: str, m: SampleMeasures) -> None:
        """Fold one measured sample of ``split`` into the statistics."""
        if m.error is not None:
            self.add_bad(split, key, m.error)
            return
        self.measured[split] += 1
        h, w = m.hw  # type: ignore[misc]
        self.sizes[(split, f"{w}x{h}")] += 1
        self.image_members[m.image_member] += 1
        self.alpha_bits[m.alpha_bits] += 1
        for name, nb in m.member_bytes.items():
            self._pending_bytes.setdefault(name, []).append(nb)
        pend = self._pending
        for name, v in m.scalars.items():
            lst = pend.get((split, name))
            if lst is None:
                lst = pend[(split, name)] = []
            lst.append(v)
        hist = self.alpha_hist.get(split)
        if hist is None:
            self.alpha_hist[split] = m.alpha_hist.copy()  # type: ignore[union-attr]
        else:
            hist += m.alpha_hist
        if not m.has_trimap:
            _issue(self.issues, "missing_trimap", key)
        elif m.trimap_checked:
            self.trimaps_checked += 1
            if m.trimap_inconsistent:
                _issue(self.issues, "trimap_inconsistent", key)
                self.trimap_bad_pixels += m.trimap_inconsistent
        self._add_meta(split, key, m)
        self._pending_keys.append(key)
        self._pending_splits.append(split)
        self._pending_hash.append(m.phash if m.phash is not None else 0)
        if m.thumbs:
            fg = (m.meta or {}).get("foreground") or {}
            self.thumbs.append({"key": key, "split": split, "fg": fg.get("id"), "fg_file": fg.get("file"),
                                **m.thumbs})

    def _add_meta(self, split: str, key: str, m: SampleMeasures) -> None:
        meta = m.meta or {}
        if meta.get("key") != key:
            _issue(self.issues, "meta_key_mismatch", key)
        if meta.get("split") != split:
            _issue(self.issues, "meta_split_mismatch", key)
        size = meta.get("size")
        if size is not None and list(size) != list(m.hw or ()):
            _issue(self.issues, "meta_size_mismatch", key)
        self.recipe_sha[str(meta.get("recipe_sha256"))] += 1
        for what, items, sources in (("foreground", self.fg, self.fg_sources),
                                     ("background", self.bg, self.bg_sources)):
            rec = meta.get(what)
            if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
                _issue(self.issues, f"meta_missing_{what}_id", key)
                continue
            item = items.get(rec["id"])
            if item is None:
                info = {k: rec.get(k) for k in ("source", "file", "kind", "estimator") if k in rec}
                item = items[rec["id"]] = _Item(info)
            item.use(split, key)
            sources[(split, str(rec.get("source")))] += 1
            for k, v in rec.items():  # e.g. a background's fit score: summarised generically
                if k not in _ITEM_KEYS:
                    self._extra(f"{what}.{k}", v)
            if what == "foreground":
                self.fg_kinds[str(rec.get("kind"))] += 1
                self.fg_estimators[str(rec.get("estimator"))] += 1
        trimap = meta.get("trimap")
        if isinstance(trimap, dict):
            for k, v in trimap.items():
                if k == "band_px" and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self._pending.setdefault((split, "trimap.band_px"), []).append(float(v))
                else:
                    self._extra(f"trimap.{k}", v)
        self.ops.add_sample("ops", meta.get("ops"))
        self.ops.add_sample("post_composite", meta.get("post_composite"))
        for k, v in meta.items():
            if k not in KNOWN_META_KEYS:
                self._extra(k, v)

    def _extra(self, prefix: str, value: Any) -> None:
        for path, v in flatten_params(value, prefix):
            acc = self.meta_extra.get(path)
            if acc is None:
                acc = self.meta_extra[path] = ParamAcc()
            acc.add(v)

    # -------------------------------------------------------------- flush / merge
    def flush(self) -> None:
        """Move pending per-sample values into the mergeable accumulators."""
        for k, values in self._pending.items():
            acc = self.scalars.get(k)
            if acc is None:
                acc = self.scalars[k] = scalar_acc(k[1])
            acc.add_array(np.asarray(values, dtype=np.float64))
        self._pending = {}
        for name, values in self._pending_bytes.items():
            self.member_bytes.setdefault(name, Moments()).add_array(np.asarray(values, dtype=np.float64))
        self._pending_bytes = {}
        if self._pending_keys:
            self.keys.append(np.array(self._pending_keys, dtype=object))
            self.splits.append(np.array(self._pending_splits, dtype=object))
            self.phash.append(np.array(self._pending_hash, dtype=np.uint64))
            self._pending_keys, self._pending_splits, self._pending_hash = [], [], []
        self.ops.flush()
        for p in self.meta_extra.values():
            p.flush()

    def merge(self, other: "Accumulator") -> None:
        """Add ``other`` (flushed) to this accumulator (flushed)."""
        self.flush()
        other.flush()
        self.measured.update(other.measured)
        self.bad.extend(other.bad[: max(0, _MAX_BAD - len(self.bad))])
        self.bad_count += other.bad_count
        for c in ("sizes", "image_members", "alpha_bits", "fg_sources", "bg_sources", "fg_kinds",
                  "fg_estimators", "recipe_sha"):
            getattr(self, c).update(getattr(other, c))
        for name, mo in other.member_bytes.items():
            self.member_bytes.setdefault(name, Moments()).merge(mo)
        for k, acc in other.scalars.items():
            if k in self.scalars:
                self.scalars[k].merge(acc)
            else:
                self.scalars[k] = acc
        for s, hist in other.alpha_hist.items():
            if s in self.alpha_hist:
                self.alpha_hist[s] = self.alpha_hist[s] + hist
            else:
                self.alpha_hist[s] = hist.copy()
        self.trimap_bad_pixels += other.trimap_bad_pixels
        self.trimaps_checked += other.trimaps_checked
        for mine, theirs in ((self.fg, other.fg), (self.bg, other.bg)):
            for i, item in theirs.items():
                if i in mine:
                    mine[i].merge(item)
                else:
                    mine[i] = item
        self.ops.merge(other.ops)
        for path, p in other.meta_extra.items():
            if path in self.meta_extra:
                self.meta_extra[path].merge(p)
            else:
                self.meta_extra[path] = p
        for kind, (n, ex) in other.issues.items():
            rec = self.issues.setdefault(kind, [0, []])
            rec[0] += n
            rec[1].extend(ex[: max(0, _MAX_EXAMPLES - len(rec[1]))])
        self.keys.extend(other.keys)
        self.splits.extend(other.splits)
        self.phash.extend(other.phash)
        self.thumbs.extend(other.thumbs)


# ------------------------------------------------------------------ shard tasks
@dataclass(frozen=True)
class _ShardTask:
    ordinal: int
    url: str
    entry: ShardEntry
    positions: tuple[int, ...] | None  # None: every sample
    contact: tuple[int, ...]
    window: int
    check_trimaps: bool
    thumb_height: int
    verify: bool


@dataclass
class ShardResult:
    """What reading one shard gave: its own checks and the accumulator of its samples."""

    ordinal: int
    path: str
    split: str
    samples_read: int = 0
    processed: int = 0  # selected samples handled (measured or reported bad)
    bytes_read: int = 0
    sha256: str | None = None
    complete: bool = False
    error: str | None = None
    acc: Accumulator = field(default_factory=Accumulator)


class _HashingReader(io.RawIOBase):
    """Raw reader that hashes (optionally) and counts what passes; wrap it in a large
    ``io.BufferedReader`` so hashing runs once per block, not once per tar header."""

    def __init__(self, raw: BinaryIO, do_hash: bool) -> None:
        super().__init__()
        self._raw = raw
        self._h = hashlib.sha256() if do_hash else None
        self.nbytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self._raw.read(len(b))
        n = len(data)
        if n:
            b[:n] = data
            if self._h is not None:
                self._h.update(data)
            self.nbytes += n
        return n

    def hexdigest(self) -> str | None:
        return self._h.hexdigest() if self._h is not None else None


_READ_BLOCK = 1 << 20


def run_shard(task: _ShardTask, on_sample: Callable[[int], None] | None = None) -> ShardResult:
    """Read one shard, measure its (selected) samples; shard problems go to ``result.error``."""
    entry = task.entry
    res = ShardResult(task.ordinal, entry.path, entry.split)
    wanted = None if task.positions is None else set(task.positions)
    last = None if task.positions is None else (max(task.positions) if task.positions else -1)
    contact = set(task.contact)
    try:
        f = open_shard(task.url)
    except ShardError as e:
        res.error = str(e)
        return res
    counter = _HashingReader(f, task.verify)
    reader = io.BufferedReader(counter, buffer_size=_READ_BLOCK)
    try:
        for pos, (key, members, error) in enumerate(iter_tar_samples(reader, task.url)):
            res.samples_read += 1
            if wanted is not None and pos not in wanted:
                if not task.verify and last is not None and pos >= last:
                    break
                continue
            if error is not None:
                res.acc.add_bad(entry.split, key, error)
            else:
                th = task.thumb_height if pos in contact else None
                m = measure_sample(members, window=task.window, check_trimap=task.check_trimaps, thumb_height=th)
                res.acc.add(entry.split, key, m)
            res.processed += 1
            if on_sample is not None:
                on_sample(1)
            if not task.verify and last is not None and pos >= last:
                break
        else:
            while reader.read(_READ_BLOCK):  # the end-of-archive blocks and padding
                pass
            res.complete = True
    except ShardError as e:
        res.error = str(e)
    except OSError as e:
        res.error = f"cannot read shard {task.url}: {e}"
    finally:
        f.close()
    res.bytes_read = counter.nbytes
    res.sha256 = counter.hexdigest() if res.complete else None
    res.acc.flush()
    return res


def _run_shard_in_worker(task: _ShardTask) -> ShardResult:
    """:func:`run_shard` in a worker process: one OpenCV thread, as the workers are the parallelism."""
    import cv2

    cv2.setNumThreads(1)
    return run_shard(task)


def select_positions(counts: list[int], n: int | None) -> list[tuple[int, ...] | None]:
    """Per shard, the sample positions to measure: ``n`` spread uniformly over all samples.

    Global position ``floor((i + 0.5) * total / n)`` for ``i < n``; ``None`` per shard when
    every sample is measured (``n`` is ``None`` or at least the total).
    """
    total = sum(counts)
    if n is None or n >= total:
        return [None] * len(counts)
    picks = np.floor((np.arange(n) + 0.5) * total / n).astype(np.int64)
    starts = np.cumsum([0] + counts)
    out: list[tuple[int, ...] | None] = []
    for s, c in enumerate(counts):
        sel = picks[(picks >= starts[s]) & (picks < starts[s] + c)] - starts[s]
        out.append(tuple(int(p) for p in sel))
    return out


def _contact_positions(positions: list[tuple[int, ...] | None], counts: list[int], k: int, seed: int
                       ) -> list[tuple[int, ...]]:
    """``k`` random selected samples (seeded), as positions per shard."""
    per_shard = np.array([c if p is None else len(p) for p, c in zip(positions, counts)], dtype=np.int64)
    total = int(per_shard.sum())
    out: list[list[int]] = [[] for _ in counts]
    if total == 0 or k == 0:
        return [tuple(x) for x in out]
    picks = np.sort(np.random.default_rng(seed).choice(total, size=min(k, total), replace=False))
    starts = np.cumsum(per_shard) - per_shard
    for g in picks.tolist():
        s = int(np.searchsorted(starts, g, side="right") - 1)
        while per_shard[s] == 0:  # empty shards share their start with the next one
            s += 1
        i = g - int(starts[s])
        out[s].append(i if positions[s] is None else positions[s][i])  # type: ignore[index]
    return [tuple(x) for x in out]


# ------------------------------------------------------------------ executors
def _run_serial(tasks: list[_ShardTask], bar) -> Iterator[ShardResult]:
    for t in tasks:
        yield run_shard(t, bar.update if bar is not None else None)


def _in_order(done: dict[int, ShardResult], start: int) -> tuple[list[ShardResult], int]:
    out = []
    while start in done:
        out.append(done.pop(start))
        start += 1
    return out, start


def _run_pool(tasks: list[_ShardTask], workers: int, bar) -> Iterator[ShardResult]:
    import concurrent.futures as cf
    import multiprocessing as mp

    done: dict[int, ShardResult] = {}
    nxt = 0
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        pending = set()
        it = iter(tasks)
        for t in it:
            pending.add(pool.submit(_run_shard_in_worker, t))
            if len(pending) >= 2 * workers:
                break
        while pending:
            finished, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                r = fut.result()
                if bar is not None:
                    bar.update(r.processed)
                done[r.ordinal] = r
                t = next(it, None)
                if t is not None:
                    pending.add(pool.submit(_run_shard_in_worker, t))
            ready, nxt = _in_order(done, nxt)
            yield from ready


def _run_ray(tasks: list[_ShardTask], workers: int, address: str | None, bar) -> Iterator[ShardResult]:
    import ray

    started = False
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=2)(_run_shard_in_worker)
        in_flight = workers or max(1, int(ray.available_resources().get("CPU", 1)))
        done: dict[int, ShardResult] = {}
        nxt = 0
        it = iter(tasks)
        pending = [remote.remote(t) for t, _ in zip(it, range(2 * in_flight))]
        while pending:
            finished, pending = ray.wait(pending, num_returns=1)
            for ref in finished:
                r = ray.get(ref)
                if bar is not None:
                    bar.update(r.processed)
                done[r.ordinal] = r
                t = next(it, None)
                if t is not None:
                    pending.append(remote.remote(t))
            ready, nxt = _in_order(done, nxt)
            yield from ready
    finally:
        if started:
            ray.shutdown()


# ------------------------------------------------------------------ driver
@dataclass
class DatasetStats:
    """The statistics of one dataset: ``data`` (JSON-able, every number) and contact-sheet thumbnails."""

    label: str
    data: dict[str, Any]
    thumbs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return self.data.get("warnings", [])

    def to_json(self) -> str:
        import json

        return json.dumps(self.data, indent=2, sort_keys=False, allow_nan=False) + "\n"


def _unlisted_files(manifest_loc: str, manifest: Manifest) -> list[str]:
    if "://" in manifest_loc:
        return []
    folder = Path(manifest_loc).parent
    listed = {s.path for s in manifest.shards}
    out = []
    for p in sorted(folder.rglob("*.tar*")):
        rel = p.relative_to(folder).as_posix()
        if rel not in listed:
            out.append(rel)
    return out


def collect_stats(path: str | os.PathLike, options: StatsOptions | None = None, *,
                  label: str | None = None) -> DatasetStats:
    """Statistics of the dataset at ``path`` (a folder, a ``manifest.json`` or an fsspec URL).

    Reads the manifest, streams every shard once (or only the shards holding the
    ``options.sample`` selected samples), and returns a :class:`DatasetStats` whose
    ``data`` holds counts, integrity, diversity, alpha/trimap, colour, realism,
    operations, leakage and warnings (see :func:`synth.stats.summarize.summarize`).
    Raises ``FileNotFoundError``/``ValueError`` naming the manifest when it is missing
    or invalid; damaged shards and samples are reported, not raised.
    """
    from .summarize import summarize

    opts = options or StatsOptions()
    loc = manifest_location(path)
    manifest = read_manifest(loc)
    t0 = time.perf_counter()
    counts = [s.samples for s in manifest.shards]
    positions = select_positions(counts, opts.sample)
    contact = _contact_positions(positions, counts, opts.contact, opts.seed)
    tasks: list[_ShardTask] = []
    skipped_shards: list[str] = []
    for entry, pos, con in zip(manifest.shards, positions, contact):
        if pos is not None and not pos:  # holds none of the selected samples: not opened
            skipped_shards.append(entry.path)
            continue
        tasks.append(_ShardTask(len(tasks), shard_url(loc, entry), entry, pos, con, opts.window,
                                opts.check_trimaps, opts.thumb_height, opts.verify))
    to_measure = sum(c if p is None else len(p) for p, c in zip(positions, counts))

    bar = None
    if opts.progress:
        from tqdm import tqdm

        bar = tqdm(total=to_measure, unit="sample", desc=f"stats {label or Path(str(path)).name}",
                   dynamic_ncols=True)
    results: list[ShardResult] = []
    total = Accumulator()
    try:
        if opts.ray:
            it: Iterable[ShardResult] = _run_ray(tasks, opts.workers, opts.ray_address, bar)
        elif opts.workers >= 2 and len(tasks) > 1:
            it = _run_pool(tasks, opts.workers, bar)
        else:
            it = _run_serial(tasks, bar)
        for r in it:
            total.merge(r.acc)
            r.acc = Accumulator()  # keep the shard's own checks only
            results.append(r)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    data = summarize(total, results, manifest, loc, opts, skipped_shards=skipped_shards,
                     unlisted=_unlisted_files(loc, manifest), seconds=seconds)
    return DatasetStats(label or str(path), data, thumbs=total.thumbs)

