"""Foreground/background mismatch in time: how a composited clip differs from a filmed one.

In a filmed clip the subject and what is just behind it share one camera over time: when the
camera moves both move, the sensor noise is new in every frame on both sides, a fast motion
smears both by the same exposure, and a change of light reaches both.  Composited clips get
this wrong in typical ways: a still photo behind a moving subject, noise live on one layer and
frozen on the other, motion without motion blur, colour jitter drawn per frame on the subject.
:func:`temporal_mismatch` measures these, per clip, on the rings of
:func:`augment.bands.boundary_bands` (the subject's side ``alpha >= 0.95``, the background's
side ``alpha <= 0.05``), for every pair of consecutive frames ``(t, t + 1)``:

* **motion**: each side's displacement (px per frame) by masked template matching: the ring of
  frame ``t`` (only the pixels that stay on their side in frame ``t + 1``) searched in frame
  ``t + 1`` (zero-mean normalised correlation of the lightly smoothed luma: a change of light
  does not read as motion; parabolic sub-pixel refinement; a second pass leaves out pixels
  whose match falls on the other side).  ``still_background``: the share of the pairs where the subject
  moves (at least ``0.002 * max(H, W)`` px) and the background does not (under ``e = 0.001 *
  max(H, W)`` px): 0 for a hand-held camera, 1 for a still photo behind a moving subject (a
  tripod gives it too: it is a mismatch in a dataset's distribution, not in one clip).  Also
  ``motion_log_ratio = ln((v_F + e) / (v_B + e))`` of the clip's median speeds.
* **noise**: each side's frame-to-frame noise ``sigma(I_t+1(x + d) - I_t(x)) / sqrt(2)``
  (Immerkær, :func:`augment.estimate.estimate_noise_sigma`, on the difference after the
  side's integer motion ``d``): fresh sensor noise gives its sigma, noise frozen into a layer
  (a still photo's grain) gives 0.  ``noise_change_log_ratio = ln((n_F + 0.25) / (n_B + 0.25))``.
* **blur vs motion**: the subject's apparent shutter ``s_F = L / v`` (blur length over speed:
  the exposure as a fraction of the frame interval, at most 1) on the pairs where it moves at
  least ``max(2, 0.01 * max(H, W))`` px per frame, ``L`` from its matte's outline
  (:func:`edge_blur_length`: edges facing the motion widen, edges along it do not).
  ``blur_motion_gap = NOMINAL_SHUTTER - s_F`` (a 180 degree shutter, 0.5): about 0.5 for a
  subject moving fast with sharp edges, about 0 for one blurred as a film camera would.  The
  background's blur is not measured: it has no edge known to be a step.
* **harmonisation flicker**: the frame-to-frame change of each side's colour, on the same
  content in both frames (the ring of frame ``t`` followed by the side's motion), as the change
  of the log of its mean linear-light R, G and B: ``colour_flicker = median_t RMS_rgb(dln m_F -
  dln m_B)`` in percent.  A change of light on the whole picture (a gain in linear light)
  changes both sides alike and cancels; colour drawn afresh for the subject in every frame
  does not.

Every indicator is 0 for a consistent clip (up to texture and measurement noise) and grows
with the mismatch; the raw per-side values are returned too.  Frames are ``uint8 (T, H, W, 3)``
RGB, alphas ``float32 (T, H, W)`` in ``[0, 1]``.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from augment.bands import BG_THRESHOLD, FG_THRESHOLD, boundary_bands
from augment.colour import grey_levels, srgb_to_linear
from augment.estimate import MIN_PIXELS, estimate_noise_sigma

__all__ = ["NOMINAL_SHUTTER", "TEMPORAL_INDICATORS", "TEMPORAL_KEYS", "edge_blur_length",
           "estimate_shift", "temporal_mismatch"]

#: The indicators (0: no mismatch), then the raw per-side values.
TEMPORAL_INDICATORS: tuple[str, ...] = ("still_background", "noise_change_log_ratio", "blur_motion_gap",
                                        "colour_flicker")
TEMPORAL_KEYS: tuple[str, ...] = TEMPORAL_INDICATORS + (
    "motion_log_ratio", "fg_speed", "bg_speed", "fg_noise_change", "bg_noise_change", "fg_shutter",
    "fg_flicker", "bg_flicker", "pairs",
)
#: The apparent shutter (exposure / frame interval) a still background is held to: a 180 degree shutter.
NOMINAL_SHUTTER = 0.5
_NOISE_FLOOR = 0.25  # levels
_LINEAR_FLOOR = 1e-3  # linear light, added before the log of a mean
_SMOOTH = 0.8  # px, luma smoothing before matching


def _masked_cost(a: np.ndarray, b: np.ndarray, mask: np.ndarray, radius: int) -> np.ndarray:
    """Matching cost over shifts (dy, dx) in [-radius, radius]^2 of ``a`` on ``mask`` (not empty)
    against ``b`` shifted: 1 - zero-mean normalised correlation, lowest where the content matches,
    blind to a gain and an offset; ``(2 radius + 1, 2 radius + 1)``."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    templ = np.ascontiguousarray(a[y0:y1, x0:x1])
    m = np.ascontiguousarray(mask[y0:y1, x0:x1].astype(np.float32))
    padded = cv2.copyMakeBorder(b, radius, radius, radius, radius, cv2.BORDER_REPLICATE)
    search = padded[y0:y1 + 2 * radius, x0:x1 + 2 * radius]
    cost = 1.0 - cv2.matchTemplate(search, templ, cv2.TM_CCOEFF_NORMED, mask=m)
    return np.nan_to_num(cost, nan=2.0, posinf=2.0, neginf=2.0)  # a flat window matches nothing


def _parabola(lo: float, mid: float, hi: float) -> float:
    den = lo - 2.0 * mid + hi
    return 0.0 if den <= 1e-12 else float(np.clip(0.5 * (lo - hi) / den, -0.5, 0.5))


def estimate_shift(a: np.ndarray, b: np.ndarray, mask: np.ndarray, radius: int,
                   target: np.ndarray | None = None) -> tuple[float, float]:
    """Displacement ``(dy, dx)`` in px of the content of ``a`` on ``mask`` found in ``b`` (``b(x + d) ~ a(x)``).

    Args:
        a, b: ``float32 (H, W)`` luma.
        mask: bool ``(H, W)``, the pixels of ``a`` to follow (>= 64 of them).
        radius: largest displacement searched per axis, px (>= 1).
        target: optional bool ``(H, W)``: where the content may land in ``b``; after a first
            estimate, pixels whose match falls outside it are left out and the search repeated.
    Returns:
        ``(dy, dx)``; ``(nan, nan)`` with fewer than 64 mask pixels.
    """
    if radius < 1:
        raise ValueError(f"radius must be >= 1, got {radius!r}")
    d = _shift_once(a, b, mask, radius)
    if target is None or not math.isfinite(d[0]):
        return d
    landed, _ = _moved(np.asarray(target, bool), int(round(d[0])), int(round(d[1])))
    return _shift_once(a, b, mask & landed, radius)


def _shift_once(a: np.ndarray, b: np.ndarray, mask: np.ndarray, radius: int) -> tuple[float, float]:
    if int(np.count_nonzero(mask)) < MIN_PIXELS:
        return math.nan, math.nan
    cost = _masked_cost(a, b, mask, radius)
    iy, ix = np.unravel_index(int(np.argmin(cost)), cost.shape)
    fy = _parabola(cost[iy - 1, ix], cost[iy, ix], cost[iy + 1, ix]) if 0 < iy < cost.shape[0] - 1 else 0.0
    fx = _parabola(cost[iy, ix - 1], cost[iy, ix], cost[iy, ix + 1]) if 0 < ix < cost.shape[1] - 1 else 0.0
    return float(iy - radius + fy), float(ix - radius + fx)


_PROFILE_STEP = 0.25  # px between samples of an edge's profile
_SHARP_EDGE_PX = 4.0  # the lower quartile of the widths along the motion must be below this


def _edge_widths(alpha: np.ndarray, ys: np.ndarray, xs: np.ndarray, nx: np.ndarray, ny: np.ndarray,
                 reach: float) -> np.ndarray:
    """10-90 % rise distance / 0.8 (px: a step blurred by a box of length L reads L) of the alpha
    profile through each pixel (ys, xs) along its normal (nx, ny), alpha rising along it; nan where
    the profile does not reach 10 % and 90 % within ``reach`` px."""
    steps = np.arange(-reach, reach + 1e-6, _PROFILE_STEP, dtype=np.float32)
    map_x = (xs[:, None] + steps[None, :] * nx[:, None]).astype(np.float32)
    map_y = (ys[:, None] + steps[None, :] * ny[:, None]).astype(np.float32)
    prof = cv2.remap(alpha, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    c = steps.size // 2
    idx = np.arange(steps.size)
    lo = np.where((prof <= 0.1) & (idx < c), idx, -1).max(axis=1)  # last sample at or below 10 % before the centre
    hi = np.where((prof >= 0.9) & (idx > c), idx, steps.size).min(axis=1)  # first at or above 90 % after it
    ok = (lo >= 0) & (hi < steps.size)
    rows = np.flatnonzero(ok)
    lo_i, hi_i = lo[ok], hi[ok]
    p_lo0, p_lo1 = prof[rows, lo_i], prof[rows, np.minimum(lo_i + 1, steps.size - 1)]
    p_hi0, p_hi1 = prof[rows, np.maximum(hi_i - 1, 0)], prof[rows, hi_i]
    x_lo = lo_i + np.clip((0.1 - p_lo0) / np.maximum(p_lo1 - p_lo0, 1e-6), 0.0, 1.0)
    x_hi = hi_i - 1 + np.clip((0.9 - p_hi0) / np.maximum(p_hi1 - p_hi0, 1e-6), 0.0, 1.0)
    out = np.full(ys.size, np.nan)
    out[rows] = (x_hi - x_lo) * _PROFILE_STEP / 0.8
    return out


def edge_blur_length(alpha: np.ndarray, direction: tuple[float, float], *, reach: float = 16.0) -> float:
    """Length (px) of the motion blur along ``direction`` on a matte's outline.

    A matte's edge is a step (a few px wide for hair and anti-aliasing); a motion blur of length
    ``L`` along ``u`` widens each edge to about ``sqrt(w0^2 + (L cos theta)^2)`` with ``theta``
    between the edge's normal and ``u``.  Each edge pixel's width is the 10-90 % rise distance
    of the alpha profile across it (along the alpha's gradient, / 0.8: a step blurred by a box
    of length ``L`` reads ``L``); ``L^2`` is the difference of the lower quartiles of the squared
    widths of the edges facing the motion (``cos^2 theta >= 0.75``) and of those along it
    (``<= 0.25``; 0 when negative).  The outline's shape does not matter as long as it has edges
    both ways, and the lower quartile follows the sharp parts of the outline, not hair; an outline
    whose edges along the motion are not sharp (lower quartile over 4 px: fur, hair all round)
    cannot show a blur.

    Args:
        alpha: ``float32 (H, W)`` in ``[0, 1]``.
        direction: ``(dy, dx)``, finite, not zero.
        reach: half-length of the profiles, px (wider edges are left out).
    Returns:
        length >= 0 in px; ``nan`` with fewer than 64 measured edge pixels, 16 facing either way,
        or no sharp edge along the motion.
    """
    dy, dx = direction
    if not (math.isfinite(dy) and math.isfinite(dx)) or dy == 0 and dx == 0:
        raise ValueError(f"direction must be a finite non-zero (dy, dx), got {direction!r}")
    if not reach >= 2:
        raise ValueError(f"reach must be >= 2 px, got {reach!r}")
    smooth = cv2.GaussianBlur(alpha, (0, 0), 1.0)  # the normal's direction, not the profile
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=1, scale=0.5, borderType=cv2.BORDER_REFLECT_101)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=1, scale=0.5, borderType=cv2.BORDER_REFLECT_101)
    g = np.hypot(gx, gy)
    ys, xs = np.nonzero((alpha > 0.3) & (alpha < 0.7) & (g > 0.01))
    if ys.size < MIN_PIXELS:
        return math.nan
    nx, ny = gx[ys, xs] / g[ys, xs], gy[ys, xs] / g[ys, xs]
    width = _edge_widths(alpha, ys.astype(np.float32), xs.astype(np.float32), nx, ny, reach)
    norm = math.hypot(dy, dx)
    cos2 = (nx * (dx / norm) + ny * (dy / norm)).astype(np.float64) ** 2
    ok = np.isfinite(width)
    if int(np.count_nonzero(ok)) < MIN_PIXELS:
        return math.nan
    width2, cos2 = width[ok] ** 2, cos2[ok]
    facing, along = cos2 >= 0.75, cos2 <= 0.25  # edges facing the motion (widened) and along it (not)
    if min(int(np.count_nonzero(facing)), int(np.count_nonzero(along))) < MIN_PIXELS // 4:
        return math.nan
    # the sharper parts of the outline (a body's edge, not its hair) show a blur best
    sharp_along = float(np.quantile(width2[along], 0.25))
    if sharp_along > _SHARP_EDGE_PX ** 2:  # a fuzzy outline (fur, hair all round): no step to see a blur on
        return math.nan
    return math.sqrt(max(float(np.quantile(width2[facing], 0.25)) - sharp_along, 0.0))


def _check_clip(frames: np.ndarray, alphas: np.ndarray) -> None:
    if not (isinstance(frames, np.ndarray) and frames.dtype == np.uint8 and frames.ndim == 4 and frames.shape[3] == 3):
        got = f"{frames.dtype} {frames.shape}" if isinstance(frames, np.ndarray) else type(frames).__name__
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {got}")
    if not (isinstance(alphas, np.ndarray) and alphas.dtype == np.float32 and alphas.shape == frames.shape[:3]):
        got = f"{alphas.dtype} {alphas.shape}" if isinstance(alphas, np.ndarray) else type(alphas).__name__
        raise ValueError(f"alphas must be float32 {frames.shape[:3]} (the frames' T, H, W), got {got}")
    if frames.shape[0] < 2:
        raise ValueError(f"a clip needs at least 2 frames, got {frames.shape[0]}")


def _median(values: list[float]) -> float:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else math.nan


def _moved(x: np.ndarray, iy: int, ix: int) -> tuple[np.ndarray, np.ndarray]:
    """(``x`` read at ``p + (iy, ix)`` for every pixel p, bool: where that lies inside ``x``)."""
    h, w = x.shape[:2]
    out = np.zeros_like(x)
    inside = np.zeros((h, w), bool)
    ys, xs = slice(max(0, -iy), min(h, h - iy)), slice(max(0, -ix), min(w, w - ix))
    out[ys, xs] = x[max(0, iy):min(h, h + iy), max(0, ix):min(w, w + ix)]
    inside[ys, xs] = True
    return out, inside


def _follow(pair: tuple[np.ndarray, np.ndarray], linear: tuple[np.ndarray, np.ndarray], mask: np.ndarray,
            shift: tuple[float, float]) -> tuple[float, np.ndarray | None]:
    """Frame-to-frame noise (levels) and colour change of the content on ``mask``, followed by the
    integer-rounded ``shift``: ``sigma(I_1(x + d) - I_0(x)) / sqrt(2)`` (Immerkær) and the change of
    the log of the mean linear-light R, G, B, ``ln m_1(x + d) - ln m_0(x)`` (3,)."""
    if not math.isfinite(shift[0]):
        return math.nan, None
    iy, ix = int(round(shift[0])), int(round(shift[1]))
    moved, inside = _moved(pair[1], iy, ix)
    m = mask & inside
    if int(np.count_nonzero(m)) < MIN_PIXELS:
        return math.nan, None
    diff = (moved.astype(np.float32) - pair[0].astype(np.float32)) * np.float32(1.0 / 255.0)
    noise = estimate_noise_sigma(diff, m) / math.sqrt(2.0)
    lin_moved, _ = _moved(linear[1], iy, ix)
    m1, m0 = lin_moved[m].mean(axis=0, dtype=np.float64), linear[0][m].mean(axis=0, dtype=np.float64)
    return noise, np.log(m1 + _LINEAR_FLOOR) - np.log(m0 + _LINEAR_FLOOR)


def _smoothed_luma(frame: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(grey_levels(frame), (0, 0), _SMOOTH)


def temporal_mismatch(frames: np.ndarray, alphas: np.ndarray, band_px: float = 16.0, margin_px: float = 3.0,
                      *, max_shift: int | None = None) -> dict[str, float]:
    """Motion, noise, blur and colour-flicker mismatch of one clip between F and B (module docstring).

    Args:
        frames: ``uint8 (T, H, W, 3)`` RGB, T >= 2.
        alphas: ``float32 (T, H, W)`` in ``[0, 1]``.
        band_px: ring width, px (> 0).
        margin_px: distance kept from the boundary, px.
        max_shift: largest displacement per frame searched, px; default ``ceil(0.05 * max(H, W))``.
    Returns:
        dict with the keys of :data:`TEMPORAL_KEYS`: speeds in px per frame, noise in levels,
        shutters as exposure / frame interval, flicker in percent, ``pairs`` the number of
        frame pairs with both rings measurable; ``nan`` where not measurable.
    """
    _check_clip(frames, alphas)
    t_count, h, w = frames.shape[:3]
    radius = int(max_shift) if max_shift is not None else int(math.ceil(0.05 * max(h, w)))
    if radius < 1:
        raise ValueError(f"max_shift must be >= 1, got {max_shift!r}")
    eps = 1e-3 * max(h, w)
    min_speed = max(2.0, 0.01 * max(h, w))
    moving, still = 0.002 * max(h, w), eps
    lumas = [_smoothed_luma(f) for f in frames]
    rings = [boundary_bands(a, band_px, margin_px) for a in alphas]
    linear = [srgb_to_linear(f) for f in frames]
    per: dict[str, list[float]] = {k: [] for k in ("vf", "vb", "nf", "nb", "sf", "df", "db", "flicker", "still")}
    pairs = 0
    for t in range(t_count - 1):
        fg0, bg0 = rings[t]
        f_next, b_next = alphas[t + 1] >= FG_THRESHOLD, alphas[t + 1] <= BG_THRESHOLD
        f_fix, b_fix = fg0 & f_next, bg0 & b_next
        if min(np.count_nonzero(f_fix), np.count_nonzero(b_fix)) < MIN_PIXELS:
            continue
        pairs += 1
        change = {}
        for side, fixed, target in (("f", f_fix, f_next), ("b", b_fix, b_next)):
            d = estimate_shift(lumas[t], lumas[t + 1], fixed, radius, target)
            v = math.hypot(*d)
            per["v" + side].append(v)
            if side == "b" and math.isfinite(v) and math.isfinite(per["vf"][-1]) and per["vf"][-1] >= moving:
                per["still"].append(float(v < still))
            noise, change[side] = _follow((frames[t], frames[t + 1]), (linear[t], linear[t + 1]), fixed, d)
            per["n" + side].append(noise)
            if side == "f" and math.isfinite(v) and v >= min_speed:
                # the matte's outline: step edges, widened along the motion (exposure <= frame interval)
                per["sf"].append(min(edge_blur_length(alphas[t], d) / v, 1.0))
        if change["f"] is not None and change["b"] is not None:
            # RMS over R, G, B of the log change, in percent
            per["df"].append(100.0 * float(np.linalg.norm(change["f"])) / math.sqrt(3.0))
            per["db"].append(100.0 * float(np.linalg.norm(change["b"])) / math.sqrt(3.0))
            per["flicker"].append(100.0 * float(np.linalg.norm(change["f"] - change["b"])) / math.sqrt(3.0))
    nan = math.nan
    out = dict.fromkeys(TEMPORAL_KEYS, nan)
    out["pairs"] = float(pairs)
    vf, vb = _median(per["vf"]), _median(per["vb"])
    nf, nb = _median(per["nf"]), _median(per["nb"])
    sf = _median(per["sf"])
    out.update(fg_speed=vf, bg_speed=vb, fg_noise_change=nf, bg_noise_change=nb, fg_shutter=sf,
               fg_flicker=_median(per["df"]), bg_flicker=_median(per["db"]), colour_flicker=_median(per["flicker"]))
    if math.isfinite(vf) and math.isfinite(vb):
        out["motion_log_ratio"] = math.log((vf + eps) / (vb + eps))
    if math.isfinite(nf) and math.isfinite(nb):
        out["noise_change_log_ratio"] = math.log((nf + _NOISE_FLOOR) / (nb + _NOISE_FLOOR))
    if per["still"]:
        out["still_background"] = float(np.mean(per["still"]))
    if math.isfinite(sf):
        out["blur_motion_gap"] = NOMINAL_SHUTTER - sf
    return out
