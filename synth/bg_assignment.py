"""Choosing backgrounds that fit a foreground, at plan time.

Every (foreground, background) pair is scored from the cached descriptors
(:func:`fit_scores`, :mod:`synth.bg_descriptors`); the score matrix becomes
per-foreground sampling distributions that still use every background
(:func:`assignment_matrix`, Sinkhorn scaling). A sample then draws its background from
its foreground's row with its own generator (:func:`draw_background`), so every sample
stays a pure function of ``(seed, index)``: no global usage counters.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp

from .bg_descriptors import BgDescriptor, FgDescriptor
from .recipe.composition import FIT_WEIGHTS
from .rng import bg_cycle_rng

__all__ = ["FIT_WEIGHTS", "assignment_matrix", "draw_background", "fit_scores", "pinned_background", "pinned_count"]



def fit_scores(
    fg_desc: FgDescriptor,
    bg_descs: Sequence[BgDescriptor],
    canvas_hw: tuple[int, int],
    *,
    w_light: float = FIT_WEIGHTS["light"],
    w_contrast: float = FIT_WEIGHTS["contrast"],
    w_colour: float = FIT_WEIGHTS["colour"],
    w_temperature: float = FIT_WEIGHTS["temperature"],
    w_illuminant: float = FIT_WEIGHTS["illuminant"],
    w_clutter: float = FIT_WEIGHTS["clutter"],
    w_resolution: float = FIT_WEIGHTS["resolution"],
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


def _check_share(min_share: float) -> None:
    if not (isinstance(min_share, (int, float)) and 0.0 <= min_share <= 1.0):
        raise ValueError(f"min_share must be in [0, 1], got {min_share!r}")


def pinned_count(n: int, min_share: float) -> int:
    """How many of samples 0..n-1 have a pinned background: ``floor(n * min_share)``."""
    _check_share(min_share)
    return math.floor(n * min_share)


def pinned_background(seed: int, split: str, index: int, n_bg: int, min_share: float) -> int | None:
    """The background of sample ``index`` when the diversity guard pins it, else None.

    Sample ``i`` is pinned when ``floor((i + 1) * min_share) > floor(i * min_share)`` (a
    ``min_share`` fraction, evenly spread); the ``j``-th pinned sample (``j = floor(i *
    min_share)``) takes position ``j mod n_bg`` of cycle ``j // n_bg``'s keyed shuffle of the
    ``n_bg`` backgrounds (:func:`synth.rng.bg_cycle_rng`). Every background is then pinned by at
    least ``pinned_count(n, min_share) // n_bg`` of any first ``n`` samples, and each sample's
    background is a pure function of its own index.
    """
    _check_share(min_share)
    if n_bg < 1 or index < 0:
        raise ValueError(f"pinned_background: need n_bg >= 1 and index >= 0, got {n_bg}, {index}")
    j = math.floor(index * min_share)
    if math.floor((index + 1) * min_share) <= j:
        return None
    cycle, pos = divmod(j, n_bg)
    return int(bg_cycle_rng(seed, split, cycle).permutation(n_bg)[pos])
