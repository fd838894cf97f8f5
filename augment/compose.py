"""Alpha compositing: I = αF + (1−α)B, and front-to-back "over" of several layers."""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from augment.planes import multiply_by_plane


def alpha_to_float(alpha: np.ndarray, name: str = "alpha") -> np.ndarray:
    """Alpha as float32 (H, W) in [0, 1].

    Accepts uint8 (÷255), uint16 (÷65535) or a float array already in [0, 1]
    (validated), shaped (H, W) or (H, W, 1). A float32 input is returned as is (no copy).
    """
    if not isinstance(alpha, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(alpha).__name__}")
    if alpha.ndim == 3 and alpha.shape[2] == 1:
        alpha = alpha[:, :, 0]
    if alpha.ndim != 2:
        raise ValueError(f"{name} must have shape (H, W) or (H, W, 1), got {alpha.shape}")
    if alpha.dtype == np.uint8 or alpha.dtype == np.uint16:
        out = alpha.astype(np.float32)
        np.divide(out, np.float32(np.iinfo(alpha.dtype).max), out=out)
        return out
    if alpha.dtype.kind != "f":
        raise ValueError(f"{name} must be uint8, uint16 or float in [0, 1], got dtype {alpha.dtype}")
    out = alpha.astype(np.float32, copy=False)
    if out.size:
        lo, hi = float(out.min()), float(out.max())
        if not (lo >= 0.0 and hi <= 1.0):  # also rejects NaN
            raise ValueError(f"{name} must be in [0, 1], got values in [{lo}, {hi}]")
    return out


def _rgb_float(x: np.ndarray, name: str, scale: float) -> np.ndarray:
    """uint8 or float32-in-[0, 1] RGB (H, W, 3) -> new float32 array in [0, scale]."""
    if not isinstance(x, np.ndarray) or x.ndim != 3 or x.shape[2] != 3:
        shape = getattr(x, "shape", type(x).__name__)
        raise ValueError(f"{name} must be an RGB array of shape (H, W, 3), got {shape}")
    if x.dtype == np.uint8:
        out = x.astype(np.float32)
        if scale != 255.0:
            out *= np.float32(scale / 255.0)
        return out
    if x.dtype == np.float32:
        if x.size:
            lo, hi = float(x.min()), float(x.max())
            if not (lo >= 0.0 and hi <= 1.0):
                raise ValueError(f"{name} float32 values must be in [0, 1], got [{lo}, {hi}]")
        return x * np.float32(scale)
    raise ValueError(f"{name} must be uint8 or float32 in [0, 1], got dtype {x.dtype}")


def _check_same_hw(named: dict[str, tuple[int, ...]]) -> None:
    items = list(named.items())
    ref_name, ref = items[0]
    for other_name, shape in items[1:]:
        if shape[:2] != ref[:2]:
            raise ValueError(
                f"{other_name} has height/width {shape[:2]} but {ref_name} has {ref[:2]} "
                f"(shapes {shape} vs {ref})"
            )


def composite(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """I = αF + (1−α)B as uint8 RGB (H, W, 3).

    fg, bg: uint8 (H, W, 3) or float32 (H, W, 3) in [0, 1]; alpha: see `alpha_to_float`.
    Computed in float32 on the 0..255 scale, rounded half-to-even (np.rint) and clipped.
    """
    for name, x in (("fg", fg), ("bg", bg)):
        if not isinstance(x, np.ndarray) or x.ndim != 3 or x.shape[2] != 3:
            raise ValueError(f"{name} must be an RGB array of shape (H, W, 3), got {getattr(x, 'shape', x)}")
    if not isinstance(alpha, np.ndarray):
        raise ValueError(f"alpha must be a numpy array, got {type(alpha).__name__}")
    _check_same_hw({"fg": fg.shape, "alpha": alpha.shape, "bg": bg.shape})
    a = alpha_to_float(alpha)
    if bg.dtype == np.uint8 and fg.dtype == np.uint8 and a.size:
        # where α = 0 the formula gives B exactly: blend only the box of α > 0 into a copy of B
        rows, cols = np.flatnonzero(a.any(axis=1)), np.flatnonzero(a.any(axis=0))
        out = bg.copy()
        if rows.size:
            ys, xs = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
            out[ys, xs] = _blend_uint8(fg[ys, xs], a[ys, xs], bg[ys, xs])
        return out
    return _blend(fg, a, bg)


def _blend_uint8(fg: np.ndarray, a: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """:func:`_blend` of uint8 layers in OpenCV passes, the same float32 operations: F − B and
    (α(F − B)) + B are exact conversions and one IEEE rounding each; the result lies in
    [min(F, B), max(F, B)] (|α(F − B)| <= |F − B| for α <= 1, rounding is monotone), so
    ``convertScaleAbs`` (round half to even, as ``np.rint``) needs no clipping."""
    d = cv2.subtract(fg, bg, dtype=cv2.CV_32F)
    multiply_by_plane(d, a)
    d = cv2.add(d, bg, dst=d, dtype=cv2.CV_32F)
    return cv2.convertScaleAbs(d)


def _blend(fg: np.ndarray, a: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """``rint(B + α(F − B))`` clipped to uint8; ``a`` float32 (H, W) in [0, 1], checked."""
    b = _rgb_float(bg, "bg", 255.0)
    out = _rgb_float(fg, "fg", 255.0)
    out -= b  # B + α(F − B): one multiply, no (1 − α) temporary
    out *= a[:, :, None]
    out += b
    np.rint(out, out=out)
    np.clip(out, 0.0, 255.0, out=out)
    return out.astype(np.uint8)


def over(layers: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Merge foreground layers front to back (``layers[0]`` is in front) into one (F, α).

    Each layer is (fg, alpha): fg uint8 (H, W, 3) or float32 in [0, 1], alpha as in
    `alpha_to_float`. With transmittance T_i = Π_{j<i} (1 − α_j):

        α = Σ α_i T_i = 1 − Π (1 − α_i),    F = Σ α_i T_i F_i / α    (F = 0 where α = 0),

    so that ``composite(F, α, B)`` equals compositing the layers back to front onto B.
    Returns (F float32 (H, W, 3) in [0, 1], α float32 (H, W) in [0, 1]).
    """
    if len(layers) == 0:
        raise ValueError("over() needs at least one (fg, alpha) layer, got none")
    shapes: dict[str, tuple[int, ...]] = {}
    for i, layer in enumerate(layers):
        if not isinstance(layer, tuple | list) or len(layer) != 2:
            raise ValueError(f"layers[{i}] must be an (fg, alpha) pair")
        shapes[f"layers[{i}].fg"] = np.shape(layer[0])
        shapes[f"layers[{i}].alpha"] = np.shape(layer[1])
    _check_same_hw(shapes)

    def unpack(i: int) -> tuple[np.ndarray, np.ndarray]:
        fg, alpha = layers[i]
        return _rgb_float(fg, f"layers[{i}].fg", 1.0), alpha_to_float(alpha, f"layers[{i}].alpha")

    color, acc_alpha = unpack(0)
    transmit = 1.0 - acc_alpha  # T: light still passing through the layers in front
    acc_alpha = acc_alpha.copy()
    color *= acc_alpha[:, :, None]
    for i in range(1, len(layers)):
        f, a = unpack(i)
        w = a * transmit  # visible weight of layer i
        f *= w[:, :, None]
        color += f
        acc_alpha += w
        transmit *= 1.0 - a
    np.clip(acc_alpha, 0.0, 1.0, out=acc_alpha)
    out = np.zeros_like(color)
    np.divide(color, acc_alpha[:, :, None], out=out, where=acc_alpha[:, :, None] > 0)
    np.clip(out, 0.0, 1.0, out=out)
    return out, acc_alpha
