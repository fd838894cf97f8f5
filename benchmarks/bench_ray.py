"""Build throughput: serial vs Ray with 1 worker vs Ray with 2 workers, in one run.

A fixed procedural recipe (200 samples at 512x512, 10 samples per shard) is built by each
executor into fresh folders from a preparation cache warmed beforehand, so only rendering is
compared (each report's `render` time: planning + all shards); each executor builds
`--repeats` times and the best rate counts (other processes share the machine; for each
run the CPU cores used by other processes meanwhile are printed, from /proc/stat). The serial
executor runs twice: with OpenCV's default thread pool (what `--workers 0` does) and with one
OpenCV thread, as each Ray task runs; ray1/serial is given against both. Prints samples/s,
the ratios, and the peak RSS of the driver (per executor, via /proc's VmHWM, reset between
executors where the kernel allows) and of every Ray worker process that rendered. All
outputs are checked byte-identical.

    python benchmarks/bench_ray.py [--samples 200] [--size 512] [--per-shard 10] [--repeats 2]

Targets (issue 3): ray2/ray1 >= 1.7 and ray1/serial >= 0.9 on a 2-core machine.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synth.build import build, build_shard, prepare_inputs  # noqa: E402
from synth.execution import RayExecutor, SerialExecutor  # noqa: E402
from synth.recipe import parse_recipe  # noqa: E402


def _recipe(samples: int, size: int, per_shard: int):
    return parse_recipe({
        "name": "bench-ray",
        "seed": 0,
        "foregrounds": [{"kind": "procedural", "count": 24, "size": [size, size * 3 // 4]}],
        "backgrounds": [{"kind": "procedural", "count": 32, "size": [size * 15 // 16, size * 5 // 4]}],
        "splits": [{"name": "train", "fraction": 1.0, "samples": samples}],
        "canvas": {"height": size, "width": size},
        "composition": {"placement": {"scale": [0.5, 0.95], "max_outside": 0.1}},
        "foreground_augment": {"rotation": {"p": 0.5, "max_angle": 20}},
        "trimap": {"band": [1, 29], "reference": 640},
        "output": {"image_format": "jpg", "samples_per_shard": per_shard},
    })


def _status_kb(field: str, pid: int | str = "self") -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    if pid == "self":
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, never reset
    return 0


def _reset_peak() -> bool:
    """Reset this process's VmHWM (Linux >= 4.0); False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _busy_seconds() -> float:
    """CPU seconds all processes of the machine have used so far (/proc/stat), 0 if unknown."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class _Probe:
    """Runs the shard function, then reports the worker's pid, peak RSS and CPU time used."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def __call__(self, item):
        t = time.process_time()
        result = self.fn(item)
        return result, os.getpid(), _status_kb("VmHWM"), time.process_time() - t


class _Probing:
    """Executor wrapper: probes the render stage's tasks, passes everything else through."""

    def __init__(self, inner) -> None:
        self.inner, self.name = inner, inner.name
        self.peaks: dict[int, int] = {}
        self.cpu = 0.0

    parallelism = property(lambda self: self.inner.parallelism)
    failures = property(lambda self: self.inner.failures)

    def imap_unordered(self, fn, items):
        if not (isinstance(fn, functools.partial) and fn.func is build_shard):
            yield from self.inner.imap_unordered(fn, items)
            return
        for pos, (result, pid, peak, cpu) in self.inner.imap_unordered(_Probe(fn), items):
            self.peaks[pid] = max(self.peaks.get(pid, 0), peak)
            if pid != os.getpid():
                self.cpu += cpu  # the driver's own CPU time is counted separately
            yield pos, result

    def close(self) -> None:
        self.inner.close()


def _digest(out: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(out.iterdir()):
        if p.suffix == ".tar" or p.name == "manifest.json":
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--per-shard", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    import cv2

    recipe = _recipe(args.samples, args.size, args.per_shard)
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        root = Path(tmp)
        cache = root / "cache"
        t = time.perf_counter()
        prepare_inputs(recipe, cache)  # warm the preparation cache: only rendering is compared
        print(f"{args.samples} samples at {args.size}x{args.size}, {args.per_shard} per shard; "
              f"cache warmed in {time.perf_counter() - t:.1f} s; {os.cpu_count()} cores; "
              f"driver cv2 threads {cv2.getNumThreads()}")
        default_threads = cv2.getNumThreads()

        def serial_1thread():
            cv2.setNumThreads(1)
            return SerialExecutor()

        rows = []
        configs = (("serial", SerialExecutor), ("serial-1t", serial_1thread),
                   ("ray-1", lambda: RayExecutor(workers=1)), ("ray-2", lambda: RayExecutor(workers=2)))
        for label, make in configs:
            ex = _Probing(make())
            exact_peak = _reset_peak()
            rates, others = [], []
            try:
                for k in range(args.repeats):
                    out = root / f"{label}-{k}"
                    busy, mine, ex.cpu, t = _busy_seconds(), time.process_time(), 0.0, time.perf_counter()
                    report = build(recipe, out, executor=ex, cache_dir=cache)
                    wall = time.perf_counter() - t
                    ours = time.process_time() - mine + ex.cpu
                    others.append(max(0.0, _busy_seconds() - busy - ours) / wall)
                    rates.append(report.total_samples / report.timings["render"])
                    digest = _digest(out)
            finally:
                ex.close()
                cv2.setNumThreads(default_threads)
            driver_mb = _status_kb("VmHWM") / 1024
            rows.append((label, max(rates), digest))
            workers = ", ".join(f"{kb / 1024:.0f}" for kb in sorted(ex.peaks.values())) if label.startswith("ray") else "-"
            print(f"  {label:9s} best {max(rates):7.2f} samples/s  (runs: {', '.join(f'{r:.2f}' for r in rates)}; "
                  f"cores busy with other work: {', '.join(f'{o:.1f}' for o in others)})   "
                  f"driver peak {driver_mb:5.0f} MiB{'' if exact_peak else ' (whole process)'}   "
                  f"worker peaks [{workers}] MiB")
        rate = {r[0]: r[1] for r in rows}
        same = len({r[2] for r in rows}) == 1
        print(f"ray1/serial    = {rate['ray-1'] / rate['serial']:.3f}   (target >= 0.9; serial with "
              f"{default_threads} OpenCV threads)")
        print(f"ray1/serial-1t = {rate['ray-1'] / rate['serial-1t']:.3f}   (same, serial with 1 OpenCV thread)")
        print(f"ray2/ray1      = {rate['ray-2'] / rate['ray-1']:.3f}   (target >= 1.7)")
        print(f"outputs byte-identical across all runs: {same}")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
