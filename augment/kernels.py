"""Compiled inner loops (numba): one pass where numpy or OpenCV need several.

Each kernel gives the values of the numpy or OpenCV expression it replaces bit for bit:
it does the same float32 operations in the same order (no fused multiply-adds: numba
leaves fast-math off), or exact integer arithmetic where that is what the result is. They
only save passes over full-canvas temporaries. Compiled on first use and cached on disk
(``cache=True``), so a build worker pays the compilation once per machine, not per sample.
Callers import this module inside the functions that use it: numba (and the scipy it loads)
costs half a second to import, which ``synth validate`` and the loader need not pay.
"""
from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np

__all__ = ["SRGB_BUCKET_SHIFT", "gained_srgb", "noisy_levels", "srgb_levels", "table_sums"]

#: float32 bit patterns per entry of the sRGB encoding's bucket table
#: (``augment.colour.srgb_level_tables``): 4096, a 260k-entry table. Here, not in colour, so
#: that this module imports nothing from augment (colour imports it on first use).
SRGB_BUCKET_SHIFT = 12


def _compiled(**options: object) -> Callable[[Callable], Callable]:
    """``numba.njit`` with an on-disk cache, or without one where no cache folder is writable
    (numba refuses ``cache=True`` then: each process compiles for itself instead)."""
    def wrap(fn: Callable) -> Callable:
        try:
            return numba.njit(cache=True, nogil=True, **options)(fn)
        except RuntimeError:
            return numba.njit(nogil=True, **options)(fn)
    return wrap


@_compiled()
def table_sums(raw: np.ndarray, table: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[i] = table[raw[i]] + table[raw[n + i]]`` with ``n = out.size``.

    Args:
        raw: uint8 (>= 2 n,) random bytes.
        table: float32 (256,).
        out: float32 (n,); written and returned.
    """
    n = out.size
    for i in range(n):
        out[i] = table[raw[i]] + table[raw[n + i]]
    return out


@_compiled()
def noisy_levels(noise: np.ndarray, shared: bool, work: np.ndarray, x_of: np.ndarray, std_of: np.ndarray,
                 raw: np.ndarray, table: np.ndarray, extra: np.ndarray, out: np.ndarray) -> np.ndarray:
    """A noisy RGB image in levels. Per element ``i = 3 p + c`` (pixel ``p``, channel ``c``),
    with ``v = work[i]``: ``k = noise[p if shared else i] * std_of[v]``; then, if ``raw`` is
    not empty, ``k = k + (table[raw[i]] + table[raw[n + i]]) * extra[p]``; then
    ``k = k + x_of[v]``; ``out[i] = uint8(clip(k * 255 + 0.5, 0, 255))`` (all float32).

    Args:
        noise: float32 (P,) field shared by the three channels, or (3 P,) one per channel.
        shared: which of the two ``noise`` is.
        work: uint8 (n,) = (3 P,) pixels, channels last.
        x_of, std_of: float32 (256,) level -> intensity in [0, 1] and its noise std.
        raw: uint8 (>= 2 n,) random bytes of the white part, or (0,) for none.
        table: float32 (256,) half-normal table of the white part.
        extra: float32 (P,) std of the white part (read only when ``raw`` is not empty).
        out: uint8 (n,); written and returned.
    """
    n = work.size
    step, c_step = (1, 0) if shared else (3, 1)  # noise index of (p, c): p * step + c * c_step
    if raw.size > 0:
        for p in range(n // 3):
            for c in range(3):
                i = 3 * p + c
                v = work[i]
                k = noise[p * step + c * c_step] * std_of[v]
                k = k + (table[raw[i]] + table[raw[n + i]]) * extra[p]
                out[i] = _level(k + x_of[v])
    else:
        for p in range(n // 3):
            for c in range(3):
                i = 3 * p + c
                v = work[i]
                out[i] = _level(noise[p * step + c * c_step] * std_of[v] + x_of[v])
    return out


@_compiled(inline="always")
def _level(k: np.float32) -> np.uint8:
    """``uint8(clip(k * 255 + 0.5, 0, 255))`` in float32: ``from_float01``'s rounding."""
    t = k * np.float32(255.0) + np.float32(0.5)
    return np.uint8(min(max(t, np.float32(0.0)), np.float32(255.0)))


@_compiled(inline="always")
def _srgb_level(v: np.float32, lo: np.ndarray, thresholds: np.ndarray) -> np.uint8:
    """sRGB level of linear ``v`` from ``augment.colour.srgb_level_tables()``: the bucket of
    ``v``'s bit pattern gives a level, one compare adds the boundary inside it. Negative
    values read bucket 0 and values above 1 the last one, as a clip to [0, 1] would."""
    k = np.float32(v).view(np.int32) >> SRGB_BUCKET_SHIFT
    k = min(max(k, 0), lo.size - 1)
    level = lo[k]
    return np.uint8(level + 1) if v >= thresholds[level + 1] else level


@_compiled()
def srgb_levels(linear: np.ndarray, lo: np.ndarray, thresholds: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``augment.colour.linear_to_srgb`` of float32 (n,) ``linear`` into uint8 (n,) ``out``."""
    for i in range(linear.size):
        out[i] = _srgb_level(linear[i], lo, thresholds)
    return out


@_compiled()
def gained_srgb(image: np.ndarray, base: np.ndarray, top: int, left: int, lin_of: np.ndarray, gains: np.ndarray,
                root_gains: np.ndarray, lo: np.ndarray, thresholds: np.ndarray, out: np.ndarray) -> np.ndarray:
    """sRGB levels of an RGB box scaled in linear light: per element, with ``L = lin_of[image]``,
    ``L * g`` or, with a smoothed ``base`` (``B = lin_of[base]``), ``B * g + (L - B) * sqrt(g)``
    (all float32, ``g`` and ``sqrt(g)`` per channel), encoded as ``augment.colour.linear_to_srgb``.

    Args:
        image: uint8 (H, W, 3) whose box ``[top, top + h) x [left, left + w)`` is read.
        base: uint8 (h, w, 3) smoothed levels of that box, or (0, 0, 3) for none.
        top, left: the box's corner in ``image``.
        lin_of: float32 (256,) level -> linear light.
        gains, root_gains: float32 (3,) per-channel gains and their square roots.
        lo, thresholds: ``augment.colour.srgb_level_tables()``.
        out: uint8 (h, w, 3): the box's new levels; written and returned.
    """
    h, w = out.shape[0], out.shape[1]
    # the new level depends only on (channel, level, smoothed level): a table of every case,
    # computed with the formula itself, then one look-up per element
    smoothed = base.shape[0] > 0
    levels = np.empty((3, 256, 256 if smoothed else 1), np.uint8)
    for c in range(3):
        for i in range(256):
            lin = lin_of[i]
            if smoothed:
                for j in range(256):
                    b = lin_of[j]
                    levels[c, i, j] = _srgb_level(b * gains[c] + (lin - b) * root_gains[c], lo, thresholds)
            else:
                levels[c, i, 0] = _srgb_level(lin * gains[c], lo, thresholds)
    for y in range(h):
        for x in range(w):
            for c in range(3):
                out[y, x, c] = levels[c, image[top + y, left + x, c], base[y, x, c] if smoothed else 0]
    return out
