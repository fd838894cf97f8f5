"""Running items one at a time in this process (`--workers 0`: debugging, profiling)."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

__all__ = ["SerialExecutor"]

T = TypeVar("T")


class SerialExecutor:
    """In-process, one item at a time, in item order (implements `Executor`)."""

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
