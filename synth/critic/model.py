"""The composite detector: a small fully convolutional network scoring one patch.

Imports torch (the ``loader`` extra); on the build's path only a guided recipe imports it
(through synth.critic.score).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["PatchCritic", "to_tensor"]


class PatchCritic(nn.Module):
    """Five 3x3 convolutions (three with stride 2) with batch norm, global average and max
    pooling (an artefact anywhere on the boundary counts) and one linear unit: about 70k weights at ``width=16``. Input float32 (N, 3, P, P) as made by
    :func:`to_tensor` (any P >= 8); output float32 (N,) logits, > 0 meaning "composite"."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"PatchCritic: width must be >= 1, got {width}")
        w = width
        def block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.features = nn.Sequential(*block(3, w, 1), *block(w, 2 * w, 2), *block(2 * w, 2 * w, 1),
                                      *block(2 * w, 4 * w, 2), *block(4 * w, 4 * w, 2))
        self.head = nn.Linear(8 * w, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        return self.head(torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1)).squeeze(1)


def to_tensor(patches: np.ndarray) -> torch.Tensor:
    """uint8 (N, P, P, 3) RGB patches -> float32 (N, 3, P, P) in [-0.5, 0.5]."""
    if patches.dtype != np.uint8 or patches.ndim != 4 or patches.shape[-1] != 3:
        raise ValueError(f"to_tensor: patches must be uint8 (N, P, P, 3), got {patches.dtype} {patches.shape}")
    return torch.from_numpy(np.ascontiguousarray(patches.transpose(0, 3, 1, 2))).float().div_(255.0).sub_(0.5)
