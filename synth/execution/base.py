"""The executor protocol: how build and stats run a function over many items.

An executor maps a picklable function over items and reports each result as it completes,
as `(position, result)` in completion order. Callers never depend on that order (every
output is a pure function of its input; stats merges in item order, :func:`imap_in_order`),
which is what makes serial and distributed outputs identical.

Errors: an executor raises the exception that `fn` raised (a distributed executor unwraps
its own wrapper first), so callers handle failures the same way whatever runs them.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

__all__ = ["Executor", "TaskError", "default_workers", "imap_in_order"]

T = TypeVar("T")


class TaskError(RuntimeError):
    """An item failed for a reason other than an exception of `fn` (e.g. its worker kept
    dying); `position` is the item's index."""

    def __init__(self, position: int, message: str) -> None:
        super().__init__(message)
        self.position = position

    def __reduce__(self):
        return (type(self), (self.position, str(self)))


class Executor(Protocol):
    """Anything that can run `fn(item)` for many items and yield `(position, result)`.

    `parallelism` is how many items may run at once (1 for serial); `failures` counts
    attempts lost to a dead worker and retried so far (0 for serial).
    """

    name: str

    @property
    def parallelism(self) -> int: ...

    @property
    def failures(self) -> int: ...

    def imap_unordered(self, fn: Callable[[Any], T], items: Sequence[Any]) -> Iterator[tuple[int, T]]:
        ...

    def progress_board(self) -> Any:
        """A board (see :mod:`synth.execution.progress`) that tasks on this executor can
        ``report(key, done)`` to while they run, and the caller can ``snapshot()``."""
        ...

    def close(self) -> None:
        ...


def imap_in_order(executor: Executor, fn: Callable[[Any], T], items: Sequence[Any],
                  on_result: Callable[[T], None] | None = None) -> Iterator[T]:
    """`fn(item)` for every item, yielded in item order (results that complete early wait,
    so at most the ones finished out of order are held). `on_result` sees each result as
    soon as it completes (e.g. to advance a progress bar)."""
    waiting: dict[int, T] = {}
    nxt = 0
    for pos, result in executor.imap_unordered(fn, items):
        if on_result is not None:
            on_result(result)
        waiting[pos] = result
        while nxt in waiting:
            yield waiting.pop(nxt)
            nxt += 1


def default_workers() -> int:
    """Cores this process may use (affinity-aware where the platform tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
