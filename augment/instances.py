"""Instance targets of a layered composite: visible alphas after occlusion, quantised so that
they sum exactly to the stored union alpha, and each instance's depth, box and frame cuts.

Layers are given in depth order, front first (depth 0 is front-most, as in
:func:`augment.compose.over`). With transmittance ``T_d = prod_{e < d} (1 - a_e)`` the visible
alpha of the layer at depth ``d`` is ``v_d = a_d * T_d`` and ``sum_d v_d = 1 - prod_d (1 - a_d)``,
the union alpha. Quantisation goes through the cumulative sums ``C_d = 1 - T_{d+1}``: each is
rounded to the alpha's levels (the last one is the stored union), so the per-instance levels
are non-negative, sum exactly to the union's levels, and each is within one level of ``v_d``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["InstanceRecord", "instance_records", "quantise_visible", "visible_alphas"]


def _stack(alphas: Sequence[np.ndarray]) -> np.ndarray:
    if len(alphas) == 0:
        raise ValueError("instance alphas: need at least one layer, got none")
    shapes = {np.shape(a) for a in alphas}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"instance alphas must all be (H, W) of one size, got shapes {sorted(shapes)}")
    out = np.stack([np.asarray(a, dtype=np.float32) for a in alphas])
    lo, hi = float(out.min()), float(out.max())
    if not (lo >= 0.0 and hi <= 1.0):
        raise ValueError(f"instance alphas must be in [0, 1], got values in [{lo}, {hi}]")
    return out


def visible_alphas(alphas: Sequence[np.ndarray]) -> np.ndarray:
    """Visible alpha of each layer after occlusion by the layers in front.

    Args:
        alphas: per layer, front first, ``float32 (H, W)`` in ``[0, 1]`` (own full alphas).
    Returns:
        ``float32 (n, H, W)`` in ``[0, 1]``: ``a_d * prod_{e < d} (1 - a_e)``, same order.
    """
    a = _stack(alphas)
    out = np.empty_like(a)
    transmit = np.ones(a.shape[1:], np.float32)
    for d in range(a.shape[0]):
        np.multiply(a[d], transmit, out=out[d])
        transmit *= 1.0 - a[d]
    return out


def quantise_visible(alphas: Sequence[np.ndarray], union_levels: np.ndarray, bits: int) -> np.ndarray:
    """Visible alphas as integer levels that sum exactly to ``union_levels`` on every pixel.

    Args:
        alphas: own full alphas, front first, ``float32 (H, W)`` in ``[0, 1]``.
        union_levels: the stored union alpha ``(H, W)`` as integer levels in ``[0, 2**bits - 1]``
            (``rint(union * (2**bits - 1))``, as ``shards.codec.encode_alpha`` rounds it).
        bits: 8 or 16.
    Returns:
        ``int32 (n, H, W)`` levels, front first: non-negative, summing to ``union_levels``, each
        within one level of ``visible * (2**bits - 1)`` (up to float rounding).
    """
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits!r}")
    a = _stack(alphas)
    union = np.asarray(union_levels)
    if union.shape != a.shape[1:]:
        raise ValueError(f"union_levels has shape {union.shape}, the alphas {a.shape[1:]}")
    scale = np.float32((1 << bits) - 1)
    union = union.astype(np.int32)
    if union.size and (int(union.min()) < 0 or int(union.max()) > scale):
        raise ValueError(f"union_levels must be in [0, {int(scale)}], got [{int(union.min())}, {int(union.max())}]")
    n = a.shape[0]
    levels = np.empty(a.shape, np.int32)
    prev = np.zeros(a.shape[1:], np.int32)  # rounded C_{d-1}
    cum = np.empty(a.shape[1:], np.int32)
    transmit = np.ones(a.shape[1:], np.float32)
    tmp = np.empty(a.shape[1:], np.float32)
    for d in range(n):
        if d < n - 1:
            transmit *= 1.0 - a[d]
            np.subtract(np.float32(1.0), transmit, out=tmp)
            tmp *= scale
            np.rint(tmp, out=tmp)
            cum[...] = tmp
            np.maximum(cum, prev, out=cum)  # monotone despite float noise ...
            np.minimum(cum, union, out=cum)  # ... and never past the stored union
        else:
            np.maximum(union, prev, out=cum)  # (prev <= union already: a no-op kept for clarity)
        np.subtract(cum, prev, out=levels[d])
        prev, cum = cum, prev
    return levels


@dataclass(frozen=True)
class InstanceRecord:
    """One instance of a sample, as ``instances.json`` lists it (docs/format.md).

    ``box``: ``[x0, y0, x1, y1]`` of its visible alpha (x1, y1 exclusive; zeros when nothing is
    visible); ``cut``: ``[top, right, bottom, left]``, whether its own alpha reaches that canvas
    side; ``visible_fraction``: visible over own alpha within the canvas (0 when it has none).
    """

    id: int
    depth: int
    box: tuple[int, int, int, int]
    cut: tuple[bool, bool, bool, bool]
    foreground_id: str
    visible_fraction: float

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "depth": self.depth, "box": list(self.box), "cut": list(self.cut),
                "foreground_id": self.foreground_id, "visible_fraction": self.visible_fraction}


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return (0, 0, 0, 0)
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def instance_records(visible_levels: np.ndarray, own_levels: np.ndarray, depths: Sequence[int],
                     foreground_ids: Sequence[str], origin: tuple[int, int] = (0, 0),
                     canvas_hw: tuple[int, int] | None = None) -> list[InstanceRecord]:
    """The records of ``n`` instances in id order, from their quantised alphas.

    Args:
        visible_levels, own_levels: integer levels ``(n, h, w)`` in id order (visible after
            occlusion, and own full alpha), as stored, or a window of them holding every
            nonzero level: rows ``origin[0]..+h``, columns ``origin[1]..+w`` of a ``canvas_hw``
            canvas (default: the whole canvas).
        depths: per id, its depth (0 = front-most); a permutation of ``0..n-1``.
        foreground_ids: per id, the content id of its foreground.
    Returns:
        one :class:`InstanceRecord` per id; ``visible_fraction`` is rounded to 6 decimals and
        capped at 1 (a visible level may exceed the own level by one where rounding meets).
    """
    n = len(depths)
    if visible_levels.shape != own_levels.shape or visible_levels.ndim != 3 or visible_levels.shape[0] != n:
        raise ValueError(f"visible/own levels must both be (n={n}, H, W), got {visible_levels.shape} "
                         f"and {own_levels.shape}")
    if sorted(depths) != list(range(n)) or len(foreground_ids) != n:
        raise ValueError(f"depths must be a permutation of 0..{n - 1} with one foreground id each, got "
                         f"{list(depths)} and {len(foreground_ids)} ids")
    oy, ox = origin
    h, w = visible_levels.shape[1:]
    if h == 0 or w == 0:
        raise ValueError(f"the levels' window must not be empty, got {h}x{w}")
    ch, cw = canvas_hw if canvas_hw is not None else (oy + h, ox + w)
    if not (0 <= oy and 0 <= ox and oy + h <= ch and ox + w <= cw):
        raise ValueError(f"a {h}x{w} window at {origin!r} does not fit a canvas of {(ch, cw)!r}")
    edges = (oy == 0, ox + w == cw, oy + h == ch, ox == 0)  # window sides on the canvas border
    out = []
    for k in range(n):
        own = own_levels[k]
        own_sum = int(own.sum(dtype=np.int64))
        vis_sum = int(visible_levels[k].sum(dtype=np.int64))
        cut = tuple(bool(e and line.any()) for e, line in zip(edges, (own[0], own[:, -1], own[-1], own[:, 0])))
        fraction = min(1.0, round(vis_sum / own_sum, 6)) if own_sum else 0.0
        x0, y0, x1, y1 = _box(visible_levels[k] > 0)
        box = (x0 + ox, y0 + oy, x1 + ox, y1 + oy) if x1 > x0 else (0, 0, 0, 0)
        out.append(InstanceRecord(id=k, depth=int(depths[k]), box=box, cut=cut,  # type: ignore[arg-type]
                                  foreground_id=str(foreground_ids[k]), visible_fraction=fraction))
    return out
