"""Foreground-estimation benchmark on real alpha mattes with a known foreground.

For every ground-truth alpha of ``../shared/data/alphamatting/alpha`` (GT01..GT18,
and the lemur's alpha unless ``--no-lemur``) a synthetic *textured* foreground F
(smooth random colour fields plus fine texture and stripes) is composited over a
real background (cover-resized and centre-cropped to the alpha's size):
``I = alpha F + (1 - alpha) B``.  F is therefore known exactly, and each
estimator (blur_fusion, ml, photo) is scored with
:func:`synth.fg_estimation.fg_error` (alpha-weighted mean absolute error in
0..255 levels inside the unknown band 0 < alpha < 1) and timed (best of
``--repeat`` runs, after a numba warm-up of pymatting).

Usage: ``python benchmarks/bench_fg_estimation.py [--limit N] [--repeat R] [--data DIR]``
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from synth.fg_estimation import FG_METHODS, estimate_foreground, fg_error

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def textured_foreground(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 (h, w, 3): smooth random colour field + band-limited texture + faint stripes."""
    coarse = rng.uniform(40, 215, size=(4, 4, 3)).astype(np.float32)
    field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    tex = cv2.GaussianBlur(rng.standard_normal((h, w, 3)).astype(np.float32), (0, 0), 1.2) * 30.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle, period = rng.uniform(0, np.pi), rng.uniform(6, 20)
    stripes = 12.0 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * (2 * np.pi / period))
    return np.clip(field + tex + stripes[..., None], 0, 255).astype(np.uint8)


def cover_crop(bg: np.ndarray, h: int, w: int) -> np.ndarray:
    """Scale (never stretch) so the background covers (h, w), then centre-crop."""
    bh, bw = bg.shape[:2]
    s = max(h / bh, w / bw)
    nh, nw = max(h, round(bh * s)), max(w, round(bw * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    big = cv2.resize(bg, (nw, nh), interpolation=interp)
    y0, x0 = (nh - h) // 2, (nw - w) // 2
    return big[y0 : y0 + h, x0 : x0 + w]


def read_rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"cannot read {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_alpha(path: Path) -> np.ndarray:
    a = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if a is None:
        raise SystemExit(f"cannot read {path}")
    if a.ndim == 3:
        a = a[..., 0]
    scale = 65535.0 if a.dtype == np.uint16 else 255.0
    return (a.astype(np.float32) / np.float32(scale)).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("SYNTH_SHARED_DATA", DEFAULT_DATA)))
    ap.add_argument("--limit", type=int, default=None, help="use only the first N alphas")
    ap.add_argument("--repeat", type=int, default=3, help="timing: best of R runs")
    ap.add_argument("--no-lemur", action="store_true", help="skip the lemur alpha")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    alpha_dir, bg_dir = args.data / "alphamatting" / "alpha", args.data / "backgrounds"
    if not alpha_dir.is_dir() or not bg_dir.is_dir():
        print(f"real data not found under {args.data}", file=sys.stderr)
        return 2
    items = [(p.stem, p) for p in sorted(alpha_dir.glob("GT*.png"))]
    lemur = args.data / "lemur" / "lemur_alpha.png"
    if not args.no_lemur and lemur.is_file():
        items.append(("lemur", lemur))
    if args.limit is not None:
        items = items[: args.limit]
    bgs = sorted(bg_dir.glob("*.jpg"))

    # warm up pymatting's numba kernels (cached compilation or first-call dispatch)
    warm = np.random.default_rng(0)
    estimate_foreground(warm.integers(0, 256, (64, 64, 3), dtype=np.uint8),
                        warm.random((64, 64), dtype=np.float32), "ml")

    print(f"cv2 threads {cv2.getNumThreads()}, {os.cpu_count()} CPUs; error = alpha-weighted MAE of F "
          f"in 0<alpha<1 (0..255 levels); time = best of {args.repeat}")
    head = f"{'alpha':<7}{'size':>10}{'unknown':>9}" + "".join(f"{m + ' err':>16}" for m in FG_METHODS)
    head += "".join(f"{m + ' ms':>15}" for m in FG_METHODS[:2])
    print(head)
    errs = {m: [] for m in FG_METHODS}
    times = {m: [] for m in FG_METHODS}
    for k, (name, path) in enumerate(items):
        alpha = read_alpha(path)
        h, w = alpha.shape
        rng = np.random.default_rng([args.seed, k])
        fg = textured_foreground(h, w, rng)
        bg = cover_crop(read_rgb(bgs[k % len(bgs)]), h, w)
        a3 = alpha[..., None]
        image = np.clip(a3 * fg + (1 - a3) * bg + 0.5, 0, 255).astype(np.uint8)
        row = f"{name:<7}{f'{w}x{h}':>10}{np.mean((alpha > 0) & (alpha < 1)) * 100:>8.1f}%"
        for m in FG_METHODS:
            best = float("inf")
            for _ in range(max(1, args.repeat)):
                t0 = time.perf_counter()
                est = estimate_foreground(image, alpha, m)
                best = min(best, time.perf_counter() - t0)
            errs[m].append(fg_error(est, fg, alpha))
            times[m].append(best)
            row += f"{errs[m][-1]:>16.2f}"
        row += "".join(f"{times[m][-1] * 1e3:>15.1f}" for m in FG_METHODS[:2])
        print(row)

    mean_err = {m: float(np.mean(errs[m])) for m in FG_METHODS}
    mean_t = {m: float(np.mean(times[m])) for m in FG_METHODS}
    print()
    print(f"{'method':<13}{'mean err':>10}{'err / photo':>13}{'mean ms':>10}{'time / blur_fusion':>20}")
    for m in FG_METHODS:
        ratio_e = mean_err[m] / mean_err["photo"]
        ratio_t = mean_t[m] / mean_t["blur_fusion"]
        print(f"{m:<13}{mean_err[m]:>10.2f}{ratio_e:>13.2f}{mean_t[m] * 1e3:>10.1f}{ratio_t:>20.3f}")
    per_image = {m: np.array(errs[m]) / np.array(errs["photo"]) for m in FG_METHODS[:2]}
    print("per-image err/photo, worst: " + ", ".join(f"{m} {per_image[m].max():.2f}" for m in per_image))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
