"""Executors run the build's per-item and per-shard functions: serially here, on Ray elsewhere.

An executor maps a picklable function over items and reports each result as it completes;
results come back in completion order as `(position, result)`. The build never depends on
completion order (every output is a pure function of its input), which is what makes the
serial and distributed outputs byte-identical.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

__all__ = ["Executor", "SerialExecutor"]

T = TypeVar("T")


class Executor(Protocol):
    """Anything that can run `fn(item)` for many items and yield `(position, result)`."""

    name: str

    def imap_unordered(self, fn: Callable[[Any], T], items: Sequence[Any]) -> Iterator[tuple[int, T]]:
        ...

    def close(self) -> None:
        ...


class SerialExecutor:
    """In-process, one item at a time (debugging, profiling, `--workers 0`)."""

    name = "serial"

    def imap_unordered(self, fn: Callable[[Any], T], items: Sequence[Any]) -> Iterator[tuple[int, T]]:
        for i, item in enumerate(items):
            yield i, fn(item)

    def close(self) -> None:
        pass
