"""Shard format (codecs, tar writing, manifest) and the streaming loader.

Format: :mod:`shards.codec` (bytes in, bytes out), :mod:`shards.tar_writer`
(atomic, reproducible WebDataset tars), :mod:`shards.manifest`.
Loading: :class:`MattingDataset` (an ``IterableDataset`` over a manifest or
shard URLs; order in :mod:`shards.order`, tar reading in :mod:`shards.reader`,
per-epoch augmentation in :mod:`shards.online_augment`, tensors and batches in
:mod:`shards.collate`) and :class:`MattingLoader` (a ``DataLoader`` with
``state_dict()`` / ``load_state_dict()`` for exact mid-epoch resume).
"""
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
from .online_augment import AugmentConfig
from .collate import collate_matting
from .reader import LoaderError, SampleError, ShardError
from .dataset import MattingDataset
from .loader import MattingLoader

__all__ = [
    "MattingDataset",
    "MattingLoader",
    "AugmentConfig",
    "collate_matting",
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
