"""Instance statistics of one sample (``output.targets: [instances]``, docs/format.md).

From ``instances.json`` and the ``amodal_{k}.png`` members (the own alphas; ``inst_{k}.png``
is not decoded): per sample the number of instances and the *overlap share* (pixels where two
or more own alphas are > 0, over the pixels where the union alpha is > 0); per instance its
*occlusion* (``1 - visible_fraction``) and whether the frame cuts it (any side, and each side).
A sample without ``instances.json`` (a dataset built without instance targets) gives nothing.
"""
from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from shards.codec import decode_alpha_stored

__all__ = ["CUT_SIDES", "measure_instances"]

#: The sides of instances.json's ``cut``, in its order.
CUT_SIDES = ("top", "right", "bottom", "left")


def measure_instances(members: Mapping[str, bytes], alpha: np.ndarray
                      ) -> tuple[dict[str, float], dict[str, list[float]]] | None:
    """Per-sample and per-instance instance measures, or None without ``instances.json``.

    Args:
        members: the sample's members by name.
        alpha: its decoded union alpha, ``uint8`` or ``uint16 (H, W)`` (``alpha.png``).
    Returns:
        (``{"instances.count": n, "instances.overlap_share": s}``, ``{"instances.occlusion":
        [...], "instances.cut": [0/1, ...], "instances.cut_<side>": [0/1, ...]}``; one value per
        instance). ``overlap_share`` is NaN when the union alpha is empty.
    Raises:
        ValueError naming the member when instances.json is malformed, a listed member is missing
        or an own alpha's size differs from the alpha's.
    """
    raw = members.get("instances.json")
    if raw is None:
        return None
    try:
        doc = json.loads(bytes(raw).decode("utf-8"))
        n = int(doc["count"])
        records = list(doc["instances"])
        fractions = [float(r["visible_fraction"]) for r in records]
        cuts = [[bool(c) for c in r["cut"]] for r in records]
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"instances.json: malformed ({type(e).__name__}: {e})") from None
    if n != len(records) or any(len(c) != 4 for c in cuts):
        raise ValueError(f"instances.json: count {n} but {len(records)} instance records (each with 4 cut flags)")
    overlap = np.zeros(alpha.shape, np.uint8)  # own alphas > 0 at each pixel, saturating at 2
    for k in range(n):
        name = f"amodal_{k}.png"
        if name not in members:
            raise ValueError(f"instances.json lists {n} instances but member {name} is missing")
        own = decode_alpha_stored(members[name], name)
        if own.shape != alpha.shape:
            raise ValueError(f"{name} is {own.shape[1]}x{own.shape[0]} but alpha.png is "
                             f"{alpha.shape[1]}x{alpha.shape[0]}")
        np.add(overlap, own > 0, out=overlap, where=overlap < 2)
    union = int(np.count_nonzero(alpha))
    per_sample = {"instances.count": float(n),
                  "instances.overlap_share": np.count_nonzero(overlap >= 2) / union if union else float("nan")}
    per_instance: dict[str, list[float]] = {
        "instances.occlusion": [min(1.0, max(0.0, 1.0 - f)) for f in fractions],
        "instances.cut": [float(any(c)) for c in cuts],
    }
    for i, side in enumerate(CUT_SIDES):
        per_instance[f"instances.cut_{side}"] = [float(c[i]) for c in cuts]
    return per_sample, per_instance
