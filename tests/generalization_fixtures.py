"""Shared pieces of the tests of benchmarks/generalization*.py: a tiny test photo and a trainer
that counts its fits (for ``generalization_runs.finished_run``)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from generalization_eval import evaluate  # noqa: E402
from generalization_runs import TrainConfig  # noqa: E402
from tiny_matting_net import TinyMattingNet  # noqa: E402


def train_config(**kw) -> TrainConfig:
    """The benchmark's default training setting (400 steps of 8 x 160², widths 16-128), ``kw`` changed."""
    return TrainConfig(**{"steps": 400, "batch": 8, "crop": 160, "widths": (16, 32, 64, 128), "lr": 3e-3,
                          "workers": 1, **kw})


def half_items(value: int) -> list:
    """One 32x32 test photo of grey ``value``: alpha 0 on the left half, 1 on the right, an
    all-unknown trimap."""
    image = np.full((32, 32, 3), value, np.uint8)
    alpha = np.zeros((32, 32), np.float32)
    alpha[:, 16:] = 1.0
    return [("cat", image, alpha, np.full((32, 32), 128, np.uint8))]


def counting_trainer(widths: tuple[int, ...], items: list, seed: int | None = None
                     ) -> tuple[list[int], Callable[[], TinyMattingNet], Callable[[TinyMattingNet], dict]]:
    """(fits, fit, measure) for ``finished_run``: ``fit`` appends to ``fits`` and returns an
    untrained model initialised from ``seed`` (None: the number of fits so far, so that a refit
    differs); ``measure`` gives its real (per image) and composite errors on ``items``."""
    fits: list[int] = []

    def fit() -> TinyMattingNet:
        fits.append(1)
        torch.manual_seed(len(fits) if seed is None else seed)
        return TinyMattingNet(widths=widths)

    def measure(model: TinyMattingNet) -> dict:
        return {"real": evaluate(model, items, per_image=True), "comp": evaluate(model, items)}

    return fits, fit, measure
