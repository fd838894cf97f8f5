"""Shard format (codecs, tar writing, manifest) and the streaming loader.

Format: :mod:`shards.codec` (bytes in, bytes out), :mod:`shards.tar_writer`
(atomic, reproducible WebDataset tars), :mod:`shards.manifest`.
Loading: :class:`MattingDataset` (an ``IterableDataset`` over a manifest or
shard URLs; order in :mod:`shards.order`, tar reading in :mod:`shards.reader`,
per-epoch augmentation in :mod:`shards.online_augment` and :mod:`shards.window`,
settings in :mod:`shards.config`, tensors and batches in :mod:`shards.collate`)
and :class:`MattingLoader` (a ``DataLoader`` with ``state_dict()`` /
``load_state_dict()`` for exact mid-epoch resume).

The loader names (``MattingDataset``, ``MattingLoader``, ``collate_matting``,
``PooledCollate``, ``AugmentConfig``) are imported lazily (PEP 562), so ``import shards.codec``
(the build, ``synth stats``) does not import torch.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .codec import (
    decode_alpha,
    decode_rgb,
    decode_trimap,
    encode_alpha,
    encode_rgb,
    encode_trimap,
)
from .manifest import (
    MANIFEST_NAME,
    Manifest,
    ShardEntry,
    SkippedInput,
    read_manifest,
    shard_filename,
    shard_url,
    write_manifest,
)
from .tar_writer import ShardInfo, sha256_file, write_shard
from .reader import LoaderError, SampleError, ShardError

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .batch_pool import PooledCollate
    from .collate import collate_matting
    from .dataset import MattingDataset
    from .loader import MattingLoader
    from .config import AugmentConfig

#: name -> submodule, imported on first access (these pull in torch / pydantic).
_LAZY = {
    "MattingDataset": "dataset",
    "MattingLoader": "loader",
    "collate_matting": "collate",
    "PooledCollate": "batch_pool",
    "AugmentConfig": "config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
    except ModuleNotFoundError as err:
        if err.name != "torch":
            raise
        raise ModuleNotFoundError(
            f"shards.{name} needs PyTorch, which is not installed: pip install 'matting-synth[loader]' "
            "(on a machine without a GPU, `pip install torch --index-url https://download.pytorch.org/whl/cpu` "
            "first keeps it small). The build and `synth stats` work without it.", name="torch") from None
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "MattingDataset",
    "MattingLoader",
    "AugmentConfig",
    "collate_matting",
    "PooledCollate",
    "LoaderError",
    "SampleError",
    "ShardError",
    "encode_rgb",
    "decode_rgb",
    "encode_alpha",
    "decode_alpha",
    "encode_trimap",
    "decode_trimap",
    "ShardInfo",
    "write_shard",
    "sha256_file",
    "MANIFEST_NAME",
    "Manifest",
    "ShardEntry",
    "SkippedInput",
    "read_manifest",
    "write_manifest",
    "shard_url",
    "shard_filename",
]
