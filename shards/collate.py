"""Arrays to tensors, and batching into ``pin_memory``-ready dicts.

A sample from :class:`shards.MattingDataset` is a dict:

- ``image``: ``uint8 (3, H, W)`` RGB, or ``float32 (3, H, W)`` normalised
  (``(x / 255 - mean) / std``) when the dataset was asked for it;
- ``alpha``: ``float32 (1, H, W)`` in [0, 1];
- ``trimap``: ``uint8 (1, H, W)`` in {0, 128, 255};
- ``fg``, ``bg``: ``uint8 (3, H, W)`` RGB;
- ``guidance``: ``float32 (1, H, W)`` in [0, 1]; ``detail``: ``float32 (1, H, W)`` in {0, 1};
  ``semantic``: ``uint8 (1, H, W)`` classes or ``float32 (1, h, w)`` low-res soft mask;
- instances (K per sample): ``instances``, ``amodal``: ``float32 (K, H, W)``;
  ``instance_id``, ``instance_depth``: ``int64 (K,)``; ``instance_box``: ``float32 (K, 4)``
  ``(x0, y0, x1, y1)`` in output pixels;
- clips (``frames=T``): every tensor above with a leading time axis, ``(T, C, H, W)``;
- ``key``: ``str``; ``index``: ``int`` (the sample's index in its split);
- ``_cursor``: ``(stream, position)``, the bookkeeping :class:`shards.MattingLoader`
  uses for exact resume (dropped by :func:`collate_matting`).

:func:`collate_matting` stacks the tensors (into shared memory when called
in a DataLoader worker, so nothing is copied on the way to the main
process), keeps ``key`` as a list of str and ``index`` as an int64 tensor.
Instance lists of different lengths are padded to the longest in the batch (zeros;
``instance_id`` and ``instance_depth`` -1) and ``instance_valid``: ``bool (B, K)``
says which entries are real.
Everything in the batch is a contiguous CPU tensor or a list of str, so
``pin_memory=True`` pins it as is.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import get_worker_info

from augment.planes import per_channel

from .config import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["to_tensor_sample", "collate_matting", "IMAGENET_MEAN", "IMAGENET_STD"]



def _chw(arr: np.ndarray) -> torch.Tensor:
    # A view (no copy): the batch stacking in collate_matting is the one copy.
    if arr.ndim == 2:
        return torch.from_numpy(arr).unsqueeze(0)
    return torch.from_numpy(arr).permute(2, 0, 1)


def _tchw(arr: np.ndarray) -> torch.Tensor:
    """(T, H, W[, C]) -> (T, C, H, W) view."""
    if arr.ndim == 3:
        return torch.from_numpy(arr).unsqueeze(1)
    return torch.from_numpy(arr).permute(0, 3, 1, 2)


def to_tensor_sample(
    arrays: Mapping[str, np.ndarray],
    *,
    normalize: bool = False,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    clip: bool = False,
) -> dict[str, torch.Tensor]:
    """(H, W[, C]) arrays to (C, H, W) tensors (``clip``: (T, H, W[, C]) to (T, C, H, W));
    see the module docstring for dtypes.

    The tensors are views of the arrays (possibly not contiguous);
    :func:`collate_matting` stacks them into contiguous batches.
    """
    out: dict[str, torch.Tensor] = {}
    for name, arr in arrays.items():
        if name == "image" and normalize:
            arr = arr.astype(np.float32) * np.float32(1.0 / 255.0)
            per_channel(np.subtract, arr, np.asarray(mean, np.float32))
            per_channel(np.divide, arr, np.asarray(std, np.float32))
        elif name == "alpha":
            arr = arr.astype(np.float32, copy=False)
        if name in _PER_INSTANCE:
            out[name] = torch.from_numpy(arr)
        else:
            out[name] = _tchw(arr) if clip else _chw(arr)
    return out


#: Per-instance outputs that are not (K, H, W) planes, and the value that pads each.
_PER_INSTANCE = ("instance_id", "instance_depth", "instance_box")
_PAD = {"instance_id": -1, "instance_depth": -1}
#: The per-instance outputs, padded to the longest list in a batch (with ``instance_valid``).
BATCH_INSTANCE_KEYS = ("instances", "amodal", *_PER_INSTANCE)


def _pad_instances(values: Sequence[torch.Tensor], name: str, alloc: Alloc) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack per-sample ``(K_i, ...)`` tensors padded to ``max K_i``; and the ``(B, K)`` validity mask."""
    k = max(int(v.shape[0]) for v in values)
    out = alloc((len(values), k, *values[0].shape[1:]), values[0].dtype)
    out.fill_(_PAD.get(name, 0))
    valid = alloc((len(values), k), torch.bool)
    valid.fill_(False)
    for i, v in enumerate(values):
        out[i, : v.shape[0]] = v
        valid[i, : v.shape[0]] = True
    return out, valid


#: ``alloc(shape, dtype)``: an uninitialised CPU tensor for a batch's stacked values.
Alloc = Callable[[Sequence[int], torch.dtype], torch.Tensor]


def _fresh_batch_tensor(shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised tensor; in fresh shared memory inside a DataLoader worker (as
    ``default_collate`` does), so nothing is copied on the way to the main process."""
    if get_worker_info() is not None:
        storage = torch.UntypedStorage._new_shared(math.prod(int(s) for s in shape) * dtype.itemsize)
        return torch.empty(0, dtype=dtype).set_(storage).view(tuple(shape))
    return torch.empty(tuple(shape), dtype=dtype)


def _hwc_view(t: torch.Tensor) -> np.ndarray | None:
    """The (H, W, C) numpy array a (C, H, W) tensor from :func:`_chw` views, when the split
    into channels can go through OpenCV (uint8/float32, rows of packed pixels); else None."""
    if t.ndim != 3 or t.dtype not in (torch.uint8, torch.float32) or not 1 < t.shape[0] <= 4:
        return None
    hwc = t.permute(1, 2, 0)
    if hwc.stride(2) != 1 or hwc.stride(1) != t.shape[0] or hwc.stride(0) < 0 or t.device.type != "cpu":
        return None
    return hwc.numpy()


def _stack(values: Sequence[torch.Tensor], alloc: Alloc) -> torch.Tensor:
    """``torch.stack`` into a new tensor from ``alloc``. Channel-last views from
    :func:`to_tensor_sample` are de-interleaved with ``cv2.split`` (much faster than
    torch's strided copy of a permuted uint8 image); everything else is stacked by torch."""
    elem = values[0]
    out = alloc((len(values), *elem.shape), elem.dtype)
    views = [_hwc_view(v) for v in values]
    if any(v is None for v in views):
        return torch.stack(list(values), 0, out=out)
    planes = out.numpy()
    for i, hwc in enumerate(views):
        dst = list(planes[i])
        got = cv2.split(hwc, dst)
        if any(g.ctypes.data != d.ctypes.data for g, d in zip(got, dst)):  # pragma: no cover - OpenCV reallocated
            planes[i] = hwc.transpose(2, 0, 1)
    return out


def collate_matting(samples: Sequence[Mapping[str, Any]], *, alloc: Alloc = _fresh_batch_tensor) -> dict[str, Any]:
    """Batch samples: tensors stacked on a new first axis, ``key`` a list, ``index`` int64.

    Keys starting with ``_`` are dropped. Raises ``ValueError`` naming the
    member and the keys when samples differ in size (set ``crop`` or batch 1).
    ``alloc(shape, dtype)`` makes every batch tensor: by default fresh memory, shared in a
    DataLoader worker as ``default_collate`` does; :class:`shards.batch_pool.PooledCollate`
    passes reused blocks.
    """
    if not samples:
        raise ValueError("collate_matting: empty batch")
    batch: dict[str, Any] = {}
    for name in samples[0]:
        if name.startswith("_"):
            continue
        values = [s[name] for s in samples]
        if name == "key":
            batch[name] = list(values)
        elif name == "index":
            batch[name] = alloc((len(values),), torch.int64)
            batch[name].copy_(torch.as_tensor(values, dtype=torch.int64))
        elif name in BATCH_INSTANCE_KEYS:
            batch[name], batch["instance_valid"] = _pad_instances(values, name, alloc)
        elif isinstance(values[0], torch.Tensor):
            shapes = {tuple(v.shape) for v in values}
            if len(shapes) > 1:
                keys = [s.get("key") for s in samples]
                raise ValueError(
                    f"collate_matting: {name!r} tensors differ in shape {sorted(shapes)} for samples {keys}; "
                    "set crop= or use batch_size=1"
                )
            batch[name] = _stack(values, alloc)
        else:
            batch[name] = list(values)
    return batch
