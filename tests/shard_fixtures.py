"""Small synthetic shard datasets for the shard and loader tests.

``write_dataset(tmp_path, {"train": [5, 3, 7], "val": [4]})`` writes uneven
shards (``{split}-{i:06d}.tar``) of synthetic samples in the project's sample
format and a ``manifest.json`` last, using only ``shards``' own writer and
codecs. Every sample is a pure function of ``(seed, split, index)``.
The dataset and loader tests share the ``data`` fixture and its helpers (end).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import types
from pathlib import Path
from typing import Mapping, Sequence

import cv2
import numpy as np
import pytest

import shards.dataset as dataset_mod
from shards import MattingDataset, MattingLoader
from shards.codec import encode_alpha, encode_rgb, encode_trimap
from shards.manifest import Manifest, ShardEntry, shard_filename, write_manifest
from shards.tar_writer import write_shard

RECIPE = {"name": "synthetic-test", "seed": 0}
RECIPE_SHA256 = hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode()).hexdigest()


def sample_key(split: str, index: int) -> str:
    return f"{split}_{index:08d}"


def synthetic_arrays(seed: int, index: int, hw: tuple[int, int] = (40, 56)) -> dict[str, np.ndarray]:
    """fg, bg, image uint8 (H, W, 3) RGB; alpha float32 (H, W) soft; trimap uint8 {0,128,255}."""
    rng = np.random.default_rng([seed, index])
    h, w = hw
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
    r = rng.uniform(0.2, 0.35) * min(h, w)
    d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    alpha = np.clip((r - d) / max(2.0, 0.15 * r) + 0.5, 0.0, 1.0).astype(np.float32)
    fg = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    fg = cv2.GaussianBlur(fg, (5, 5), 1.5)
    bg = np.empty((h, w, 3), np.uint8)
    bg[:] = rng.integers(0, 256, 3, dtype=np.uint8)
    bg = np.clip(bg.astype(np.int16) + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)
    a3 = alpha[..., None]
    image = np.rint(a3 * fg + (1 - a3) * bg).astype(np.uint8)
    trimap = np.full((h, w), 128, np.uint8)
    trimap[alpha <= 0.0] = 0
    trimap[alpha >= 1.0] = 255
    return {"image": image, "fg": fg, "bg": bg, "alpha": alpha, "trimap": trimap}


def synthetic_members(
    split: str, index: int, *, seed: int = 0, hw: tuple[int, int] = (40, 56),
    fmt: str = "jpg", alpha_bits: int = 8, n_foregrounds: int = 5, layer_fmt: str = "jpg",
    aligned: bool = False, instances: bool = False, restart_markers: bool = False,
) -> dict[str, bytes]:
    arr = aligned_arrays(seed, index, hw) if aligned else synthetic_arrays(seed, index, hw)
    extra = instance_members(arr["alpha"], index, alpha_bits) if instances else {}
    key = sample_key(split, index)
    meta = {
        "key": key, "split": split, "index": index, "seed": seed, "recipe_sha256": RECIPE_SHA256,
        "foreground_id": f"fg{index % n_foregrounds:03d}", "background_id": f"bg{index:05d}", "ops": [],
    }
    rm = {"restart_markers": True} if restart_markers else {}
    return {
        f"image.{fmt}": encode_rgb(arr["image"], fmt, **rm),
        "alpha.png": encode_alpha(arr["alpha"], alpha_bits),
        "trimap.png": encode_trimap(arr["trimap"]),
        f"fg.{layer_fmt}": encode_rgb(arr["fg"], layer_fmt, **(rm if layer_fmt == "jpg" else {})),
        f"bg.{layer_fmt}": encode_rgb(arr["bg"], layer_fmt, **(rm if layer_fmt == "jpg" else {})),
        "meta.json": json.dumps(meta, sort_keys=True).encode(),
        **extra,
    }


def instance_members(alpha: np.ndarray, index: int, bits: int = 8) -> dict[str, bytes]:
    """K = 1 + index % 3 instances that split the alpha into vertical stripes, so their
    visible alphas sum to the alpha exactly (in any quantisation); instance k's amodal
    alpha is the alpha over its stripe widened by 3 px each side; depth = K - 1 - k."""
    h, w = alpha.shape
    k_n = 1 + index % 3
    cuts = np.linspace(0, w, k_n + 1).round().astype(int)
    out: dict[str, bytes] = {}
    entries = []
    for k in range(k_n):
        vis = np.zeros_like(alpha)
        vis[:, cuts[k]:cuts[k + 1]] = alpha[:, cuts[k]:cuts[k + 1]]
        amodal = np.zeros_like(alpha)
        lo, hi = max(0, cuts[k] - 3), min(w, cuts[k + 1] + 3)
        amodal[:, lo:hi] = alpha[:, lo:hi]
        out[f"inst_{k}.png"] = encode_alpha(vis, bits)
        out[f"amodal_{k}.png"] = encode_alpha(amodal, bits)
        entries.append({"id": k, "depth": k_n - 1 - k, "box": [int(cuts[k]), 0, int(cuts[k + 1]), h],
                        "cut": [False] * 4, "foreground_id": f"fg{k}", "visible_fraction": 1.0})
    out["instances.json"] = json.dumps({"count": k_n, "instances": entries}, sort_keys=True).encode()
    return out


def aligned_arrays(seed: int, index: int, hw: tuple[int, int] = (40, 56)) -> dict[str, np.ndarray]:
    """image = fg = bg = one noise pattern; alpha = its red channel / 255 with saturated
    regions (so trimaps have 0 and 255); the stored trimap quantises that alpha. Any
    misalignment between targets after augmentation shows up as large differences."""
    rng = np.random.default_rng([seed, index, 99])
    h, w = hw
    pattern = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    red = pattern[..., 0]
    red[: h // 4] = 0
    red[-(h // 4):] = 255
    alpha = red.astype(np.float32) / 255.0
    trimap = np.full((h, w), 128, np.uint8)
    trimap[red == 0] = 0
    trimap[red == 255] = 255
    return {"image": pattern, "fg": pattern.copy(), "bg": pattern.copy(), "alpha": alpha, "trimap": trimap}


def write_dataset(
    root: Path, shard_sizes: Mapping[str, Sequence[int]], *, seed: int = 0,
    hw: tuple[int, int] = (40, 56), fmt: str = "jpg", alpha_bits: int = 8, layer_fmt: str = "jpg",
    aligned: bool = False, instances: bool = False, restart_markers: bool = False,
) -> Manifest:
    """Write shards of the given sizes per split and the manifest; return the manifest."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    entries: list[ShardEntry] = []
    splits: dict[str, int] = {}
    for split, sizes in shard_sizes.items():
        first = 0
        for si, n in enumerate(sizes):
            samples = [
                (sample_key(split, i), synthetic_members(split, i, seed=seed, hw=hw, fmt=fmt, alpha_bits=alpha_bits,
                                                       layer_fmt=layer_fmt, aligned=aligned,
                                                       instances=instances, restart_markers=restart_markers))
                for i in range(first, first + n)
            ]
            name = shard_filename(split, si)
            info = write_shard(root / name, samples)
            entries.append(ShardEntry(path=name, split=split, samples=n, bytes=info.bytes,
                                      sha256=info.sha256, first_index=first))
            first += n
        splits[split] = first
    manifest = Manifest(recipe=RECIPE, recipe_sha256=RECIPE_SHA256, splits=splits, shards=entries)
    write_manifest(root, manifest)
    return manifest


def disc_alpha(h: int, w: int, seed: int) -> np.ndarray:
    """float32 (H, W) alpha of three soft discs, quantised to 8-bit levels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = np.zeros((h, w), np.float32)
    for _ in range(3):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.1, 0.4) * min(h, w)
        d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        a = np.maximum(a, np.clip((r - d) / rng.uniform(0.5, 10) + 0.5, 0, 1))
    return np.rint(a * 255).astype(np.float32) / 255


def smooth_rgb(h: int, w: int) -> np.ndarray:
    """uint8 (H, W, 3) RGB gradients, blurred."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / w * 255, yy / h * 255, (xx + yy) / (w + h) * 255], -1).astype(np.uint8)
    return cv2.GaussianBlur(img, (0, 0), 3)


def read_dataset(folder: Path, pattern: str = "*.tar") -> dict[str, dict[str, bytes]]:
    """Every sample of the shards in `folder` as {key: {member: bytes}}, read with plain tarfile
    (an independent reference, not the project's reader)."""
    out: dict[str, dict[str, bytes]] = {}
    for path in sorted(Path(folder).glob(pattern)):
        with tarfile.open(path) as tar:
            for m in tar.getmembers():
                key, member = m.name.split(".", 1)
                out.setdefault(key, {})[member] = tar.extractfile(m).read()
    return out


# ------------------------------------------------------------------ the loader tests' dataset
#: Train shard sizes: 29 samples in uneven shards.
SIZES = [5, 3, 7, 4, 9, 1]
N = sum(SIZES)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ds")
    write_dataset(root, {"train": SIZES, "val": [4, 2]}, hw=(24, 32))
    return root


def make(data, **kw) -> MattingDataset:
    kw.setdefault("crop", 16)
    kw.setdefault("buffer_size", 8)
    return MattingDataset(data, "train", **kw)


def fake_worker(monkeypatch, worker: int | None, workers: int = 1) -> None:
    info = None if worker is None else types.SimpleNamespace(id=worker, num_workers=workers)
    monkeypatch.setattr(dataset_mod, "get_worker_info", lambda: info)


def keys_of(batches) -> list[str]:
    return [k for b in batches for k in b["key"]]


def run_loader(data, nw, bs, pw=False, **kw):
    return MattingLoader(make(data, **kw), batch_size=bs, num_workers=nw, persistent_workers=pw)


def copy_dataset(data, tmp_path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(data, dst)
    return dst


def corrupt_two(data, tmp_path) -> Path:
    """A copy of the dataset with shard 1 missing and one undecodable image in shard 4."""
    root = copy_dataset(data, tmp_path)
    (root / shard_filename("train", 1)).unlink()
    p = root / shard_filename("train", 4)
    with tarfile.open(p) as tar:
        members = {}
        for info in tar:
            key, _, name = info.name.partition(".")
            members.setdefault(key, {})[name] = tar.extractfile(info).read()
    bad = sorted(members)[2]
    members[bad]["image.jpg"] = b"\xff\xd8\xff\xe0 not a jpeg"
    write_shard(p, sorted(members.items()))
    return root


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file of a build's output folder, by name."""
    return {p.name: p.read_bytes() for p in Path(folder).iterdir()}


def simulate_killed_build(out: Path, shard: str = "train-000001.tar") -> None:
    """What a build killed mid-way leaves: no manifest yet, ``shard`` missing, its partial file."""
    (out / "manifest.json").unlink()
    (out / shard).unlink()
    (out / f".{shard}.partial").write_bytes(b"half a shard")
