"""Instance members of a sample (see docs/format.md), decoded and cropped like the alpha.

A sample built with instance targets holds ``instances.json`` (``count`` and one entry
per instance: ``id``, ``depth`` (0 = front-most), ``box``, ...), ``inst_{k}.png`` (the
visible alpha of instance k, after occlusion by those in front; the visible alphas sum
to ``alpha.png``) and ``amodal_{k}.png`` (its own full alpha). :func:`decode_instances`
puts them on the output grid of the sample's crop with the same window and the same
resize as the alpha; the boxes are recomputed from the cropped visible alphas.
"""
from __future__ import annotations

import json
from typing import Callable, Mapping

import numpy as np

from augment.crop import Crop

from .codec import alpha_unit, decode_alpha_stored

__all__ = ["decode_instances", "instance_boxes", "INSTANCE_OUTPUTS", "is_instance_member"]

#: Outputs about instances; each is a per-instance array, padded by the collate.
INSTANCE_OUTPUTS = ("instances", "amodal", "instance_id", "instance_depth", "instance_box")


def is_instance_member(stem: str) -> bool:
    """True for the stems of instance members (``instances``, ``inst_3``, ``amodal_0``)."""
    return stem == "instances" or stem.startswith(("inst_", "amodal_"))


def _entries(members: Mapping[str, bytes]) -> list[dict]:
    data = members.get("instances.json")
    if data is None:
        raise ValueError(f"sample has no instances.json member (members: {sorted(members)}); "
                         "was it built with instance targets?")
    try:
        info = json.loads(bytes(data).decode("utf-8"))
        entries = info["instances"]
        if not isinstance(entries, list) or int(info["count"]) != len(entries):
            raise ValueError(f"count {info.get('count')!r} but {len(entries)} entries")
        for k, e in enumerate(entries):
            if int(e["id"]) != k or int(e["depth"]) < 0:
                raise ValueError(f"entry {k} has id {e['id']!r}, depth {e['depth']!r}")
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"member instances.json is invalid: {e}") from None
    return entries


def decode_instances(
    members: Mapping[str, bytes],
    hw: tuple[int, int],
    window: Crop | None,
    place: Callable[[np.ndarray], np.ndarray],
    amodal: bool,
) -> dict[str, np.ndarray]:
    """The instances of a sample whose stored alpha is ``hw``, each put through ``place``
    (crop ``window`` and resize, as the alpha: ``float32 (h, w) -> float32 (H, W)``).

    Returns ``instances`` (and with ``amodal`` ``amodal``): ``float32 (H, W, K)`` in
    [0, 1], and ``instance_id``, ``instance_depth``: ``int64 (K,)``. ``ValueError`` for
    missing, undecodable or mis-sized members.
    """
    entries = _entries(members)
    stems = ["inst"] + (["amodal"] if amodal else [])
    out: dict[str, np.ndarray] = {}
    for stem in stems:
        planes = []
        for k in range(len(entries)):
            name = f"{stem}_{k}.png"
            if name not in members:
                raise ValueError(f"sample has no {name} member (instances.json lists {len(entries)})")
            raw = decode_alpha_stored(members[name], name)
            if raw.shape != tuple(hw):
                raise ValueError(f"member {name} is {raw.shape} but alpha is {tuple(hw)}")
            if window is not None:
                raw = raw[window.top:window.top + window.h, window.left:window.left + window.w]
            planes.append(place(raw.astype(np.float32) * alpha_unit(raw.dtype)))
        key = "instances" if stem == "inst" else "amodal"
        shape = planes[0].shape if planes else ((window.h, window.w) if window is not None else tuple(hw))
        out[key] = np.stack(planes, -1) if planes else np.zeros((*shape, 0), np.float32)
    out["instance_id"] = np.array([int(e["id"]) for e in entries], np.int64)
    out["instance_depth"] = np.array([int(e["depth"]) for e in entries], np.int64)
    return out


def instance_boxes(visible: np.ndarray) -> np.ndarray:
    """``float32 (K, 4)`` boxes ``(x0, y0, x1, y1)`` (exclusive ends) of the nonzero pixels of
    each plane of ``visible: (H, W, K)``; all zeros for an empty plane."""
    k = visible.shape[2]
    boxes = np.zeros((k, 4), np.float32)
    for i in range(k):
        ys = np.flatnonzero(visible[:, :, i].any(axis=1))
        if ys.size:
            xs = np.flatnonzero(visible[:, :, i].any(axis=0))
            boxes[i] = (xs[0], ys[0], xs[-1] + 1, ys[-1] + 1)
    return boxes
