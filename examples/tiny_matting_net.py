"""A tiny trimap-based matting network (a few tens of thousands of parameters) for CPU demos.

Input: the image (normalised float, 3 channels) and the trimap as three one-hot
channels (background, unknown, foreground). A three-level U-Net predicts alpha
in the unknown region; known regions are taken from the trimap.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


def prepare_inputs(image: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
    """image uint8 (B, 3, H, W), trimap uint8 (B, 1, H, W) in {0,128,255} -> float (B, 6, H, W)."""
    x = (image.float() / 255.0 - MEAN.to(image.device)) / STD.to(image.device)
    t = trimap[:, 0].long()
    onehot = torch.stack([t == 0, t == 128, t == 255], dim=1).float()
    return torch.cat([x, onehot], dim=1)


class TinyMattingNet(nn.Module):
    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width
        self.enc1, self.enc2, self.enc3 = _block(6, w), _block(w, 2 * w), _block(2 * w, 4 * w)
        self.dec2, self.dec1 = _block(6 * w, 2 * w), _block(3 * w, w)
        self.head = nn.Conv2d(w, 1, 1)

    def forward(self, image: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
        """Alpha float (B, 1, H, W) in [0, 1]; H and W divisible by 4."""
        x = prepare_inputs(image, trimap)
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([F.interpolate(e3, scale_factor=2.0, mode="bilinear", align_corners=False), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, scale_factor=2.0, mode="bilinear", align_corners=False), e1], 1))
        alpha = torch.sigmoid(self.head(d1))
        known_fg = (trimap == 255).float()
        unknown = (trimap == 128).float()
        return alpha * unknown + known_fg


def matting_loss(pred: torch.Tensor, batch: dict) -> torch.Tensor:
    """L1 on alpha plus the composition loss, both over the unknown region."""
    unknown = (batch["trimap"] == 128).float()
    denom = unknown.sum().clamp_min(1.0)
    l_alpha = ((pred - batch["alpha"]).abs() * unknown).sum() / denom
    fg, bg = batch["fg"].float() / 255.0, batch["bg"].float() / 255.0
    image = batch["image"].float() / 255.0
    comp = pred * fg + (1 - pred) * bg
    l_comp = ((comp - image).abs() * unknown).sum() / (3 * denom)
    return l_alpha + 0.5 * l_comp
