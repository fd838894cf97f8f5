"""How hard are a dataset's composites to matte, where it matters: at the subject's boundary.

    python benchmarks/dataset_difficulty.py DATASET [DATASET ...] [--limit 480] [--split train]
                                            [--photos IMAGE_DIR ALPHA_DIR [--stems GT01 ...]]
                                            [--long-side 640] [--quantiles]

For each built dataset (folder with a manifest), over its first ``--limit`` samples of the
split, from the stored alpha, F and B:

- F/B contrast: mean |L(F) − L(B)| (CIELAB L) in the band 0.05 < α < 0.95. Lower is harder:
  the subject stands out less from its background.
- B's busyness: std of L(B) in the ring just outside the subject
  (:func:`augment.bands.busyness`, 4 % of the long side). Higher is harder.
- B's sharpness: mean |Laplacian of L(B)| in a 12-px ring outside the band. Higher is harder: a
  defocused backdrop is an easy one.

``--photos IMAGE_DIR ALPHA_DIR`` adds a row for real photographs with ground-truth alpha (files
matched by stem; ``--stems`` picks some): outside the subject a photo is its own background, so
busyness and sharpness are measured on the photo itself (F/B contrast needs the two layers and
is left out). The photos are first shrunk to ``--long-side`` px (area), so that compare with
datasets built at that canvas (the Laplacian depends on the scale). ``--quantiles`` prints
the 10/25/50/75/90 % quantiles of busyness and sharpness, not only their means.

Used to ask whether a recipe (e.g. guided composition) trades realism for easy samples, and
how a recipe's backgrounds compare with real ones near the subject (docs/results.md, issue 17).
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
from synth.sources.imageio import read_bytes  # noqa: E402
from synth.stats.realism_report import dataset_samples  # noqa: E402

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
_RING = np.ones((25, 25), np.uint8)  # the 12-px ring outside the band


def _layer(member: str) -> bool:
    return member == "alpha.png" or member.startswith(("fg.", "bg."))


def ring_measures(lightness_b: np.ndarray, alpha: np.ndarray) -> tuple[float, float]:
    """(busyness, sharpness) of a background's lightness ``float32 (H, W)`` (CIELAB L) around
    the subject ``alpha`` (``float32 (H, W)`` in [0, 1]); sharpness is nan without a ring."""
    band = (alpha > 0.05) & (alpha < 0.95)
    ring = cv2.dilate(band.astype(np.uint8), _RING).astype(bool) & (alpha <= 0.05)
    lap = np.abs(cv2.Laplacian(lightness_b, cv2.CV_32F))
    sharp = float(lap[ring].mean()) if ring.any() else float("nan")
    return busyness(lightness_b, alpha, 0.04 * max(alpha.shape)), sharp


def measure(path: Path, split: str, limit: int) -> dict[str, np.ndarray]:
    """The three measures per sample (samples with under 50 band pixels are left out)."""
    out: dict[str, list[float]] = {"contrast": [], "busyness": [], "sharpness": []}
    for _, members in dataset_samples(path, limit, _layer, split):
        alpha = decode_alpha(members["alpha.png"])
        fg = decode_rgb(members[next(m for m in members if m.startswith("fg."))])
        bg = decode_rgb(members[next(m for m in members if m.startswith("bg."))])
        band = (alpha > 0.05) & (alpha < 0.95)
        if band.sum() < 50:
            continue
        lf, lb = to_lab(fg)[..., 0], to_lab(bg)[..., 0]
        out["contrast"].append(float(np.abs(lf - lb)[band].mean()))
        busy, sharp = ring_measures(lb, alpha)
        out["busyness"].append(busy)
        out["sharpness"].append(sharp)
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


def measure_photos(image_dir: Path, alpha_dir: Path, long_side: int, stems: list[str] | None = None
                   ) -> dict[str, np.ndarray]:
    """Busyness and sharpness of real photos (matched to their alphas by stem), each shrunk to
    ``long_side`` px first; ``contrast`` is all nan (a photo has no separate F and B)."""
    alphas = {p.stem: p for p in alpha_dir.iterdir() if p.is_file()}
    images = sorted(p for p in image_dir.iterdir() if p.is_file() and p.stem in alphas
                    and (stems is None or p.stem in stems))
    if not images:
        raise SystemExit(f"--photos: no image in {image_dir} has an alpha of the same stem in {alpha_dir}"
                         + (f" among --stems {stems}" if stems else ""))
    out: dict[str, list[float]] = {"contrast": [], "busyness": [], "sharpness": []}
    for path in images:
        img = decode_rgb(read_bytes(path))
        alpha = decode_alpha(read_bytes(alphas[path.stem]))
        if alpha.shape != img.shape[:2]:
            raise SystemExit(f"{alphas[path.stem]}: alpha {alpha.shape} does not match {path} {img.shape[:2]}")
        s = long_side / max(alpha.shape)
        if s < 1:
            img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
            alpha = cv2.resize(alpha, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_AREA)
        busy, sharp = ring_measures(to_lab(img)[..., 0], alpha)
        out["contrast"].append(float("nan"))
        out["busyness"].append(busy)
        out["sharpness"].append(sharp)
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


def _row(name: str, r: dict[str, np.ndarray], quantiles: bool) -> str:
    row = f"{name[-40:]:40s} {len(r['busyness']):4d}  {_mean(r['contrast']):>16s}  "
    if not quantiles:
        return row + f"{_mean(r['busyness']):>18s}  {_mean(r['sharpness'], 3):>21s}"
    return row + "  ".join(" ".join(f"{q:6.2f}" for q in np.nanquantile(r[k], QUANTILES))
                           for k in ("busyness", "sharpness"))


def _mean(v: np.ndarray, digits: int = 2) -> str:
    return "-" if np.isnan(v).all() else f"{np.nanmean(v):.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("datasets", type=Path, nargs="*")
    ap.add_argument("--split", default="train")
    ap.add_argument("--limit", type=int, default=480)
    ap.add_argument("--photos", type=Path, nargs=2, metavar=("IMAGE_DIR", "ALPHA_DIR"),
                    help="also measure real photos with ground-truth alpha (files matched by stem)")
    ap.add_argument("--stems", nargs="+", default=None, help="--photos: only these stems")
    ap.add_argument("--long-side", type=int, default=640, help="--photos: shrink each photo to this long side")
    ap.add_argument("--quantiles", action="store_true", help="busyness and sharpness quantiles, not means")
    args = ap.parse_args()
    if not args.datasets and not args.photos:
        ap.error("give at least one DATASET or --photos")
    cv2.setNumThreads(1)
    if args.quantiles:
        q = "/".join(f"{round(100 * x)}" for x in QUANTILES)
        print(f"{'dataset':40s} {'n':>4s}  F/B contrast (L)  B busyness q{q}  |  B sharpness q{q}")
    else:
        print(f"{'dataset':40s} {'n':>4s}  F/B contrast (L)  B busyness (L std)  B sharpness (|Lap L|)")
    if args.photos:
        r = measure_photos(*args.photos, args.long_side, args.stems)
        print(_row(f"photos in {args.photos[0].parent.name or args.photos[0]}", r, args.quantiles))
    for path in args.datasets:
        print(_row(str(path), measure(path, args.split, args.limit), args.quantiles))


if __name__ == "__main__":
    main()
