"""Compiled inner loops of the noise step (numba): one pass where numpy needs several.

Each kernel does, element by element, the float32 operations of the numpy expression it
replaces, in the same order, so its values are those of that expression bit for bit (no
fused multiply-adds: numba leaves fast-math off). They only save the passes over
full-canvas float32 temporaries. Compiled on first use and cached on disk
(``cache=True``), so a build worker pays the compilation once per machine, not per sample.
"""
from __future__ import annotations

import numba
import numpy as np

__all__ = ["noisy_levels", "table_sums"]


@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True, inline="always")
def _level(k: np.float32) -> np.uint8:
    """``uint8(clip(k * 255 + 0.5, 0, 255))`` in float32: ``from_float01``'s rounding."""
    t = k * np.float32(255.0) + np.float32(0.5)
    return np.uint8(min(max(t, np.float32(0.0)), np.float32(255.0)))
