"""`MattingLoader`: a ``DataLoader`` that knows where it is, for exact mid-epoch resume.

DataLoader workers hide their progress from the main process, so the loader
counts what it has *yielded*: every sample carries ``(stream, position)``
(its place in its worker's shuffled encoded stream), the collate wrapper
lifts these out of each batch, and the loader keeps, per stream, how many
encoded samples are done and which stream's batch comes next in the
DataLoader's round-robin over workers. ``state_dict()`` is a small JSON-able
dict; ``load_state_dict()`` makes the next iteration continue exactly as the
uninterrupted run would (same ``num_workers`` and batch size; with one worker
any batch size). With another batch size and several workers, or another
``num_workers``, the rest of the epoch is still read exactly once, in another
order (a warning says so); the streams stay cut as saved until the epoch ends.

Epochs: the loader iterates ``dataset.epoch``; when an iteration runs to its
end, it moves the dataset to the next epoch, so ``for batch in loader`` in
an outer loop sees a new order every time; calling ``set_epoch(e)`` in the
loop (as with ``DistributedSampler``) works too. Breaking out of a loop and
iterating again continues the same epoch where the last yielded batch left
off.

In a distributed job all ranks yield the same number of batches and, with no
skipped errors, have identical states, so saving rank 0's state is enough.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch
from torch.utils.data import DataLoader

from .batch_pool import PooledCollate, prune_mappings
from .dataset import MattingDataset
from .device_prefetch import staged
from .device_stage import DeviceStage, collate_device
from .shared_state import MAX_STREAMS, Cursor

__all__ = ["MattingLoader"]


def _pin(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.pin_memory()
    if isinstance(obj, dict):
        return {k: _pin(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_pin(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_pin(v) for v in obj)
    return obj


class _Tagged:
    """A collated batch plus the ``(stream, position)`` of each of its samples."""

    __slots__ = ("batch", "cursors")

    def __init__(self, batch: Any, cursors: tuple[tuple[int, int], ...]) -> None:
        self.batch = batch
        self.cursors = cursors

    def pin_memory(self) -> "_Tagged":
        return _Tagged(_pin(self.batch), self.cursors)

    def __reduce__(self):
        return (_Tagged, (self.batch, self.cursors))


def _no_collate(sample: Any) -> Any:
    """batch_size=None: contiguous per-sample tensors (views would share their whole source)."""
    return {k: v.contiguous() if isinstance(v, torch.Tensor) else v for k, v in sample.items()}


class _CursorCollate:
    """Wraps the user's collate: takes ``_cursor`` out of each sample, tags the batch with them."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, samples: Any) -> _Tagged:
        if isinstance(samples, Mapping):  # batch_size=None: one sample at a time
            cursor = samples.pop("_cursor")
            return _Tagged(self.fn(samples), (tuple(cursor),))
        cursors = tuple(tuple(s.pop("_cursor")) for s in samples)
        return _Tagged(self.fn(samples), cursors)


@dataclass
class _Progress:
    epoch: int
    streams: int
    offset: int
    batch: int
    consumed: list[int]
    batches: int = 0
    samples: int = 0
    loaded: bool = field(default=False)

    def cursor(self) -> Cursor:
        return Cursor(self.epoch, self.streams, self.offset, self.batch, tuple(self.consumed))

    def update(self, cursors: Sequence[tuple[int, int]]) -> None:
        for stream, pos in cursors:
            if pos + 1 > self.consumed[stream]:
                self.consumed[stream] = pos + 1
        self.offset = (cursors[-1][0] + 1) % self.streams
        self.batches += 1
        self.samples += len(cursors)


class MattingLoader(DataLoader):
    """A ``DataLoader`` over a :class:`MattingDataset` with ``state_dict()`` / ``load_state_dict()``.

    Takes the ``DataLoader`` arguments (``batch_size``, ``num_workers``,
    ``pin_memory``, ``persistent_workers``, ``prefetch_factor``, ``drop_last``,
    ``collate_fn`` ...); ``collate_fn`` defaults to :func:`shards.collate.collate_matting`.
    ``sampler``, ``batch_sampler``, ``shuffle`` and ``in_order=False`` are
    refused: the order belongs to the dataset. With a dataset made with ``device=``, each
    batch is finished on that device (:class:`shards.device_stage.DeviceStage`) before it
    is yielded; its tensors are on the device. ``device_prefetch`` batches are finished
    ahead, in a background thread (on CUDA on a stream of its own), while the current one
    is in use (:func:`shards.device_prefetch.staged`; ``0``: each when it is asked for;
    default ``None``: 1 on CUDA, 0 elsewhere, where the thread would only share the cores).
    With the default collate, each worker writes its batches into up to ``batch_pool``
    shared-memory blocks it reuses once the main process has let go of every tensor of the
    batch a block held (:mod:`shards.batch_pool`; fresh pages cost a worker about a fifth
    of its time). Default ``None``: ``prefetch_factor + 2`` (the batches a worker may have
    queued, the one in use and the one being dropped; 4 with DataLoader's default);
    ``batch_pool=0``: fresh shared memory for every batch, as a plain ``DataLoader`` does.
    """

    def __init__(self, dataset: MattingDataset, batch_size: int | None = 1, *,
                 collate_fn: Callable[[Any], Any] | None = None, device_prefetch: int | None = None,
                 batch_pool: int | None = None, **kwargs: Any) -> None:
        if not isinstance(dataset, MattingDataset):
            raise ValueError(f"MattingLoader needs a MattingDataset, got {type(dataset).__name__}")
        for name in ("sampler", "batch_sampler"):
            if kwargs.get(name) is not None:
                raise ValueError(f"MattingLoader: {name} is not supported (the dataset orders samples)")
        if kwargs.get("shuffle"):
            raise ValueError("MattingLoader: shuffle is the dataset's (MattingDataset(shuffle=...))")
        if kwargs.get("in_order", True) is False:
            raise ValueError("MattingLoader: in_order=False makes the order depend on timing; it is not supported")
        if kwargs.get("num_workers", 0) > MAX_STREAMS:
            raise ValueError(f"MattingLoader: at most {MAX_STREAMS} workers, got {kwargs['num_workers']}")
        if device_prefetch is not None and (int(device_prefetch) != device_prefetch or device_prefetch < 0):
            raise ValueError(f"MattingLoader: device_prefetch must be an integer >= 0 or None, "
                             f"got {device_prefetch!r}")
        cfg = dataset.config
        self._stage: DeviceStage | None = None
        if cfg.device is not None:
            if collate_fn is not None or batch_size is None:
                raise ValueError("MattingLoader: a dataset with device= needs a batch_size and the default collate")
            collate_fn = collate_device
            self._stage = DeviceStage(cfg.device, cfg.crop, outputs=cfg.outputs,  # type: ignore[arg-type]
                                      normalize=cfg.normalize, mean=cfg.mean, std=cfg.std)
            if device_prefetch is None:
                device_prefetch = 1 if self._stage.device.type == "cuda" else 0
        self.device_prefetch = int(device_prefetch or 0)
        if collate_fn is None:
            if batch_pool is None:  # the batches a worker may have queued, one in use, one being dropped
                batch_pool = (kwargs.get("prefetch_factor") or 2) + 2
            collate_fn = PooledCollate(batch_pool) if batch_size is not None else _no_collate
        self._user_collate = collate_fn
        super().__init__(dataset, batch_size=batch_size, collate_fn=_CursorCollate(collate_fn), **kwargs)
        dataset.shared.set_batch(batch_size)
        self._progress: _Progress | None = None

    # ------------------------------------------------------------------ state
    @property
    def _streams(self) -> int:
        return max(self.num_workers, 1)

    def _fresh(self, epoch: int) -> _Progress:
        return _Progress(epoch, self._streams, 0, int(self.batch_size or 0), [0] * self._streams)

    def set_epoch(self, epoch: int) -> None:
        """Same as ``dataset.set_epoch``: a new epoch starts from its beginning."""
        self.dataset.set_epoch(epoch)

    @property
    def epoch(self) -> int:
        return self.dataset.epoch

    def state_dict(self) -> dict[str, Any]:
        """JSON-able position: epoch, batches and samples yielded in it, per-stream cursor, identity.

        An epoch whose every sample has been yielded is reported as the start of the next one.
        """
        ds: MattingDataset = self.dataset  # type: ignore[assignment]
        prog = self._progress
        if prog is None or prog.epoch != ds.epoch:
            prog = self._fresh(ds.epoch)
        lengths = ds.stream_lengths(prog.epoch, prog.streams, prog.batch)
        if any(prog.consumed) and all(c >= n for c, n in zip(prog.consumed, lengths)):
            prog = self._fresh(prog.epoch + 1)
        return {
            "version": 1,
            **ds.identity(),
            "rank": ds.rank,
            "epoch": prog.epoch,
            "batches": prog.batches,
            "samples": prog.samples,
            "num_streams": prog.streams,
            "offset": prog.offset,
            "batch_size": prog.batch,
            "consumed": list(prog.consumed),
            "errors": ds.error_counts(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from ``state`` (from :meth:`state_dict`); ``ValueError`` if it belongs elsewhere."""
        ds: MattingDataset = self.dataset  # type: ignore[assignment]
        ds.check_state(state)
        try:
            epoch, streams = int(state["epoch"]), int(state["num_streams"])
            consumed = [int(x) for x in state["consumed"]]
            prog = _Progress(epoch, streams, int(state["offset"]) % max(streams, 1), int(state["batch_size"]),
                             consumed, int(state.get("batches", 0)), int(state.get("samples", 0)), loaded=True)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"MattingLoader.load_state_dict: malformed state ({e!r})") from None
        if not 1 <= streams <= MAX_STREAMS or len(consumed) != streams or min(consumed) < 0:
            raise ValueError(f"MattingLoader.load_state_dict: bad cursor (num_streams={streams}, consumed={consumed})")
        if streams != self._streams and any(consumed):
            warnings.warn(
                f"state was saved with {streams} stream(s) (num_workers) and this loader has {self._streams}: "
                "the rest of the epoch is read exactly once, but not in the uninterrupted order",
                stacklevel=2,
            )
        elif streams > 1 and any(consumed) and prog.batch != int(self.batch_size or 0):
            warnings.warn(
                f"state was saved with batch_size={prog.batch or None} and this loader has {self.batch_size}: "
                f"with {streams} workers the rest of the epoch is the same samples, each once and with the "
                "same augmentation, but in another order (batches are taken from the workers in turn)",
                stacklevel=2,
            )
        ds.set_epoch(epoch)
        self._progress = prog

    # -------------------------------------------------------------- iteration
    def _finished(self, tagged_batches: Iterator[Any]) -> Iterator[tuple[Any, Any]]:
        """``(tagged, batch)``: the collated batch, finished on the device for ``device=``."""
        if self._stage is None:
            return ((tagged, tagged.batch) for tagged in tagged_batches)
        stage = self._stage
        return staged(tagged_batches, lambda tagged: stage(tagged.batch), stage.device, self.device_prefetch)

    def __len__(self) -> int:
        """Batches this rank yields in a whole epoch."""
        ds: MattingDataset = self.dataset  # type: ignore[assignment]
        if self.batch_size is None:
            return len(ds)
        lengths = ds.stream_lengths(ds.epoch, self._streams, self.batch_size)
        b = self.batch_size
        return sum(n // b if self.drop_last else -(-n // b) for n in lengths)

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        ds: MattingDataset = self.dataset  # type: ignore[assignment]
        ds.resolve_distributed()
        epoch = ds.epoch
        prog = self._progress
        if prog is None or prog.epoch != epoch:
            pending = ds.shared.pending_cursor()  # e.g. from dataset.load_state_dict
            if pending is not None:
                prog = _Progress(pending.epoch, pending.streams, pending.offset, pending.batch,
                                 list(pending.consumed))
            else:
                prog = self._fresh(epoch)
        if not any(prog.consumed) and (prog.streams, prog.batch) != (self._streams, int(self.batch_size or 0)):
            prog = self._fresh(epoch)  # nothing read yet: cut the epoch for this loader
        ds.shared.set_batch(self.batch_size)
        ds.shared.publish_cursor(prog.cursor() if any(prog.consumed) else None)
        self._progress = prog
        for tagged, batch in self._finished(super().__iter__()):
            prog.update(tagged.cursors)
            yield batch
        prune_mappings()  # the pass's workers have exited (unless persistent): let go of their blocks
        if self._progress is prog:
            ds.set_epoch(epoch + 1)
            self._progress = None
