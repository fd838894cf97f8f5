"""Loader throughput per DataLoader worker, against two baselines on the same data.

    python benchmarks/bench_loader.py                      # builds a dataset from ../shared/data
    python benchmarks/bench_loader.py --data out/portrait  # or use a built dataset
    python benchmarks/bench_loader.py --targets            # the cost of each online target
    python benchmarks/bench_loader.py --frames 8 --canvas 512  # clips: frames per CPU-second
    python benchmarks/bench_loader.py --repeat-shards 5    # passes 5x longer (start-up weighs less)
    python benchmarks/bench_loader.py --split              # where ours spends its time, per step

Measured, in this process, on the same shards, with OpenCV and torch limited
to one thread per process:

- **ours**: ``MattingLoader(MattingDataset(..., crop=512))``: shuffle buffer,
  decode, unknown-centred crop with scale jitter, flips, fresh trimap, tensors;
  and **ours-fresh-shm**, the same with ``batch_pool=0`` (every batch in fresh shared
  memory, as a plain DataLoader; :mod:`shards.batch_pool`);
- **(a) webdataset**: ``webdataset.WebDataset`` decoding the same members
  (image, alpha, fg, bg) with no augmentation, to tensors; twice: with
  webdataset's own ``.decode("rgb8")`` (PIL) and with this project's codecs;
- **(b) on-the-fly generator**: the per-``__getitem__`` pattern of
  GCA-Matting's ``data_generator.py`` (read fg/alpha/bg files, random affine,
  erosion trimap, crop 512 on the unknown region, composite, float tensors),
  written here from that description, over the same F, alpha and B
  extracted to files; and **(b) full**: the same plus the rest of GCA's
  published training augmentation (a second foreground at p 0.5, a 640x640
  resize at p 0.25, HSV jitter, one-hot trimap).

Each pipeline makes full passes over the data; the per-core figure is
samples per CPU-second of the DataLoader workers (best of ``--repeats``),
which a busy machine disturbs far less than wall time; wall-clock samples/s
are printed too. Extra passes of ours, with and without the batch pool, copy every
batch in this process (as ``pin_memory`` does) and give this process's CPU per sample:
with many workers feeding a GPU, that process is the limit. Worker memory is measured separately: one process iterating
the dataset (what a worker does) with a 2,000-sample shuffle buffer over
>= 2,400 samples (shards are hard-linked several times when the dataset is
smaller), once with each ``buffer`` mode (``offsets``, the default for local
shards, and ``bytes``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import torch
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cost_split import loader_split  # noqa: E402  (benchmarks/, the script's folder)
from onthefly_generator import OnTheFlyGenerator  # noqa: E402
from webdataset_baseline import WdsClip, webdataset_pipeline  # noqa: E402
from shards import MattingDataset, MattingLoader  # noqa: E402
from shards.allocator import retain_freed_memory  # noqa: E402
from shards.manifest import read_manifest, shard_url  # noqa: E402
from shards.reader import iter_shard_samples  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def _one_thread() -> None:
    """One thread per process; set in the parent before any work, so forked workers inherit it
    (cv2.setNumThreads inside a forked worker can hang once the parent's pool has run)."""
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


# --------------------------------------------------------------------- data
def build_dataset(out: Path, samples: int, canvas: int) -> Path:
    """Build a dataset with `synth build` from ../shared/data (procedural demo data if absent)."""
    if (SHARED / "alphamatting" / "alpha").is_dir():
        recipe = {
            "name": "bench", "seed": 0,
            "foregrounds": [{"kind": "image_alpha", "name": "alphamatting",
                             "image_dir": str(SHARED / "alphamatting" / "image"),
                             "alpha_dir": str(SHARED / "alphamatting" / "alpha")}],
            "backgrounds": [{"kind": "folder", "name": "bg", "path": str(SHARED / "backgrounds")}],
            "splits": [{"name": "train", "fraction": 1.0, "samples": samples}],
            "canvas": {"height": canvas, "width": canvas},
            "composition": {"fg_estimation": "blur_fusion"},
            "output": {"samples_per_shard": 64},
        }
        path = out.parent / "bench_recipe.json"
        path.write_text(json.dumps(recipe))
        # YAML is a superset of JSON.
        recipe_path = path.with_suffix(".yaml")
        path.rename(recipe_path)
    else:
        recipe_path = ROOT / "recipes" / "demo.yaml"
    cmd = [sys.executable, "-m", "synth.cli", "build", str(recipe_path), "-o", str(out), "--quiet", "--workers", "0",
           "--set", f"splits.0.samples={samples}", "--cache-dir", str(out.parent / "cache")]
    print("building:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    return out


def replicate(data: Path, out: Path, at_least: int) -> Path:
    """A folder of hard links to the train shards, repeated until it holds ``at_least``
    samples (read as a list of shard URLs: a manifest refuses one shard listed twice)."""
    shards = read_manifest(data).shards_of("train")
    out.mkdir(parents=True, exist_ok=True)
    first, k = 0, 0
    while first < at_least:
        for e in shards:
            dst = out / f"train-{k:06d}.tar"
            if not dst.exists():
                try:
                    os.link(shard_url(data, e), dst)
                except OSError:
                    dst.write_bytes(Path(shard_url(data, e)).read_bytes())
            first += e.samples
            k += 1
    return out


def extract_files(data: Path, out: Path) -> list[tuple[str, str, str]]:
    """F, alpha and B of every train sample as files (for the on-the-fly baseline)."""
    out.mkdir(parents=True, exist_ok=True)
    triples = []
    for e in read_manifest(data).shards_of("train"):
        for _, (key, members, _err) in iter_shard_samples(shard_url(data, e)):
            paths = []
            for stem in ("fg", "alpha", "bg"):
                name = next(n for n in members if n.startswith(stem + "."))
                p = out / f"{key}.{name}"
                p.write_bytes(members[name])
                paths.append(str(p))
            triples.append(tuple(paths))
    return triples


# ------------------------------------------------------------------ timing
def measure(loader, read: bool = False) -> tuple[int, float, float, float]:
    """One full pass: (samples, wall seconds, CPU seconds of the worker processes, CPU
    seconds of this process: its part of every pass, which bounds many-worker throughput).
    ``read``: the loop copies every tensor of each batch once (as ``pin_memory`` does), so
    this process pays for reading what the workers sent (it then competes with the workers
    for the cores, so the worker figures come from passes without it).

    Worker CPU time comes from ``os.times()``' children counters, which grow when
    the (non-persistent) workers are joined at the end of the pass; with
    ``num_workers=0`` it is this process's CPU time. CPU seconds, unlike wall
    time, barely depend on what else the machine is running.
    """
    before, c0, t0 = os.times(), time.process_time(), time.perf_counter()
    n = 0
    for b in loader:
        n += len(b["alpha"])
        for v in b.values() if read else ():  # every tensor once, as pinning or a training step would
            if isinstance(v, torch.Tensor):
                v.clone()
    wall = time.perf_counter() - t0
    main = time.process_time() - c0
    del b
    if loader.num_workers == 0:
        cpu = main
    else:
        import gc

        gc.collect()  # make sure the iterator is gone and its workers joined
        after = os.times()
        cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return n, wall, cpu, main


def memory_probe(data: str, buffer: int, samples: int, crop: int, mode: str) -> dict:
    """Run in a fresh process: iterate like one worker does (with its malloc settings,
    :mod:`shards.allocator`); report peak memory."""
    _one_thread()
    retain_freed_memory()

    def status(field: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) * 1024
        return 0

    ds = MattingDataset(sorted(str(p) for p in Path(data).glob("*.tar")), "train", crop=crop, buffer_size=buffer,
                        buffer=mode)
    base = status("VmRSS:")
    n = 0
    for s in ds:
        n += 1
        if n >= samples:
            break
    peak = status("VmHWM:")
    return {"samples": n, "rss_after_imports": base, "peak_rss": peak, "growth": peak - base}


def clip_costs(tmp: Path, canvas: int, clips: int, frames: int, crop: int, repeats: int) -> None:
    """Frames per worker-CPU-second: ``MattingDataset(frames=T)`` (a window of T frames per clip,
    one crop, fresh trimaps, image/alpha/trimap/fg/bg) against plain webdataset decoding the
    same number of frames of each clip (image, alpha, fg, bg) with this project's codecs."""
    import webdataset as wds

    out = tmp / "video"
    cmd = [sys.executable, "-m", "synth.cli", "build", str(ROOT / "recipes" / "video_demo.yaml"), "-o", str(out),
           "--quiet", "--workers", "0", "--set", f"splits.0.samples={clips}", "--set", "splits.1.samples=1",
           "--set", f"canvas.height={canvas}", "--set", f"canvas.width={canvas}",
           "--set", f"video.frames={max(frames, 16)}", "--cache-dir", str(tmp / "video_cache")]
    print("building:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    urls = [shard_url(out, e) for e in read_manifest(out).shards_of("train")]
    best: dict[str, float] = {}
    for rep in range(repeats):
        ds = MattingDataset(out, "train", crop=min(crop, canvas), frames=frames, buffer_size=64)
        ds.set_epoch(rep)
        runs = {
            "ours": lambda: MattingLoader(ds, batch_size=2, num_workers=1),
            "webdataset+codec": lambda: DataLoader(wds.WebDataset(urls, shardshuffle=False, empty_check=False)
                                                   .map(WdsClip(frames)), batch_size=2, num_workers=1),
        }
        for name, make in runs.items():
            n, wall, cpu, _ = measure(make())
            best[name] = max(best.get(name, 0.0), n * frames / cpu)
            print(f"run {rep} {name:18s} {n * frames / cpu:7.1f} frames per worker-CPU-second ({n} clips)", flush=True)
    print(f"\nclips of {frames} frames at {canvas}² (crop {min(crop, canvas)}): ours {best['ours']:.1f} frames/CPU-s, "
          f"webdataset+codec {best['webdataset+codec']:.1f} -> {best['ours'] / best['webdataset+codec']:.2f}x")


#: Target sets compared by --targets, each against the first (the trimap-based model's inputs).
TARGET_SETS = {
    "image+alpha+trimap": ("image", "alpha", "trimap"),
    "+guidance": ("image", "alpha", "trimap", "guidance"),
    "+semantic+detail": ("image", "alpha", "trimap", "semantic", "detail"),
    "+all online targets": ("image", "alpha", "trimap", "guidance", "semantic", "detail"),
}


def target_costs(data: Path, crop: int, batch: int, repeats: int) -> None:
    """Samples per CPU-second of the loader (in process) for each target set, as a ratio
    against the first set measured in the same run (best of ``repeats`` passes each)."""
    best: dict[str, float] = {}
    for rep in range(repeats):
        for name, outputs in TARGET_SETS.items():
            ds = MattingDataset(data, "train", crop=crop, outputs=outputs, buffer_size=256)
            ds.set_epoch(rep)
            n, wall, cpu, _ = measure(MattingLoader(ds, batch_size=batch, num_workers=0))
            best[name] = max(best.get(name, 0.0), n / cpu)
            print(f"run {rep} {name:22s} {n / cpu:6.1f} samples per CPU-second ({n} samples)", flush=True)
    base = best["image+alpha+trimap"]
    print("\ncost of each target set against image+alpha+trimap (samples/CPU-s ratio; > 1 means slower):")
    for name, v in best.items():
        print(f"  {name:22s} {base / v:.3f}x time per sample")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="a built dataset (manifest folder); default: build one")
    ap.add_argument("--samples", type=int, default=384, help="samples to build when --data is not given")
    ap.add_argument("--canvas", type=int, default=640, help="canvas of the built dataset")
    ap.add_argument("--crop", type=int, default=512)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2, help="passes per pipeline (the best counts)")
    ap.add_argument("--buffer", type=int, default=2000, help="shuffle buffer for the memory probe")
    ap.add_argument("--repeat-shards", type=int, default=1,
                    help="each pass reads the train shards (hard links) and the on-the-fly files this many "
                         "times: longer passes, so a worker's start-up costs weigh less")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--frames", type=int, default=0,
                    help="only measure clips (video): windows of this many frames of recipes/video_demo.yaml "
                         "clips built at --canvas, against plain webdataset decoding as many frames")
    ap.add_argument("--clips", type=int, default=24, help="clips to build for --frames")
    ap.add_argument("--targets", action="store_true",
                    help="only measure the cost of the online targets (guidance, semantic, detail)")
    ap.add_argument("--split", action="store_true",
                    help="only split the loader's time per step in this process (cost_split.py), against "
                         "the on-the-fly generator on the same data")
    ap.add_argument("--probe", nargs=4, metavar=("DATA", "BUFFER", "SAMPLES", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe:
        print(json.dumps(memory_probe(args.probe[0], int(args.probe[1]), int(args.probe[2]), args.crop,
                                      args.probe[3])))
        return

    _one_thread()
    tmp = Path(tempfile.mkdtemp(prefix="bench_loader_"))
    if args.frames:
        clip_costs(tmp, args.canvas, args.clips, args.frames, args.crop, args.repeats)
        return
    data = args.data or build_dataset(tmp / "data", args.samples, args.canvas)
    m = read_manifest(data)
    entries = m.shards_of("train")
    urls = [shard_url(data, e) for e in entries]
    n_samples = sum(e.samples for e in entries)
    sample_bytes = sum(e.bytes for e in entries) / max(n_samples, 1)
    if args.targets:
        target_costs(Path(data), args.crop, args.batch, args.repeats)
        return
    triples = extract_files(data, tmp / "files")
    if args.split:
        loader_split(MattingDataset(Path(data), "train", crop=args.crop, buffer_size=min(2000, n_samples)),
                     OnTheFlyGenerator(triples, args.crop), args.repeats)
        return
    canvas = m.recipe.get("canvas", {}) if isinstance(m.recipe, dict) else {}
    print(f"dataset: {data} ({n_samples} train samples in {len(urls)} shards, canvas "
          f"{canvas.get('height', '?')}x{canvas.get('width', '?')}, "
          f"{sample_bytes / 1024:.0f} KiB per sample encoded); crop {args.crop}; "
          f"cv2/torch threads 1 per process; {os.cpu_count()} CPUs")
    ours_source: Path | list[str] = Path(data)
    if args.repeat_shards > 1:  # longer passes: every pipeline reads each sample that many times
        ours_source = urls = sorted(str(p) for p in replicate(Path(data), tmp / "repeated",
                                                              n_samples * args.repeat_shards).glob("*.tar"))
        triples = triples * args.repeat_shards
        n_samples *= args.repeat_shards
        print(f"each pass reads the train shards {args.repeat_shards} times ({n_samples} samples)")
    results: dict[tuple[str, int], list[float]] = {}
    main_ms: dict[tuple[str, int], list[float]] = {}
    for rep in range(args.repeats):
        for w in args.workers:
            common = dict(num_workers=w, persistent_workers=False)  # workers inherit the thread settings
            ours_ds = MattingDataset(ours_source, "train", crop=args.crop, buffer_size=min(2000, n_samples))
            ours_ds.set_epoch(rep)
            runs = {
                "ours": lambda: MattingLoader(ours_ds, batch_size=args.batch, **common),
                "ours-fresh-shm": lambda: MattingLoader(ours_ds, batch_size=args.batch, batch_pool=0, **common),
                "webdataset+rgb8": lambda: DataLoader(webdataset_pipeline(urls, False), batch_size=args.batch,
                                                      **common),
                "webdataset+codec": lambda: DataLoader(webdataset_pipeline(urls, True), batch_size=args.batch,
                                                       **common),
                "on-the-fly": lambda: DataLoader(OnTheFlyGenerator(triples, args.crop), batch_size=args.batch,
                                                 shuffle=True, **common),
                "on-the-fly-full": lambda: DataLoader(OnTheFlyGenerator(triples, args.crop, full=True),
                                                      batch_size=args.batch, shuffle=True, **common),
            }
            for name, make in runs.items():
                n, wall, cpu, _ = measure(make())
                results.setdefault((name, w), []).append(n / cpu)
                print(f"run {rep} workers={w} {name:16s} {n / wall:7.1f} samples/s wall, "
                      f"{n / wall / max(w, 1):6.1f} per worker, {n / cpu:6.1f} per worker-CPU-second ({n} samples)",
                      flush=True)
            for name in ("ours", "ours-fresh-shm"):  # the main process's side, reading every batch
                n, wall, cpu, main = measure(runs[name](), read=True)
                main_ms.setdefault((name, w), []).append(1e3 * main / n)
                print(f"run {rep} workers={w} {name:16s} main process {1e3 * main / n:.2f} ms CPU per sample "
                      "read (a pass that copies every batch)", flush=True)
    print("\nper core (best of the runs, samples per worker-CPU-second):")
    for w in args.workers:
        best = {name: max(v) for (name, ww), v in results.items() if ww == w}
        ours = best["ours"]
        print(f"workers={w}: ours {ours:.1f}, webdataset+codec {best['webdataset+codec']:.1f}, "
              f"webdataset+rgb8 {best['webdataset+rgb8']:.1f}, on-the-fly {best['on-the-fly']:.1f}, "
              f"on-the-fly-full {best['on-the-fly-full']:.1f}  ->  "
              f"ours/(a) codec {ours / best['webdataset+codec']:.2f}x, ours/(a) rgb8 "
              f"{ours / best['webdataset+rgb8']:.2f}x, ours/(b) {ours / best['on-the-fly']:.2f}x, "
              f"ours/(b) full {ours / best['on-the-fly-full']:.2f}x; reused batch blocks against fresh "
              f"shared memory (batch_pool=0): {ours / best['ours-fresh-shm']:.2f}x; main-process CPU per sample "
              f"(best): ours {min(main_ms['ours', w]):.2f} ms, batch_pool=0 {min(main_ms['ours-fresh-shm', w]):.2f} "
              f"ms (pool / no pool {min(main_ms['ours', w]) / min(main_ms['ours-fresh-shm', w]):.2f}x)")
    if not args.no_memory:
        big = replicate(Path(data), tmp / "replicated", max(2400, args.buffer + 400))
        print()
        for mode in ("offsets", "bytes"):  # offsets: the default for local .tar shards
            out = subprocess.run([sys.executable, __file__, "--probe", str(big), str(args.buffer),
                                  str(args.buffer + 300), mode, "--crop", str(args.crop)],
                                 check=True, capture_output=True, text=True)
            mem = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"worker memory, buffer {args.buffer} ({mode}): peak RSS {mem['peak_rss'] / 2**20:.0f} MiB "
                  f"({mem['rss_after_imports'] / 2**20:.0f} MiB after imports, +{mem['growth'] / 2**20:.0f} MiB "
                  f"while streaming {mem['samples']} samples)", flush=True)


if __name__ == "__main__":
    main()
