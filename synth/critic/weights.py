"""A detector's weights as one small deterministic file (no pickle, no zip timestamps).

Layout: the magic line ``SYNTHCRITIC1\\n``, the header length (8 bytes, little-endian), a
JSON header (sorted keys: ``width`` of the :class:`~synth.critic.model.PatchCritic`, ``patch``
side and ``canvas`` long side the detector was trained at, the tensors' names, shapes and
offsets, and ``training``: what it was trained on, by which command), then the tensors as
little-endian float32. The same weights and header give the same bytes, so the file's sha256
identifies the detector (recorded in a guided build's manifest and every guided sample).
Imports torch only to build the network (:func:`load_model`).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MAGIC", "file_sha256", "load_model", "read_weights", "save_weights"]

MAGIC = b"SYNTHCRITIC1\n"


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_weights(state: dict[str, np.ndarray], header: dict[str, Any], path: str | os.PathLike) -> str:
    """Write ``state`` (name -> float array; integer buffers such as batch-norm counters are
    left out) with ``header`` (JSON-able; needs ``width``, ``patch``, ``canvas``) to ``path``.
    Returns the file's sha256."""
    for key in ("width", "patch", "canvas"):
        if not isinstance(header.get(key), int) or header[key] < 1:
            raise ValueError(f"save_weights: header[{key!r}] must be a positive int, got {header.get(key)!r}")
    tensors, blobs, offset = [], [], 0
    for name in sorted(state):
        arr = np.asarray(state[name])
        if not np.issubdtype(arr.dtype, np.floating):
            continue
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        tensors.append({"name": name, "shape": list(arr.shape), "offset": offset})
        blobs.append(data)
        offset += len(data)
    text = json.dumps({**header, "tensors": tensors}, sort_keys=True, separators=(",", ":")).encode()
    payload = MAGIC + len(text).to_bytes(8, "little") + text + b"".join(blobs)
    Path(path).write_bytes(payload)
    return hashlib.sha256(payload).hexdigest()


def read_weights(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(header, name -> float32 array) of a weights file; ValueError naming the file if it is
    not one."""
    raw = Path(path).read_bytes()
    if not raw.startswith(MAGIC) or len(raw) < len(MAGIC) + 8:
        raise ValueError(f"{path}: not a critic weights file (no {MAGIC!r} header)")
    start = len(MAGIC) + 8
    n = int.from_bytes(raw[len(MAGIC):start], "little")
    try:
        header = json.loads(raw[start:start + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: unreadable critic weights header ({err})") from None
    body = raw[start + n:]
    state = {}
    for t in header.get("tensors", []):
        count = int(np.prod(t["shape"])) if t["shape"] else 1
        end = t["offset"] + 4 * count
        if end > len(body):
            raise ValueError(f"{path}: tensor {t['name']} runs past the end of the file (truncated?)")
        state[t["name"]] = np.frombuffer(body, dtype="<f4", count=count, offset=t["offset"]).reshape(t["shape"])
    return header, state


def load_model(path: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """(:class:`~synth.critic.model.PatchCritic` in eval mode, header) from a weights file."""
    import torch

    from .model import PatchCritic

    header, state = read_weights(path)
    model = PatchCritic(int(header["width"]))
    own = model.state_dict()
    missing = [k for k, v in own.items() if v.is_floating_point() and k not in state]
    unknown = [k for k in state if k not in own or tuple(own[k].shape) != state[k].shape]
    if missing or unknown:
        raise ValueError(f"{path}: weights do not fit PatchCritic(width={header['width']}): "
                         f"missing {missing[:3]}, unknown {unknown[:3]}")
    model.load_state_dict({k: torch.from_numpy(state[k].copy()) if k in state else v for k, v in own.items()})
    model.eval()
    return model, header
