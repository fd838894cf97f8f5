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

**Sharing state with workers.** Epoch, rank/world size, batch size and the
resume cursor live in a small shared-memory tensor, so ``set_epoch`` and
``load_state_dict`` reach persistent DataLoader workers too, and error
counters from every worker are visible in the main process
(:meth:`MattingDataset.error_counts`).

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

import hashlib
import json
import logging
import os
import tarfile
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal, Mapping, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .collate import IMAGENET_MEAN, IMAGENET_STD, to_tensor_sample
from .manifest import read_manifest, shard_url, manifest_location
from .online_augment import OUTPUTS, AugmentConfig, augment_sample
from .order import Balance, Segment, plan_streams, rank_span, sample_seed, stream_seed
from .reader import (
    MAX_MEMBER_BYTES,
    LoaderError,
    SampleError,
    ShardError,
    Span,
    is_local_tar,
    iter_shard_samples,
    open_shard,
    read_span,
    verify_sha256,
)

__all__ = ["MattingDataset", "Cursor", "Handler", "MAX_STREAMS"]

log = logging.getLogger("shards")

Handler = Literal["raise", "skip"] | Callable[[LoaderError], None]
BufferMode = Literal["auto", "bytes", "offsets"]

#: Most streams (DataLoader workers) a cursor can describe.
MAX_STREAMS = 1024
_MAX_SLOTS = MAX_STREAMS + 1  # one error-counter slot per worker id, plus the main process
_COUNTERS = ("sample_errors", "shard_errors", "samples_lost", "samples_substituted")
# Shared tensor layout.
_EPOCH, _RANK, _WORLD, _BATCH, _RES_EPOCH, _RES_STREAMS, _RES_OFFSET, _RES_BATCH = range(8)
_HEADER = 8
_CONSUMED = _HEADER
_ERRORS = _CONSUMED + MAX_STREAMS
_SHARED_LEN = _ERRORS + _MAX_SLOTS * len(_COUNTERS)
_RING = 16  # re-compositing: a partner bg comes from the last _RING samples of the stream
_TAG_PARTNER = 7


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


def _count_tar_samples(url: str) -> int:
    """Samples in a shard without a manifest: runs of members sharing a key."""
    f = open_shard(url)
    try:
        n, last = 0, None
        with tarfile.open(fileobj=f, mode="r:*") as tar:
            for info in tar:
                key = info.name.partition(".")[0]
                if key != last:
                    n, last = n + 1, key
        return n
    except (tarfile.TarError, OSError, EOFError) as e:
        raise ShardError(f"cannot index shard {url}: {e}", url) from e
    finally:
        f.close()


class MattingDataset(IterableDataset):
    """Stream one split of a sharded matting dataset, augmented afresh every epoch.

    Args:
        source: a manifest (its folder, the ``manifest.json`` path, or an fsspec
            URL of either) or a list of shard URLs (then every shard is scanned
            once to count its samples, and ``split`` is only a label).
        split: the split to read.
        crop: output size (int or (h, w)), or ``None`` for full-size samples.
        seed: base seed of the order and of the augmentation.
        shuffle: ``False`` reads shards and samples in manifest order (no
            buffer), e.g. for validation; the rank/worker split is unchanged.
        rank, world_size: default to ``torch.distributed`` when initialised,
            else 0 and 1.
        buffer_size: shuffle buffer capacity, in encoded samples (memory is
            about ``buffer_size`` times the encoded sample size, per worker).
        buffer_initial: samples buffered before the first one is emitted (the
            buffer then grows to ``buffer_size``); default ``min(100, buffer_size)``.
        buffer: what the shuffle buffer holds: ``"bytes"`` (the encoded members:
            memory about ``buffer_size`` times the encoded sample size per
            worker), ``"offsets"`` (where each member lies in its shard, a few
            dozen bytes per sample; the bytes are read back with ``pread`` when
            the sample leaves the buffer, from the page cache the sequential
            read-through has just filled; local uncompressed ``.tar`` shards
            only), or ``"auto"``: offsets when every shard is a local ``.tar``.
        interleave: shards read at once by one stream.
        balance: ``"drop"`` or ``"pad"``: how every rank gets the same count.
        augment: an :class:`AugmentConfig`, a dict of its fields, or ``False``
            (no scale jitter, no flips, stored trimap; ``crop`` still applies).
        outputs: which of ``image, alpha, trimap, fg, bg`` to return.
        normalize: return the image as normalised ``float32`` (``mean``/``std``).
        handler: ``"skip"`` (count, warn, go on), ``"raise"``, or a callable
            called with the :class:`LoaderError`; it skips when it returns.
        substitute: when samples are skipped (bad bytes, an unreadable shard), repeat
            other samples of the same stream in their place (counted as
            ``samples_substituted``), so every rank still yields ``len(dataset)``
            samples and DDP ranks stay in step; ``False`` yields fewer instead.
        verify: check each shard's sha256 against the manifest before reading.
    """

    def __init__(
        self,
        source: str | os.PathLike | Sequence[str],
        split: str = "train",
        *,
        crop: int | tuple[int, int] | None = 512,
        seed: int = 0,
        shuffle: bool = True,
        rank: int | None = None,
        world_size: int | None = None,
        buffer_size: int = 2000,
        buffer_initial: int | None = None,
        buffer: BufferMode = "auto",
        interleave: int = 4,
        balance: Balance = "drop",
        augment: AugmentConfig | Mapping[str, Any] | bool | None = None,
        outputs: Sequence[str] = OUTPUTS,
        normalize: bool = False,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        handler: Handler = "skip",
        substitute: bool = True,
        verify: bool = False,
        max_member_bytes: int = MAX_MEMBER_BYTES,
    ) -> None:
        super().__init__()
        self.split = split
        if isinstance(source, (str, os.PathLike)):
            loc = manifest_location(source)
            manifest = read_manifest(loc)
            entries = manifest.shards_of(split)
            self.source = os.fspath(source)
            self.urls = [shard_url(loc, e) for e in entries]
            self.sizes = [e.samples for e in entries]
            self.first_index = [e.first_index for e in entries]
            self.sha256: list[str] | None = [e.sha256 for e in entries]
            ident = [[e.path, e.samples, e.sha256, e.first_index] for e in entries]
        else:
            urls = [os.fspath(u) for u in source]
            if not urls or not all(isinstance(u, str) for u in urls):
                raise ValueError(f"source must be a manifest location or a non-empty list of shard URLs, got {source!r}")
            self.source = None
            self.urls = urls
            self.sizes = [_count_tar_samples(u) for u in urls]
            self.first_index = [int(x) for x in np.cumsum([0] + self.sizes[:-1])]
            self.sha256 = None
            ident = [[os.path.basename(u), n] for u, n in zip(urls, self.sizes)]
            if verify:
                raise ValueError("verify=True needs a manifest (shard URLs carry no sha256)")

        if isinstance(crop, int):
            crop = (crop, crop)
        if crop is not None:
            if len(crop) != 2 or min(crop) < 1:
                raise ValueError(f"crop must be a positive int, an (h, w) pair or None, got {crop!r}")
            crop = (int(crop[0]), int(crop[1]))
        self.crop: tuple[int, int] | None = crop
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be >= 1, got {buffer_size}")
        self.buffer_size = int(buffer_size)
        self.buffer_initial = min(self.buffer_size, int(buffer_initial if buffer_initial is not None else 100))
        if self.buffer_initial < 1:
            raise ValueError(f"buffer_initial must be >= 1, got {buffer_initial}")
        if buffer not in ("auto", "bytes", "offsets"):
            raise ValueError(f"buffer must be 'auto', 'bytes' or 'offsets', got {buffer!r}")
        local = all(is_local_tar(u) for u in self.urls)
        if buffer == "offsets" and not local:
            bad = next(u for u in self.urls if not is_local_tar(u))
            raise ValueError(f"buffer='offsets' needs local uncompressed .tar shards, got {bad}")
        self.buffer = "offsets" if buffer == "offsets" or (buffer == "auto" and local) else "bytes"
        if interleave < 1:
            raise ValueError(f"interleave must be >= 1, got {interleave}")
        self.interleave = int(interleave)
        if balance not in ("drop", "pad"):
            raise ValueError(f"balance must be 'drop' or 'pad', got {balance!r}")
        self.balance: Balance = balance
        if augment is None or augment is True:
            self.augment = AugmentConfig()
        elif augment is False:
            self.augment = AugmentConfig(scale=(1.0, 1.0), flip_p=0.0, trimap="stored")
        elif isinstance(augment, AugmentConfig):
            self.augment = augment
        else:
            self.augment = AugmentConfig(**dict(augment))
        outputs = tuple(outputs)
        bad = [o for o in outputs if o not in OUTPUTS]
        if bad or not outputs:
            raise ValueError(f"outputs must be a non-empty subset of {OUTPUTS}, got {outputs}")
        self.outputs = frozenset(outputs)
        self.normalize = bool(normalize)
        self.mean, self.std = tuple(float(x) for x in mean), tuple(float(x) for x in std)
        if not (handler in ("raise", "skip") or callable(handler)):
            raise ValueError(f"handler must be 'raise', 'skip' or a callable, got {handler!r}")
        self.handler = handler
        self.substitute = bool(substitute)
        self.verify = bool(verify)
        self.max_member_bytes = int(max_member_bytes)
        self._explicit_dist = (rank, world_size)
        self.fingerprint = hashlib.sha256(
            json.dumps({"split": split, "shards": ident}, sort_keys=True).encode()
        ).hexdigest()
        stems = {"alpha"}
        if "image" in self.outputs:
            stems.add("image")
        if "fg" in self.outputs or self.augment.recomposite_p > 0:
            stems.add("fg")
        if "bg" in self.outputs or self.augment.recomposite_p > 0:
            stems.add("bg")
        if "trimap" in self.outputs and self.augment.trimap == "stored":
            stems.add("trimap")
        self._stems = frozenset(stems)
        self._verified: set[int] = set()

        self._shared = torch.zeros(_SHARED_LEN, dtype=torch.int64).share_memory_()
        self._shared[_RES_EPOCH] = -1
        self._resolve_distributed()

    # ------------------------------------------------------------ properties
    @property
    def epoch(self) -> int:
        return int(self._shared[_EPOCH])

    @property
    def rank(self) -> int:
        return int(self._shared[_RANK])

    @property
    def world_size(self) -> int:
        return int(self._shared[_WORLD])

    @property
    def num_samples(self) -> int:
        """Samples in the split (all ranks)."""
        return int(sum(self.sizes))

    def __len__(self) -> int:
        """Samples this rank yields per epoch (before skipped errors)."""
        start, stop = rank_span(self.num_samples, self.world_size, self.rank, self.balance)
        return stop - start

    def _resolve_distributed(self) -> None:
        rank, world = self._explicit_dist
        if rank is None or world is None:
            d_rank, d_world = 0, 1
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                d_rank, d_world = torch.distributed.get_rank(), torch.distributed.get_world_size()
            rank = d_rank if rank is None else rank
            world = d_world if world is None else world
        if world < 1 or not 0 <= rank < world:
            raise ValueError(f"rank must be in [0, world_size), got rank={rank}, world_size={world}")
        self._shared[_RANK] = int(rank)
        self._shared[_WORLD] = int(world)

    # ------------------------------------------------------------- epoch/state
    def set_epoch(self, epoch: int) -> None:
        """Select the epoch the next iteration reads; a pending resume cursor of another epoch is dropped."""
        if not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
        if int(epoch) != self.epoch:
            self._shared[_EPOCH] = int(epoch)
            self._shared[_RES_EPOCH] = -1

    def _set_batch_hint(self, batch: int | None) -> None:
        self._shared[_BATCH] = int(batch or 0)

    def _publish_cursor(self, cursor: Cursor | None) -> None:
        """Make ``cursor`` the resume point of the next iteration of its epoch (None: start fresh)."""
        sh = self._shared
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

    def _pending_cursor(self) -> Cursor | None:
        sh = self._shared
        if int(sh[_RES_EPOCH]) != int(sh[_EPOCH]):
            return None
        n = int(sh[_RES_STREAMS])
        return Cursor(int(sh[_EPOCH]), n, int(sh[_RES_OFFSET]), int(sh[_RES_BATCH]),
                      tuple(int(x) for x in sh[_CONSUMED:_CONSUMED + n]))

    def _identity(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "split": self.split, "seed": self.seed,
                "world_size": self.world_size, "balance": self.balance, "shuffle": self.shuffle,
                "buffer_size": self.buffer_size, "buffer_initial": self.buffer_initial,
                "interleave": self.interleave}

    def state_dict(self) -> dict[str, Any]:
        """JSON-able: the epoch and any pending resume cursor (not worker progress; see MattingLoader)."""
        state: dict[str, Any] = {"version": 1, **self._identity(), "rank": self.rank, "epoch": self.epoch}
        cur = self._pending_cursor()
        if cur is not None:
            state.update(num_streams=cur.streams, offset=cur.offset, batch_size=cur.batch,
                         consumed=list(cur.consumed))
        return state

    def check_state(self, state: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` naming the field if ``state`` was saved for another dataset or setup."""
        if not isinstance(state, Mapping) or state.get("version") != 1:
            raise ValueError(f"not a MattingDataset/MattingLoader state (version 1): {state!r:.200}")
        for name, value in self._identity().items():
            if name in state and state[name] != value:
                raise ValueError(f"state was saved with {name}={state[name]!r}, this dataset has {value!r}")

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the epoch, and the resume cursor when ``state`` has one (a MattingLoader state)."""
        self.check_state(state)
        epoch = int(state["epoch"])
        self.set_epoch(epoch)
        if "consumed" in state:
            self._publish_cursor(Cursor(epoch, int(state["num_streams"]), int(state["offset"]),
                                        int(state.get("batch_size") or 0),
                                        tuple(int(x) for x in state["consumed"])))
        else:
            self._publish_cursor(None)

    def error_counts(self) -> dict[str, int]:
        """Errors so far, summed over the main process and every worker (shared memory)."""
        block = self._shared[_ERRORS:].view(_MAX_SLOTS, len(_COUNTERS)).sum(0)
        return {name: int(block[i]) for i, name in enumerate(_COUNTERS)}

    # -------------------------------------------------------------- planning
    def plan(self, epoch: int, num_streams: int, batch: int | None = None) -> list[list[Segment]]:
        """The segments each stream of this rank reads in ``epoch`` (pure; see shards.order)."""
        return plan_streams(self.sizes, seed=self.seed, epoch=epoch, world_size=self.world_size,
                            rank=self.rank, num_streams=num_streams, batch=batch or None,
                            balance=self.balance, shuffle=self.shuffle)

    def stream_lengths(self, epoch: int, num_streams: int, batch: int | None = None) -> list[int]:
        return [sum(len(s) for s in segs) for segs in self.plan(epoch, num_streams, batch)]

    # ------------------------------------------------------------- iteration
    def __iter__(self) -> Iterator[dict[str, Any]]:
        # Not a generator function: the shared state is read now, when the
        # DataLoader creates the worker's iterator (also on persistent-worker resets).
        info = get_worker_info()
        if info is None:
            self._resolve_distributed()
            worker, workers, slot = 0, 1, MAX_STREAMS
        else:
            worker, workers, slot = info.id, info.num_workers, info.id
        sh = self._shared
        epoch = int(sh[_EPOCH])
        cursor = self._pending_cursor()
        if cursor is not None:
            streams, offset, batch = cursor.streams, cursor.offset, cursor.batch
            consumed = cursor.consumed
        else:
            streams, offset, batch = workers, 0, int(sh[_BATCH])
            consumed = (0,) * workers
        mine = [(offset + j) % streams for j in range(streams) if j % workers == worker]
        plan = self.plan(epoch, streams, batch)
        gens = [self._stream(epoch, s, plan[s], consumed[s], slot) for s in mine]
        if len(gens) == 1:
            return gens[0]
        return _interleave(iter(gens), len(gens))

    def iter_encoded(self, epoch: int, stream: int = 0, num_streams: int = 1, batch: int | None = None,
                     ) -> Iterator[tuple[int, str, dict[str, bytes], str | None]]:
        """The shuffled encoded samples ``(index, key, members, error)`` of one stream (no decode;
        members as bytes whatever the ``buffer`` mode)."""
        segs = self.plan(epoch, num_streams, batch)[stream]
        rng = np.random.default_rng(stream_seed(self.seed, epoch, self.rank, stream))
        for index, key, members, error, _ in self._shuffled(self._read_segments(segs, MAX_STREAMS), rng):
            if error is None:
                try:
                    members = _load(members, key)
                except SampleError as e:
                    members, error = {}, str(e)
            yield index, key, members, error

    def _stream(self, epoch: int, stream: int, segments: list[Segment], consumed: int, slot: int
                ) -> Iterator[dict[str, Any]]:
        """One stream's samples; each carries ``_cursor = (stream, slot)``.

        A slot is a position of the shuffled encoded stream, then (``substitute``) one
        per sample the stream lost to an unreadable shard. A sample that fails to decode
        is replaced by the next good one (so that sample comes twice), and slots left at
        the end by the most recent good sample: the stream yields exactly its planned
        length, whatever ``consumed`` it resumes from.
        """
        rng = np.random.default_rng(stream_seed(self.seed, epoch, self.rank, stream))
        encoded = self._shuffled(self._read_segments(segments, slot), rng)
        ring: deque[bytes | Span] | None = deque(maxlen=_RING) if self.augment.recomposite_p > 0 else None
        recent: deque[tuple[int, str, dict[str, bytes | Span], int]] = deque(maxlen=_RING)
        owed: list[int] = []  # slots of failed samples, waiting for the next good one
        pos = -1
        for pos, (index, key, members, error, lap) in enumerate(encoded):
            bg = _member(members, "bg") if ring is not None and error is None else None
            if error is None and self.substitute:
                recent.append((index, key, members, lap))
            if pos >= consumed:
                sample = self._decode(epoch, index, key, members, error, ring, slot, lap=lap)
                if sample is None:
                    if self.substitute:
                        owed.append(pos)
                else:
                    for p in owed:
                        yield self._substitute(sample, stream, p, slot)
                    owed = []
                    yield {**sample, "_cursor": (stream, pos)}
            if bg is not None:
                ring.append(bg)  # type: ignore[union-attr]
        if not self.substitute:
            return
        planned = sum(len(seg) for seg in segments)
        owed += [p for p in range(pos + 1, planned) if p >= consumed]
        if not owed:
            return
        for index, key, members, lap in reversed(recent):  # the most recent sample that decodes
            sample = self._decode(epoch, index, key, members, None, ring, slot, report=False, lap=lap)
            if sample is not None:
                for p in owed:
                    yield self._substitute(sample, stream, p, slot)
                return
        log.error("stream %d of rank %d: no readable sample to stand in for %d lost ones; this rank "
                  "yields fewer samples than the others this epoch", stream, self.rank, len(owed))

    def _substitute(self, sample: dict[str, Any], stream: int, pos: int, slot: int) -> dict[str, Any]:
        self._count(slot, "samples_substituted")
        return {**sample, "_cursor": (stream, pos)}

    def _decode(self, epoch: int, index: int, key: str, members: Mapping[str, bytes | Span], error: str | None,
                ring: deque[bytes | Span] | None, slot: int, report: bool = True, lap: int = 0
                ) -> dict[str, Any] | None:
        """Decode and augment one sample into tensors (with ``key`` and ``index``); a failure goes
        to the handler (when ``report``) and gives None. ``lap``: see :func:`sample_seed`."""
        seed = sample_seed(self.seed, epoch, index, lap)
        try:
            if error is not None:
                raise SampleError(error, key=key)
            alt = None
            if ring:
                alt = ring[int(np.random.default_rng([*seed, _TAG_PARTNER]).integers(len(ring)))]
                alt = _load({"bg": alt}, key)["bg"]
            arrays = augment_sample(_load(members, key), seed, crop=self.crop, config=self.augment,
                                    outputs=self.outputs, alt_bg=alt)
            sample: dict[str, Any] = to_tensor_sample(arrays, normalize=self.normalize, mean=self.mean, std=self.std)
        except (SampleError, ValueError, cv2.error) as e:
            if report:
                err = e if isinstance(e, SampleError) else SampleError(f"sample {key!r}: {e}", key=key)
                self._handle(err, slot, "sample_errors")
            return None
        sample["key"] = key
        sample["index"] = index
        return sample

    def _shuffled(self, source: Iterator[Any], rng: np.random.Generator) -> Iterator[Any]:
        """Bounded shuffle buffer: fills to ``buffer_initial``, grows to ``buffer_size``, drains at the end."""
        if not self.shuffle:
            yield from source
            return
        buf: list[Any] = []
        cap, initial = self.buffer_size, self.buffer_initial
        end = object()
        it = iter(source)
        for item in it:
            buf.append(item)
            if len(buf) < cap:
                extra = next(it, end)
                if extra is not end:
                    buf.append(extra)
            if len(buf) >= initial:
                j = int(rng.integers(len(buf)))
                buf[j], buf[-1] = buf[-1], buf[j]
                yield buf.pop()
        while buf:
            j = int(rng.integers(len(buf)))
            buf[j], buf[-1] = buf[-1], buf[j]
            yield buf.pop()

    def _read_segments(self, segments: list[Segment], slot: int
                       ) -> Iterator[tuple[int, str, dict[str, bytes], str | None, int]]:
        """Samples ``(index, key, members, error, lap)`` of ``segments``, ``interleave`` segments
        at a time, one from each in turn."""
        width = self.interleave if self.shuffle else 1
        return _interleave((self._read_segment(seg, slot) for seg in segments), width)

    def _read_segment(self, seg: Segment, slot: int
                      ) -> Iterator[tuple[int, str, dict[str, bytes | Span], str | None, int]]:
        url = self.urls[seg.shard]
        first = self.first_index[seg.shard]
        done = 0
        try:
            if self.verify and seg.shard not in self._verified:
                verify_sha256(url, self.sha256[seg.shard])  # type: ignore[index]
                self._verified.add(seg.shard)
            for pos, (key, members, error) in iter_shard_samples(
                url, seg.start, seg.stop, keep=self._keep, max_member_bytes=self.max_member_bytes,
                spans=self.buffer == "offsets",
            ):
                done += 1
                if error is not None:
                    error = f"bad sample {key!r} in {url}: {error}"
                yield first + pos, key, members, error, seg.lap
        except ShardError as e:
            self._count(slot, "samples_lost", len(seg) - done)
            self._handle(e, slot, "shard_errors")

    def _keep(self, member: str) -> bool:
        return member.partition(".")[0] in self._stems

    def _count(self, slot: int, name: str, n: int = 1) -> None:
        self._shared[_ERRORS + slot * len(_COUNTERS) + _COUNTERS.index(name)] += n

    def _handle(self, err: LoaderError, slot: int, counter: str) -> None:
        self._count(slot, counter)
        if self.handler == "raise":
            raise err
        if self.handler == "skip":
            log.warning("skipped: %s", err)
        else:
            self.handler(err)  # type: ignore[operator]


def _load(members: Mapping[str, bytes | Span], key: str) -> dict[str, bytes]:
    """Members as bytes: :class:`Span` s (``buffer="offsets"``) are read from their shard."""
    try:
        return {name: read_span(v) if isinstance(v, Span) else v for name, v in members.items()}
    except ShardError as e:
        raise SampleError(f"sample {key!r}: {e}", url=e.url, key=key) from e


def _member(members: Mapping[str, bytes | Span], stem: str) -> bytes | Span | None:
    for name, data in members.items():
        if name.partition(".")[0] == stem:
            return data
    return None


def _interleave(sources: Iterator[Iterator[Any]], width: int) -> Iterator[Any]:
    """One item from each of up to `width` open sources in turn; a finished source is replaced
    by the next one from `sources` (opened lazily, so at most `width` are open at once)."""
    active: deque[Iterator[Any]] = deque()
    while True:
        while len(active) < width:
            nxt = next(sources, None)
            if nxt is None:
                break
            active.append(nxt)
        if not active:
            return
        g = active.popleft()
        try:
            item = next(g)
        except StopIteration:
            continue
        active.append(g)
        yield item
