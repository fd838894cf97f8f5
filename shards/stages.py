"""Generator stages of the loader's pipeline, each usable on a plain list.

:func:`interleave` reads several sources in turn, :func:`shuffle_buffer` is the
bounded shuffle over encoded samples, :func:`substitute` keeps a stream at its
planned length when samples fail. Their order of draws and of calls is part of the
loader's determinism contract: changing it changes every epoch's order.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np

__all__ = ["interleave", "shuffle_buffer", "substitute"]

T = TypeVar("T")


def interleave(sources: Iterator[Iterator[T]], width: int) -> Iterator[T]:
    """One item from each of up to ``width`` open sources in turn; a finished source is
    replaced by the next one from ``sources`` (opened lazily, so at most ``width`` are
    open at once)."""
    active: deque[Iterator[T]] = deque()
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


def shuffle_buffer(source: Iterable[T], rng: np.random.Generator, size: int, initial: int) -> Iterator[T]:
    """Bounded shuffle: fills to ``initial`` items, grows to ``size`` (two items read per
    item emitted), drains at the end. One ``rng.integers`` draw per item emitted."""
    buf: list[T] = []
    end = object()
    it = iter(source)
    for item in it:
        buf.append(item)
        if len(buf) < size:
            extra = next(it, end)
            if extra is not end:
                buf.append(extra)  # type: ignore[arg-type]
        if len(buf) >= initial:
            j = int(rng.integers(len(buf)))
            buf[j], buf[-1] = buf[-1], buf[j]
            yield buf.pop()
    while buf:
        j = int(rng.integers(len(buf)))
        buf[j], buf[-1] = buf[-1], buf[j]
        yield buf.pop()


def substitute(
    results: Iterable[tuple[int, T | None]],
    *,
    consumed: int,
    planned: int,
    fallback: Callable[[], T | None],
    unfilled: Callable[[int], None],
) -> Iterator[tuple[int, T, bool]]:
    """Fill the slots of failed samples so that a stream yields every slot in
    ``[consumed, planned)``.

    ``results``: ``(slot, sample or None)`` for the slots ``consumed, consumed + 1, ...``
    (None: the sample failed). Yields ``(slot, sample, substituted)``: a failed slot
    gets the next good sample (yielded just before that one), slots left at the end
    (the stream ended early, or its last samples failed) get ``fallback()`` (called
    once, only if needed); if that is None, ``unfilled(n)`` is called with the
    number of slots left empty.
    """
    owed: list[int] = []
    last = consumed - 1
    for slot, sample in results:
        last = slot
        if sample is None:
            owed.append(slot)
            continue
        for p in owed:
            yield p, sample, True
        owed = []
        yield slot, sample, False
    owed += range(last + 1, planned)
    if not owed:
        return
    sample = fallback()
    if sample is None:
        unfilled(len(owed))
        return
    for p in owed:
        yield p, sample, True
