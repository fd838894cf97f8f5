"""Epoch order: which samples each rank and stream reads, as a pure function.

The samples of a split form one index space: shard ``s`` holds the samples
``first_index[s] .. first_index[s] + samples[s] - 1`` in file order. An
epoch's plan is built in four steps, every one a pure function of its
arguments (no global state, no ``hash()``):

1. **Shard permutation.** The shards are permuted with
   ``np.random.default_rng([seed, epoch, _TAG_SHARDS])`` and concatenated
   into one *epoch sequence* of ``N`` sample positions.
2. **Ranks.** The sequence is cut into ``world_size`` contiguous, equal
   pieces of ``N // world_size`` samples (``balance="drop"``: the last
   ``N % world_size`` positions of the epoch sequence, i.e. part of the last
   shard of the permutation, different samples every epoch, are left out) or
   ``ceil(N / world_size)`` samples (``balance="pad"``: the sequence is
   extended by repeating its first samples, each repeat with an augmentation of its own:
   :func:`sample_seed` takes the lap). Every rank gets the same count.
3. **Streams.** A rank's piece is cut into ``num_streams`` contiguous pieces
   (one per DataLoader worker). When a batch size is known the cut is in
   whole batches, so the rank yields ``ceil(n / batch)`` batches in all and
   only the very last one is partial; otherwise the pieces differ by at most
   one sample.
4. **Segments.** Each stream's piece maps back to runs of consecutive
   samples inside shards, ``Segment(shard, start, stop)``; a shard can be
   split between two streams (the second one reads past the first part
   without keeping it).

Within a stream, samples of several segments are interleaved and go through
a bounded shuffle buffer (see :mod:`shards.dataset`), seeded by
:func:`stream_seed`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

__all__ = [
    "Balance",
    "Segment",
    "shard_permutation",
    "rank_span",
    "split_span",
    "segments_for_span",
    "plan_streams",
    "stream_seed",
    "sample_seed",
]

Balance = Literal["drop", "pad"]

# Fixed tags that separate the RNG streams derived from (seed, epoch, ...).
_TAG_SHARDS = 0x5A4D
_TAG_STREAM = 0x5354
_TAG_SAMPLE = 0x534D


@dataclass(frozen=True)
class Segment:
    """Samples ``start .. stop - 1`` (file order) of shard number ``shard``; ``lap`` counts
    how often the epoch's sequence wrapped before them (``balance="pad"`` repeats: 1)."""

    shard: int
    start: int
    stop: int
    lap: int = 0

    def __len__(self) -> int:
        return self.stop - self.start


def shard_permutation(num_shards: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """The epoch's shard order: a permutation of ``range(num_shards)`` from ``(seed, epoch)``."""
    if not shuffle:
        return np.arange(num_shards)
    return np.random.default_rng([seed, epoch, _TAG_SHARDS]).permutation(num_shards)


def rank_span(total: int, world_size: int, rank: int, balance: Balance = "drop") -> tuple[int, int]:
    """Positions ``[start, stop)`` of the epoch sequence read by ``rank``.

    With ``"pad"``, ``stop`` may exceed ``total``; positions wrap modulo ``total``.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size), got rank={rank}, world_size={world_size}")
    if balance == "drop":
        per = total // world_size
    elif balance == "pad":
        per = -(-total // world_size) if total else 0
    else:
        raise ValueError(f"balance must be 'drop' or 'pad', got {balance!r}")
    return rank * per, (rank + 1) * per


def split_span(n: int, parts: int, batch: int | None = None) -> list[int]:
    """Sizes of ``parts`` contiguous pieces of ``n`` samples (sum ``n``).

    Without ``batch``: sizes differ by at most one. With ``batch``: every piece
    holds whole batches except the one that the round-robin of DataLoader
    workers reaches last, which also takes the remainder; so ``parts`` workers
    yield ``ceil(n / batch)`` batches in all, only the last one partial.
    """
    if parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    if batch is None or batch <= 1:
        q, r = divmod(n, parts)
        return [q + (i < r) for i in range(parts)]
    full, rem = divmod(n, batch)
    q, r = divmod(full, parts)
    sizes = [(q + (i < r)) * batch for i in range(parts)]
    if rem:
        sizes[r] += rem  # the stream whose turn comes right after the last full batch
    return sizes


def segments_for_span(sizes: Sequence[int], order: Sequence[int], start: int, stop: int) -> list[Segment]:
    """Map positions ``[start, stop)`` of the sequence ``concat(shards in order)`` to segments.

    ``sizes[s]`` is the sample count of shard ``s``; positions past the end
    wrap around (used by ``balance="pad"``).
    """
    total = int(sum(sizes[s] for s in order))
    out: list[Segment] = []
    if stop <= start or total == 0:
        return out
    bounds = np.cumsum([0] + [sizes[s] for s in order])
    pos = start
    while pos < stop:
        lap, p = divmod(pos, total)
        k = int(np.searchsorted(bounds, p, side="right")) - 1
        while sizes[order[k]] == 0:  # empty shards never hold a position
            k += 1
        shard = int(order[k])
        lo = p - int(bounds[k])
        hi = min(int(sizes[shard]), lo + (stop - pos))
        if out and out[-1].shard == shard and out[-1].stop == lo and out[-1].lap == lap:
            out[-1] = Segment(shard, out[-1].start, hi, lap)
        else:
            out.append(Segment(shard, lo, hi, lap))
        pos += hi - lo
    return out


def plan_streams(
    sizes: Sequence[int],
    *,
    seed: int,
    epoch: int,
    world_size: int = 1,
    rank: int = 0,
    num_streams: int = 1,
    batch: int | None = None,
    balance: Balance = "drop",
    shuffle: bool = True,
) -> list[list[Segment]]:
    """The segments each of ``num_streams`` streams of ``rank`` reads in ``epoch``.

    ``sizes[s]``: samples in shard ``s`` (manifest order). Pure function of its
    arguments; see the module docstring for the policy.
    """
    sizes = [int(x) for x in sizes]
    order = [int(s) for s in shard_permutation(len(sizes), seed, epoch, shuffle)]
    total = sum(sizes)
    start, stop = rank_span(total, world_size, rank, balance)
    if total == 0:
        return [[] for _ in range(num_streams)]
    pieces = split_span(stop - start, num_streams, batch)
    out: list[list[Segment]] = []
    pos = start
    for n in pieces:
        out.append(segments_for_span(sizes, order, pos, pos + n))
        pos += n
    return out


def stream_seed(seed: int, epoch: int, rank: int, stream: int) -> list[int]:
    """Seed sequence of the shuffle RNG of one stream."""
    return [seed, epoch, rank, stream, _TAG_STREAM]


def sample_seed(seed: int, epoch: int, index: int, lap: int = 0) -> list[int]:
    """Seed sequence of the augmentation RNG of sample ``index`` (independent of rank and worker).

    ``lap`` >= 1 marks a repeat of the sample in the same epoch (``balance="pad"``), which gets
    an augmentation of its own instead of a copy of the first one's.
    """
    return [seed, epoch, index, _TAG_SAMPLE] if lap == 0 else [seed, epoch, index, _TAG_SAMPLE, lap]
