"""Samples per second feeding a GPU training step: the CPU loader against the device path.

    python benchmarks/bench_loader_device.py DATASET [--workers 16] [--crop 512] [--batch 32]

DATASET is a built dataset (e.g. ``synth build recipes/portrait.yaml``); its train shards
are replicated ``--replicate`` times (re-keyed, into a temporary folder) so that an epoch
is long enough to time. For each path (``cpu``: decode and augment in the workers, batch
moved to the GPU; ``cpu_nopool``: the same with ``batch_pool=0``, every batch in fresh
shared memory as a plain DataLoader; ``device``: workers read and draw, the GPU decodes with nvJPEG and
augments) it times, after a warm-up:

- ``loader``: batches on the GPU, nothing else;
- ``step``: batches feeding a small matting network's training step (bf16 autocast);

and, for the device path, ``stage``: the device half alone on batches already collated
(its ceiling). The device path is timed once per ``--prefetch`` depth (``device_p0``: each
batch finished when it is asked for; ``device_p1``: the next one finished in a background
thread meanwhile, MattingLoader's default). ``--device-decode image`` has the workers decode
fg and bg (less for nvJPEG's CPU half in the main process, more bytes to it). The figures are ratios against the CPU path measured in the same run, and
the absolute samples/s of this machine. Needs CUDA (and torchvision); ``--device cpu``
runs the same code on the CPU for a smoke test.
"""
from __future__ import annotations

import argparse
import json
import os
import tarfile
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from shards import MattingDataset, MattingLoader
from shards.device_stage import DeviceStage, collate_device
from shards.manifest import Manifest, ShardEntry, read_manifest, shard_filename, write_manifest
from shards.tar_writer import write_shard

OUTPUTS = ("image", "alpha", "trimap", "fg", "bg")


def replicate(src: Path, dst: Path, copies: int) -> Path:
    """``copies`` re-keyed copies of ``src``'s train shards, with a manifest, in ``dst``."""
    manifest = read_manifest(src)
    train = [e for e in manifest.shards if e.split == "train"]
    samples: list[tuple[str, dict[str, bytes]]] = []
    for entry in train:
        with tarfile.open(src / entry.path) as tar:
            current: dict[str, dict[str, bytes]] = {}
            for info in tar:
                key, _, name = info.name.partition(".")
                current.setdefault(key, {})[name] = tar.extractfile(info).read()  # type: ignore[union-attr]
            samples += sorted(current.items())
    entries, first, per = [], 0, max(1, len(samples) // max(1, len(train)))
    for c in range(copies):
        for s in range(0, len(samples), per):
            chunk = [(f"r{c:03d}_{k}", m) for k, m in samples[s:s + per]]
            name = shard_filename("train", len(entries))
            info = write_shard(dst / name, chunk)
            entries.append(ShardEntry(path=name, split="train", samples=len(chunk), bytes=info.bytes,
                                      sha256=info.sha256, first_index=first))
            first += len(chunk)
    write_manifest(dst, Manifest(recipe=manifest.recipe, recipe_sha256=manifest.recipe_sha256,
                                 splits={"train": first}, shards=entries))
    return dst


class TinyNet(nn.Module):
    """A small encoder-decoder on image + trimap (4 channels) -> alpha, for the step."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(4, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
                                 nn.Conv2d(64, 128, 3, 2, 1), nn.ReLU(), nn.Conv2d(128, 128, 3, 1, 1), nn.ReLU())
        self.dec = nn.Sequential(nn.Conv2d(128, 64, 3, 1, 1), nn.ReLU(), nn.Conv2d(64, 1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dec(self.enc(x))
        return torch.sigmoid(F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False))


def make_step(device: torch.device):
    net = TinyNet().to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), 1e-3)

    def step(batch: dict) -> torch.Tensor:
        img = batch["image"].to(device, non_blocking=True).float() / 255.0
        tri = batch["trimap"].to(device, non_blocking=True).float() / 255.0
        alpha = batch["alpha"].to(device, non_blocking=True)
        x = torch.cat([img, tri], 1).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = F.l1_loss(net(x).float(), alpha)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()

    return step


def to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def timed(loader: MattingLoader, device: torch.device, batches: int, warmup: int, step=None) -> float:
    """Samples per second over ``batches`` batches after ``warmup`` (epochs wrap around)."""
    def stream():
        while True:
            yield from loader
    it = stream()
    n = 0
    for i in range(warmup + batches):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        batch = to_device(next(it), device)
        out = step(batch) if step is not None else batch["alpha"]
        if i >= warmup:
            n += len(batch["key"])
        del out
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def stage_rate(root: Path, device: torch.device, args: argparse.Namespace) -> tuple[float, float]:
    """The device half alone, over collated batches held in memory: samples/s of the whole
    stage and of its JPEG decoding alone."""
    ds = MattingDataset(root, "train", crop=args.crop, device=str(device), outputs=args.outputs)
    it = iter(ds)
    batches = [collate_device([next(it) for _ in range(args.batch)]) for _ in range(4)]
    stage = DeviceStage(device, (args.crop, args.crop), outputs=args.outputs)
    reps = max(1, args.batches // 4)

    def rate(fn) -> float:
        for b in batches:
            fn(b)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(reps):
            for b in batches:
                fn(b)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return reps * 4 * args.batch / (time.perf_counter() - t0)

    return rate(stage), rate(stage._decoded)


def profile_stage(root: Path, device: torch.device, args: argparse.Namespace) -> str:
    """torch.profiler's table of the device stage over 4 collated batches (ops by device time)."""
    from torch.profiler import ProfilerActivity, profile

    ds = MattingDataset(root, "train", crop=args.crop, device=str(device), outputs=args.outputs)
    it = iter(ds)
    batches = [collate_device([next(it) for _ in range(args.batch)]) for _ in range(4)]
    stage = DeviceStage(device, (args.crop, args.crop), outputs=args.outputs)
    for b in batches:
        stage(b)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for b in batches:
            stage(b)
        if device.type == "cuda":
            torch.cuda.synchronize()
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=18, max_name_column_width=40)


def agreement(root: Path, device: torch.device, args: argparse.Namespace, batches: int = 3) -> dict[str, float]:
    """The device path against the CPU path on the same batches (same keys by construction):
    mean absolute difference of image/fg/bg (levels) and alpha, and the share of trimap pixels
    that differ."""
    kw = dict(crop=args.crop, outputs=OUTPUTS, seed=1, buffer_size=64)
    cpu = MattingLoader(MattingDataset(root, "train", **kw), batch_size=args.batch)
    dev = MattingLoader(MattingDataset(root, "train", device=str(device), **kw), batch_size=args.batch)
    diffs: dict[str, list[float]] = {}
    for _, a, b in zip(range(batches), cpu, dev):
        if a["key"] != b["key"]:
            raise SystemExit("the device path read other samples than the CPU path")
        for name in OUTPUTS:
            x, y = a[name].to(device).float(), b[name].float()
            d = (x != y).float().mean() if name == "trimap" else (x - y).abs().mean()
            diffs.setdefault(name, []).append(float(d))
    return {k: sum(v) / len(v) for k, v in diffs.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--workers", type=int, nargs="+", default=[16])
    ap.add_argument("--crop", type=int, default=512)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--replicate", type=int, default=10)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--outputs", nargs="+", default=list(OUTPUTS), help="outputs (need image, alpha, trimap)")
    ap.add_argument("--profile", action="store_true", help="print torch.profiler's table of the device stage")
    ap.add_argument("--prefetch", type=int, nargs="+", default=[0, 1],
                    help="device path: batches finished ahead in a background thread (MattingLoader's device_prefetch)")
    ap.add_argument("--device-decode", nargs="*", default=["image", "fg", "bg"],
                    help="device path: layers decoded on the device (the workers decode the others)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    device = torch.device(args.device)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = replicate(args.dataset, Path(tmp), args.replicate)
        print(f"dataset: {len(MattingDataset(root, 'train'))} train samples; crop {args.crop}, batch {args.batch}, "
              f"device {device}; cores {os.cpu_count()}; outputs {' '.join(args.outputs)}", flush=True)
        if args.profile:
            print(profile_stage(root, device, args), flush=True)
            return
        for name, value in agreement(root, device, args).items():
            print(f"device vs cpu path, {name}: " + (f"{value:.4f} of pixels differ" if name == "trimap"
                                                      else f"mean abs difference {value:.4f}"), flush=True)
            results[f"agreement_{name}"] = value
        results["device_stage"], results["device_decode"] = stage_rate(root, device, args)
        print(f"device stage alone: {results['device_stage']:.0f} samples/s "
              f"(its JPEG decoding alone: {results['device_decode']:.0f} samples/s)", flush=True)
        # name -> device_prefetch (None: the CPU path), and the CPU path's batch_pool (None: its default)
        paths = {"cpu": (None, None), "cpu_nopool": (None, 0), **{f"device_p{p}": (p, None) for p in args.prefetch}}
        for workers in args.workers:
            for path, (prefetch, pool) in paths.items():
                for what in ("loader", "step"):
                    kw = dict(crop=args.crop, outputs=tuple(args.outputs), seed=1)
                    extra = {"batch_pool": pool}
                    if prefetch is not None:
                        kw["device"] = str(device)
                        kw["device_decode"] = tuple(args.device_decode)
                        extra["device_prefetch"] = prefetch
                    loader = MattingLoader(MattingDataset(root, "train", **kw), batch_size=args.batch,
                                           num_workers=workers, pin_memory=device.type == "cuda",
                                           persistent_workers=workers > 0, prefetch_factor=4 if workers else None,
                                           **extra)
                    rate = timed(loader, device, args.batches, args.warmup,
                                 make_step(device) if what == "step" else None)
                    results[f"{path}_{what}_w{workers}"] = rate
                    print(f"workers {workers:2d}  {path:10s} {what:6s} {rate:8.0f} samples/s", flush=True)
                    del loader
            for path in list(paths)[1:]:
                for what in ("loader", "step"):
                    ratio = results[f"{path}_{what}_w{workers}"] / results[f"cpu_{what}_w{workers}"]
                    print(f"workers {workers:2d}  {path} / cpu ({what}): {ratio:.2f}x", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
