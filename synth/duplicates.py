"""Inputs with the same content: the first (in scan order) is used, every later one is
recorded as skipped, "duplicate of <first> (same content)", so that nothing vanishes
silently and the manifest says why an input is missing."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from .sources.scan import Skipped

__all__ = ["drop_duplicates", "duplicate_reason"]

T = TypeVar("T")


def duplicate_reason(first: str) -> str:
    """The skip reason of an input whose content equals that of `first`."""
    return f"duplicate of {first} (same content)"


def drop_duplicates(items: Sequence[T], key: Callable[[T], str],
                    name: Callable[[T], str]) -> tuple[list[T], list[Skipped]]:
    """(items with a content `key` not seen before, in order; a Skipped per later duplicate,
    naming it and the first item with its key, in order)."""
    first: dict[str, T] = {}
    kept: list[T] = []
    dups: list[Skipped] = []
    for item in items:
        k = key(item)
        if k in first:
            dups.append(Skipped(name(item), duplicate_reason(name(first[k]))))
        else:
            first[k] = item
            kept.append(item)
    return kept, dups
