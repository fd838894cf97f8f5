"""Arrays to tensors, and batching into ``pin_memory``-ready dicts.

A sample from :class:`shards.MattingDataset` is a dict:

- ``image``: ``uint8 (3, H, W)`` RGB, or ``float32 (3, H, W)`` normalised
  (``(x / 255 - mean) / std``) when the dataset was asked for it;
- ``alpha``: ``float32 (1, H, W)`` in [0, 1];
- ``trimap``: ``uint8 (1, H, W)`` in {0, 128, 255};
- ``fg``, ``bg``: ``uint8 (3, H, W)`` RGB;
- ``key``: ``str``; ``index``: ``int`` (the sample's index in its split);
- ``_cursor``: ``(stream, position)``, the bookkeeping :class:`shards.MattingLoader`
  uses for exact resume (dropped by :func:`collate_matting`).

:func:`collate_matting` stacks the tensors (into shared memory when called
in a DataLoader worker, so nothing is copied on the way to the main
process), keeps ``key`` as a list of str and ``index`` as an int64 tensor.
Everything in the batch is a contiguous CPU tensor or a list of str, so
``pin_memory=True`` pins it as is.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import default_collate

__all__ = ["to_tensor_sample", "collate_matting", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _chw(arr: np.ndarray) -> torch.Tensor:
    # A view (no copy): the batch stacking in collate_matting is the one copy.
    if arr.ndim == 2:
        return torch.from_numpy(arr).unsqueeze(0)
    return torch.from_numpy(arr).permute(2, 0, 1)


def to_tensor_sample(
    arrays: Mapping[str, np.ndarray],
    *,
    normalize: bool = False,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> dict[str, torch.Tensor]:
    """(H, W[, C]) arrays to (C, H, W) tensors; see the module docstring for dtypes.

    The tensors are views of the arrays (possibly not contiguous);
    :func:`collate_matting` stacks them into contiguous batches.
    """
    out: dict[str, torch.Tensor] = {}
    for name, arr in arrays.items():
        if name == "image" and normalize:
            img = arr.astype(np.float32) * np.float32(1.0 / 255.0)
            img -= np.asarray(mean, np.float32)
            img /= np.asarray(std, np.float32)
            out[name] = _chw(img)
        elif name == "alpha":
            out[name] = _chw(arr.astype(np.float32, copy=False))
        else:
            out[name] = _chw(arr)
    return out


def collate_matting(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Batch samples: tensors stacked on a new first axis, ``key`` a list, ``index`` int64.

    Keys starting with ``_`` are dropped. Raises ``ValueError`` naming the
    member and the keys when samples differ in size (set ``crop`` or batch 1).
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
            batch[name] = torch.as_tensor(values, dtype=torch.int64)
        elif isinstance(values[0], torch.Tensor):
            shapes = {tuple(v.shape) for v in values}
            if len(shapes) > 1:
                keys = [s.get("key") for s in samples]
                raise ValueError(
                    f"collate_matting: {name!r} tensors differ in shape {sorted(shapes)} for samples {keys}; "
                    "set crop= or use batch_size=1"
                )
            batch[name] = default_collate(values)
        else:
            batch[name] = list(values)
    return batch
