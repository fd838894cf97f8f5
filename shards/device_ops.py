"""Torch kernels of the device path (any device: CUDA in training, CPU in tests).

Each mirrors a CPU step of :mod:`shards.online_augment` on tensors, with the parameters
the worker drew (:mod:`shards.device_prepare`), so the two paths make the same choices; the
pixels differ within resampling and decoder tolerances (bilinear, antialiased below half
size, instead of OpenCV's INTER_LINEAR / INTER_AREA; nvJPEG's IDCT; the trimap's disc is a
regular octagon, as the guidance's morphology uses, instead of a 5x5 chamfer distance).

Shapes: images ``(3, H, W)`` / ``(B, 3, H, W)``; alpha ``float32`` in [0, 1]; trimaps
``uint8`` in {0, 128, 255}.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from augment.guidance import Guidance, octagon_parts

from .window import LINEAR_MIN_SCALE

__all__ = ["to_device", "resize_plane", "resample_batch", "trimaps", "photometric_batch", "guidance",
           "octagon_dilate"]


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A small host tensor on ``device`` without stalling it: from (cached) pinned memory,
    asynchronously (a copy from pageable memory waits for everything queued on the GPU)."""
    if device.type != "cuda" or t.device.type != "cpu":
        return t.to(device)
    return (t if t.is_pinned() else t.pin_memory()).to(device, non_blocking=True)


def resize_plane(x: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """Resize ``float32 (C, h, w)`` to ``(C, *out_hw)``: bilinear on pixel centres, antialiased
    when it shrinks below :data:`shards.window.LINEAR_MIN_SCALE` (where the CPU path uses
    INTER_AREA)."""
    h, w = x.shape[-2:]
    if (h, w) == tuple(out_hw):
        return x
    shrink = min(out_hw[0] / h, out_hw[1] / w) < LINEAR_MIN_SCALE
    return F.interpolate(x[None], size=tuple(out_hw), mode="bilinear", align_corners=False,
                         antialias=shrink)[0]


def resample_batch(padded: torch.Tensor, offset: torch.Tensor, step: torch.Tensor, lo: torch.Tensor,
                   hi: torch.Tensor, out_hw: tuple[int, int], start: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Resample each of B sources, zero-padded into one ``float32 (B, C, H, W)``, onto an
    output grid: bilinear on pixel centres (OpenCV's INTER_LINEAR, ``resize_plane`` above
    half size), separably, by gathering rows then columns.

    ``offset``, ``step``, ``lo``, ``hi``: ``float32 (B, 2)`` (y, x) on the device: the
    source position of the output grid's origin, source px per output px, and the first and
    last source pixel that may be read (coordinates are clamped to them: OpenCV's replicated
    border at the edge of what it resizes; the padding is never read). Output pixel
    ``(start[0] + i, start[1] + j)`` samples ``offset + (pos + 0.5) * step - 0.5``. Each
    sample's pixels depend on that sample only, never on what else is in the batch.
    Returns ``float32 (B, C, out_h, out_w)``.
    """
    b, c = padded.shape[:2]
    taps = []
    for a in (0, 1):
        pos = torch.arange(start[a], start[a] + out_hw[a], device=padded.device, dtype=torch.float32)
        x = offset[:, a, None] + (pos[None] + 0.5) * step[:, a, None] - 0.5
        x = torch.minimum(torch.maximum(x, lo[:, a, None]), hi[:, a, None])
        i0 = x.floor()
        w = x - i0
        i1 = torch.minimum(i0 + 1, hi[:, a, None])
        taps.append((i0.long(), i1.long(), w))
    (y0, y1, wy), (x0, x1, wx) = taps
    oh, ow = out_hw
    width = padded.shape[-1]

    def rows(idx: torch.Tensor) -> torch.Tensor:
        return padded.gather(2, idx[:, None, :, None].expand(b, c, oh, width))

    r = rows(y0) * (1 - wy)[:, None, :, None] + rows(y1) * wy[:, None, :, None]

    def cols(idx: torch.Tensor) -> torch.Tensor:
        return r.gather(3, idx[:, None, None, :].expand(b, c, oh, ow))

    return cols(x0) * (1 - wx)[:, None, None, :] + cols(x1) * wx[:, None, None, :]


def _max3(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Max over offsets -1, 0, +1 along ``dim`` (outside the image ignored): shifted
    elementwise maxima, any dtype (no pooling indices written)."""
    n = x.shape[dim]
    out = x.clone()
    if n > 1:
        a = out.narrow(dim, 1, n - 1)
        torch.maximum(a, x.narrow(dim, 0, n - 1), out=a)
        b = out.narrow(dim, 0, n - 1)
        torch.maximum(b, x.narrow(dim, 1, n - 1), out=b)
    return out


def _square(x: torch.Tensor) -> torch.Tensor:
    """Dilation of ``(B, 1, H, W)`` by the 3x3 square."""
    return _max3(_max3(x, -1), -2)


def _cross_max(x: torch.Tensor) -> torch.Tensor:
    """Dilation of ``(B, 1, H, W)`` by the 3x3 cross (outside the image ignored)."""
    return torch.maximum(_max3(x, -1), _max3(x, -2))


def octagon_dilate(x: torch.Tensor, radius: list[int]) -> torch.Tensor:
    """Grey dilation of ``(B, 1, H, W)`` (any real dtype) by the regular octagon of inradius ``radius[b]``
    (>= 0; :func:`augment.guidance.octagon_parts`): a (2s+1)-square then d 3x3 crosses, as
    ``s`` 3x3-square and ``d`` cross steps per sample, so one batch holds different radii.
    Outside the image is ignored (``-inf``), so the border never grows in. The radii are
    host values, so the loop never waits for the device."""
    parts = [octagon_parts(int(r)) for r in radius]
    steps = max([max(p) for p in parts] + [0])
    sd = to_device(torch.tensor(parts, dtype=torch.int64).view(-1, 2), x.device)
    s, d = sd[:, 0].view(-1, 1, 1, 1), sd[:, 1].view(-1, 1, 1, 1)
    for k in range(steps):
        x = torch.where(k < s, _square(x), x)
        x = torch.where(k < d, _cross_max(x), x)
    return x


def trimaps(alpha8: torch.Tensor, valid: torch.Tensor, band: list[int],
            outer: list[int] | None = None) -> torch.Tensor:
    """Trimaps of ``alpha8: uint8 (B, 1, H, W)`` (``valid``: bool, which pixels belong to each
    sample's image; padding is neither value): unknown (128) within ``band[b]`` output px of
    the edge (0 < a < 255, and definite pixels 8-adjacent to the other definite value), else
    the definite value. ``band[b] == 0`` marks only 0 < a < 255 (as ``make_trimap``).
    ``outer[b]`` (None: ``band``): the reach on the background side (a == 0) instead."""
    fg = ((alpha8 == 255) & valid).to(torch.uint8)
    bg = ((alpha8 == 0) & valid).to(torch.uint8)
    mixed = (alpha8 > 0) & (alpha8 < 255) & valid
    steps = ((fg > 0) & (_square(bg) > 0)) | ((bg > 0) & (_square(fg) > 0))

    def near(widths: list[int]) -> torch.Tensor:  # within widths[b] of the edge (steps only where > 0)
        some = to_device(torch.tensor([w > 0 for w in widths]), alpha8.device).view(-1, 1, 1, 1)
        return octagon_dilate((mixed | (steps & some)).to(torch.uint8), [max(0, w) for w in widths]) > 0

    unknown = near(band)
    if outer is not None and list(outer) != list(band):  # the background side by its own reach
        unknown = torch.where(alpha8 == 0, near([int(o) for o in outer]), unknown)
    out = alpha8.clone()
    out[unknown & valid] = 128
    return out


# YIQ: a hue shift is a rotation of the (I, Q) plane
_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def photometric_batch(images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Colour jitter and gamma of a batch ``float32 (B, 3, H, W)`` in [0, 1] with the parameters
    of :func:`shards.device_prepare.sample_photometric` (``(B, 11)``), in each sample's drawn
    order, clamped after each step: every step runs on the whole batch and is kept where a
    sample asks for it."""
    p = to_device(params.to(torch.float32), images.device)
    x = images

    def col(i: int) -> torch.Tensor:
        return p[:, i].view(-1, 1, 1, 1)

    # per-sample constants made on the host and sent in one asynchronous copy
    a = 2 * math.pi * params[:, 4].to(torch.float32)
    rot = torch.zeros((params.shape[0], 3, 3))
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = a.cos(), -a.sin(), a.sin(), a.cos()
    hue_m = to_device(torch.linalg.inv(_TO_YIQ) @ rot @ _TO_YIQ, x.device)  # (B, 3, 3)
    grey_w = to_device(_TO_YIQ[0].reshape(1, 3, 1, 1).contiguous(), x.device)  # Y, the grey
    on = col(0) > 0
    for position in range(4):
        order = col(5 + position)
        for op in range(4):
            use = on & (order == op)
            if op == 0:
                y = x * col(1)
            elif op == 1:
                m = (x * grey_w).sum(1, keepdim=True).mean(dim=(2, 3), keepdim=True)
                y = (x - m) * col(2) + m
            elif op == 2:
                g = (x * grey_w).sum(1, keepdim=True)
                y = g + (x - g) * col(3)
            else:
                y = torch.einsum("bij,bjhw->bihw", hue_m, x)
            x = torch.where(use, y.clamp(0, 1), x)
    return torch.where(col(9) > 0, x.clamp(0, 1) ** col(10), x)


def _ellipse(work: torch.Tensor, cy: float, cx: float, ry: float, rx: float, angle: float, value: float) -> None:
    h, w = work.shape[-2:]
    ys = torch.arange(h, device=work.device, dtype=torch.float32).view(-1, 1) - cy
    xs = torch.arange(w, device=work.device, dtype=torch.float32).view(1, -1) - cx
    a = math.radians(angle)
    u = xs * math.cos(a) + ys * math.sin(a)
    v = -xs * math.sin(a) + ys * math.cos(a)
    work[..., (u / rx) ** 2 + (v / ry) ** 2 <= 1.0] = value


def guidance(alpha: torch.Tensor, params: Guidance) -> torch.Tensor:
    """The guidance mask of ``alpha: float32 (1, H, W)`` with ``params`` (drawn by the worker,
    :func:`augment.guidance.sample_guidance`): ``float32 (1, H, W)`` in [0, 1], as
    :func:`augment.guidance.apply_guidance` makes it."""
    h, w = alpha.shape[-2:]
    mask = (alpha > params.threshold).float()
    if params.box is not None:
        out = torch.zeros_like(mask)
        ys = torch.nonzero(mask[0].amax(dim=1)).flatten()
        xs = torch.nonzero(mask[0].amax(dim=0)).flatten()
        if ys.numel():
            y0, y1, x0, x1 = int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1
            dt, dl, db, dr = params.box
            bh, bw = y1 - y0, x1 - x0
            t, b = max(0, round(y0 + dt * bh)), min(h, round(y1 + db * bh))
            l_, r = max(0, round(x0 + dl * bw)), min(w, round(x1 + dr * bw))
            out[:, t:b, l_:r] = 1.0
        return out
    f = params.lowres
    work = mask[None]
    if f > 1:
        work = F.interpolate(work, size=(max(1, h // f), max(1, w // f)), mode="area")
    thin, morph = round(params.thin / f), round(params.morph / f)

    def morph_by(x: torch.Tensor, radius: int, dilate: bool) -> torch.Tensor:
        return octagon_dilate(x, [radius]) if dilate else -octagon_dilate(-x, [radius])

    if thin > 0:  # an opening
        work = morph_by(morph_by(work, thin, dilate=False), thin, dilate=True)
    if morph:
        work = morph_by(work, abs(morph), dilate=morph > 0)
    work = work.clone()
    for value, shapes in ((0.0, params.holes), (1.0, params.blobs)):
        for cy, cx, ry, rx, angle in shapes:
            _ellipse(work, round(cy / f), round(cx / f), max(1, round(ry / f)), max(1, round(rx / f)), angle, value)
    if f == 1:
        return work[0]
    work = F.interpolate(work, size=(h, w), mode="bilinear", align_corners=False)[0]
    if not params.soft:
        return (work > 0.5).float()
    return work.clamp(0.0, 1.0)
