"""The instance members of a sample (``output.targets: [instances]``, docs/format.md).

``inst_{k}.png``: instance k's visible alpha after occlusion by the instances in front,
quantised so that the visible alphas sum exactly to the stored ``alpha.png`` on every pixel
(:func:`augment.instances.quantise_visible`); ``amodal_{k}.png``: its own full alpha within
the canvas; ``instances.json``: count, and per instance id, depth, box, frame cuts, foreground
id and visible fraction (:func:`augment.instances.instance_records`, computed from the stored
levels, so a reader can check them against the decoded members).
"""
from __future__ import annotations

import json
from collections.abc import Sequence

import cv2
import numpy as np

from augment.instances import InstanceRecord, instance_records, quantise_visible
from shards.codec import encode_alpha_levels

__all__ = ["INSTANCES_JSON", "instance_member_names", "instance_members"]

INSTANCES_JSON = "instances.json"


def instance_member_names(count: int) -> list[str]:
    """The member names of ``count`` instances: instances.json, inst_k.png, amodal_k.png."""
    return [INSTANCES_JSON] + [f"{p}_{k}.png" for k in range(count) for p in ("inst", "amodal")]


def instance_members(own: Sequence[np.ndarray], depths: Sequence[int], foreground_ids: Sequence[str],
                     union_alpha: np.ndarray, bits: int) -> tuple[dict[str, bytes], list[InstanceRecord]]:
    """Encode the instance members of one sample.

    Args:
        own: per instance id, its own alpha on the canvas, ``float32 (H, W)`` in ``[0, 1]``.
        depths: per id, its depth (0 = front-most; compositing order).
        foreground_ids: per id, its foreground's content id.
        union_alpha: the sample's alpha as stored, ``float32 (H, W)`` (``alpha.png`` is
            ``encode_alpha(union_alpha, bits)``).
        bits: 8 or 16, ``output.alpha_bits``.
    Returns:
        (members by name, the records in id order).
    """
    n = len(own)
    if n == 0 or len(depths) != n or sorted(depths) != list(range(n)):
        raise ValueError(f"depths must be a permutation of 0..{n - 1} (one per instance), got {list(depths)}")
    hw = np.shape(union_alpha)
    scale = (1 << bits) - 1
    y0, x0, y1, x1 = _support(own, hw)  # every nonzero level lies in this window
    win = (slice(y0, y1), slice(x0, x1))
    union_levels = np.rint(np.asarray(union_alpha[win], dtype=np.float64) * scale).astype(np.int32)
    own_win = [np.asarray(a[win], dtype=np.float32) for a in own]
    front_first = sorted(range(n), key=lambda k: depths[k])
    by_depth = quantise_visible([own_win[k] for k in front_first], union_levels, bits)
    visible = by_depth[list(depths)]  # id k sits at depth depths[k]
    own_levels = np.stack([np.rint(a.astype(np.float64) * scale).astype(np.int32) for a in own_win])
    records = instance_records(visible, own_levels, depths, foreground_ids, origin=(y0, x0), canvas_hw=hw)
    members: dict[str, bytes] = {
        INSTANCES_JSON: json.dumps({"count": n, "instances": [r.to_dict() for r in records]},
                                   sort_keys=True, separators=(",", ":")).encode(),
    }
    canvas = np.zeros(hw, np.uint8 if bits == 8 else np.uint16)  # the levels outside `win` are 0
    for k in range(n):
        canvas[win] = own_levels[k]
        amodal = encode_alpha_levels(canvas)
        if np.array_equal(visible[k], own_levels[k]):  # not occluded: the same levels, the same bytes
            inst = amodal
        else:
            canvas[win] = visible[k]
            inst = encode_alpha_levels(canvas)
        members[f"inst_{k}.png"], members[f"amodal_{k}.png"] = inst, amodal
    return members, records


def _support(own: Sequence[np.ndarray], hw: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(y0, x0, y1, x1) of the pixels where any own alpha is > 0; the whole canvas when none is."""
    if len(hw) != 2 or any(np.shape(a) != hw for a in own):
        raise ValueError(f"own alphas and the union alpha must all be (H, W) of one size, got "
                         f"{sorted({np.shape(a) for a in own} | {hw})}")
    boxes = []
    for a in own:
        x, y, w, h = cv2.boundingRect((np.asarray(a) > 0).view(np.uint8))
        if w and h:
            boxes.append((y, x, y + h, x + w))
    if not boxes:
        return 0, 0, hw[0], hw[1]
    b = np.array(boxes)
    return int(b[:, 0].min()), int(b[:, 1].min()), int(b[:, 2].max()), int(b[:, 3].max())
