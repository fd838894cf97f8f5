"""A frame's layers on the canvas: the subject at its poses, the background through the camera,
with motion blur as the average over the exposure.

Motion blur integrates the layers over the shutter time: ``K`` instants spread over the
exposure (``K`` from the largest displacement in px, 1 when nothing moves: no blur), the
subject's premultiplied colour ``aF`` and its alpha averaged alike (so F and alpha blur
together and the stored F is ``mean(aF) / mean(a)``), the background averaged through the
camera. A layer that does not move is pasted (an integer shift), not resampled, so a static
scene gives every frame the same pixels.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ["blur_samples", "camera_layer", "exposure_times", "displacement", "subject_layers"]


def exposure_times(t: int, shutter: float, samples: int) -> list[float]:
    """``samples`` instants (frames) spread evenly over the exposure of frame ``t``,
    ``[t - shutter/2, t + shutter/2]``; ``[t]`` for one sample."""
    if samples <= 1 or shutter <= 0:
        return [float(t)]
    return [t + shutter * (k / (samples - 1) - 0.5) for k in range(samples)]


def displacement(first: np.ndarray, last: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """The largest distance in px that a corner of ``box`` (x0, y0, x1, y1) moves between the
    2x3 affines ``first`` and ``last``."""
    x0, y0, x1, y1 = box
    pts = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64).T
    return float(np.sqrt(((first @ pts - last @ pts) ** 2).sum(axis=0)).max())


def blur_samples(distance_px: float, max_samples: int) -> int:
    """Instants to average for a layer moving ``distance_px`` during the exposure: about one per
    px (at most ``max_samples``), 1 below half a pixel (no blur)."""
    if not math.isfinite(distance_px) or distance_px < 0.5:
        return 1
    return int(min(max_samples, math.ceil(distance_px) + 1))


def _is_shift(m: np.ndarray) -> bool:
    return bool(np.array_equal(m[:, :2], np.eye(2)) and np.all(m[:, 2] == np.round(m[:, 2])))


def _paste(arr: np.ndarray, dx: int, dy: int, canvas: tuple[int, int]) -> np.ndarray:
    ch, cw = canvas
    h, w = arr.shape[:2]
    out = np.zeros((ch, cw) + arr.shape[2:], arr.dtype)
    y0, y1, x0, x1 = max(dy, 0), min(dy + h, ch), max(dx, 0), min(dx + w, cw)
    if y0 < y1 and x0 < x1:
        out[y0:y1, x0:x1] = arr[y0 - dy:y1 - dy, x0 - dx:x1 - dx]
    return out


def _roi(matrices: list[np.ndarray], hw: tuple[int, int], canvas: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The canvas window (x0, y0, x1, y1) that the layer covers at any of its affines."""
    h, w = hw
    pts = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64).T
    xy = np.concatenate([m @ pts for m in matrices], axis=1)
    x0, y0 = max(0, math.floor(xy[0].min()) - 1), max(0, math.floor(xy[1].min()) - 1)
    x1, y1 = min(canvas[1], math.ceil(xy[0].max()) + 2), min(canvas[0], math.ceil(xy[1].max()) + 2)
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def _warp(arr: np.ndarray, m: np.ndarray, roi: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = roi
    mm = m.copy()
    mm[0, 2] -= x0
    mm[1, 2] -= y0
    return cv2.warpAffine(arr, mm, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)


def subject_layers(fg: np.ndarray, alpha: np.ndarray, matrices: list[np.ndarray], canvas: tuple[int, int]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The subject on the canvas averaged over its affines (one per exposure instant).

    fg: uint8 (h, w, 3); alpha: float32 (h, w) in [0, 1]; matrices: 2x3 affines from the
    layer to the canvas. Returns (F uint8 (H, W, 3), alpha float32 (H, W) in [0, 1]); F is 0
    where no instant covers the canvas. One integer shift is pasted exactly.
    """
    if len(matrices) == 1 and _is_shift(matrices[0]):
        dx, dy = int(matrices[0][0, 2]), int(matrices[0][1, 2])
        return _paste(fg, dx, dy, canvas), _paste(alpha, dx, dy, canvas)
    out_f = np.zeros((*canvas, 3), np.uint8)
    out_a = np.zeros(canvas, np.float32)
    roi = _roi(matrices, alpha.shape, canvas)
    if roi is None:
        return out_f, out_a
    x0, y0, x1, y1 = roi
    mid = matrices[len(matrices) // 2]
    f_mid = _warp(fg, mid, roi)
    if len(matrices) == 1:
        out_f[y0:y1, x0:x1] = f_mid
        out_a[y0:y1, x0:x1] = np.clip(_warp(alpha, mid, roi), 0.0, 1.0)
        return out_f, out_a
    premult = fg.astype(np.float32) * alpha[..., None]
    acc_f = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
    acc_a = np.zeros((y1 - y0, x1 - x0), np.float32)
    for m in matrices:
        acc_f += _warp(premult, m, roi)
        acc_a += _warp(alpha, m, roi)
    acc_a /= np.float32(len(matrices))
    acc_f /= np.float32(len(matrices))
    covered = acc_a > 1.0 / 1024
    f = np.where(covered[..., None], acc_f / np.maximum(acc_a, 1e-6)[..., None], f_mid.astype(np.float32))
    out_f[y0:y1, x0:x1] = np.clip(np.rint(f), 0, 255).astype(np.uint8)
    out_a[y0:y1, x0:x1] = np.clip(acc_a, 0.0, 1.0)
    return out_f, out_a


def camera_layer(photo: np.ndarray, matrices: list[np.ndarray], canvas: tuple[int, int]) -> np.ndarray:
    """The background seen through the camera, averaged over its affines (canvas -> photo,
    one per exposure instant). photo: uint8 (h, w, 3); returns uint8 (H, W, 3). One integer
    shift is a slice of the photo."""
    ch, cw = canvas
    m0 = matrices[0]
    if len(matrices) == 1 and _is_shift(m0):
        x, y = int(m0[0, 2]), int(m0[1, 2])
        if 0 <= x and 0 <= y and x + cw <= photo.shape[1] and y + ch <= photo.shape[0]:
            return photo[y:y + ch, x:x + cw].copy()

    def warp(m: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(photo, m, (cw, ch), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REFLECT_101)

    if len(matrices) == 1:
        return warp(m0)
    acc = np.zeros((ch, cw, 3), np.float32)
    for m in matrices:
        acc += warp(m)
    acc *= np.float32(1.0 / len(matrices))
    return np.clip(np.rint(acc), 0, 255).astype(np.uint8)
