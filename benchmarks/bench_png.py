"""The fast PNG path (shards/png_fast.py) against OpenCV's libpng, on the same bytes, in one run.

    python benchmarks/bench_png.py [--repeats 5] [--canvas 1024]

Three kinds of PNG, each decoded by both and timed in this process (CPU time, OpenCV one
thread, best of ``--repeats``):

- **alpha**: the build's ``alpha.png`` (grey, no row filters; ``encode_alpha``) of the
  alphamatting mattes of ../shared/data resized to ``--canvas`` (procedural mattes without it);
- **F cache**: the preparation cache's foreground PNGs (every row "Up"; ``encode_rgb(...,
  fast_png=True)``) of the alphamatting photos at their own size, against OpenCV decoding
  both those files and the adaptive-filter PNGs the cache wrote before (libpng's default);
- **elsewhere**: adaptive-filter RGB PNGs from anywhere else, through ``decode_rgb`` (fast
  path tried first, then OpenCV) against OpenCV alone: what the attempt costs when it fails.

Prints ms per image and the ratios; checks that both paths give the same pixels.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shards.codec import decode_alpha_stored, decode_rgb, encode_alpha, encode_rgb  # noqa: E402
from shards.png_fast import available  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "alphamatting"


def _sources(canvas: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(mattes float32 at the canvas size, photos uint8 RGB at their own size)."""
    if (SHARED / "alpha").is_dir():
        alphas = sorted((SHARED / "alpha").glob("*.png"))[:12]
        photos = sorted((SHARED / "image").glob("*.png"))[:12]
        mattes = [cv2.resize(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE), (canvas, canvas)).astype(np.float32) / 255
                  for p in alphas]
        return mattes, [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in photos]
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:canvas, :canvas] / canvas
    mattes = [np.clip((0.3 + 0.1 * k / 12 - np.hypot(yy - 0.5, xx - 0.5)) * 40, 0, 1).astype(np.float32)
              for k in range(12)]
    photos = [np.clip(np.dstack([xx * 255, yy * 255, (xx + yy) * 127]) + rng.normal(0, 8, (canvas, canvas, 3)),
                      0, 255).astype(np.uint8)[:621, :800] for _ in range(12)]
    return mattes, photos


def _ms(fn, items: list[bytes], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        for data in items:
            fn(data)
        best = min(best, (time.process_time() - t0) / len(items))
    return 1000 * best


def _opencv(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


def _opencv_rgb(data: bytes) -> np.ndarray:
    return cv2.cvtColor(_opencv(data), cv2.COLOR_BGR2RGB)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--canvas", type=int, default=1024)
    args = ap.parse_args()
    if not available():
        raise SystemExit("the isal package is not installed: every PNG decodes through OpenCV")
    cv2.setNumThreads(1)
    mattes, photos = _sources(args.canvas)
    alpha_png = [encode_alpha(m, 8) for m in mattes]
    up_png = [encode_rgb(p, "png", fast_png=True) for p in photos]
    adaptive_png = [encode_rgb(p, "png") for p in photos]
    for data in alpha_png:
        assert np.array_equal(decode_alpha_stored(data), _opencv(data))
    for data, photo in zip(up_png + adaptive_png, photos + photos):
        assert np.array_equal(decode_rgb(data), photo) and np.array_equal(_opencv_rgb(data), photo)
    src = "alphamatting (../shared/data)" if (SHARED / "alpha").is_dir() else "procedural"
    print(f"{src}: {len(mattes)} mattes at {args.canvas}², {len(photos)} photos at {photos[0].shape[1]}x"
          f"{photos[0].shape[0]}; CPU time, best of {args.repeats}; same pixels on both paths")
    fast, ref = _ms(decode_alpha_stored, alpha_png, args.repeats), _ms(_opencv, alpha_png, args.repeats)
    print(f"alpha    : fast {fast:6.2f} ms, OpenCV {ref:6.2f} ms  -> {ref / fast:.2f}x")
    fast, ref_up = _ms(decode_rgb, up_png, args.repeats), _ms(_opencv_rgb, up_png, args.repeats)
    ref_adaptive = _ms(_opencv_rgb, adaptive_png, args.repeats)
    size = sum(map(len, up_png)) / sum(map(len, adaptive_png))
    print(f"F cache  : fast {fast:6.2f} ms, OpenCV on the same files {ref_up:6.2f} ms ({ref_up / fast:.2f}x), "
          f"OpenCV on the adaptive PNGs written before {ref_adaptive:6.2f} ms ({ref_adaptive / fast:.2f}x); "
          f"file size up / adaptive {size:.3f}")
    tried = _ms(decode_rgb, adaptive_png, args.repeats)
    print(f"elsewhere: decode_rgb {tried:6.2f} ms, OpenCV alone {ref_adaptive:6.2f} ms  -> the failed attempt "
          f"costs {tried / ref_adaptive:.3f}x")


if __name__ == "__main__":
    main()
