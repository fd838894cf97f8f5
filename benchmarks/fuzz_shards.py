"""Fuzz the loader with mutated shards: the long run of tests/test_shards_fuzz.py.

    python benchmarks/fuzz_shards.py --n 2000            # 2,000 mutants x 6 read modes
    python benchmarks/fuzz_shards.py --n 200 --hw 64x96  # larger images

Each mutant (17 kinds, seeded: see tests/shard_mutations.py) replaces the first shard of
a small dataset and is read in every mode (manifest, URL list, fsspec; offsets, bytes;
verify). A read must not hang (``--timeout``), raise, lose a sample without counting it,
or lose a sample of the intact shard. Prints the problems found (expected: none), the
outcomes per kind, the read time of mutants as a ratio to reads of the intact dataset in
the same run, and the peak memory. Exit status 1 if any problem was found.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from shard_fixtures import write_dataset  # noqa: E402
from shard_mutations import KINDS, MODES, layout, make_case, mutate, read_and_check  # noqa: E402
from shards.manifest import read_manifest  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="mutants (default 2000)")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--hw", default="20x24", help="sample size HxW (default 20x24)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds a read may take (default 30)")
    args = ap.parse_args()
    h, w = (int(x) for x in args.hw.lower().split("x"))
    import cv2
    cv2.setLogLevel(0) if hasattr(cv2, "setLogLevel") else None  # libjpeg's warnings on stderr
    with tempfile.TemporaryDirectory(prefix="fuzz_shards_") as tmp:
        base = Path(tmp) / "base"
        write_dataset(base, {"train": [3, 2]}, hw=(h, w))
        shards = read_manifest(base).shards_of("train")
        expected = {e.path: e.samples for e in shards}
        original = (base / shards[0].path).read_bytes()
        members = layout(original)
        intact = {f"train_{i:08d}" for i in range(shards[1].first_index, shards[1].first_index + shards[1].samples)}

        # baseline: the intact dataset, every mode, same number of reads per mode as a few mutants
        t0 = time.perf_counter()
        base_reads = 0
        for _ in range(10):
            for mode in MODES:
                out = read_and_check(base, mode, expected, intact | {f"train_{i:08d}" for i in range(3)},
                                     mutated=False, timeout=args.timeout)
                assert out.problem is None, out.problem
                base_reads += 1
        per_base = (time.perf_counter() - t0) / base_reads

        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        problems: list[str] = []
        outcome: dict[str, Counter[str]] = defaultdict(Counter)
        slowest = 0.0
        t0 = time.perf_counter()
        reads = 0
        for seed in range(args.first_seed, args.first_seed + args.n):
            kind, blob = mutate(original, members, seed)
            root = make_case(base, Path(tmp) / "case", blob)
            for mode in MODES:
                t = time.perf_counter()
                out = read_and_check(root, mode, expected, intact, mutated=blob != original, timeout=args.timeout)
                slowest = max(slowest, time.perf_counter() - t)
                reads += 1
                if out.problem:
                    problems.append(f"seed {seed} ({kind}) {mode}: {out.problem}")
                    outcome[kind]["PROBLEM"] += 1
                    continue
                c = out.counts
                if c.get("shard_errors"):
                    outcome[kind]["shard error counted"] += 1
                elif c.get("sample_errors"):
                    outcome[kind]["sample errors counted"] += 1
                else:
                    outcome[kind]["read clean"] += 1
            if (seed - args.first_seed + 1) % 200 == 0:
                print(f"  {seed - args.first_seed + 1}/{args.n} mutants, {len(problems)} problems", flush=True)
        per_mutant_read = (time.perf_counter() - t0) / max(reads, 1)
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024

    print(f"\n{args.n} mutants x {len(MODES)} modes = {reads} reads; {len(problems)} problems "
          "(hangs, uncaught exceptions, samples lost without a count)")
    for p in problems[:30]:
        print("  ", p)
    print(f"\n{'kind':<18} {'reads':>6} {'clean':>6} {'sample err':>10} {'shard err':>9} {'PROBLEM':>7}")
    for kind in KINDS:
        o = outcome[kind]
        print(f"{kind:<18} {sum(o.values()):>6} {o['read clean']:>6} {o['sample errors counted']:>10} "
              f"{o['shard error counted']:>9} {o['PROBLEM']:>7}")
    print(f"\nmean read of a mutant: {per_mutant_read / per_base:.2f}x a read of the intact dataset "
          f"(slowest mutant read: {slowest / per_base:.1f}x)")
    print(f"peak memory grew by {grown:.0f} MiB over the run")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
