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

import numpy as np

from augment.instances import InstanceRecord, instance_records, quantise_visible
from shards.codec import encode_alpha

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
    if len(depths) != n or sorted(depths) != list(range(n)):
        raise ValueError(f"depths must be a permutation of 0..{n - 1}, got {list(depths)}")
    scale = float((1 << bits) - 1)
    union_levels = np.rint(np.asarray(union_alpha, dtype=np.float64) * scale).astype(np.int32)
    front_first = sorted(range(n), key=lambda k: depths[k])
    by_depth = quantise_visible([own[k] for k in front_first], union_levels, bits)
    visible = by_depth[list(depths)]  # id k sits at depth depths[k]
    own_levels = np.stack([np.rint(np.asarray(a, dtype=np.float64) * scale).astype(np.int32) for a in own])
    records = instance_records(visible, own_levels, depths, foreground_ids)
    members: dict[str, bytes] = {
        INSTANCES_JSON: json.dumps({"count": n, "instances": [r.to_dict() for r in records]},
                                   sort_keys=True, separators=(",", ":")).encode(),
    }
    for k in range(n):
        members[f"inst_{k}.png"] = encode_alpha(visible[k] / scale, bits)
        members[f"amodal_{k}.png"] = encode_alpha(own_levels[k] / scale, bits)
    return members, records
