"""Running items one at a time in this process (`--workers 0`: debugging, profiling)."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import cv2

from .progress import LocalBoard

__all__ = ["SerialExecutor"]

T = TypeVar("T")


class SerialExecutor:
    """In-process, one item at a time, in item order (implements `Executor`).

    Items run with one OpenCV thread, as on a Ray worker: some OpenCV results depend on its
    thread count in their last bits (``warpAffine`` on float32, for one), and a build's
    bytes must not depend on where it ran. The caller's setting is restored afterwards.
    """

    name = "serial"
    parallelism = 1
    failures = 0

    def imap_unordered(self, fn: Callable[[Any], T], items: Sequence[Any]) -> Iterator[tuple[int, T]]:
        before = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            for i, item in enumerate(items):
                yield i, fn(item)
        finally:
            cv2.setNumThreads(before)

    def progress_board(self) -> LocalBoard:
        return LocalBoard()

    def close(self) -> None:
        pass

    def __enter__(self) -> "SerialExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
