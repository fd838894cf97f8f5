"""Shared-memory blocks that DataLoader workers reuse for the batches they send.

A plain DataLoader worker collates each batch into fresh shared memory (one segment per
tensor), and the main process maps it. Every page of a fresh segment costs a page fault
and zeroing in the worker: about a fifth of a worker's time for 512² samples with
image, alpha, trimap, fg and bg (3.6 MB a sample; see ``benchmarks/bench_loader.py``).

:class:`PooledCollate` keeps up to ``blocks`` memfd blocks per worker process and writes
each batch into a free one, whose pages are already there. The batch pickles as the
block's file descriptor plus where each tensor lies in it (:class:`PooledBatch`); the
main process maps the block and gets ordinary CPU tensors. When the last tensor of that
batch dies (views and ``.numpy()`` arrays included), the main process marks the block
free again: the first byte of its header.

Safety: a worker writes only into a block marked free, and only the main process frees
it, after every tensor viewing the batch is gone; a tensor moved to other shared memory
(``share_memory_()``, sent to another process) or pinned is a copy; a process forked from
the main one never frees a block. When no block is free (the consumer holds many batches)
or none can be made, the batch goes into fresh shared memory as before: a worker never
waits and no batch is overwritten. Only on systems with ``os.memfd_create``
(Linux); elsewhere, and in the main process (``num_workers=0``), collating is
:func:`shards.collate.collate_matting` unchanged.
"""
from __future__ import annotations

import math
import mmap
import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import get_worker_info

from .collate import BATCH_INSTANCE_KEYS, collate_matting

__all__ = ["PooledBatch", "PooledCollate", "batch_bytes", "prune_mappings"]

_HEADER = 64  # the state byte at offset 0, then padding; tensors start 64-byte aligned
_ALIGN = 64
_FREE, _LEASED = 0, 1


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _nbytes(shape: Sequence[int], dtype: torch.dtype) -> int:
    return math.prod(shape) * dtype.itemsize


def _view(buffer: np.ndarray, offset: int, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """A tensor of ``shape``/``dtype`` over ``buffer[offset:]`` (uint8); it keeps a slice of
    ``buffer`` alive, and so the buffer's export of its mapping."""
    return torch.from_numpy(buffer[offset:offset + _nbytes(shape, dtype)]).view(dtype).view(shape)


def batch_bytes(samples: Sequence[Mapping[str, Any]]) -> int:
    """An upper bound on the bytes :func:`collate_matting` allocates for ``samples``' tensors
    (each 64-byte aligned; per-instance tensors padded to the largest count)."""
    n = len(samples)
    total = _aligned(8 * n)  # index
    for name, first in samples[0].items():
        if name.startswith("_") or not isinstance(first, torch.Tensor):
            continue
        values = [s[name] for s in samples]
        if name in BATCH_INSTANCE_KEYS:  # padded to the longest list, plus instance_valid (bool)
            k = max(int(v.shape[0]) for v in values)
            total += _aligned(_nbytes((n, k, *first.shape[1:]), first.dtype)) + _aligned(n * k)
        else:
            total += _aligned(n * max(v.numel() for v in values) * first.dtype.itemsize)
    return total


#: A block's identity in the main process's cache: (worker pid, random per worker process, serial).
Token = tuple[int, int, int]


class _Block:
    """One memfd of ``size`` bytes mapped in this (worker) process."""

    def __init__(self, size: int, token: Token) -> None:
        self.token = token
        self.size = -(-size // mmap.PAGESIZE) * mmap.PAGESIZE
        self.fd = os.memfd_create("matting-batch", os.MFD_CLOEXEC)
        try:
            os.ftruncate(self.fd, self.size)
            self.map = mmap.mmap(self.fd, self.size)
        except BaseException:
            os.close(self.fd)
            raise

    def free(self) -> bool:
        return self.map[0] == _FREE

    def close(self) -> None:
        try:
            self.map.close()
        except BufferError:  # a tensor of this process still views it: the GC unmaps it later
            pass
        os.close(self.fd)


class _Lease:
    """A block leased for one batch: hands out 64-byte aligned tensors in it, in order."""

    def __init__(self, block: _Block) -> None:
        self.block = block
        self.used = _HEADER
        # id(tensor) -> (its data pointer, where): the pointer tells a placed tensor from a
        # later object that got the id of one the collate dropped
        self.placed: dict[int, tuple[int, tuple[int, tuple[int, ...], torch.dtype]]] = {}

    def alloc(self, shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
        shape = tuple(int(s) for s in shape)
        nbytes = _nbytes(shape, dtype)
        if not nbytes or self.used + nbytes > self.block.size:
            # empty, or past batch_bytes' bound (a collate output it does not know): a private
            # tensor, which torch's own pickling sends as before
            return torch.empty(shape, dtype=dtype)
        offset = self.used
        t = _view(np.frombuffer(self.block.map, np.uint8), offset, shape, dtype)
        self.used = _aligned(offset + nbytes)
        self.placed[id(t)] = (t.data_ptr(), (offset, shape, dtype))
        return t

    def seal(self, batch: dict[str, Any], retired: list[Token]) -> PooledBatch:
        pooled, rest = {}, {}
        for name, value in batch.items():
            ptr, where = self.placed.get(id(value), (None, None))
            if where is not None and isinstance(value, torch.Tensor) and value.data_ptr() == ptr:
                pooled[name] = where
            else:
                rest[name] = value
        return PooledBatch(batch, self.block, pooled, rest, retired)


class PooledBatch(dict):
    """A batch collated into a pooled block (a plain dict in the worker). It pickles as the
    block's file descriptor and token, the tensors' places and the tokens of blocks the
    worker has closed since its last batch; unpickled, it is a plain dict of tensors viewing
    the block, which is marked free when the last of them dies."""

    def __init__(self, batch: dict[str, Any], block: _Block, pooled: dict[str, tuple], rest: dict[str, Any],
                 retired: list[Token]) -> None:
        super().__init__(batch)
        self._block, self._pooled, self._rest, self._retired = block, pooled, rest, retired

    def __reduce__(self):
        from multiprocessing.reduction import DupFd

        b = self._block
        return (_rebuild, (DupFd(b.fd), b.token, b.size, list(self.keys()), self._pooled, self._rest, self._retired))


def _release(view: mmap.mmap, pid: int) -> None:
    # Only in the process that mapped it: a child forked while another thread held the batch
    # drops that thread's references, and must not free a block its parent still reads.
    if os.getpid() == pid:
        view[0] = _FREE


class _Mappings:
    """The main process's mappings of the workers' blocks, by token: a block that carries many
    batches is mapped once, so its pages are faulted in once, not for every batch. A mapping
    is dropped when its worker reports the block closed, or has exited (:func:`prune_mappings`);
    tensors still viewing it keep it mapped until they go."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.views: dict[Token, mmap.mmap] = {}
        self.lock = threading.Lock()  # loaders' pin-memory threads may unpickle at once

    def view(self, token: Token, size: int, fd: int) -> mmap.mmap:
        with self.lock:
            view = self.views.get(token)  # a token names one block, of one size, for its life
            if view is None:
                view = mmap.mmap(fd, size)  # pages are mapped as they are read (a consumer may skip some)
                self._prune()  # a new block: a good time to let go of exited workers' blocks
                self.views[token] = view
            return view

    def forget(self, tokens: list[Token]) -> None:
        with self.lock:
            for token in tokens:
                self.views.pop(token, None)

    def prune(self) -> None:
        with self.lock:
            self._prune()

    def _prune(self) -> None:
        for pid in {t[0] for t in self.views}:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                for token in [t for t in self.views if t[0] == pid]:
                    del self.views[token]
            except PermissionError:  # alive, another user's (a reused pid): keep
                pass


#: This process's mappings (a cache of OS mappings, like torch's shared-memory cache); a
#: forked child starts its own (:func:`_mappings`).
_MAPPINGS = _Mappings()


def _mappings() -> _Mappings:
    global _MAPPINGS
    if _MAPPINGS.pid != os.getpid():
        _MAPPINGS = _Mappings()
    return _MAPPINGS


def prune_mappings() -> None:
    """Let go of this process's mappings of blocks whose workers have exited (their memory
    is freed once no tensor views it). :class:`shards.MattingLoader` calls it after each
    complete pass; a new block also triggers it."""
    _mappings().prune()


def _rebuild(handle: Any, token: Token, size: int, order: list[str], pooled: dict[str, tuple], rest: dict[str, Any],
             retired: list[Token]) -> dict[str, Any]:
    """The main process's side: view the block's tensors (mapping it on first use), free the
    block when they are all gone."""
    mappings = _mappings()
    mappings.forget(retired)
    fd = handle.detach()  # always: the worker's resource sharer holds a duplicate until it is taken
    try:
        view = mappings.view(token, size, fd)
    finally:
        os.close(fd)
    base = np.frombuffer(view, np.uint8)  # this batch's own export of the mapping
    out: dict[str, Any] = {}
    for name in order:
        if name in pooled:
            out[name] = _view(base, *pooled[name])
        else:
            out[name] = rest[name]
    # Every tensor above holds a slice of `base`; when the last goes, base goes, and the block
    # is marked free.
    weakref.finalize(base, _release, view, os.getpid())
    return out


class PooledCollate:
    """:func:`collate_matting` into up to ``blocks`` reused shared-memory blocks per
    DataLoader worker (see the module docstring); in the main process, or with
    ``blocks=0``, it is :func:`collate_matting` itself."""

    def __init__(self, blocks: int = 4) -> None:
        if int(blocks) != blocks or blocks < 0:
            raise ValueError(f"batch pool: blocks must be an integer >= 0, got {blocks!r}")
        self.blocks = int(blocks)
        self._pid = -1
        self._pool: list[_Block] = []
        self._retired: list[Token] = []  # blocks closed since the last batch sent
        self._nonce, self._serial = 0, 0
        self.fallbacks = 0  # batches collated into fresh memory instead (this process)

    def __getstate__(self) -> dict[str, Any]:  # a spawned worker starts with an empty pool
        return {"blocks": self.blocks}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["blocks"])  # type: ignore[misc]

    def _lease(self, need: int) -> _Lease | None:
        """A free block of at least ``need`` bytes, marked leased; None when there is none
        (every block in use, or a new one could not be made: no memory, no fds left)."""
        if self._pid != os.getpid():  # a forked worker: the parent's blocks are not ours
            self._pid, self._pool, self._retired = os.getpid(), [], []
            self._nonce = int.from_bytes(os.urandom(6), "little")
        free = [b for b in self._pool if b.free()]
        fit = [b for b in free if b.size >= need]
        if fit:
            block = min(fit, key=lambda b: b.size)
        elif len(self._pool) < self.blocks or free:
            if len(self._pool) >= self.blocks:  # every free block is too small: replace the smallest
                old = min(free, key=lambda b: b.size)
                self._pool.remove(old)
                old.close()
                self._retired.append(old.token)
            try:
                self._serial += 1
                block = _Block(need, (self._pid, self._nonce, self._serial))
            except OSError:
                self.fallbacks += 1
                return None
            self._pool.append(block)
        else:
            self.fallbacks += 1
            return None
        block.map[0] = _LEASED
        return _Lease(block)

    def __call__(self, samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        if not self.blocks or get_worker_info() is None or not hasattr(os, "memfd_create") or not samples:
            return collate_matting(samples)
        lease = self._lease(batch_bytes(samples))
        if lease is None:
            return collate_matting(samples)
        try:
            batch = lease.seal(collate_matting(samples, alloc=lease.alloc), self._retired)
            self._retired = []
            return batch
        except BaseException:
            lease.block.map[0] = _FREE
            raise
