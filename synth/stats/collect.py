"""Collecting a dataset's statistics: read every shard once, merge the shards' accumulators.

One task per shard (:func:`~synth.stats.shard_scan.scan_shard`) runs on any executor of
:mod:`synth.execution` (serial in this process, or Ray tasks, as for ``synth build``); the
shards' accumulators are merged in manifest order whatever ran them, so the result does
not depend on the executor or the number of workers. Memory is bounded by one shard's
samples per task plus, per measured sample, its key and 64-bit perceptual hash.
"""
from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shards.manifest import Manifest, manifest_location, read_manifest, shard_url

from ..execution import Executor, SerialExecutor, imap_in_order
from .accumulator import Accumulator
from .options import StatsOptions
from .shard_scan import ShardResult, ShardTask, contact_positions, scan_shard, select_positions
from .summarize import summarize

__all__ = ["DatasetStats", "collect_stats"]


@dataclass
class DatasetStats:
    """The statistics of one dataset: ``data`` (JSON-able, every number) and contact-sheet thumbnails."""

    label: str
    data: dict[str, Any]
    thumbs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return self.data.get("warnings", [])


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


def _shard_tasks(loc: str, manifest: Manifest, opts: StatsOptions) -> tuple[list[ShardTask], list[str], int]:
    """(a task per shard holding selected samples, the shards skipped, samples to measure)."""
    counts = [s.samples for s in manifest.shards]
    positions = select_positions(counts, opts.sample)
    contact = contact_positions(positions, counts, opts.contact, opts.seed)
    tasks: list[ShardTask] = []
    skipped_shards: list[str] = []
    for entry, pos, con in zip(manifest.shards, positions, contact):
        if pos is not None and not pos:  # holds none of the selected samples: not opened
            skipped_shards.append(entry.path)
            continue
        tasks.append(ShardTask(len(tasks), shard_url(loc, entry), entry, pos, con, opts.window,
                               opts.check_trimaps, opts.thumb_height, opts.verify))
    to_measure = sum(c if p is None else len(p) for p, c in zip(positions, counts))
    return tasks, skipped_shards, to_measure


def collect_stats(path: str | os.PathLike, options: StatsOptions | None = None, *, label: str | None = None,
                  executor: Executor | None = None) -> DatasetStats:
    """Statistics of the dataset at ``path`` (a folder, a ``manifest.json`` or an fsspec URL).

    Reads the manifest, streams every shard once (or only the shards holding the
    ``options.sample`` selected samples) on ``executor`` (default: serial in this process;
    used, not closed), and returns a :class:`DatasetStats` whose ``data`` holds counts,
    integrity, diversity, alpha/trimap, colour, realism, operations, leakage and warnings
    (see :func:`synth.stats.summarize.summarize`). Raises ``FileNotFoundError``/``ValueError``
    naming the manifest when it is missing or invalid; damaged shards and samples are
    reported, not raised.
    """
    opts = options or StatsOptions()
    executor = executor or SerialExecutor()
    loc = manifest_location(path)
    manifest = read_manifest(loc)
    t0 = time.perf_counter()
    tasks, skipped_shards, to_measure = _shard_tasks(loc, manifest, opts)

    bar = None
    if opts.progress:
        from tqdm import tqdm

        bar = tqdm(total=to_measure, unit="sample", desc=f"stats {label or Path(str(path)).name}",
                   dynamic_ncols=True)
    serial = isinstance(executor, SerialExecutor)
    fn = functools.partial(scan_shard, on_sample=bar.update if serial and bar is not None else None)
    on_result = (lambda r: bar.update(r.processed)) if not serial and bar is not None else None
    results: list[ShardResult] = []
    total = Accumulator()
    try:
        for r in imap_in_order(executor, fn, tasks, on_result):
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
