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
from .device_ops import guidance, photometric_batch, resample_batch, resize_plane, to_device, trimaps
from .device_prepare import GEO_FIELDS
from .window import LINEAR_MIN_SCALE

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
        self.crop_t = torch.tensor(self.crop, dtype=torch.float32, device=self.device)

    # ------------------------------------------------------------------ pieces
    def _pad(self, planes: Sequence[torch.Tensor]) -> torch.Tensor:
        """``(C, h_i, w_i)`` planes -> one zero-padded ``float32 (B, C, H, W)``."""
        hmax, wmax = max(p.shape[-2] for p in planes), max(p.shape[-1] for p in planes)
        out = torch.zeros((len(planes), planes[0].shape[0], hmax, wmax), dtype=torch.float32, device=self.device)
        for i, p in enumerate(planes):
            out[i, :, :p.shape[-2], :p.shape[-1]] = p
        return out

    def _decoded(self, batch: Mapping[str, Any]) -> dict[str, list[torch.Tensor]]:
        """Every RGB source of the batch on the device, ``uint8 (3, h, w)``: all JPEGs in one call."""
        names = [n for n in ("image", "fg", "bg") if f"src_{n}" in batch]
        srcs = {n: _unpack(batch[f"src_{n}"], batch[f"src_{n}_shapes"]) for n in names}
        jpeg = [(n, i) for n in names for i, s in enumerate(srcs[n]) if s.ndim == 1]
        images = iter(decode_jpegs([srcs[n][i] for n, i in jpeg], self.device))
        out = {n: [to_device(s, self.device).permute(2, 0, 1) if s.ndim == 3 else s for s in srcs[n]]
               for n in names}
        for n, i in jpeg:
            out[n][i] = next(images)
        return out

    def _rgb(self, planes: Sequence[torch.Tensor], box: torch.Tensor, shrink: list[int]) -> torch.Tensor:
        """``float32 (B, 3, h, w)`` in [0, 255]: each source's window ``box`` (top, left, h, w) on the crop."""
        box_host = box
        box = to_device(box, self.device).to(torch.float32)
        step = box[:, 2:] / self.crop_t
        padded = self._pad(planes)
        out = resample_batch(padded, box[:, :2], step, box[:, :2], box[:, :2] + box[:, 2:] - 1, self.crop)
        for i in shrink:  # below half size: antialiased, as the CPU path's INTER_AREA
            t, l_, h, w = (int(v) for v in box_host[i].tolist())
            out[i] = resize_plane(planes[i][:, t:t + h, l_:l_ + w].float(), self.crop)
        return out

    def _alpha(self, batch: Mapping[str, Any], shrink: list[int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The alpha ``float32 (B, 1, h, w)`` and the fresh trimaps ``uint8 (B, 1, h, w)`` (or None).

        The alpha is resampled on the crop's output grid grown by ``M`` px each side (the
        largest trimap margin of the batch): bilinear from the stored region, as
        ``trimap_with_margin`` makes its margin; what lies outside a sample's own margins
        (outside its image) is marked as neither value."""
        geo = batch["geo"]
        g = to_device(geo, self.device).to(torch.float32)
        srcs = _unpack(to_device(batch["alpha_src"], self.device), batch["alpha_src_shapes"])
        sizes = to_device(batch["alpha_src_shapes"], self.device)[:, :2].to(torch.float32)
        planes = [src[..., 0][None].float() for src in srcs]
        unit = g[:, _G["unit"]].view(-1, 1, 1, 1)
        oh, ow = self.crop
        fresh = bool((geo[:, _G["band"]] >= 0).all())
        m = int(geo[:, [_G["m_top"], _G["m_bottom"], _G["m_left"], _G["m_right"]]].max()) if fresh else 0
        offset = g[:, [_G["win_y"], _G["win_x"]]]
        step = g[:, [_G["ky"], _G["kx"]]]
        padded = self._pad(planes)
        # inside the window exactly the window resized (its own border replicated), around
        # it the margin, read from the stored region
        inner = resample_batch(padded, offset, step, offset, offset + g[:, [_G["win_h"], _G["win_w"]]] - 1, self.crop)
        ext = resample_batch(padded, offset, step, torch.zeros_like(sizes), sizes - 1, (oh + 2 * m, ow + 2 * m),
                             (-m, -m)) if m else inner
        ext[:, :, m:m + oh, m:m + ow] = inner
        ext = (ext * unit).clamp_(0.0, 1.0)
        for i in shrink:
            gi = geo[i].tolist()
            wy, wx, wh, ww = (int(gi[_G[k]]) for k in ("win_y", "win_x", "win_h", "win_w"))
            inner = resize_plane(planes[i][:, wy:wy + wh, wx:wx + ww] * gi[_G["unit"]], self.crop)
            ext[i, :, m:m + oh, m:m + ow] = inner.clamp(0.0, 1.0)
        alpha = ext[:, :, m:m + oh, m:m + ow].contiguous()
        if not fresh:
            return alpha, None
        rows = torch.arange(-m, oh + m, device=self.device).view(1, 1, -1, 1)
        cols = torch.arange(-m, ow + m, device=self.device).view(1, 1, 1, -1)

        def col(name: str) -> torch.Tensor:
            return g[:, _G[name]].view(-1, 1, 1, 1)

        valid = ((rows >= -col("m_top")) & (rows < oh + col("m_bottom")) &
                 (cols >= -col("m_left")) & (cols < ow + col("m_right")))
        a8 = torch.round(ext * 255.0).to(torch.uint8)
        tri = trimaps(a8, valid, [int(b) for b in geo[:, _G["band"]].tolist()],
                      [int(b) for b in geo[:, _G["band_out"]].tolist()])
        return alpha, tri[:, :, m:m + oh, m:m + ow].contiguous()

    def _stored_trimap(self, batch: Mapping[str, Any]) -> torch.Tensor:
        srcs = _unpack(to_device(batch["trimap_src"], self.device), batch["trimap_src_shapes"])
        cut = []
        for src, g in zip(srcs, batch["geo"].tolist()):
            wy, wx, wh, ww = (int(g[_G[k]]) for k in ("win_y", "win_x", "win_h", "win_w"))
            win = src[None, None, wy:wy + wh, wx:wx + ww, 0].float()
            cut.append(F.interpolate(win, size=self.crop, mode="nearest-exact")[0].to(torch.uint8))
        return torch.stack(cut)

    # ------------------------------------------------------------------ batch
    def __call__(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        """A :func:`collate_device` batch -> the finished batch on the device."""
        geo = batch["geo"]
        shrink = [i for i, (ky, kx) in enumerate(geo[:, [_G["ky"], _G["kx"]]].tolist())
                  if 1 / max(ky, kx) < LINEAR_MIN_SCALE]
        out: dict[str, Any] = {}
        for name, planes in self._decoded(batch).items():
            out[name] = self._rgb(planes, batch[f"box_{name}"], shrink)
        alpha, trimap = self._alpha(batch, shrink)
        out["alpha"] = alpha
        if "trimap_src" in batch:
            trimap = self._stored_trimap(batch)
        if trimap is not None:
            out["trimap"] = trimap
        flip = to_device(batch["geo"][:, _G["flip"]] > 0, self.device).view(-1, 1, 1, 1)
        for name, x in out.items():
            out[name] = torch.where(flip, x.flip(-1), x)
        if "photo" in batch and "image" in out:
            out["image"] = photometric_batch(out["image"] / 255.0, batch["photo"]) * 255.0
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
