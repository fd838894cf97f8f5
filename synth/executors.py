"""Executors run the build's per-item and per-shard functions: serially here, on Ray elsewhere.

An executor maps a picklable function over items and reports each result as it completes;
results come back in completion order as `(position, result)`. The build never depends on
completion order (every output is a pure function of its input), which is what makes the
serial and distributed outputs byte-identical.

Errors: an executor raises the exception that `fn` raised (a distributed executor unwraps
its own wrapper first), so callers handle failures the same way whatever runs them.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

__all__ = ["Executor", "SerialExecutor", "TaskError", "make_executor", "default_workers"]

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

    def close(self) -> None:
        ...


class SerialExecutor:
    """In-process, one item at a time (debugging, profiling, `--workers 0`)."""

    name = "serial"
    parallelism = 1
    failures = 0

    def imap_unordered(self, fn: Callable[[Any], T], items: Sequence[Any]) -> Iterator[tuple[int, T]]:
        for i, item in enumerate(items):
            yield i, fn(item)

    def close(self) -> None:
        pass

    def __enter__(self) -> "SerialExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_workers() -> int:
    """Cores this process may use (affinity-aware where the platform tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def make_executor(workers: int | None = None, address: str | None = None, *, quiet: bool = True,
                  log: Callable[[str], None] | None = None) -> Executor:
    """`workers=0`: serial in this process; otherwise Ray — a local instance with `workers`
    CPUs (default: all cores), or the cluster at `address` ("auto", "ray://host:port") with
    at most `workers` tasks in flight (default: the cluster's CPUs)."""
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    if workers == 0:
        if address:
            raise ValueError(f"workers=0 runs serially in this process; it cannot be combined with address={address!r}")
        return SerialExecutor()
    from .ray_executor import RayExecutor

    return RayExecutor(workers=workers, address=address, quiet=quiet, log=log)
