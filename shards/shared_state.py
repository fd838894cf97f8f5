"""State a :class:`shards.MattingDataset` shares with its DataLoader workers.

Epoch, rank/world size, batch size and the resume cursor live in a small
``int64`` tensor in shared memory, so ``set_epoch`` and ``load_state_dict``
reach persistent DataLoader workers too, and the error counters of every
worker are visible in the main process. Layout (one tensor, pickled to the
workers as a handle to the same memory)::

    [0:8]                   epoch, rank, world size, batch hint,
                            resume epoch (-1: no cursor), resume streams,
                            resume offset, resume batch
    [8:8+MAX_STREAMS]       the cursor's consumed count per stream
    [.. :+(MAX_STREAMS+1)*4] per slot (worker id, then MAIN_SLOT for the main
                            process): sample_errors, shard_errors,
                            samples_lost, samples_substituted
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Cursor", "SharedState", "MAX_STREAMS", "MAIN_SLOT", "COUNTERS"]

#: Most streams (DataLoader workers) a cursor can describe.
MAX_STREAMS = 1024
#: The error-counter slot of the main process (workers use their id).
MAIN_SLOT = MAX_STREAMS
COUNTERS = ("sample_errors", "shard_errors", "samples_lost", "samples_substituted")

_SLOTS = MAX_STREAMS + 1
_EPOCH, _RANK, _WORLD, _BATCH, _RES_EPOCH, _RES_STREAMS, _RES_OFFSET, _RES_BATCH = range(8)
_CONSUMED = 8
_ERRORS = _CONSUMED + MAX_STREAMS
_LENGTH = _ERRORS + _SLOTS * len(COUNTERS)


@dataclass(frozen=True)
class Cursor:
    """Where an epoch stands: ``consumed[s]`` encoded samples of stream ``s`` are done.

    ``offset``: the stream whose batch comes next in the DataLoader's
    round-robin; ``batch``: the batch size the streams were cut for (0: none).
    """

    epoch: int
    streams: int
    offset: int
    batch: int
    consumed: tuple[int, ...]


class SharedState:
    """The shared tensor and its fields (see the module docstring)."""

    def __init__(self) -> None:
        self.tensor = torch.zeros(_LENGTH, dtype=torch.int64).share_memory_()
        self.tensor[_RES_EPOCH] = -1

    @property
    def epoch(self) -> int:
        return int(self.tensor[_EPOCH])

    @property
    def rank(self) -> int:
        return int(self.tensor[_RANK])

    @property
    def world_size(self) -> int:
        return int(self.tensor[_WORLD])

    @property
    def batch(self) -> int:
        """The batch size the loader asked for (0: none), to cut the streams at batch bounds."""
        return int(self.tensor[_BATCH])

    def set_batch(self, batch: int | None) -> None:
        self.tensor[_BATCH] = int(batch or 0)

    def set_placement(self, rank: int, world_size: int) -> None:
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size), got rank={rank}, world_size={world_size}")
        self.tensor[_RANK] = int(rank)
        self.tensor[_WORLD] = int(world_size)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch; a pending resume cursor of another epoch is dropped."""
        if not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
        if int(epoch) != self.epoch:
            self.tensor[_EPOCH] = int(epoch)
            self.tensor[_RES_EPOCH] = -1

    def publish_cursor(self, cursor: Cursor | None) -> None:
        """Make ``cursor`` the resume point of the next iteration of its epoch (None: start fresh)."""
        sh = self.tensor
        if cursor is None:
            sh[_RES_EPOCH] = -1
            return
        if not 1 <= cursor.streams <= MAX_STREAMS or len(cursor.consumed) != cursor.streams:
            raise ValueError(f"cursor has {cursor.streams} streams and {len(cursor.consumed)} counts "
                             f"(at most {MAX_STREAMS})")
        sh[_RES_EPOCH] = -1  # invalidate while writing
        sh[_RES_STREAMS] = cursor.streams
        sh[_RES_OFFSET] = cursor.offset % cursor.streams
        sh[_RES_BATCH] = cursor.batch
        sh[_CONSUMED:_CONSUMED + cursor.streams] = torch.tensor(cursor.consumed, dtype=torch.int64)
        sh[_EPOCH] = cursor.epoch
        sh[_RES_EPOCH] = cursor.epoch

    def pending_cursor(self) -> Cursor | None:
        """The published cursor, if it belongs to the current epoch."""
        sh = self.tensor
        if int(sh[_RES_EPOCH]) != int(sh[_EPOCH]):
            return None
        n = int(sh[_RES_STREAMS])
        return Cursor(int(sh[_EPOCH]), n, int(sh[_RES_OFFSET]), int(sh[_RES_BATCH]),
                      tuple(int(x) for x in sh[_CONSUMED:_CONSUMED + n]))

    def count(self, slot: int, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name`` (one of :data:`COUNTERS`) of ``slot``."""
        self.tensor[_ERRORS + slot * len(COUNTERS) + COUNTERS.index(name)] += n

    def error_counts(self) -> dict[str, int]:
        """Every counter, summed over the main process and the workers."""
        block = self.tensor[_ERRORS:].view(_SLOTS, len(COUNTERS)).sum(0)
        return {name: int(block[i]) for i, name in enumerate(COUNTERS)}
