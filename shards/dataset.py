"""`MattingDataset`: a streaming, deterministic, resumable ``IterableDataset`` over shards.

Pipeline of one DataLoader worker (every stage a generator):

    segments (shards.order) -> interleaved tar readers (bytes only)
      -> shuffle buffer over *encoded* samples -> skip k (resume, no decode)
      -> decode + online augmentation (shards.online_augment) -> tensors

The buffer holds the members' bytes, or, for local ``.tar`` shards
(``buffer="auto"``), only where each member lies in its shard: the bytes are
read back (``pread``, from the page cache the sequential read-through just
filled) when the sample leaves the buffer, so a 2,000-sample buffer costs
kilobytes, not gigabytes, whatever the sample size.

**Order.** Each epoch's order is a pure function of ``(seed, epoch)``, the
world size and the number of streams (see :mod:`shards.order`): the shards
are permuted, the resulting sample sequence is cut into equal contiguous
pieces per rank (``balance="drop"`` leaves out the ``N % world_size``
samples at the end of the epoch's sequence; ``"pad"`` repeats its first
samples), then into one piece per DataLoader worker (*stream*). A stream
reads ``interleave`` shards at a time, taking one sample from each in turn,
into a shuffle buffer of ``buffer_size`` encoded samples seeded by
``(seed, epoch, rank, stream)``; samples of different shards, and so of
different foregrounds, are mixed over a window of ``buffer_size`` samples
drawn from ``interleave`` shards at once. Every sample carries its own
augmentation RNG seeded by ``(seed, epoch, index)`` (and the lap, for a repeat
that ``"pad"`` adds), so its augmentation does not depend on which rank or worker
reads it.

**Sharing state with workers.** Epoch, rank/world size, batch size, the
resume cursor and the error counters live in shared memory
(:mod:`shards.shared_state`), so ``set_epoch`` and ``load_state_dict`` reach
persistent DataLoader workers too (:meth:`MattingDataset.error_counts` sums
every worker's counters).

**Modules.** Settings: :mod:`shards.config`; the split's shards:
:mod:`shards.source`; the generator stages (interleave, shuffle buffer,
substitution): :mod:`shards.stages`.

**Resume.** A cursor says, for each stream, how many encoded samples of the
shuffled stream were consumed; a worker replays its readers and buffer for
those samples without decoding them and goes on from there. The stream that
plays a worker's part is rotated so that the DataLoader's round-robin over
workers continues where it stopped. :class:`shards.MattingLoader` records
the cursor; a plain ``DataLoader`` cannot see worker progress.

**Safety.** Only bytes are read (nothing is unpickled); member names are
validated; a bad sample or an unreadable shard goes to ``handler``
(``"skip"``: count, log a warning and go on; ``"raise"``; or a callable that
may raise), never with sleeps. ``verify=True`` checks each shard's sha256
against the manifest before reading it (once per process).
"""
from __future__ import annotations

import logging
import os
from collections import deque
from typing import Any, Iterator, Mapping, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .allocator import retain_freed_memory
from .clips import augment_clip
from .collate import to_tensor_sample
from .config import AugmentConfig, DatasetConfig
from .device_prepare import prepare_device_sample
from .online_augment import augment_sample
from .image_header import check_pixels
from .order import Segment, plan_streams, rank_span, sample_seed, stream_seed
from .reader import (
    LoaderError,
    SampleError,
    ShardError,
    Span,
    find_member,
    iter_shard_samples,
    load_members,
    verify_sha256,
)
from .shared_state import MAIN_SLOT, Cursor, SharedState
from .source import ShardSet
from .stages import interleave, shuffle_buffer, substitute

__all__ = ["MattingDataset"]

log = logging.getLogger("shards")

_RING = 16  # re-compositing: a partner bg comes from the last _RING samples of the stream
_TAG_PARTNER = 7
_TAG_TRANSFORM = 11  # the generator handed to the user's transform

Encoded = tuple[int, str, Mapping[str, "bytes | Span"], "str | None", int]  # index, key, members, error, lap


class MattingDataset(IterableDataset):
    """Stream one split of a sharded matting dataset, augmented afresh every epoch.

    Args:
        source: a manifest (its folder, the ``manifest.json`` path, or an fsspec
            URL of either) or a list of shard URLs (then every shard is scanned
            once to count its samples, and ``split`` is only a label).
        split: the split to read.
        **options: the fields of :class:`shards.config.DatasetConfig` (``crop``,
            ``seed``, ``shuffle``, ``rank``, ``world_size``, ``buffer_size``,
            ``buffer_initial``, ``buffer``, ``interleave``, ``balance``, ``augment``,
            ``outputs``, ``normalize``, ``mean``, ``std``, ``handler``,
            ``substitute``, ``verify``, ``max_member_bytes``, ``max_pixels``,
            ``transform``, ``device``, ``device_decode``), documented there. A listed shard
            that cannot be read or is empty goes to ``handler`` now (counted in ``shard_errors``).
    """

    def __init__(self, source: str | os.PathLike | Sequence[str], split: str = "train", **options: Any) -> None:
        super().__init__()
        self.config = DatasetConfig(**options)
        self.shared = SharedState()
        self.shards = ShardSet.resolve(source, split, verify=self.config.verify,
                                       on_bad=lambda e: self._handle(e, MAIN_SLOT, "shard_errors"))
        if self.shards.layers is False:  # built without fg/bg members (output.layers: false)
            self.config = self.config.without_layers(outputs_given="outputs" in options)
        self.buffer = self.config.buffer_mode(self.shards.urls)
        self.max_pixels = self.config.pixel_limit(self.shards.canvas)
        self._verified: set[int] = set()
        self.resolve_distributed()

    # ------------------------------------------------------------ properties
    @property
    def split(self) -> str:
        return self.shards.split

    @property
    def sizes(self) -> list[int]:
        """Samples per shard of the split."""
        return self.shards.sizes

    @property
    def fingerprint(self) -> str:
        return self.shards.fingerprint

    @property
    def seed(self) -> int:
        return self.config.seed  # type: ignore[return-value]

    @property
    def augment(self) -> AugmentConfig:
        return self.config.augment  # type: ignore[return-value]

    @property
    def epoch(self) -> int:
        return self.shared.epoch

    @property
    def rank(self) -> int:
        return self.shared.rank

    @property
    def world_size(self) -> int:
        return self.shared.world_size

    @property
    def num_samples(self) -> int:
        """Samples in the split (all ranks)."""
        return int(sum(self.sizes))

    def __len__(self) -> int:
        """Samples this rank yields per epoch (before skipped errors)."""
        start, stop = rank_span(self.num_samples, self.world_size, self.rank, self.config.balance)
        return stop - start

    def resolve_distributed(self) -> None:
        """Set rank and world size: the given ones, else ``torch.distributed``'s, else 0 and 1."""
        rank, world = self.config.rank, self.config.world_size
        if rank is None or world is None:
            d_rank, d_world = 0, 1
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                d_rank, d_world = torch.distributed.get_rank(), torch.distributed.get_world_size()
            rank = d_rank if rank is None else rank
            world = d_world if world is None else world
        self.shared.set_placement(rank, world)

    # ------------------------------------------------------------- epoch/state
    def set_epoch(self, epoch: int) -> None:
        """Select the epoch the next iteration reads; a pending resume cursor of another epoch is dropped."""
        self.shared.set_epoch(epoch)

    def identity(self) -> dict[str, Any]:
        """What a saved state must match to be loaded here."""
        c = self.config
        return {"fingerprint": self.fingerprint, "split": self.split, "seed": c.seed,
                "world_size": self.world_size, "balance": c.balance, "shuffle": c.shuffle,
                "buffer_size": c.buffer_size, "buffer_initial": c.buffer_initial,
                "interleave": c.interleave}

    def state_dict(self) -> dict[str, Any]:
        """JSON-able: the epoch and any pending resume cursor (not worker progress; see MattingLoader)."""
        state: dict[str, Any] = {"version": 1, **self.identity(), "rank": self.rank, "epoch": self.epoch}
        cur = self.shared.pending_cursor()
        if cur is not None:
            state.update(num_streams=cur.streams, offset=cur.offset, batch_size=cur.batch,
                         consumed=list(cur.consumed))
        return state

    def check_state(self, state: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` naming the field if ``state`` was saved for another dataset or setup."""
        if not isinstance(state, Mapping) or state.get("version") != 1:
            raise ValueError(f"not a MattingDataset/MattingLoader state (version 1): {state!r:.200}")
        for name, value in self.identity().items():
            if name in state and state[name] != value:
                raise ValueError(f"state was saved with {name}={state[name]!r}, this dataset has {value!r}")

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the epoch, and the resume cursor when ``state`` has one (a MattingLoader state)."""
        self.check_state(state)
        epoch = int(state["epoch"])
        self.set_epoch(epoch)
        if "consumed" in state:
            self.shared.publish_cursor(Cursor(epoch, int(state["num_streams"]), int(state["offset"]),
                                              int(state.get("batch_size") or 0),
                                              tuple(int(x) for x in state["consumed"])))
        else:
            self.shared.publish_cursor(None)

    def error_counts(self) -> dict[str, int]:
        """Errors so far, summed over the main process and every worker (shared memory)."""
        return self.shared.error_counts()

    # -------------------------------------------------------------- planning
    def plan(self, epoch: int, num_streams: int, batch: int | None = None) -> list[list[Segment]]:
        """The segments each stream of this rank reads in ``epoch`` (pure; see shards.order)."""
        c = self.config
        return plan_streams(self.sizes, seed=c.seed, epoch=epoch, world_size=self.world_size,
                            rank=self.rank, num_streams=num_streams, batch=batch or None,
                            balance=c.balance, shuffle=c.shuffle)

    def stream_lengths(self, epoch: int, num_streams: int, batch: int | None = None) -> list[int]:
        return [sum(len(s) for s in segs) for segs in self.plan(epoch, num_streams, batch)]

    # ------------------------------------------------------------- iteration
    def __iter__(self) -> Iterator[dict[str, Any]]:
        # Not a generator function: the shared state is read now, when the
        # DataLoader creates the worker's iterator (also on persistent-worker resets).
        info = get_worker_info()
        if info is None:
            self.resolve_distributed()
            worker, workers, slot = 0, 1, MAIN_SLOT
        else:
            worker, workers, slot = info.id, info.num_workers, info.id
            retain_freed_memory()  # a worker's decodes reuse freed blocks (shards.allocator)
        epoch = self.shared.epoch
        cursor = self.shared.pending_cursor()
        if cursor is not None:
            streams, offset, batch = cursor.streams, cursor.offset, cursor.batch
            consumed = cursor.consumed
        else:
            streams, offset, batch = workers, 0, self.shared.batch
            consumed = (0,) * workers
        mine = [(offset + j) % streams for j in range(streams) if j % workers == worker]
        plan = self.plan(epoch, streams, batch)
        gens = [self._stream(epoch, s, plan[s], consumed[s], slot) for s in mine]
        if len(gens) == 1:
            return gens[0]
        return interleave(iter(gens), len(gens))

    def _stream(self, epoch: int, stream: int, segments: list[Segment], consumed: int, slot: int
                ) -> Iterator[dict[str, Any]]:
        """One stream's samples; each carries ``_cursor = (stream, slot)``.

        A slot is a position of the shuffled encoded stream, then (``substitute``) one
        per sample the stream lost to an unreadable shard. A sample that fails to decode
        is replaced by the next good one (so that sample comes twice), and slots left at
        the end by the most recent good sample: the stream yields exactly its planned
        length, whatever ``consumed`` it resumes from.
        """
        c = self.config
        rng = np.random.default_rng(stream_seed(c.seed, epoch, self.rank, stream))
        encoded: Iterator[Encoded] = self.read_segments(segments, slot)
        if c.shuffle:
            encoded = shuffle_buffer(encoded, rng, c.buffer_size, c.buffer_initial)  # type: ignore[arg-type]
        ring: deque[bytes | Span] | None = deque(maxlen=_RING) if self.augment.recomposite_p > 0 else None
        recent: deque[Encoded] = deque(maxlen=_RING)

        def decoded() -> Iterator[tuple[int, dict[str, Any] | None]]:
            for pos, item in enumerate(encoded):
                index, key, members, error, lap = item
                bg = find_member(members, "bg") if ring is not None and error is None else None
                if error is None and c.substitute:
                    recent.append(item)
                if pos >= consumed:
                    yield pos, self._decode(epoch, index, key, members, error, ring, slot, lap=lap)
                if bg is not None:
                    ring.append(bg)  # type: ignore[union-attr]

        if not c.substitute:
            for pos, sample in decoded():
                if sample is not None:
                    yield {**sample, "_cursor": (stream, pos)}
            return

        def fallback() -> dict[str, Any] | None:  # the most recent sample that decodes
            for index, key, members, _, lap in reversed(recent):
                sample = self._decode(epoch, index, key, members, None, ring, slot, report=False, lap=lap)
                if sample is not None:
                    return sample
            return None

        def unfilled(n: int) -> None:
            log.error("stream %d of rank %d: no readable sample to stand in for %d lost ones; this rank "
                      "yields fewer samples than the others this epoch", stream, self.rank, n)

        planned = sum(len(seg) for seg in segments)
        for pos, sample, substituted in substitute(decoded(), consumed=consumed, planned=planned,
                                                   fallback=fallback, unfilled=unfilled):
            if substituted:
                self.shared.count(slot, "samples_substituted")
            yield {**sample, "_cursor": (stream, pos)}

    def _decode(self, epoch: int, index: int, key: str, members: Mapping[str, bytes | Span], error: str | None,
                ring: deque[bytes | Span] | None, slot: int, report: bool = True, lap: int = 0
                ) -> dict[str, Any] | None:
        """Decode and augment one sample into tensors (with ``key`` and ``index``); a failure goes
        to the handler (when ``report``) and gives None. ``lap``: see :func:`sample_seed`."""
        c = self.config
        seed = sample_seed(c.seed, epoch, index, lap)
        try:
            if error is not None:
                raise SampleError(error, key=key)
            alt = None
            if ring:
                alt = ring[int(np.random.default_rng([*seed, _TAG_PARTNER]).integers(len(ring)))]
                alt = load_members({"bg.jpg": alt}, key)
                check_pixels(alt, self.max_pixels)
                alt = alt["bg.jpg"]
            data = load_members(members, key)
            check_pixels(data, self.max_pixels)
            if c.device is not None:
                prepared = prepare_device_sample(data, seed, crop=c.crop, config=self.augment,  # type: ignore[arg-type]
                                                 outputs=c.outputs,  # type: ignore[arg-type]
                                                 device_decode=c.device_decode)  # type: ignore[arg-type]
                return {**prepared, "key": key, "index": index}
            if c.frames is not None:
                arrays = augment_clip(data, seed, crop=c.crop, config=self.augment,  # type: ignore[arg-type]
                                      outputs=c.outputs, frames=c.frames, stride=c.frame_stride,  # type: ignore[arg-type]
                                      reverse_p=c.reverse_p)
            else:
                arrays = augment_sample(data, seed, crop=c.crop,  # type: ignore[arg-type]
                                        config=self.augment, outputs=c.outputs, alt_bg=alt)
            if c.transform is not None:
                arrays = c.transform(dict(arrays), np.random.default_rng([*seed, _TAG_TRANSFORM]))
            sample: dict[str, Any] = to_tensor_sample(arrays, normalize=c.normalize, mean=c.mean, std=c.std,
                                                      clip=c.frames is not None)
        except (SampleError, ValueError, cv2.error) as e:
            if report:
                err = e if isinstance(e, SampleError) else SampleError(f"sample {key!r}: {e}", key=key)
                self._handle(err, slot, "sample_errors")
            return None
        sample["key"] = key
        sample["index"] = index
        return sample

    def read_segments(self, segments: list[Segment], slot: int) -> Iterator[Encoded]:
        """Samples ``(index, key, members, error, lap)`` of ``segments``, ``interleave`` segments
        at a time, one from each in turn (unshuffled: one at a time)."""
        width = self.config.interleave if self.config.shuffle else 1
        return interleave((self._read_segment(seg, slot) for seg in segments), width)

    def _read_segment(self, seg: Segment, slot: int) -> Iterator[Encoded]:
        c, shards = self.config, self.shards
        url = shards.urls[seg.shard]
        first = shards.first_index[seg.shard]
        done = 0
        try:
            if c.verify and seg.shard not in self._verified:
                verify_sha256(url, shards.sha256[seg.shard])  # type: ignore[index]
                self._verified.add(seg.shard)
            for pos, (key, members, error) in iter_shard_samples(
                url, seg.start, seg.stop, keep=self._keep, max_member_bytes=c.max_member_bytes,
                spans=self.buffer == "offsets", to_end=seg.stop == shards.sizes[seg.shard],
            ):
                done += 1
                if error is not None:
                    error = f"bad sample {key!r} in {url}: {error}"
                yield first + pos, key, members, error, seg.lap
        except ShardError as e:
            self.shared.count(slot, "samples_lost", len(seg) - done)
            self._handle(e, slot, "shard_errors")

    def _keep(self, member: str) -> bool:
        return self.config.keeps(member)

    def _handle(self, err: LoaderError, slot: int, counter: str) -> None:
        self.shared.count(slot, counter)
        handler = self.config.handler
        if handler == "raise":
            raise err
        if handler == "skip":
            log.warning("skipped: %s", err)
        else:
            handler(err)  # type: ignore[operator]
