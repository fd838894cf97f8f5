"""Foreground colour estimation for *image + alpha* sources.

Where a source gives a photo ``I`` and its alpha but not the foreground colours
``F``, compositing the photo itself onto a new background bleeds the old
background into every semi-transparent pixel (hair, fur, motion blur): the
mixed pixel ``I = aF + (1-a)B_old`` is pasted as if it were pure foreground.
:func:`estimate_foreground` recovers ``F`` from ``(I, alpha)``:

* ``"blur_fusion"`` (default): Forte & Pitié's approximate fast foreground
  colour estimation (ICIP 2021), implemented here from the formula;
* ``"ml"``: pymatting's multilevel estimator (Germer et al. 2020);
* ``"photo"``: the photo itself, the naive baseline;
* ``"ml_faint_photo"``: ``"ml"`` where alpha is high, fading to the photo where it is
  faint (thin strands keep their photographed colour instead of the bulk colour an
  estimator propagates into them).

:func:`fg_error` scores an estimate against a known ``F`` inside the unknown band.
"""
from __future__ import annotations

from typing import Any, Literal, get_args

import cv2
import numpy as np

__all__ = ["FG_METHODS", "estimate_foreground", "fg_error"]

FgMethod = Literal["blur_fusion", "ml", "photo", "ml_faint_photo"]
FG_METHODS: tuple[str, ...] = get_args(FgMethod)
_ML_OPTIONS = ("regularization", "n_small_iterations", "n_big_iterations", "small_size", "gradient_weight")
_EPS = np.float32(1e-5)


def _check_pair(image: np.ndarray, alpha: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        desc = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"image must be uint8 (H, W, 3) RGB, got {desc}")
    if not isinstance(alpha, np.ndarray) or alpha.dtype != np.float32 or alpha.ndim != 2:
        desc = f"{alpha.dtype} {alpha.shape}" if isinstance(alpha, np.ndarray) else type(alpha).__name__
        raise ValueError(f"alpha must be float32 (H, W) in [0, 1], got {desc}")
    if alpha.shape != image.shape[:2]:
        raise ValueError(f"alpha shape {alpha.shape} does not match image shape {image.shape[:2]}")
    if alpha.size and not (float(alpha.min()) >= 0.0 and float(alpha.max()) <= 1.0):
        raise ValueError(f"alpha values must be in [0, 1], got [{alpha.min()}, {alpha.max()}]")


# --------------------------------------------------------------------------- blur fusion


def _blur_fusion(image01: np.ndarray, alpha: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    """Blur-fusion passes, one per box side length in ``sizes``; float32 in, float32 out.

    With alpha-weighted local means over a box k,
    ``F^ = k*(aF) / k*a`` and ``B^ = k*((1-a)B) / k*(1-a)`` (``k*(1-a) = 1 - k*a``
    for a normalised box), a pass sets ``F = F^ + a (I - a F^ - (1-a) B^)``: the
    local foreground colour plus the compositing residual, distributed in
    proportion to alpha (in full where a = 1, not at all where a = 0).  Expanded,
    ``F = (1 - a^2) F^ + a I - a (1-a) B^``; the three alpha factors are fixed
    across passes.  The next pass starts from this ``F`` and ``B^``.
    cv2 element-wise ops on 3-channel planes (threaded, no broadcasting).
    """
    alpha = np.ascontiguousarray(alpha)
    a3 = cv2.merge([alpha, alpha, alpha])
    ainv3 = 1.0 - a3
    keep_fhat = 1.0 - cv2.multiply(a3, a3)
    image_term = cv2.multiply(a3, image01)
    bg_factor = cv2.multiply(a3, ainv3)
    fg, bg = image01, image01
    for size in sizes:
        ksize = (size, size)
        mean_a = cv2.blur(alpha, ksize)
        inv_fa = 1.0 / (mean_a + _EPS)
        inv_ba = 1.0 / ((1.0 - mean_a) + _EPS)
        f_hat = cv2.multiply(cv2.blur(cv2.multiply(fg, a3), ksize), cv2.merge([inv_fa, inv_fa, inv_fa]))
        b_hat = cv2.multiply(cv2.blur(cv2.multiply(bg, ainv3), ksize), cv2.merge([inv_ba, inv_ba, inv_ba]))
        out = cv2.subtract(cv2.add(cv2.multiply(keep_fhat, f_hat), image_term), cv2.multiply(bg_factor, b_hat))
        np.clip(out, 0.0, 1.0, out=out)
        fg, bg = out, b_hat
    return fg


def estimate_foreground(
    image: np.ndarray,
    alpha: np.ndarray,
    method: FgMethod = "blur_fusion",
    **opts: Any,
) -> np.ndarray:
    """Estimate the foreground colours F of a photo with a known alpha.

    Methods:
        ``"blur_fusion"``: Forte & Pitié (2021), approximate fast foreground colour
            estimation: starting from ``F = B = I``, each pass sets
            ``F = F^ + a (I - a F^ - (1-a) B^)`` with ``F^``/``B^`` the alpha- and
            (1-alpha)-weighted box means, first with a large box (long-range colour
            propagation into thin structures) then with a small one (local detail),
            the second pass using the first pass's ``F`` and ``B^``.  Option
            ``sizes``: box side lengths in px, default ``(91, 7)`` (the paper's 90
            and 6, made odd so the box is centred).  O(1) per pixel per pass.
        ``"ml"``: ``pymatting.estimate_foreground_ml`` on ``image / 255``; options
            ``regularization``, ``n_small_iterations``, ``n_big_iterations``,
            ``small_size``, ``gradient_weight`` are passed through.
        ``"photo"``: the image itself (the baseline that bleeds the old background).
        ``"ml_faint_photo"``: ``t F_ml + (1 - t) I`` with ``t = min(alpha / faint_below, 1)``:
            the multilevel estimate where ``alpha >= faint_below`` (option, default 0.5,
            in ``(0, 1]``), the photo where alpha is 0, linear between; the other options
            go to ``"ml"``.

    Args:
        image: ``uint8 (H, W, 3)`` RGB photo.
        alpha: ``float32 (H, W)`` in ``[0, 1]``.
        method: one of :data:`FG_METHODS`.
        **opts: method options (see above); unknown ones raise ``ValueError``.
    Returns:
        ``uint8 (H, W, 3)`` F, a new array.  Where ``alpha == 1`` blur fusion returns
        the photo exactly; where ``alpha == 0`` F is the colour propagated from the
        nearby foreground (black far from it), which is harmless for compositing.
    """
    _check_pair(image, alpha)
    if method == "photo":
        if opts:
            raise ValueError(f"method 'photo' takes no options, got {sorted(opts)}")
        return image.copy()
    if method == "blur_fusion":
        unknown = set(opts) - {"sizes"}
        if unknown:
            raise ValueError(f"unknown options for method 'blur_fusion': {sorted(unknown)} (known: ['sizes'])")
        sizes = tuple(opts.get("sizes", (91, 7)))
        if not sizes or not all(isinstance(s, (int, np.integer)) and s >= 1 for s in sizes):
            raise ValueError(f"sizes must be a non-empty sequence of ints >= 1, got {opts.get('sizes')!r}")
        image01 = image.astype(np.float32) * np.float32(1.0 / 255.0)
        fg = _blur_fusion(image01, alpha, tuple(int(s) for s in sizes))
        return (fg * np.float32(255.0) + np.float32(0.5)).astype(np.uint8)
    if method == "ml_faint_photo":
        below = opts.pop("faint_below", 0.5)
        if isinstance(below, bool) or not (isinstance(below, (int, float, np.floating)) and 0.0 < below <= 1.0):
            raise ValueError(f"faint_below must be a number in (0, 1], got {below!r}")
        f_ml = estimate_foreground(image, alpha, "ml", **opts)
        t = np.minimum(alpha * np.float32(1.0 / below), np.float32(1.0))[:, :, None]
        mixed = t * f_ml.astype(np.float32) + (np.float32(1.0) - t) * image.astype(np.float32)
        return (mixed + np.float32(0.5)).astype(np.uint8)
    if method == "ml":
        unknown = set(opts) - set(_ML_OPTIONS)
        if unknown:
            raise ValueError(f"unknown options for method 'ml': {sorted(unknown)} (known: {list(_ML_OPTIONS)})")
        from pymatting import estimate_foreground_ml

        image01 = image.astype(np.float32) * np.float32(1.0 / 255.0)
        fg = estimate_foreground_ml(image01, alpha, **opts)
        return np.clip(np.asarray(fg, np.float32) * np.float32(255.0) + np.float32(0.5), 0, 255).astype(np.uint8)
    raise ValueError(f"method must be one of {FG_METHODS}, got {method!r}")


def fg_error(
    f_est: np.ndarray,
    f_true: np.ndarray,
    alpha: np.ndarray,
    band: np.ndarray | None = None,
) -> float:
    """Alpha-weighted mean absolute error of F in the unknown band, in 0..255 levels.

    ``sum_band(a * mean_c |F_est - F_true|) / sum_band(a)``; pixels with ``a = 0``
    do not count (F is undefined there) and pixels where ``a`` is small count
    little (their colour hardly reaches the composite).

    Args:
        f_est, f_true: ``uint8 (H, W, 3)`` (or float32 in 0..255 levels).
        alpha: ``float32 (H, W)`` in ``[0, 1]``.
        band: optional bool ``(H, W)`` region; default the unknown region ``0 < a < 1``.
    Returns:
        error >= 0; ``nan`` if the band holds no positive alpha.
    """
    for name, arr in (("f_est", f_est), ("f_true", f_true)):
        if not isinstance(arr, np.ndarray) or arr.ndim != 3 or arr.shape[2] != 3:
            shape = arr.shape if isinstance(arr, np.ndarray) else type(arr).__name__
            raise ValueError(f"{name} must be (H, W, 3), got {shape}")
    if f_est.shape != f_true.shape:
        raise ValueError(f"f_est shape {f_est.shape} does not match f_true shape {f_true.shape}")
    if not isinstance(alpha, np.ndarray) or alpha.shape != f_est.shape[:2]:
        shape = alpha.shape if isinstance(alpha, np.ndarray) else type(alpha).__name__
        raise ValueError(f"alpha must have shape {f_est.shape[:2]}, got {shape}")
    if band is None:
        band = (alpha > 0) & (alpha < 1)
    else:
        band = np.asarray(band, bool)
        if band.shape != alpha.shape:
            raise ValueError(f"band must have shape {alpha.shape}, got {band.shape}")
    w = alpha[band].astype(np.float64)
    total = w.sum()
    if total <= 0:
        return float("nan")
    diff = np.abs(f_est[band].astype(np.float64) - f_true[band].astype(np.float64)).mean(axis=1)
    return float((w * diff).sum() / total)
