"""Keep freed memory in the process for the next sample (glibc only).

A sample at 1024 px allocates and frees dozens of multi-megabyte arrays. glibc serves each
one above its mmap threshold with a fresh ``mmap`` and returns it with ``munmap`` when
freed, so the kernel zero-fills every page again for the next array: at 1024 px that was
about a third of a realistic sample's CPU time, all of it system time (measured figures:
docs/results.md). Raising the mmap threshold to its maximum (32 MiB) and the trim threshold
keeps freed blocks on the heap, where the next sample's arrays reuse them. Values computed
do not change; the process keeps its peak heap instead of returning it between samples.

Called once in every ``synth build`` worker process, and by :class:`shards.MattingDataset`
in each DataLoader worker (never in the training process itself).
"""
from __future__ import annotations

import ctypes
import functools
import sys

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "retain_freed_memory"]

MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest: blocks up to this come from the heap
TRIM_THRESHOLD = 256 * 1024 * 1024  # free memory at the heap's top kept before trimming
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)


@functools.cache
def retain_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds for this process, once (later calls return the
    first answer). True when both were set (glibc on Linux), False elsewhere: other C
    libraries keep their own policy, and nothing else changes."""
    if not sys.platform.startswith("linux"):
        return False
    try:  # the process's own symbols: no ldconfig subprocess in every worker (find_library's way)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # a C library without mallopt (musl)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
