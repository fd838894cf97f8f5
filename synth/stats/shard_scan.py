"""Reading one shard for statistics: :func:`scan_shard`, and which samples each shard gives.

A shard is read sequentially with :func:`shards.reader.iter_tar_samples` (bytes only,
nothing unpickled) through a hashing reader, so its sha256 is checked in the same pass;
its selected samples are measured (:func:`~synth.stats.measure.measure_sample`) and folded
into the shard's own :class:`~synth.stats.accumulator.Accumulator`.
"""
from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from shards.manifest import ShardEntry
from shards.reader import ShardError, iter_tar_samples, open_shard

from ..rng import seeded_rng
from .accumulator import Accumulator
from .measure import measure_sample

__all__ = ["ShardResult", "ShardTask", "contact_positions", "scan_shard", "select_positions"]


@dataclass(frozen=True)
class ShardTask:
    """One shard to read: where it is, which samples to measure (positions in the shard),
    which go to the contact sheet, and how (the relevant :class:`StatsOptions`)."""

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


def scan_shard(task: ShardTask, on_sample: Callable[[int], None] | None = None) -> ShardResult:
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


def contact_positions(positions: list[tuple[int, ...] | None], counts: list[int], k: int, seed: int
                       ) -> list[tuple[int, ...]]:
    """``k`` random selected samples (seeded), as positions per shard."""
    per_shard = np.array([c if p is None else len(p) for p, c in zip(positions, counts)], dtype=np.int64)
    total = int(per_shard.sum())
    out: list[list[int]] = [[] for _ in counts]
    if total == 0 or k == 0:
        return [tuple(x) for x in out]
    picks = np.sort(seeded_rng(seed).choice(total, size=min(k, total), replace=False))
    starts = np.cumsum(per_shard) - per_shard
    for g in picks.tolist():
        s = int(np.searchsorted(starts, g, side="right") - 1)
        while per_shard[s] == 0:  # empty shards share their start with the next one
            s += 1
        i = g - int(starts[s])
        out[s].append(i if positions[s] is None else positions[s][i])  # type: ignore[index]
    return [tuple(x) for x in out]
