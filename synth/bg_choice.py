"""Choosing backgrounds that fit a foreground.

Pasting a dim, warm indoor portrait onto a bright blue beach, or onto a street
full of people, gives composites no camera takes.  This module describes each
background once (:func:`describe_background`, cheap, cached by the caller) and
each foreground once (:func:`describe_foreground`), scores every pair
(:func:`fit_scores`) and turns the score matrix into per-foreground sampling
distributions that still use every background (:func:`assignment_matrix`).
A sample then draws its background from its foreground's row with its own
generator (:func:`draw_background`), so every sample stays a pure function of
``(seed, index)``: no global usage counters.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np
from scipy.ndimage import uniform_filter
from scipy.special import logsumexp

from augment.illuminant import estimate_illuminant
from augment.realism import estimate_noise_sigma, estimate_sharpness
from augment.resize import shrink_long_side

__all__ = [
    "BgDescriptor",
    "FgDescriptor",
    "assignment_matrix",
    "describe_background",
    "describe_foreground",
    "draw_background",
    "estimate_illuminant",
    "fit_scores",
]

_DESCRIBE_SIDE = 256  # long side of the copy colour/clutter statistics are computed on
_SALIENCY_SIDE = 64  # spectral residual works at this scale (Hou & Zhang 2007)
_CROP_SIDE = 512  # noise/sharpness: native-resolution centre crop of at most this side
_EDGE_DENSITY_FULL = 0.15  # edge density that counts as fully cluttered


# --------------------------------------------------------------------------- descriptors


@dataclass(frozen=True)
class BgDescriptor:
    """What a background looks like, for matching (all plain floats/ints, JSON-able).

    Attributes:
        lab_mean, lab_std: CIELAB (L in [0, 100]) mean and std per channel.
        brightness: mean L / 100, in [0, 1].
        temperature: ``ln((mean R + 1) / (mean B + 1))`` on 0..255 values; > 0 warm.
            Mean colour: albedo and light together.
        illuminant: ``(ln(e_R / e_G), ln(e_B / e_G))``, the chromaticity of the light's
            colour by the grey-edge hypothesis (:func:`estimate_illuminant`); ``(0, 0)``
            is white light, independent of the scene's own colours.
        edge_density: share of Canny edge pixels at a 256 px long side, in [0, 1].
        saliency_concentration: in [0, 1]; how much of the spectral-residual saliency
            sits in its top 5 % of pixels (0 = spread evenly or no structure, 1 = all
            in one small spot): a salient-object proxy.
        clutter: ``0.5 min(edge_density / 0.15, 1) + 0.5 saliency_concentration``, in [0, 1].
        noise_sigma: noise std in levels (native resolution).
        sharpness: :func:`augment.realism.estimate_sharpness` at native resolution.
        height, width: native resolution in px.
    """

    lab_mean: tuple[float, float, float]
    lab_std: tuple[float, float, float]
    brightness: float
    temperature: float
    illuminant: tuple[float, float]
    edge_density: float
    saliency_concentration: float
    clutter: float
    noise_sigma: float
    sharpness: float
    height: int
    width: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FgDescriptor:
    """What a foreground looks like: alpha-weighted colour statistics and its capture quality.

    Attributes:
        lab_mean, lab_std: alpha-weighted CIELAB mean/std per channel.
        brightness: alpha-weighted mean L / 100, in [0, 1].
        temperature: ``ln((mean R + 1) / (mean B + 1))``, alpha-weighted.
        illuminant: grey-edge light chromaticity ``(ln(e_R / e_G), ln(e_B / e_G))`` of the
            opaque interior (:func:`estimate_illuminant`).
        noise_sigma, sharpness: measured on the opaque part (alpha > 0.95, or
            alpha > 0.5 if that is small); nan if too small.
        height, width: size of the foreground image in px.
        coverage: mean alpha, in [0, 1].
    """

    lab_mean: tuple[float, float, float]
    lab_std: tuple[float, float, float]
    brightness: float
    temperature: float
    illuminant: tuple[float, float]
    noise_sigma: float
    sharpness: float
    height: int
    width: int
    coverage: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_rgb(image: np.ndarray, name: str) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        desc = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"{name} must be uint8 (H, W, 3) RGB, got {desc}")
    if min(image.shape[:2]) < 8:
        raise ValueError(f"{name} is too small to describe (need at least 8x8), got {image.shape}")


def _colour_stats(image: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, float]:
    """(lab mean (3,), lab std (3,), temperature) of a uint8 RGB image, optionally weighted."""
    f = image.astype(np.float32) * np.float32(1.0 / 255.0)
    lab = cv2.cvtColor(f, cv2.COLOR_RGB2Lab).reshape(-1, 3).astype(np.float64)
    rgb = image.reshape(-1, 3).astype(np.float64)
    if weights is None:
        w = np.full(lab.shape[0], 1.0 / lab.shape[0])
    else:
        w = weights.reshape(-1).astype(np.float64)
        total = w.sum()
        if not total > 0:
            raise ValueError("alpha has no foreground pixels (all zero): cannot describe the foreground")
        w = w / total
    mean = w @ lab
    std = np.sqrt(np.maximum(w @ (lab * lab) - mean * mean, 0.0))
    mean_rgb = w @ rgb
    temperature = math.log((mean_rgb[0] + 1.0) / (mean_rgb[2] + 1.0))
    return mean, std, temperature


def _spectral_residual_concentration(grey_u8: np.ndarray, top: float = 0.05) -> float:
    """Share of spectral-residual saliency in its top ``top`` pixels, rescaled to [0, 1]."""
    if float(grey_u8.std()) < 1.0:  # flat: nothing salient
        return 0.0
    small = cv2.resize(grey_u8, (_SALIENCY_SIDE, _SALIENCY_SIDE), interpolation=cv2.INTER_AREA).astype(np.float64)
    spec = np.fft.fft2(small)
    log_amp = np.log(np.abs(spec) + 1e-8)
    residual = log_amp - uniform_filter(log_amp, size=3, mode="wrap")  # the spectrum is periodic
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spec)))) ** 2
    sal = cv2.GaussianBlur(sal, (0, 0), 2.5)
    total = sal.sum()
    if not total > 0:
        return 0.0
    k = max(1, int(round(top * sal.size)))
    share = np.partition(sal.ravel(), sal.size - k)[-k:].sum() / total
    return float(np.clip((share - top) / (1.0 - top), 0.0, 1.0))


def _centre_crop(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    y0, x0 = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return image[y0 : y0 + side, x0 : x0 + side]


def describe_background(image: np.ndarray) -> BgDescriptor:
    """Describe a background photo once (cache the result).

    Colour, illuminant and clutter statistics on a copy downscaled (INTER_AREA) to a
    256 px long side; Canny edges (thresholds 50/150 after a 1 px Gaussian) on that copy;
    spectral-residual saliency at 64x64; noise and sharpness on a native-resolution
    centre crop of at most 512x512 (downscaling would hide both).  About 10 ms.

    Args:
        image: ``uint8 (H, W, 3)`` RGB, at least 8x8.
    """
    _check_rgb(image, "image")
    small = shrink_long_side(image, _DESCRIBE_SIDE)
    mean, std, temperature = _colour_stats(small, None)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(cv2.GaussianBlur(grey, (0, 0), 1.0), 50, 150)
    edge_density = float(np.count_nonzero(edges)) / edges.size
    concentration = _spectral_residual_concentration(grey)
    clutter = 0.5 * min(edge_density / _EDGE_DENSITY_FULL, 1.0) + 0.5 * concentration
    crop = _centre_crop(image, _CROP_SIDE)
    h, w = image.shape[:2]
    return BgDescriptor(
        lab_mean=tuple(float(v) for v in mean),  # type: ignore[arg-type]
        lab_std=tuple(float(v) for v in std),  # type: ignore[arg-type]
        brightness=float(mean[0] / 100.0),
        temperature=float(temperature),
        illuminant=estimate_illuminant(small),
        edge_density=edge_density,
        saliency_concentration=concentration,
        clutter=float(clutter),
        noise_sigma=estimate_noise_sigma(crop),
        sharpness=estimate_sharpness(crop),
        height=int(h),
        width=int(w),
    )


def describe_foreground(fg: np.ndarray, alpha: np.ndarray) -> FgDescriptor:
    """Describe a foreground once: alpha-weighted colour statistics, noise, sharpness, size.

    Colour statistics and the illuminant (grey edge on the alpha-weighted interior) on a
    copy downscaled to a 256 px long side (alpha resized the same way, INTER_AREA); noise and sharpness at native resolution on the opaque
    region.

    Args:
        fg: ``uint8 (H, W, 3)`` RGB foreground colours.
        alpha: ``float32 (H, W)`` in ``[0, 1]`` with some foreground.
    """
    _check_rgb(fg, "fg")
    if not isinstance(alpha, np.ndarray) or alpha.dtype != np.float32 or alpha.shape != fg.shape[:2]:
        desc = f"{alpha.dtype} {alpha.shape}" if isinstance(alpha, np.ndarray) else type(alpha).__name__
        raise ValueError(f"alpha must be float32 {fg.shape[:2]} in [0, 1], got {desc}")
    small = shrink_long_side(fg, _DESCRIBE_SIDE)
    small_alpha = alpha if small is fg else cv2.resize(alpha, small.shape[1::-1], interpolation=cv2.INTER_AREA)
    mean, std, temperature = _colour_stats(small, small_alpha)
    opaque = alpha > 0.95
    if np.count_nonzero(opaque) < 256:
        opaque = alpha > 0.5
    h, w = fg.shape[:2]
    return FgDescriptor(
        lab_mean=tuple(float(v) for v in mean),  # type: ignore[arg-type]
        lab_std=tuple(float(v) for v in std),  # type: ignore[arg-type]
        brightness=float(mean[0] / 100.0),
        temperature=float(temperature),
        illuminant=estimate_illuminant(small, np.clip(small_alpha, 0.0, 1.0)),
        noise_sigma=estimate_noise_sigma(fg, opaque),
        sharpness=estimate_sharpness(fg, opaque),
        height=int(h),
        width=int(w),
        coverage=float(alpha.mean()),
    )


# --------------------------------------------------------------------------- scores


def fit_scores(
    fg_desc: FgDescriptor,
    bg_descs: Sequence[BgDescriptor],
    canvas_hw: tuple[int, int],
    *,
    w_light: float = 1.0,
    w_contrast: float = 0.5,
    w_colour: float = 0.0,
    w_temperature: float = 0.0,
    w_illuminant: float = 1.0,
    w_clutter: float = 1.0,
    w_resolution: float = 1.0,
    light_scale: float = 20.0,
    colour_scale: float = 20.0,
    temperature_scale: float = 0.3,
    illuminant_scale: float = 0.3,
) -> np.ndarray:
    """How well each background fits a foreground; higher is better, 0 is a perfect fit.

    For background ``j`` (``L``, ``a``, ``b``: LAB means; ``sL``: L std;
    ``T``: temperature; ``E``: illuminant chromaticity ``(ln(e_R/e_G), ln(e_B/e_G))``;
    subscripts f/j for foreground/background)::

        score_j = - w_light       * |L_f - L_j| / light_scale                (illumination)
                  - w_contrast    * |ln(sL_f / sL_j)|                         (contrast)
                  - w_colour      * ||(a, b)_f - (a, b)_j|| / colour_scale     (mean colour)
                  - w_temperature * |T_f - T_j| / temperature_scale           (colour temperature)
                  - w_illuminant  * ||E_f - E_j|| / illuminant_scale          (colour of the light)
                  - w_clutter     * clutter_j                                 (in [0, 1])
                  - w_resolution  * log2(max(1, s_j))                         (upscaling)

    with ``s_j = max(canvas_h / height_j, canvas_w / width_j)`` the factor by which
    the background must be upscaled to cover the canvas.  With the default scales a
    difference of 20 L units, 20 (a, b) units, 0.3 in ln(R/B), 0.3 in illuminant
    chromaticity, a fully cluttered background or a 2x upscale each cost 1.

    The mean colour (``w_colour``) and temperature (``w_temperature``, grey world) are
    mostly the subjects' and scenes' own colours (albedo): matching them puts subjects on
    backdrops of their own colour, which real photos rarely show, so both are off by
    default; what subject and scene share in a real photo is the light's colour
    (``w_illuminant``, grey edge) and the exposure (``w_light``).

    Args:
        fg_desc: from :func:`describe_foreground`.
        bg_descs: from :func:`describe_background`, non-empty.
        canvas_hw: (height, width) of the composite in px.
        w_*: non-negative weights; *_scale: positive normalisations.
    Returns:
        ``float64 (n_bg,)``, all <= 0.
    """
    if not isinstance(fg_desc, FgDescriptor):
        raise ValueError(f"fg_desc must be an FgDescriptor, got {type(fg_desc).__name__}")
    if len(bg_descs) == 0:
        raise ValueError("bg_descs must not be empty")
    bad = [i for i, d in enumerate(bg_descs) if not isinstance(d, BgDescriptor)]
    if bad:
        raise ValueError(f"bg_descs must hold BgDescriptor objects; items {bad[:5]} are not")
    if len(canvas_hw) != 2 or min(canvas_hw) < 1:
        raise ValueError(f"canvas_hw must be (height, width) with positive sides, got {canvas_hw!r}")
    weights = dict(
        w_light=w_light, w_contrast=w_contrast, w_colour=w_colour, w_temperature=w_temperature,
        w_illuminant=w_illuminant, w_clutter=w_clutter, w_resolution=w_resolution,
    )
    for name, v in weights.items():
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    for name, v in (("light_scale", light_scale), ("colour_scale", colour_scale),
                    ("temperature_scale", temperature_scale), ("illuminant_scale", illuminant_scale)):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be > 0, got {v!r}")

    mean = np.array([d.lab_mean for d in bg_descs], np.float64)
    std_l = np.array([d.lab_std[0] for d in bg_descs], np.float64)
    temp = np.array([d.temperature for d in bg_descs], np.float64)
    illum = np.array([d.illuminant for d in bg_descs], np.float64).reshape(-1, 2)
    clutter = np.array([d.clutter for d in bg_descs], np.float64)
    hw = np.array([(d.height, d.width) for d in bg_descs], np.float64)
    f_mean = np.asarray(fg_desc.lab_mean, np.float64)

    light = np.abs(f_mean[0] - mean[:, 0]) / light_scale
    contrast = np.abs(np.log(max(fg_desc.lab_std[0], 0.5) / np.maximum(std_l, 0.5)))
    colour = np.linalg.norm(f_mean[1:] - mean[:, 1:], axis=1) / colour_scale
    temperature = np.abs(fg_desc.temperature - temp) / temperature_scale
    illuminant = np.linalg.norm(np.asarray(fg_desc.illuminant, np.float64)[None, :] - illum, axis=1) / illuminant_scale
    upscale = np.max(np.asarray(canvas_hw, np.float64)[None, :] / hw, axis=1)
    resolution = np.log2(np.maximum(upscale, 1.0))
    return -(
        w_light * light
        + w_contrast * contrast
        + w_colour * colour
        + w_temperature * temperature
        + w_illuminant * illuminant
        + w_clutter * clutter
        + w_resolution * resolution
    )


# --------------------------------------------------------------------------- assignment


def assignment_matrix(
    scores: np.ndarray,
    temperature: float,
    balance: float,
    *,
    max_share: float | None = None,
    max_iter: int = 10_000,
    tol: float = 1e-6,
) -> np.ndarray:
    """Row-stochastic background-choice probabilities, balanced toward equal background use.

    ``P0 = softmax(scores / temperature)`` per row (foreground).  Sinkhorn scaling
    (in the log domain) then finds ``P = diag(u) P0 diag(v)`` with every row summing
    to 1 and column sums ``c = (1 - balance) colsum(P0) + balance n_fg / n_bg``:
    ``balance = 0`` returns ``P0``; ``balance = 1`` makes every background's expected
    use equal (``n_fg / n_bg``), so backgrounds that fit nothing well are still used,
    by the foregrounds they fit least badly.  Memory: a few ``(n_fg, n_bg)`` float64
    arrays; for very large pools score a candidate subset per foreground.

    Args:
        scores: ``(n_fg, n_bg)`` finite, higher = better (e.g. rows of :func:`fit_scores`).
        temperature: > 0; small values approach argmax per row (at balance 0).
        balance: in [0, 1].
        max_share: optional cap (>= 1) on any background's expected use, as a multiple of
            the fair share ``n_fg / n_bg``; the excess goes to the other backgrounds in
            proportion to their targets (so no background that fits many foregrounds is
            reused far more than the rest).
        max_iter, tol: Sinkhorn stops when every column sum is within ``tol`` of
            its target; ``RuntimeError`` if that takes more than ``max_iter`` sweeps
            (raise the temperature or lower the balance).
    Returns:
        ``float64 (n_fg, n_bg)``, rows sum to 1.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] < 1 or s.shape[1] < 1:
        raise ValueError(f"scores must be a non-empty 2-D (n_fg, n_bg) array, got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite (no nan or inf)")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    if not (0.0 <= balance <= 1.0):
        raise ValueError(f"balance must be in [0, 1], got {balance!r}")
    if max_share is not None and not (math.isfinite(max_share) and max_share >= 1.0):
        raise ValueError(f"max_share must be a number >= 1 (times the fair share), got {max_share!r}")
    n_fg, n_bg = s.shape
    log_p0 = s / temperature
    log_p0 -= logsumexp(log_p0, axis=1, keepdims=True)  # log P0, rows normalised
    p0_cols = np.exp(logsumexp(log_p0, axis=0))
    target = (1.0 - balance) * p0_cols + balance * (n_fg / n_bg)
    if max_share is not None:
        target = _cap_targets(target, max_share * n_fg / n_bg)
    if n_bg == 1 or np.allclose(target, p0_cols, rtol=0, atol=tol):
        return np.exp(log_p0)
    log_p = _sinkhorn(s - s.max(axis=1, keepdims=True), temperature, np.log(target), max_iter, tol)
    p = np.exp(log_p)
    return p / p.sum(axis=1, keepdims=True)


def _cap_targets(target: np.ndarray, cap: float) -> np.ndarray:
    """Clip column targets at `cap`, handing the excess to the uncapped ones in proportion
    (water-filling); the total is kept. Feasible whenever cap * n_bg >= total."""
    t = target.astype(np.float64).copy()
    for _ in range(t.size):
        over = t > cap
        if not over.any():
            break
        excess = float((t[over] - cap).sum())
        t[over] = cap
        free = t < cap
        t[free] += excess * t[free] / t[free].sum()
    return t


def _sinkhorn_scaling(s: np.ndarray, temperature: float, log_cols: np.ndarray, max_iter: int, tol: float) -> np.ndarray:
    """Plain Sinkhorn on K = exp(s / temperature) (needs a moderate spread of s / temperature)."""
    k = np.exp((s - s.max()) / temperature)
    cols = np.exp(log_cols)
    v = np.ones(s.shape[1])
    err = float("inf")
    for _ in range(max_iter):
        u = 1.0 / (k @ v)  # rows to 1
        col_sums = v * (u @ k)
        err = float(np.max(np.abs(col_sums - cols)))
        if err <= tol:
            return np.log(k) + np.log(u)[:, None] + np.log(v)[None, :]
        v = cols / (u @ k)  # columns to their targets
    raise RuntimeError(
        f"assignment_matrix: Sinkhorn did not converge in {max_iter} iterations "
        f"(max column-sum error {err:.3g} > tol {tol:g}); raise the temperature ({temperature!r}) or lower balance"
    )


def _sinkhorn(s: np.ndarray, temperature: float, log_cols: np.ndarray, max_iter: int, tol: float) -> np.ndarray:
    """log P with P = exp((s + F 1^T + 1 G^T) / temperature), rows summing to 1, columns to exp(log_cols).

    Log-domain Sinkhorn with epsilon scaling: the dual potentials F, G (in score
    units) are first found at higher temperatures, halving down to ``temperature``,
    each stage warm-starting the next; at low temperatures this turns tens of
    thousands of sweeps into hundreds.  The result is that of plain Sinkhorn
    at ``temperature`` (the scaling is unique).
    """
    spread = float(s.max() - s.min())
    if spread / temperature <= 200.0:  # exp() cannot under/overflow: fast matrix-vector Sinkhorn
        return _sinkhorn_scaling(s, temperature, log_cols, max_iter, tol)
    temps = [temperature]
    while temps[-1] < spread and len(temps) < 40:
        temps.append(temps[-1] * 2.0)
    temps.reverse()
    f = np.zeros(s.shape[0])
    g = np.zeros(s.shape[1])
    cols = np.exp(log_cols)
    sweeps = 0
    err = float("inf")
    for k, t in enumerate(temps):
        final = k == len(temps) - 1
        stage_tol = tol if final else max(tol, 1e-3)
        lse_cols = logsumexp((s + f[:, None]) / t, axis=0)
        while sweeps < max_iter:
            sweeps += 1
            g = t * (log_cols - lse_cols)  # columns to their targets
            f = -t * logsumexp((s + g[None, :]) / t, axis=1)  # rows to 1
            lse_cols = logsumexp((s + f[:, None]) / t, axis=0)
            err = float(np.max(np.abs(np.exp(lse_cols + g / t) - cols)))
            if err <= stage_tol:
                break
        if final and err <= tol:
            return (s + f[:, None] + g[None, :]) / t
    raise RuntimeError(
        f"assignment_matrix: Sinkhorn did not converge in {max_iter} iterations "
        f"(max column-sum error {err:.3g} > tol {tol:g}); raise the temperature ({temperature!r}) or lower balance"
    )


def draw_background(rng: np.random.Generator, probabilities: np.ndarray) -> int:
    """Index of the background for one sample, drawn from one row of :func:`assignment_matrix`.

    Inverse-CDF with one ``rng.random()`` draw, so the choice is a pure function of
    the sample's generator.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    p = np.asarray(probabilities, np.float64)
    if p.ndim != 1 or p.size == 0 or np.any(p < 0) or not np.isfinite(p).all() or p.sum() <= 0:
        raise ValueError(
            "probabilities must be a non-empty 1-D array of non-negative finite values with a positive sum"
        )
    cdf = np.cumsum(p)
    idx = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    return min(idx, p.size - 1)
