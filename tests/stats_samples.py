"""Hand-made stats samples and datasets with known content (64x64, alpha a vertical band)."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from shards.codec import encode_alpha, encode_rgb, encode_trimap
from shards.manifest import Manifest, ShardEntry, write_manifest
from shards.tar_writer import write_shard

H = W = 64


def alpha_band(kind: str, shift: int = 0) -> np.ndarray:
    """float32 (H, W): left part 0, right part 1, a 4-px column of 0.5 between (shifted by `shift`)."""
    a = np.zeros((H, W), np.float32)
    c = 28 + shift
    a[:, c:c + 4] = 0.5
    a[:, c + 4:] = 1.0
    if kind == "wide":
        a[:, c - 4:c] = 0.25
    return a


def trimap_of(alpha: np.ndarray) -> np.ndarray:
    t = np.where(alpha >= 1.0, 255, 0).astype(np.uint8)
    t[(alpha > 0) & (alpha < 1)] = 128
    return t


def image_of(seed: int, alpha: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(seed)
    fg = np.empty((H, W, 3), np.float32)
    fg[:] = rng.integers(0, 256, 3)
    bg = rng.integers(0, 256, (H // 8, W // 8, 3)).astype(np.float32)
    bg = cv2.resize(bg, (W, H), interpolation=cv2.INTER_NEAREST)
    img = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_sample(key: str, split: str, fg: str, bg: str, seed: int, *, alpha_kind: str = "band",
                shift: int = 0, meta_extra: dict | None = None, post: list | None = None,
                bits: int = 8, trimap: np.ndarray | None = None) -> tuple[str, dict[str, bytes]]:
    alpha = alpha_band(alpha_kind, shift)
    meta = {
        "key": key, "split": split, "index": int(key.rsplit("_", 1)[-1]), "seed": 1,
        "recipe_sha256": "0" * 64, "size": [H, W],
        "foreground": {"id": fg, "source": "hand", "kind": "rgba", "file": f"fg_{fg[:4]}", "estimator": "given"},
        "background": {"id": bg, "source": "pool", "file": f"bg_{bg[:4]}"},
        "ops": [{"op": "flip", "target": "foreground", "horizontal": seed % 2 == 0, "vertical": False},
                {"op": "place", "target": "foreground", "scale": 0.5 + 0.01 * seed, "size_hw": [H, W]}],
        "trimap": {"band_px": 2 + seed % 3},
        "post_composite": post or [],
        **(meta_extra or {}),
    }
    members = {
        "image.png": encode_rgb(image_of(seed, alpha), "png"),
        "alpha.png": encode_alpha(alpha, bits),
        "trimap.png": encode_trimap(trimap_of(alpha) if trimap is None else trimap),
        "meta.json": json.dumps(meta).encode(),
    }
    return key, members


def write_dataset(root: Path, shards: list[tuple[str, str, list]], recipe: dict | None = None) -> Path:
    """shards: (file name, split, samples); writes the tars and a manifest."""
    root.mkdir(parents=True, exist_ok=True)
    entries, splits, first = [], {}, {}
    for name, split, samples in shards:
        info = write_shard(root / name, samples)
        entries.append(ShardEntry(path=name, split=split, samples=info.samples, bytes=info.bytes,
                                  sha256=info.sha256, first_index=first.get(split, 0)))
        first[split] = first.get(split, 0) + info.samples
        splits[split] = splits.get(split, 0) + info.samples
    write_manifest(root, Manifest(recipe=recipe or {"name": "hand", "background_split": "shared"},
                                  recipe_sha256="0" * 64, splits=splits, shards=entries))
    return root


def item_id(i: int) -> str:
    return f"{i:064x}"


def clean_dataset(root: Path) -> Path:
    train = [make_sample(f"train_{i:08d}", "train", item_id(i % 3), item_id(100 + i % 4), i) for i in range(6)]
    val = [make_sample(f"val_{i:08d}", "val", item_id(10 + i % 2), item_id(100 + i % 4), 50 + i, shift=6 * (i + 1))
           for i in range(3)]
    return write_dataset(root, [("train-000000.tar", "train", train[:4]), ("train-000001.tar", "train", train[4:]),
                                ("val-000000.tar", "val", val)])


def levels(d: dict, level: str) -> list[str]:
    return [w["kind"] for w in d["warnings"] if w["level"] == level]
