"""A frame's layers on the canvas: the subject at its pose, the background through the camera,
with motion blur along each layer's motion during the exposure.

Motion blur is the layer smeared along the path its centre travels while the shutter is
open: the layer is warped once (at the middle of the exposure) and convolved with a
normalised line kernel ``v`` long (:func:`line_kernel`; the rotation and zoom within one
exposure are small next to the translation). The subject is blurred premultiplied, its
colour ``aF`` and its alpha with the same kernel, so F and alpha blur together and the
stored F is ``blur(aF) / blur(a)``; the background by the camera's motion. Below half a
pixel of motion there is no blur, and a layer that does not move is pasted (an integer
shift), not resampled, so a static scene gives every frame the same pixels.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ["blur_vector", "camera_layer", "line_kernel", "subject_layers"]

_MIN_BLUR = 0.5  # px: less motion than this during the exposure is no blur


def blur_vector(first: np.ndarray, last: np.ndarray, point: tuple[float, float]) -> tuple[float, float]:
    """How far ``point`` (x, y) moves between the 2x3 affines ``first`` and ``last`` (px)."""
    p = np.array([point[0], point[1], 1.0])
    d = last @ p - first @ p
    return float(d[0]), float(d[1])


def line_kernel(vx: float, vy: float) -> np.ndarray | None:
    """A normalised float32 (k, k) kernel that smears along the segment from ``-v/2`` to
    ``v/2`` (anti-aliased: points every 1/8 px, each splatted bilinearly); ``None`` when
    ``|v|`` is below half a pixel (no blur)."""
    length = math.hypot(vx, vy)
    if not math.isfinite(length) or length < _MIN_BLUR:
        return None
    r = math.ceil(length / 2) + 1
    k = np.zeros((2 * r + 1, 2 * r + 1), np.float64)
    s = np.linspace(-0.5, 0.5, max(2, math.ceil(length * 8) + 1))
    xs, ys = r + s * vx, r + s * vy
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            np.add.at(k, (y0 + dy, x0 + dx), wx * wy)
    return (k / k.sum()).astype(np.float32)


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


def _roi(m: np.ndarray, hw: tuple[int, int], canvas: tuple[int, int], margin: int
         ) -> tuple[int, int, int, int] | None:
    """The canvas window (x0, y0, x1, y1) the layer covers under ``m``, grown by ``margin``."""
    h, w = hw
    xy = m @ np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64).T
    x0, y0 = max(0, math.floor(xy[0].min()) - 1 - margin), max(0, math.floor(xy[1].min()) - 1 - margin)
    x1 = min(canvas[1], math.ceil(xy[0].max()) + 2 + margin)
    y1 = min(canvas[0], math.ceil(xy[1].max()) + 2 + margin)
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def _warp(arr: np.ndarray, m: np.ndarray, roi: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = roi
    mm = m.copy()
    mm[0, 2] -= x0
    mm[1, 2] -= y0
    return cv2.warpAffine(arr, mm, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)


def subject_layers(fg: np.ndarray, alpha: np.ndarray, matrix: np.ndarray, canvas: tuple[int, int],
                   blur: tuple[float, float] = (0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """The subject on the canvas at its pose, smeared along ``blur`` (px).

    fg: uint8 (h, w, 3); alpha: float32 (h, w) in [0, 1]; matrix: 2x3 affine from the layer
    to the canvas at the middle of the exposure. Returns (F uint8 (H, W, 3), alpha float32
    (H, W) in [0, 1]); F is 0 where the subject never reaches. An integer shift without blur
    is pasted exactly.
    """
    kernel = line_kernel(*blur)
    if kernel is None and _is_shift(matrix):
        dx, dy = int(matrix[0, 2]), int(matrix[1, 2])
        return _paste(fg, dx, dy, canvas), _paste(alpha, dx, dy, canvas)
    out_f = np.zeros((*canvas, 3), np.uint8)
    out_a = np.zeros(canvas, np.float32)
    roi = _roi(matrix, alpha.shape, canvas, 0 if kernel is None else kernel.shape[0] // 2 + 1)
    if roi is None:
        return out_f, out_a
    x0, y0, x1, y1 = roi
    if kernel is None:
        out_f[y0:y1, x0:x1] = _warp(fg, matrix, roi)
        out_a[y0:y1, x0:x1] = np.clip(_warp(alpha, matrix, roi), 0.0, 1.0)
        return out_f, out_a
    layer = np.empty((*alpha.shape, 4), np.float32)  # (aF, a): one warp, one convolution
    np.multiply(fg, alpha[..., None], out=layer[..., :3], dtype=np.float32)
    layer[..., 3] = alpha
    warped = _warp(layer, matrix, roi)
    smeared = cv2.filter2D(warped, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    a = np.clip(smeared[..., 3], 0.0, 1.0)
    f_mid = _warp(fg, matrix, roi)
    covered = a > 1.0 / 1024
    f = np.where(covered[..., None], smeared[..., :3] / np.maximum(a, 1e-6)[..., None], f_mid)
    out_f[y0:y1, x0:x1] = np.clip(np.rint(f), 0, 255).astype(np.uint8)
    out_a[y0:y1, x0:x1] = a
    return out_f, out_a


def camera_layer(photo: np.ndarray, matrix: np.ndarray, canvas: tuple[int, int],
                 blur: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """The background seen through the camera (``matrix``: 2x3 affine from canvas to photo
    pixels at the middle of the exposure), smeared along ``blur`` (canvas px). photo: uint8
    (h, w, 3); returns uint8 (H, W, 3). An integer shift without blur is a slice of the photo."""
    ch, cw = canvas
    kernel = line_kernel(*blur)
    if kernel is None and _is_shift(matrix):
        x, y = int(matrix[0, 2]), int(matrix[1, 2])
        if 0 <= x and 0 <= y and x + cw <= photo.shape[1] and y + ch <= photo.shape[0]:
            return photo[y:y + ch, x:x + cw].copy()
    r = 0 if kernel is None else kernel.shape[0] // 2
    m = matrix.copy()  # the canvas grown by r on every side, so the smear reads real pixels
    m[:, 2] -= m[:, :2] @ np.array([r, r], np.float64)
    out = cv2.warpAffine(photo, m, (cw + 2 * r, ch + 2 * r), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REFLECT_101)
    if kernel is None:
        return out
    return cv2.filter2D(out, -1, kernel, borderType=cv2.BORDER_REFLECT_101)[r:r + ch, r:r + cw]
