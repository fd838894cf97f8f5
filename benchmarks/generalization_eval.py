"""The measures of benchmarks/generalization.py: a model's matting errors on real photos
(with their hand-made trimaps) and on a variant's composited validation set."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from augment.bands import BG_THRESHOLD, FG_THRESHOLD  # noqa: E402
from augment.guidance import Guidance, apply_guidance  # noqa: E402
from augment.trimap import make_trimap  # noqa: E402
from shards import MattingDataset  # noqa: E402


def _gradient(a: np.ndarray, sigma: float = 1.4) -> np.ndarray:
    """Gradient magnitude with first-order Gaussian derivative filters (Rhemann et al. 2009)."""
    gx = cv2.GaussianBlur(cv2.Sobel(a, cv2.CV_64F, 1, 0, ksize=1), (0, 0), sigma)
    gy = cv2.GaussianBlur(cv2.Sobel(a, cv2.CV_64F, 0, 1, ksize=1), (0, 0), sigma)
    return np.sqrt(gx * gx + gy * gy)


SPLIT_KEYS = ("sad_bg", "sad_mixed", "sad_fg")  # SAD where the true alpha is <= BG_THRESHOLD, between, >= FG_THRESHOLD


def matting_errors(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> dict[str, float]:
    """SAD (/1000), MSE (x1000) and gradient error (/1000) over the unknown region, and the SAD
    split by the true alpha (:data:`SPLIT_KEYS`: background α <= 0.05, mixed, subject α >= 0.95,
    the thresholds of :mod:`augment.bands`; the three add up to the SAD): where a model's error
    is (grass taken for hair, hair for grass).

    pred, gt: float (H, W) in [0, 1]; trimap: uint8 {0, 128, 255}.
    """
    unknown = trimap == 128
    n = max(int(unknown.sum()), 1)
    diff = (pred - gt)[unknown].astype(np.float64)
    grad = ((_gradient(pred.astype(np.float64)) - _gradient(gt.astype(np.float64))) ** 2)[unknown]
    err, truth = np.abs(diff), gt[unknown]
    bg, fg = truth <= BG_THRESHOLD, truth >= FG_THRESHOLD
    return {"sad": float(err.sum() / 1000), "mse": float((diff ** 2).sum() / n * 1000),
            "grad": float(grad.sum() / 1000), "sad_bg": float(err[bg].sum() / 1000),
            "sad_mixed": float(err[~(bg | fg)].sum() / 1000), "sad_fg": float(err[fg].sum() / 1000)}


def error_keys(errors) -> list[str]:
    """The error names every entry of ``errors`` (dicts of :func:`matting_errors`) has, in
    :func:`matting_errors`' order: runs saved before the SAD split lack it."""
    keys = ["sad", "mse", "grad", *SPLIT_KEYS]
    return [k for k in keys if all(k in e for e in errors)]


@torch.no_grad()
def predict(model: torch.nn.Module, image: np.ndarray, trimap: np.ndarray,
            guidance: np.ndarray | None = None) -> np.ndarray:
    """Full-resolution prediction: uint8 RGB (H, W, 3) + trimap (+ a mask-guided model's
    ``guidance``, float32 (H, W) in [0, 1]) -> float (H, W) alpha."""
    h, w = trimap.shape
    m = model.multiple
    pad = ((0, (-h) % m), (0, (-w) % m))
    img = np.pad(image, (*pad, (0, 0)), mode="reflect")
    tri = np.pad(trimap, pad, mode="reflect")
    x = torch.from_numpy(img).permute(2, 0, 1)[None]
    t = torch.from_numpy(tri)[None, None]
    g = None if guidance is None else torch.from_numpy(np.pad(guidance, pad, mode="reflect"))[None, None]
    return model(x, t, g)[0, 0, :h, :w].numpy()


def _read(path: Path, flags: int) -> np.ndarray:
    arr = cv2.imread(str(path), flags)
    if arr is None:
        raise SystemExit(f"{path}: cannot read image")
    return arr


def photo_files(real: Path) -> list[tuple[str, Path, Path, Path]]:
    """(stem, image, alpha, trimap) paths of the photos in ``real``: ``real/{image,alpha,trimap}``
    with one stem per photo, or ``real/STEM.*`` with ``STEM_alpha.*`` and ``STEM_trimap.*`` beside
    it (pymatting's example layout; files without an alpha, such as a spare background, are not
    photos to test on)."""
    if (real / "image").is_dir():
        out = []
        alphas, trimaps = _by_stem(real / "alpha"), _by_stem(real / "trimap")
        for p in sorted((real / "image").iterdir()):
            alpha_p, trimap_p = alphas.get(p.stem), trimaps.get(p.stem)
            if alpha_p is None or trimap_p is None:
                raise SystemExit(f"{p}: no alpha or trimap with the same stem in {real}")
            out.append((p.stem, p, alpha_p, trimap_p))
        return out
    if not real.is_dir():
        raise SystemExit(f"{real}: not a folder of test photos")
    out = []
    files = _by_stem(real)
    for p in sorted(q for q in files.values() if not q.stem.endswith(("_alpha", "_trimap"))):
        alpha_p = files.get(p.stem + "_alpha")
        if alpha_p is None:
            continue
        trimap_p = files.get(p.stem + "_trimap")
        if trimap_p is None:
            raise SystemExit(f"{p}: has an alpha ({alpha_p.name}) but no {p.stem}_trimap.* beside it")
        out.append((p.stem, p, alpha_p, trimap_p))
    return out


def _by_stem(folder: Path) -> dict[str, Path]:
    """The files of ``folder`` by stem, the first by name where stems repeat; {} if no folder.
    Stems are compared as strings: a stem may hold glob characters such as ``[``."""
    if not folder.is_dir():
        return {}
    files: dict[str, Path] = {}
    for q in sorted(folder.iterdir()):
        if q.is_file():
            files.setdefault(q.stem, q)
    return files


def real_test_set(real: Path, stems: list[str] | None) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(stem, image RGB, alpha float, trimap {0, 128, 255}) of every photo of :func:`photo_files`
    (those in ``stems`` when given)."""
    out = []
    for stem, image_p, alpha_p, trimap_p in photo_files(real):
        if stems is not None and stem not in stems:
            continue
        image = cv2.cvtColor(_read(image_p, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        alpha = _read(alpha_p, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
        trimap = _read(trimap_p, cv2.IMREAD_GRAYSCALE)
        if alpha.shape != trimap.shape or alpha.shape != image.shape[:2]:
            raise SystemExit(f"{image_p}: image {image.shape[:2]}, alpha {alpha.shape} and trimap {trimap.shape} "
                             "differ in size")
        trimap = np.where(trimap < 64, 0, np.where(trimap > 191, 255, 128)).astype(np.uint8)
        out.append((stem, image, alpha, trimap))
    if not out:
        raise SystemExit(f"{real}: no test images found")
    return out


def trimap_spec(text: str) -> str:
    """A ``--test-trimaps`` spec in its one spelling: ``IN:OUT`` (the unknown band's reach, in
    pixels of the test photo, on the subject side and on the background side of the matte's
    edge) or ``W`` (``W:W``). Raises ValueError on anything else."""
    parts = text.split(":")
    if len(parts) > 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"test trimap {text!r}: expected IN:OUT or W, widths in pixels (integers >= 0)")
    inner, outer = int(parts[0]), int(parts[-1])
    return f"{inner}:{outer}"


def with_trimaps(items, spec: str) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """``items`` (name, image, alpha, trimap) with each trimap made anew from the true alpha,
    ``make_trimap(alpha, IN, OUT)`` for ``spec`` = :func:`trimap_spec`'s ``IN:OUT``: one band shape on
    every photo, in place of the hand-drawn ones (on the alphamatting photos those reach about
    6 px past the soft pixels on either side, unevenly), so that a model trained on one trimap
    shape can be judged on others."""
    inner, outer = (int(w) for w in trimap_spec(spec).split(":"))
    return [(name, image, alpha, make_trimap(alpha, inner, outer)) for name, image, alpha, _ in items]


#: The mask a mask-guided model is tested with (``--guide mask``): the true alpha thresholded at
#: 0.5 at 1/8 of the photo's resolution and enlarged back (hard edges, no parts lost or added),
#: about what a segmentation network's output gives a refiner.
TEST_GUIDANCE = Guidance(threshold=0.5, thin=0, morph=0, holes=(), blobs=(), lowres=8, soft=False, box=None)

#: How far from its mask's edge a mask-guided model predicts the alpha (px; the test photos and the
#: training canvases are of one scale); elsewhere it keeps the mask, as a refiner keeps the regions
#: its guide is sure of (why a band, and how much of the test mask's error it holds: docs/results.md,
#: "A mask-guided model").
MASK_BAND = 16


def mask_trimap(mask: np.ndarray, band: int = MASK_BAND) -> np.ndarray:
    """The trimap a mask-guided model works in: ``mask: float (H, W)`` in [0, 1] thresholded at
    0.5, unknown (128) within ``band`` px of its edge, 0 / 255 elsewhere; uint8 (H, W)."""
    return make_trimap(np.where(mask >= 0.5, np.uint8(255), np.uint8(0)), band)


def mask_trimaps(guidance: torch.Tensor, band: int = MASK_BAND) -> torch.Tensor:
    """:func:`mask_trimap` of a batch: ``float32 (B, 1, H, W)`` -> ``uint8 (B, 1, H, W)``."""
    return torch.from_numpy(np.stack([mask_trimap(g[0].numpy(), band) for g in guidance]))[:, None]


def with_guidance(items, params: Guidance = TEST_GUIDANCE) -> list[tuple]:
    """``items`` (name, image, alpha, trimap) for a mask-guided model: (name, image, alpha, the
    whole image scored (trimap all unknown), the model's trimap :func:`mask_trimap` of the mask,
    the guidance mask ``apply_guidance(params, alpha)``), made once per photo for every model
    :func:`evaluate` is given."""
    out = []
    for name, image, alpha, _ in items:
        mask = apply_guidance(params, np.ascontiguousarray(alpha, dtype=np.float32))
        out.append((name, image, alpha, np.full(alpha.shape, 128, np.uint8), mask_trimap(mask), mask))
    return out


def composite_val_set(folder: Path, limit: int) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    ds = MattingDataset(folder, "train", crop=None, shuffle=False, augment=False,
                        outputs=("image", "alpha", "trimap"))
    out = []
    for s in ds:
        out.append((s["key"], s["image"].permute(1, 2, 0).numpy(), s["alpha"][0].numpy(), s["trimap"][0].numpy()))
        if len(out) >= limit:
            break
    return out


#: The constant alphas of :func:`trivial_sad`.
CONSTANTS = (0.0, 0.5, 1.0)


def trivial_sad(items) -> dict[float | str, float]:
    """Mean SAD over ``items`` (name, image, alpha, trimap[, model trimap, guidance]) of a constant
    alpha in the unknown region, for each of :data:`CONSTANTS`, and where the items carry a guidance
    mask (:func:`with_guidance`), of that mask taken as the alpha (key ``"mask"``): the floors a
    model has to beat before its errors on a test set say anything about matting."""
    def mean_sad(pred) -> float:
        return float(np.mean([matting_errors(pred(item), item[2], item[3])["sad"] for item in items]))

    out: dict[float | str, float] = {c: mean_sad(lambda item: np.full_like(item[2], c)) for c in CONSTANTS}
    if items and all(len(item) == 6 for item in items):
        out["mask"] = mean_sad(lambda item: item[5])
    return out


def evaluate(model: torch.nn.Module, items, per_image: bool = False) -> dict:
    """Mean SAD, MSE and gradient error over ``items`` (name, image, alpha, trimap[, model trimap,
    guidance]; and with ``per_image`` each item's, by name, under ``"per_image"``). The errors are
    over the trimap's unknown region; a mask-guided model (:func:`with_guidance`'s items) is given
    its own trimap and the guidance mask."""
    model.eval()
    errors = {}
    for name, image, alpha, trimap, *given in items:
        errors[name] = matting_errors(predict(model, image, *(given or [trimap])), alpha, trimap)
    means = {k: sum(e[k] for e in errors.values()) / len(errors) for k in error_keys(errors.values())}
    return {**means, "per_image": errors} if per_image else means
