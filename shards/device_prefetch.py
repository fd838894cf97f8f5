"""Finish the next batches on the device while the current one is in use.

:func:`staged` runs a stage (:class:`shards.device_stage.DeviceStage`) on batch N+1 .. N+depth
in one background thread while the caller trains on batch N. On CUDA the thread queues its
work on a stream of its own, so the JPEG decoding (nvJPEG's Huffman pass runs on the CPU)
and the augmentation kernels overlap the training step instead of following it; each batch
is handed over only after the caller's stream is made to wait for it, and its tensors are
marked as used on the caller's stream (the caching allocator does not reuse their memory
early). Batches come out in order, each exactly once; an error in the stage is raised where
its batch would have been yielded; closing the iterator early waits for the thread.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator, TypeVar

import torch

__all__ = ["staged"]

T = TypeVar("T")


def _tensors(x: Any) -> Iterator[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from _tensors(v)
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from _tensors(v)


def staged(items: Iterable[T], stage: Callable[[T], Any], device: torch.device | str, depth: int = 1
           ) -> Iterator[tuple[T, Any]]:
    """Yield ``(item, stage(item))`` for each item in order, with up to ``depth`` items
    staged ahead in a background thread (``depth=0``: each one when it is asked for)."""
    if depth < 0:
        raise ValueError(f"prefetch depth must be >= 0, got {depth}")
    if depth == 0:
        for item in items:
            yield item, stage(item)
        return
    device = torch.device(device)
    side = torch.cuda.Stream(device) if device.type == "cuda" else None
    if side is not None:  # what was queued before (e.g. the stage's constants) comes first
        side.wait_stream(torch.cuda.current_stream(device))

    def run(item: T) -> tuple[Any, Any]:
        if side is None:
            return stage(item), None
        with torch.cuda.stream(side):
            out = stage(item)
            done = torch.cuda.Event()
            done.record(side)
        return out, done

    def hand_over(future: Future) -> Any:
        out, done = future.result()
        if done is not None:
            current = torch.cuda.current_stream(device)
            current.wait_event(done)
            for t in _tensors(out):
                if t.device.type == "cuda":
                    t.record_stream(current)
        return out

    pending: deque[tuple[T, Future]] = deque()
    with ThreadPoolExecutor(1, thread_name_prefix="matting-device-stage") as pool:
        try:
            for item in items:
                pending.append((item, pool.submit(run, item)))
                if len(pending) > depth:
                    first, future = pending.popleft()
                    yield first, hand_over(future)
            while pending:
                first, future = pending.popleft()
                yield first, hand_over(future)
        finally:
            for _, future in pending:
                future.cancel()
