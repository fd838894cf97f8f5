"""A tiny trimap-based matting network (tens to a few hundred thousand parameters) for CPU demos.

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
    """A small U-Net: `widths[k]` channels at 1/2^k resolution (narrow where pixels are many).

    The default (16, 32, 64) is the CPU demo (119k parameters); (16, 32, 64, 128) adds a
    1/8-resolution level (488k parameters) at little extra cost per pixel.
    """

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64), extra_channels: int = 0) -> None:
        super().__init__()
        if len(widths) < 2:
            raise ValueError(f"widths needs at least two levels, got {widths!r}")
        self.widths = tuple(int(w) for w in widths)
        ins = (6 + int(extra_channels),) + self.widths[:-1]
        self.enc = nn.ModuleList(_block(i, o) for i, o in zip(ins, self.widths))
        self.dec = nn.ModuleList(_block(self.widths[k + 1] + self.widths[k], self.widths[k])
                                 for k in reversed(range(len(self.widths) - 1)))
        self.head = nn.Conv2d(self.widths[0], 1, 1)

    @property
    def multiple(self) -> int:
        """Input height and width must be divisible by this."""
        return 2 ** (len(self.widths) - 1)

    def forward(self, image: torch.Tensor, trimap: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """Alpha float (B, 1, H, W) in [0, 1]; H and W divisible by `multiple`. `extra`:
        float (B, extra_channels, H, W) more inputs (e.g. the previous frame's alpha)."""
        x = prepare_inputs(image, trimap)
        if extra is not None:
            x = torch.cat([x, extra], dim=1)
        skips = []
        for k, block in enumerate(self.enc):
            x = block(x if k == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for block in self.dec:
            up = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            x = block(torch.cat([up, skips.pop()], 1))
        alpha = torch.sigmoid(self.head(x))
        known_fg = (trimap == 255).float()
        unknown = (trimap == 128).float()
        return alpha * unknown + known_fg


def matting_loss(pred: torch.Tensor, batch: dict) -> torch.Tensor:
    """L1 on alpha plus the composition loss, both over the unknown region (the alpha term
    alone for a dataset built without F and B layers, ``output.layers: false``)."""
    unknown = (batch["trimap"] == 128).float()
    denom = unknown.sum().clamp_min(1.0)
    l_alpha = ((pred - batch["alpha"]).abs() * unknown).sum() / denom
    if "fg" not in batch or "bg" not in batch:
        return l_alpha
    fg, bg = batch["fg"].float() / 255.0, batch["bg"].float() / 255.0
    image = batch["image"].float() / 255.0
    comp = pred * fg + (1 - pred) * bg
    l_comp = ((comp - image).abs() * unknown).sum() / (3 * denom)
    return l_alpha + 0.5 * l_comp
