"""Deterministic CPU training of the composite detector, and scoring.

The same patches, labels, seed and :class:`TrainConfig` give the same weights and scores:
the weights are initialised under ``torch.manual_seed(seed)`` inside ``torch.random.fork_rng``
(the caller's global torch RNG is left as it was), the batches and the flips / quarter turns
that augment them come from a ``torch.Generator`` seeded with ``seed``, and training runs with
``torch.use_deterministic_algorithms(True)`` and ``threads`` intra-op threads (both restored
afterwards). Imports torch (the ``loader`` extra).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .model import PatchCritic, to_tensor

__all__ = ["TrainConfig", "train_detector", "score_patches"]


@dataclass(frozen=True)
class TrainConfig:
    """epochs over the training patches, batch size, Adam's peak learning rate (one-cycle
    schedule) and weight decay, the network's width and the torch threads used."""

    epochs: int = 12
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-4
    width: int = 16
    threads: int = 1

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "width", "threads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0 or self.weight_decay < 0:
            raise ValueError(f"TrainConfig: lr must be > 0 and weight_decay >= 0, got {self.lr}, {self.weight_decay}")

    def to_dict(self) -> dict:
        return asdict(self)


@contextmanager
def _deterministic(threads: int) -> Iterator[None]:
    old_threads, old_det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old_det)
        torch.set_num_threads(old_threads)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One of the 8 flips / quarter turns per batch (label-preserving)."""
    k, flip = (int(v) for v in torch.randint(0, 4, (2,), generator=gen))
    x = torch.rot90(x, k, dims=(2, 3))
    return torch.flip(x, dims=(3,)) if flip % 2 else x


def train_detector(patches: np.ndarray, labels: np.ndarray, seed: int,
                   config: TrainConfig = TrainConfig()) -> PatchCritic:
    """Train a :class:`PatchCritic` to score composites (label 1) above real patches (0).

    patches: uint8 (N, P, P, 3) RGB; labels: int (N,) in {0, 1}, both present. Returns the
    network in eval mode.
    """
    y = np.asarray(labels)
    if len(patches) != len(y) or not np.isin(y, (0, 1)).all() or y.min() == y.max():
        raise ValueError(f"train_detector: need {len(patches)} labels in {{0, 1}} with both present")
    x_all = to_tensor(patches)
    y_all = torch.from_numpy(y.astype(np.float32))
    pos_weight = torch.tensor(float((y == 0).sum()) / float((y == 1).sum()))
    with _deterministic(config.threads):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = PatchCritic(config.width)
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        steps = config.epochs * ((len(y_all) + config.batch_size - 1) // config.batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps)
        model.train()
        for _ in range(config.epochs):
            order = torch.randperm(len(y_all), generator=gen)
            for start in range(0, len(order), config.batch_size):
                idx = order[start:start + config.batch_size]
                loss = loss_fn(model(_augment(x_all[idx], gen)), y_all[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    model.eval()
    return model


def score_patches(model: PatchCritic, patches: np.ndarray, *, batch_size: int = 512,
                  threads: int = 1) -> np.ndarray:
    """The detector's logit for each patch (uint8 (N, P, P, 3)): float32 (N,), higher =
    more composite-like."""
    out = []
    with _deterministic(threads), torch.no_grad():
        for start in range(0, len(patches), batch_size):
            out.append(model(to_tensor(patches[start:start + batch_size])).numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros(0, dtype=np.float32)
