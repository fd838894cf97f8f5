"""Benchmark: `synth stats` against decoding the dataset once.

Builds (or reuses, with --data) a procedural dataset of --samples samples like the demo
recipe (512x512 JPEG composites, PNG alpha and trimap, JPEG F and B), then times, in
the same process and interleaved over --rounds rounds (best of each kept):

- baseline: stream every shard and decode every member of every sample once with
  shards.codec (image, fg, bg: decode_rgb; alpha: decode_alpha; trimap:
  decode_trimap; meta: json.loads);
- stats: collect_stats() in-process (serial), i.e. streaming, sha256 verification,
  all measurements, leakage and the summary (no HTML);

and prints the ratio baseline / stats (>= 1: statistics are at least as fast as one
decode pass). It also reports stats with a process pool and the HTML rendering time.

    python benchmarks/bench_stats.py [--samples 2000] [--data DIR] [--rounds 2] [--workers 2] [--check-trimaps]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from shards.codec import decode_alpha, decode_rgb, decode_trimap
from shards.manifest import read_manifest, shard_url
from shards.reader import iter_shard_samples
from synth.execution import make_executor
from synth.stats import StatsOptions, collect_stats, render_html

ROOT = Path(__file__).resolve().parents[1]


def build_dataset(outdir: Path, samples: int) -> None:
    import yaml

    from synth.build import build
    from synth.recipe import parse_recipe

    data = yaml.safe_load((ROOT / "recipes" / "demo.yaml").read_text())
    n_val = samples // 5
    data["splits"] = [{"name": "train", "fraction": 0.8, "samples": samples - n_val},
                      {"name": "val", "fraction": 0.2, "samples": n_val}]
    data["foregrounds"][0]["count"] = 60
    data["backgrounds"][0]["count"] = 80
    data["output"]["samples_per_shard"] = 100
    build(parse_recipe(data), outdir, cache_dir=outdir.parent / "cache")


def decode_once(root: Path) -> int:
    """Decode every member of every sample once; returns the number of samples."""
    m = read_manifest(root)
    n = 0
    for entry in m.shards:
        for _, (key, members, err) in iter_shard_samples(shard_url(root, entry)):
            for name, data in members.items():
                ext = name.rsplit(".", 1)[-1]
                if name == "alpha.png":
                    decode_alpha(data)
                elif name == "trimap.png":
                    decode_trimap(data)
                elif ext in ("jpg", "jpeg", "png"):
                    decode_rgb(data)
                elif ext == "json":
                    json.loads(data)
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--data", type=Path, default=None, help="reuse (or build into) this dataset folder")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="Ray workers for the extra parallel timing (as synth stats --workers)")
    ap.add_argument("--check-trimaps", action="store_true", help="time stats with trimap decoding and checks")
    args = ap.parse_args()

    tmp = None
    root = args.data
    if root is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_stats_")
        root = Path(tmp.name) / "data"
    if not (root / "manifest.json").exists():
        print(f"building {args.samples} samples into {root} ...", flush=True)
        t = time.perf_counter()
        build_dataset(root, args.samples)
        print(f"  built in {time.perf_counter() - t:.1f} s", flush=True)
    total = sum(s.samples for s in read_manifest(root).shards)

    base_t, stats_t, base_c, stats_c = [], [], [], []
    st = None
    for r in range(args.rounds):
        t, c = time.perf_counter(), time.process_time()
        n = decode_once(root)
        base_t.append(time.perf_counter() - t)
        base_c.append(time.process_time() - c)
        t, c = time.perf_counter(), time.process_time()
        st = collect_stats(root, StatsOptions(check_trimaps=args.check_trimaps))
        stats_t.append(time.perf_counter() - t)
        stats_c.append(time.process_time() - c)
        print(f"round {r + 1}: decode once {base_t[-1]:.2f} s, stats {stats_t[-1]:.2f} s (wall)", flush=True)
    assert n == total and st is not None and st.data["counts"]["measured"] == total
    b, s = min(base_t), min(stats_t)
    bc, sc = min(base_c), min(stats_c)
    print(f"samples: {total}")
    print(f"decode once (baseline): {b:.2f} s wall ({total / b:.0f} samples/s), {bc:.2f} s CPU")
    print(f"stats, serial:          {s:.2f} s wall ({total / s:.0f} samples/s), {sc:.2f} s CPU")
    print(f"ratio baseline/stats:   {b / s:.2f} wall, {bc / sc:.2f} CPU"
          "  (>= 1: statistics are at least as fast as one decode pass)")

    if args.workers >= 2:
        t = time.perf_counter()
        with make_executor(args.workers) as ex:
            collect_stats(root, executor=ex)
        p = time.perf_counter() - t
        print(f"stats, {args.workers} Ray workers:    {p:.2f} s  (ratio {b / p:.2f}; includes Ray start-up)")
    t = time.perf_counter()
    render_html([st])
    print(f"HTML report rendering:  {time.perf_counter() - t:.2f} s (plots; once per report)")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
