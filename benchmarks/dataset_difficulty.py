"""How hard are a dataset's composites to matte, where it matters: at the subject's boundary.

    python benchmarks/dataset_difficulty.py DATASET [DATASET ...] [--limit 480] [--split train]

For each built dataset (folder with a manifest), over its first ``--limit`` samples of the
split, from the stored alpha, F and B:

- F/B contrast: mean |L(F) − L(B)| (CIELAB L) in the band 0.05 < α < 0.95. Lower is harder:
  the subject stands out less from its background.
- B's busyness: std of L(B) in the ring just outside the subject
  (:func:`augment.bands.busyness`, 4 % of the long side). Higher is harder.
- B's sharpness: mean |Laplacian of L(B)| in a 12-px ring outside the band. Higher is harder: a
  defocused backdrop is an easy one.

Used to ask whether a recipe (e.g. guided composition) trades realism for easy samples
(docs/results.md, issue 17 part 4).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from augment.bands import busyness  # noqa: E402
from augment.colour import to_lab  # noqa: E402
from shards.codec import decode_alpha, decode_rgb  # noqa: E402
from synth.stats.realism_report import dataset_samples  # noqa: E402


def _layer(member: str) -> bool:
    return member == "alpha.png" or member.startswith(("fg.", "bg."))


def measure(path: Path, split: str, limit: int) -> dict[str, np.ndarray]:
    """The three measures per sample (samples with under 50 band pixels are left out)."""
    out: dict[str, list[float]] = {"contrast": [], "busyness": [], "sharpness": []}
    ring_kernel = np.ones((25, 25), np.uint8)
    for _, members in dataset_samples(path, limit, _layer, split):
        alpha = decode_alpha(members["alpha.png"])
        fg = decode_rgb(members[next(m for m in members if m.startswith("fg."))])
        bg = decode_rgb(members[next(m for m in members if m.startswith("bg."))])
        band = (alpha > 0.05) & (alpha < 0.95)
        if band.sum() < 50:
            continue
        lf, lb = to_lab(fg)[..., 0], to_lab(bg)[..., 0]
        out["contrast"].append(float(np.abs(lf - lb)[band].mean()))
        out["busyness"].append(busyness(lb, alpha, 0.04 * max(alpha.shape)))
        ring = cv2.dilate(band.astype(np.uint8), ring_kernel).astype(bool) & (alpha <= 0.05)
        lap = np.abs(cv2.Laplacian(lb, cv2.CV_32F))
        out["sharpness"].append(float(lap[ring].mean()) if ring.any() else float("nan"))
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("datasets", type=Path, nargs="+")
    ap.add_argument("--split", default="train")
    ap.add_argument("--limit", type=int, default=480)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    print(f"{'dataset':40s} {'n':>4s}  F/B contrast (L)  B busyness (L std)  B sharpness (|Lap L|)")
    for path in args.datasets:
        r = measure(path, args.split, args.limit)
        print(f"{str(path)[-40:]:40s} {len(r['contrast']):4d}  {np.nanmean(r['contrast']):16.2f}  "
              f"{np.nanmean(r['busyness']):18.2f}  {np.nanmean(r['sharpness']):21.3f}")


if __name__ == "__main__":
    main()
