"""The device half of the device path: batches of :mod:`shards.device_prepare` samples are
decoded and augmented on a torch device (nvJPEG through torchvision on CUDA).

:func:`collate_device` (run in the DataLoader workers) packs a batch's variable-size
sources into one flat buffer per kind, so a batch crosses to the main process in a few
shared-memory tensors; :class:`DeviceStage` (run in the main process, by
:class:`shards.MattingLoader` when the dataset has ``device=``) turns it into the batch
:func:`shards.collate.collate_matting` would give, its tensors on the device:

- ``image`` ``uint8 (B, 3, H, W)`` (``float32`` normalised with ``normalize=True``),
  ``alpha`` ``float32 (B, 1, H, W)``, ``trimap`` ``uint8 (B, 1, H, W)``, ``fg``, ``bg``,
  ``guidance``, ``semantic``, ``detail`` as asked; ``key`` (list of str), ``index`` (int64).

Steps per batch: every JPEG of a kind decoded in one call (``torchvision.io.decode_jpeg`` on
CUDA; simplejpeg on the CPU, for tests), each window resized onto the crop
(:func:`shards.device_ops.resize_plane`), the alpha's trimap margin resampled on the same
output grid (so the trimap at the crop border is the whole image's), fresh trimaps for the
whole batch at once, flips, photometric jitter, guidance, normalisation. All random choices
were made by the worker, so an epoch's batches are the same samples with the same draws
as the CPU path, and resume and exactly-once are the loader's as ever.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import simplejpeg
import torch
import torch.nn.functional as F

from .config import DEFAULT_OUTPUTS, IMAGENET_MEAN, IMAGENET_STD, OUTPUTS
from .device_ops import guidance, photometric, resize_plane, trimaps
from .device_prepare import GEO_FIELDS

__all__ = ["collate_device", "DeviceStage", "decode_jpegs"]

_G = {name: i for i, name in enumerate(GEO_FIELDS)}
_PACKED = ("src_image", "src_fg", "src_bg", "alpha_src", "trimap_src")


def _pack(values: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Variable-size arrays -> one flat tensor and ``int64 (B, 3)`` shapes (1-D arrays: ``(n, 0, 0)``)."""
    dtype = np.int32 if any(v.dtype != np.uint8 for v in values) else np.uint8
    flat = np.concatenate([v.reshape(-1).astype(dtype, copy=False) for v in values])
    shapes = np.array([(v.shape + (0, 0))[:3] if v.ndim == 1 else (v.shape + (1,))[:3] for v in values], np.int64)
    return torch.from_numpy(flat), torch.from_numpy(shapes)


def _unpack(flat: torch.Tensor, shapes: torch.Tensor) -> list[torch.Tensor]:
    out, at = [], 0
    for a, b, c in shapes.tolist():
        n = a if b == 0 else a * b * c
        part = flat[at:at + n]
        out.append(part if b == 0 else part.view(a, b, c))
        at += n
    return out


def collate_device(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Batch prepared samples: sources packed (``NAME`` and ``NAME_shapes``), ``geo``,
    ``photo`` and ``box_*`` stacked, ``guidance`` parameters and ``key`` as lists."""
    if not samples:
        raise ValueError("collate_device: empty batch")
    batch: dict[str, Any] = {}
    for name in samples[0]:
        if name.startswith("_"):
            continue
        values = [s[name] for s in samples]
        if name == "key" or name == "guidance":
            batch[name] = list(values)
        elif name == "index":
            batch[name] = torch.as_tensor(values, dtype=torch.int64)
        elif name in _PACKED:
            batch[name], batch[f"{name}_shapes"] = _pack(values)
        else:
            batch[name] = torch.from_numpy(np.stack(values))
    return batch


def decode_jpegs(data: Sequence[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """Decode JPEGs (``uint8 (n,)`` CPU tensors) to ``uint8 (3, H, W)`` RGB on ``device``:
    nvJPEG in one batched call on CUDA (needs torchvision), simplejpeg on the CPU."""
    if not data:
        return []
    if device.type == "cuda":
        try:
            from torchvision.io import ImageReadMode, decode_jpeg
        except ImportError as e:  # pragma: no cover - CUDA machines only
            raise ValueError("device='cuda' decodes JPEGs with torchvision: pip install torchvision") from e
        return list(decode_jpeg(list(data), mode=ImageReadMode.RGB, device=device))
    return [torch.from_numpy(simplejpeg.decode_jpeg(d.numpy().tobytes(), colorspace="RGB")).permute(2, 0, 1)
            .to(device) for d in data]


class DeviceStage:
    """Finish :func:`collate_device` batches on ``device`` (see the module docstring).

    ``crop``: the output ``(h, w)``; ``outputs``: what to return (the dataset's);
    ``normalize``/``mean``/``std``: as :class:`shards.MattingDataset` takes them.
    """

    def __init__(self, device: str | torch.device, crop: tuple[int, int], *,
                 outputs: Sequence[str] = DEFAULT_OUTPUTS, normalize: bool = False,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> None:
        self.device = torch.device(device)
        self.crop = (int(crop[0]), int(crop[1]))
        self.outputs = frozenset(outputs)
        self.normalize = normalize
        self.mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)

    # ------------------------------------------------------------------ pieces
    def _rgb(self, batch: Mapping[str, Any], name: str) -> torch.Tensor:
        """``float32 (B, 3, h, w)`` in [0, 255]: the windows of source ``name`` on the crop."""
        srcs = _unpack(batch[f"src_{name}"], batch[f"src_{name}_shapes"])
        jpeg = [i for i, s in enumerate(srcs) if s.ndim == 1]
        decoded: list[torch.Tensor | None] = [None] * len(srcs)
        for i, img in zip(jpeg, decode_jpegs([srcs[i] for i in jpeg], self.device)):
            decoded[i] = img
        for i, s in enumerate(srcs):
            if s.ndim == 3:
                decoded[i] = s.to(self.device, non_blocking=True).permute(2, 0, 1)
        planes = []
        for img, (t, l_, h, w) in zip(decoded, batch[f"box_{name}"].tolist()):
            planes.append(resize_plane(img[:, t:t + h, l_:l_ + w].float(), self.crop))  # type: ignore[index]
        return torch.stack(planes)

    def _alpha(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The alpha ``float32 (B, 1, h, w)`` and the fresh trimaps ``uint8 (B, 1, h, w)`` (or None)."""
        geo = batch["geo"].tolist()
        flat = batch["alpha_src"].to(self.device, non_blocking=True)
        srcs = _unpack(flat, batch["alpha_src_shapes"])
        oh, ow = self.crop
        alphas, exts = [], []
        for src, g in zip(srcs, geo):
            a = src[..., 0].float() * g[_G["unit"]]
            wy, wx, wh, ww = (int(g[_G[k]]) for k in ("win_y", "win_x", "win_h", "win_w"))
            out = resize_plane(a[None, wy:wy + wh, wx:wx + ww], self.crop).clamp(0.0, 1.0)
            alphas.append(out)
            if g[_G["band"]] >= 0:
                exts.append(self._extended(a, out, g))
        alpha = torch.stack(alphas)
        if not exts:
            return alpha, None
        eh, ew = max(e.shape[-2] for e in exts), max(e.shape[-1] for e in exts)
        a8 = torch.zeros((len(exts), 1, eh, ew), dtype=torch.uint8, device=self.device)
        valid = torch.zeros_like(a8, dtype=torch.bool)
        for i, e in enumerate(exts):
            a8[i, :, :e.shape[-2], :e.shape[-1]] = torch.round(e * 255.0).to(torch.uint8)
            valid[i, :, :e.shape[-2], :e.shape[-1]] = True
        tri = trimaps(a8, valid, [int(g[_G["band"]]) for g in geo])
        cut = [tri[i, :, int(g[_G["m_top"]]):int(g[_G["m_top"]]) + oh, int(g[_G["m_left"]]):int(g[_G["m_left"]]) + ow]
               for i, g in enumerate(geo)]
        return alpha, torch.stack(cut)

    def _extended(self, a: torch.Tensor, inner: torch.Tensor, g: list[float]) -> torch.Tensor:
        """The alpha on the crop's output grid grown by the trimap margins: bilinear from the
        stored region ``a`` outside, exactly ``inner`` inside (as ``trimap_with_margin``)."""
        oh, ow = self.crop
        mt, mb, ml, mr = (int(g[_G[k]]) for k in ("m_top", "m_bottom", "m_left", "m_right"))
        if mt == mb == ml == mr == 0:
            return inner
        eh, ew = oh + mt + mb, ow + ml + mr
        hs, ws = a.shape
        ys = g[_G["win_y"]] + (torch.arange(eh, device=a.device, dtype=torch.float32) - mt + 0.5) * g[_G["ky"]] - 0.5
        xs = g[_G["win_x"]] + (torch.arange(ew, device=a.device, dtype=torch.float32) - ml + 0.5) * g[_G["kx"]] - 0.5
        grid = torch.stack(torch.meshgrid((2 * xs + 1) / ws - 1, (2 * ys + 1) / hs - 1, indexing="xy"), dim=-1)
        ext = F.grid_sample(a[None, None], grid[None], mode="bilinear", padding_mode="border",
                            align_corners=False)[0].clamp(0.0, 1.0)
        ext[:, mt:mt + oh, ml:ml + ow] = inner
        return ext

    def _stored_trimap(self, batch: Mapping[str, Any]) -> torch.Tensor:
        srcs = _unpack(batch["trimap_src"].to(self.device, non_blocking=True), batch["trimap_src_shapes"])
        cut = []
        for src, g in zip(srcs, batch["geo"].tolist()):
            wy, wx, wh, ww = (int(g[_G[k]]) for k in ("win_y", "win_x", "win_h", "win_w"))
            win = src[None, None, wy:wy + wh, wx:wx + ww, 0].float()
            cut.append(F.interpolate(win, size=self.crop, mode="nearest-exact")[0].to(torch.uint8))
        return torch.stack(cut)

    # ------------------------------------------------------------------ batch
    def __call__(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        """A :func:`collate_device` batch -> the finished batch on the device."""
        out: dict[str, Any] = {}
        for name in ("image", "fg", "bg"):
            if f"src_{name}" in batch:
                out[name] = self._rgb(batch, name)
        alpha, trimap = self._alpha(batch)
        out["alpha"] = alpha
        if "trimap_src" in batch:
            trimap = self._stored_trimap(batch)
        if trimap is not None:
            out["trimap"] = trimap
        flip = (batch["geo"][:, _G["flip"]] > 0).to(self.device).view(-1, 1, 1, 1)
        for name, x in out.items():
            out[name] = torch.where(flip, x.flip(-1), x)
        if "photo" in batch and "image" in out:
            img = out["image"] / 255.0
            out["image"] = torch.stack([photometric(x, p) for x, p in zip(img, batch["photo"])]) * 255.0
        for name in ("image", "fg", "bg"):
            if name in out:
                out[name] = out[name].round_().clamp_(0, 255).to(torch.uint8)
        if "guidance" in self.outputs:
            out["guidance"] = torch.stack([guidance(a, p) for a, p in zip(out["alpha"], batch["guidance"])])
        if "semantic" in self.outputs:
            out["semantic"] = ((out["trimap"].to(torch.int16) + 1) // 128).to(torch.uint8)
        if "detail" in self.outputs:
            out["detail"] = (out["trimap"] == 128).float()
        if self.normalize and "image" in out:
            out["image"] = (out["image"].float() / 255.0 - self.mean) / self.std
        result = {k: out[k] for k in OUTPUTS if k in self.outputs}
        result["key"] = list(batch["key"])
        result["index"] = batch["index"]
        return result
