"""Per-pixel weights on every channel, and per-channel values on every pixel, in long passes.

numpy runs a broadcast whose innermost axis is the channel axis (length C, stride 0 in one
operand) as millions of C-element inner loops: ``x *= w[..., None]`` costs about twice a
product with a three-channel copy of ``w`` (``cv2.merge``), and ``x *= g`` with ``g`` of
shape ``(C,)`` about six times a product with one row of ``g`` tiled across the width.
The same IEEE operations, so the same bytes.
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["multiply_by_plane", "per_channel"]


def multiply_by_plane(x: np.ndarray, plane: np.ndarray) -> np.ndarray:
    """``x *= plane[..., None]`` in place, and ``x`` returned.

    Args:
        x: ``(H, W)`` or ``(H, W, C)`` array, written in place.
        plane: ``(H, W)`` weights.
    """
    if x.ndim == 3 and plane.shape == x.shape[:2] and x.dtype == plane.dtype == np.float32 and 1 < x.shape[2] <= 4:
        np.multiply(x, cv2.merge([np.ascontiguousarray(plane)] * x.shape[2]), out=x)
    else:  # other shapes and dtypes: numpy's broadcast, its promotion rules and its errors
        np.multiply(x, plane if x.ndim == 2 else plane[..., None], out=x)
    return x


def per_channel(ufunc: np.ufunc, x: np.ndarray, values: np.ndarray | tuple[float, ...]) -> np.ndarray:
    """``ufunc(x, values, out=x)`` for ``values`` of shape ``(C,)`` along ``x``'s last axis,
    in place, ``x`` returned (e.g. ``per_channel(np.multiply, lin, gains)``).

    Args:
        ufunc: a binary ufunc (``np.multiply``, ``np.subtract``, ``np.divide`` ...).
        x: ``(..., C)`` array, written in place.
        values: ``(C,)``, cast to ``x.dtype`` first (as numpy does for a float32 ``x`` and
            float64 values only when they are a scalar: pass float32 values for float32 ``x``
            to get numpy's own ``x op values`` bytes).
    """
    v = np.asarray(values, dtype=x.dtype)
    if v.shape != x.shape[-1:]:
        raise ValueError(f"per_channel: values of shape {v.shape} do not match the last axis of {x.shape}")
    if x.ndim >= 2 and x.flags.c_contiguous and x.size:
        rows = x.reshape(-1, x.shape[-2] * x.shape[-1])  # a view: each row holds whole pixels
        ufunc(rows, np.tile(v, x.shape[-2]), out=rows)
    else:
        ufunc(x, v, out=x)
    return x
