"""Coarse guidance masks from an alpha, as mask-guided matting models get them at inference.

A mask-guided model (MG-Matting and matting refiners fed by a segmentation network) is
trained with a mask made from the ground-truth alpha; if that mask is cleaner than what
a segmentation network outputs, the model learns to trust it and fails on real masks.
:func:`sample_guidance` draws how this sample's mask goes wrong, :func:`apply_guidance`
makes it:

1. threshold the alpha at ``threshold``;
2. area-downsample by ``lowres`` like a low-resolution segmentation output; at that
   resolution:
3. lose thin parts (hair, fingers): a morphological opening of radius ``thin``;
4. erode (``morph < 0``) or dilate (``morph > 0``) by ``|morph|`` pixels (structuring
   elements: regular octagons, :func:`octagon_parts`, a disc's fast stand-in);
5. punch ``holes`` inside the subject and add spurious ``blobs`` outside it (ellipses);
   then upsample bilinearly, kept ``soft`` (probabilities) or re-thresholded at 0.5;
6. or, with ``box``, only a (jittered) bounding box of the thresholded alpha.

Sizes are drawn relative to the short side, so the same :class:`GuidanceSpec` fits any
crop. The mask is ``float32 (H, W)`` in [0, 1] (binary unless ``soft``).
:func:`mask_iou` and :func:`boundary_fscore` measure a mask against its alpha.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from augment.checks import check_alpha
from augment.targets import Params

__all__ = ["GuidanceSpec", "Guidance", "sample_guidance", "apply_guidance", "mask_iou", "boundary_fscore",
           "octagon_parts"]

Ellipse = tuple[int, int, int, int, int]  # centre row, centre col, radius y, radius x, angle (degrees)


@dataclass(frozen=True)
class GuidanceSpec:
    """The ranges guidance masks are drawn from (fractions are of the short side)."""

    threshold: tuple[float, float] = (0.1, 0.9)
    morph: tuple[float, float] = (-0.03, 0.03)
    thin_p: float = 0.5
    thin: tuple[float, float] = (0.003, 0.015)
    holes_p: float = 0.3
    blobs_p: float = 0.3
    max_count: int = 3
    ellipse: tuple[float, float] = (0.02, 0.1)
    lowres: tuple[int, ...] = (1, 4, 8, 16)
    soft_p: float = 0.3
    box_p: float = 0.05
    box_jitter: float = 0.05

    def __post_init__(self) -> None:
        for name in ("thin_p", "holes_p", "blobs_p", "soft_p", "box_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"guidance.{name} must be a probability in [0, 1], got {getattr(self, name)!r}")
        for name, lo_min, hi_max in (("threshold", 0.0, 1.0), ("morph", -0.5, 0.5), ("thin", 0.0, 0.5),
                                     ("ellipse", 0.0, 1.0)):
            lo, hi = getattr(self, name)
            if not lo_min <= lo <= hi <= hi_max:
                raise ValueError(f"guidance.{name} must satisfy {lo_min} <= lo <= hi <= {hi_max}, got {(lo, hi)}")
        if not 0 <= self.max_count <= 32:
            raise ValueError(f"guidance.max_count must be in [0, 32], got {self.max_count}")
        if not self.lowres or any(int(f) < 1 or int(f) > 64 for f in self.lowres):
            raise ValueError(f"guidance.lowres must be factors in [1, 64], got {self.lowres}")
        if not 0.0 <= self.box_jitter <= 1.0:
            raise ValueError(f"guidance.box_jitter must be in [0, 1], got {self.box_jitter}")


@dataclass(frozen=True)
class Guidance(Params):
    """How one mask is made (pixels of the alpha it is drawn for); see the module docstring."""

    threshold: float
    thin: int
    morph: int
    holes: tuple[Ellipse, ...]
    blobs: tuple[Ellipse, ...]
    lowres: int
    soft: bool
    box: tuple[float, float, float, float] | None  # side offsets (top, left, bottom, right), of the box size


def _ellipses(rng: np.random.Generator, flat: np.ndarray, inside: bool, threshold: float, n: int, w: int,
              short: int, spec: GuidanceSpec) -> tuple[Ellipse, ...]:
    """Up to ``n`` ellipses centred on pixels inside (or outside) ``flat > threshold``
    (``flat``: the raveled alpha, ``w`` its width): the first matches among 64 uniformly
    drawn pixels (fewer ellipses when the region is too small to be hit)."""
    if n == 0:
        return ()
    cand = rng.integers(0, flat.size, 64)
    hits = cand[(flat[cand] > threshold) == inside][:n]
    out = []
    for i in hits:
        ry, rx = (max(1, round(short * r)) for r in rng.uniform(*spec.ellipse, 2))
        out.append((int(i) // w, int(i) % w, int(ry), int(rx), int(rng.integers(180))))
    return tuple(out)


def sample_guidance(rng: np.random.Generator, alpha: np.ndarray, spec: GuidanceSpec = GuidanceSpec()) -> Guidance:
    """Draw one mask's parameters for ``alpha: float32 (H, W)`` in [0, 1] (the holes go
    inside its thresholded subject, the blobs outside; ``alpha`` contiguous)."""
    check_alpha(alpha)
    short = min(alpha.shape)
    threshold = float(rng.uniform(*spec.threshold))
    thin = round(short * float(rng.uniform(*spec.thin))) if rng.random() < spec.thin_p else 0
    morph = round(short * float(rng.uniform(*spec.morph)))
    n_holes = int(rng.integers(1, spec.max_count + 1)) if rng.random() < spec.holes_p and spec.max_count else 0
    n_blobs = int(rng.integers(1, spec.max_count + 1)) if rng.random() < spec.blobs_p and spec.max_count else 0
    flat = alpha.reshape(-1)
    holes = _ellipses(rng, flat, True, threshold, n_holes, alpha.shape[1], short, spec)
    blobs = _ellipses(rng, flat, False, threshold, n_blobs, alpha.shape[1], short, spec)
    lowres = int(spec.lowres[int(rng.integers(len(spec.lowres)))])
    soft = bool(rng.random() < spec.soft_p) and lowres > 1
    box = None
    if rng.random() < spec.box_p:
        box = tuple(float(x) for x in rng.uniform(-spec.box_jitter, spec.box_jitter, 4))
    return Guidance(threshold, int(thin), int(morph), holes, blobs, lowres, soft, box)  # type: ignore[arg-type]


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def octagon_parts(radius: int) -> tuple[int, int]:
    """``(s, d)``: the regular octagon of inradius ``radius`` (a disc's stand-in) is a
    ``(2s + 1)``-square dilated by a diamond of radius ``d``: the offsets with
    ``max(|x|, |y|) <= s + d`` and ``|x| + |y| <= 2 s + d``."""
    s = round(radius * (np.sqrt(2.0) - 1.0))
    return s, radius - s


def _morph(work: np.ndarray, radius: int, dilate: bool) -> np.ndarray:
    """Dilate or erode by the octagon of ``radius``: a square (separable) then ``d`` 3x3
    crosses, several times faster than OpenCV's elliptic kernels at these sizes."""
    op = cv2.dilate if dilate else cv2.erode
    border = {} if dilate else {"borderType": cv2.BORDER_REPLICATE}
    s, d = octagon_parts(radius)
    if s:
        work = op(work, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * s + 1, 2 * s + 1)), **border)
    if d:
        work = op(work, _CROSS, iterations=d, **border)
    return work


def apply_guidance(params: Guidance, alpha: np.ndarray) -> np.ndarray:
    """The guidance mask of ``alpha: float32 (H, W)`` in [0, 1]: ``float32 (H, W)`` in [0, 1]."""
    check_alpha(alpha)
    h, w = alpha.shape
    if params.box is not None:
        out = np.zeros((h, w), np.float32)
        mask = np.greater(alpha, params.threshold)
        ys, xs = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if ys.size:
            y0, x0, y1, x1 = ys[0], xs[0], ys[-1] + 1, xs[-1] + 1
            dt, dl, db, dr = params.box
            bh, bw = y1 - y0, x1 - x0
            t, b = max(0, round(y0 + dt * bh)), min(h, round(y1 + db * bh))
            l_, r = max(0, round(x0 + dl * bw)), min(w, round(x1 + dr * bw))
            out[t:b, l_:r] = 1.0
        return out
    # At 1/lowres of the size, as a low-resolution segmentation output makes its errors
    # (and lowres^2 times cheaper): area-downsampled (soft), grey-level morphology, shapes.
    f = params.lowres
    if f > 1:  # soft float32 at 1/f, from alpha > threshold as 0/1 (compared in float32, as numpy does)
        binary = cv2.threshold(alpha, params.threshold, 1.0, cv2.THRESH_BINARY)[1]
        work = cv2.resize(binary, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    else:  # binary uint8 0/1 at full size (a view of the comparison, not a copy)
        work = np.greater(alpha, params.threshold).view(np.uint8)
    thin, morph = round(params.thin / f), round(params.morph / f)
    if thin > 0:  # an opening
        work = _morph(_morph(work, thin, dilate=False), thin, dilate=True)
    if morph:
        work = _morph(work, abs(morph), dilate=morph > 0)
    for value, shapes in ((0, params.holes), (1, params.blobs)):
        for cy, cx, ry, rx, angle in shapes:
            cv2.ellipse(work, (round(cx / f), round(cy / f)), (max(1, round(rx / f)), max(1, round(ry / f))),
                        angle, 0, 360, value, -1)
    if f == 1:
        return work.astype(np.float32)
    work = cv2.resize(work, (w, h), interpolation=cv2.INTER_LINEAR)
    if not params.soft:
        return cv2.threshold(work, 0.5, 1.0, cv2.THRESH_BINARY)[1]
    np.clip(work, 0.0, 1.0, out=work)
    return work


def mask_iou(mask: np.ndarray, alpha: np.ndarray, threshold: float = 0.5) -> float:
    """IoU of ``mask > 0.5`` and ``alpha > threshold`` (1.0 when both are empty)."""
    a, b = mask > 0.5, alpha > threshold
    union = int(np.count_nonzero(a | b))
    return 1.0 if union == 0 else int(np.count_nonzero(a & b)) / union


def _boundary(binary: np.ndarray) -> np.ndarray:
    """The pixels of ``binary: bool (H, W)`` that its 3x3-disc erosion drops: uint8 0/1."""
    m = binary.view(np.uint8)
    return cv2.subtract(m, cv2.erode(m, _disc(1), borderType=cv2.BORDER_REPLICATE))


def boundary_fscore(mask: np.ndarray, alpha: np.ndarray, tolerance: int | None = None, threshold: float = 0.5
                    ) -> float:
    """F-score of the boundaries of ``mask > 0.5`` and ``alpha > threshold``: a boundary pixel
    counts as matched within ``tolerance`` pixels (default: 0.8 % of the image diagonal, at
    least 1, as in the DAVIS benchmark); 1.0 when neither has a boundary."""
    if tolerance is None:
        tolerance = max(1, round(0.008 * float(np.hypot(*alpha.shape))))
    pb, gb = _boundary(np.greater(mask, 0.5)), _boundary(np.greater(alpha, threshold))
    n_p, n_g = cv2.countNonZero(pb), cv2.countNonZero(gb)
    if n_p == 0 and n_g == 0:
        return 1.0
    if n_p == 0 or n_g == 0:
        return 0.0
    # Every boundary pixel, and so every one a dilation could reach from the other boundary
    # and count, lies in the box of both: dilating only there gives the same counts.
    x, y, bw, bh = cv2.boundingRect(cv2.bitwise_or(pb, gb))
    pb, gb = pb[y:y + bh, x:x + bw], gb[y:y + bh, x:x + bw]
    disc = _disc(tolerance)
    precision = cv2.countNonZero(cv2.bitwise_and(pb, cv2.dilate(gb, disc))) / n_p
    recall = cv2.countNonZero(cv2.bitwise_and(gb, cv2.dilate(pb, disc))) / n_g
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))
