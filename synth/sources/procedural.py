"""Procedural sources: synthetic foregrounds and backgrounds that need no data.

Foregrounds have the alpha structures matting models must learn: soft (defocused) edges,
hair-like strands with fractional coverage, and semi-transparent regions (a veil). Their
F is known exactly, which also makes them ground truth for foreground-estimation tests.
Every item is a pure function of (seed, index, size).
"""
from __future__ import annotations

import hashlib

import cv2
import numpy as np

from ..rng import procedural_rng

__all__ = ["procedural_foreground", "procedural_background", "procedural_id"]

_VERSION = "v1"


def procedural_id(kind: str, seed: int, index: int, size: tuple[int, int]) -> str:
    """Content id of a procedural item (stable across runs and machines)."""
    text = f"procedural-{kind}:{_VERSION}:{seed}:{index}:{size[0]}x{size[1]}"
    return hashlib.sha256(text.encode()).hexdigest()


def _value_noise(rng: np.random.Generator, hw: tuple[int, int], octaves: int = 4) -> np.ndarray:
    """Multi-octave smooth noise, float32 (H, W) in [0, 1]."""
    h, w = hw
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = 2 ** (o + 2)
        grid = rng.random((cells + 1, cells + 1), dtype=np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.5
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def _colour_field(rng: np.random.Generator, hw: tuple[int, int]) -> np.ndarray:
    """A textured colour image: two random colours mixed by smooth noise plus fine texture."""
    c0 = rng.uniform(0, 255, 3).astype(np.float32)
    c1 = rng.uniform(0, 255, 3).astype(np.float32)
    mix = _value_noise(rng, hw, octaves=3)[..., None]
    fine = (_value_noise(rng, hw, octaves=6)[..., None] - 0.5) * rng.uniform(20, 60)
    img = c0 * (1 - mix) + c1 * mix + fine
    return np.clip(img, 0, 255)


def procedural_foreground(seed: int, index: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic foreground: (F uint8 (H, W, 3) RGB, alpha float32 (H, W) in [0, 1]).

    A smooth blob body with a soft edge, hair-like strands leaving it, and (on some items)
    a semi-transparent veil. Deterministic in (seed, index, size).
    """
    h, w = size
    rng = procedural_rng(seed, index, "fg")
    ss = 2  # draw at 2x, downscale with area averaging -> fractional coverage on strands
    H, W = h * ss, w * ss

    # Body: union of random ellipses, thresholded smooth noise for an organic outline.
    body = np.zeros((H, W), np.uint8)
    cx, cy = W * rng.uniform(0.4, 0.6), H * rng.uniform(0.45, 0.6)
    for _ in range(int(rng.integers(2, 5))):
        ax = (W * rng.uniform(0.12, 0.3), H * rng.uniform(0.15, 0.35))
        centre = (int(cx + rng.normal(0, W * 0.06)), int(cy + rng.normal(0, H * 0.06)))
        cv2.ellipse(body, centre, (int(ax[0]), int(ax[1])), float(rng.uniform(0, 180)), 0, 360, 255, -1)
    wobble = _value_noise(rng, (H, W), octaves=3)
    body_f = (body.astype(np.float32) / 255.0) * (0.75 + 0.5 * wobble)
    body_mask = (body_f > 0.5).astype(np.float32)

    # Soft (defocused) edge on part of the outline.
    sigma = float(rng.uniform(0.5, 4.0)) * ss
    soft = cv2.GaussianBlur(body_mask, (0, 0), sigma)
    edge_sel = _value_noise(rng, (H, W), octaves=2) > 0.5
    alpha = np.where(edge_sel, soft, cv2.GaussianBlur(body_mask, (0, 0), 0.6 * ss))

    # Hair-like strands: random walks leaving the boundary, thin anti-aliased lines.
    strands = np.zeros((H, W), np.uint8)
    contours, _ = cv2.findContours((body_mask > 0.5).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    boundary = np.concatenate([c[:, 0, :] for c in contours]) if contours else np.array([[W // 2, H // 2]])
    n_strands = int(rng.integers(40, 160))
    for _ in range(n_strands):
        x, y = boundary[int(rng.integers(len(boundary)))].astype(np.float64)
        dx, dy = x - cx, y - cy
        angle = np.arctan2(dy, dx) + rng.normal(0, 0.5)
        length = int(rng.integers(10, 60)) * ss
        pts = [(x, y)]
        for _ in range(length // (2 * ss)):
            angle += rng.normal(0, 0.15)
            x += np.cos(angle) * 2 * ss
            y += np.sin(angle) * 2 * ss
            pts.append((x, y))
        opacity = int(rng.integers(120, 256))
        cv2.polylines(strands, [np.round(np.array(pts) * 16).astype(np.int32)], False, opacity,
                      thickness=1, lineType=cv2.LINE_AA, shift=4)
    alpha = np.maximum(alpha, strands.astype(np.float32) / 255.0)

    # Semi-transparent veil on some items.
    if rng.random() < 0.5:
        veil = np.zeros((H, W), np.uint8)
        centre = (int(cx + rng.normal(0, W * 0.1)), int(cy - H * rng.uniform(0.1, 0.3)))
        cv2.ellipse(veil, centre, (int(W * rng.uniform(0.15, 0.3)), int(H * rng.uniform(0.08, 0.2))),
                    float(rng.uniform(0, 180)), 0, 360, 255, -1)
        veil_a = cv2.GaussianBlur(veil.astype(np.float32) / 255.0, (0, 0), 3.0 * ss) * float(rng.uniform(0.25, 0.7))
        alpha = alpha + veil_a * (1.0 - alpha)

    alpha = cv2.resize(np.clip(alpha, 0, 1), (w, h), interpolation=cv2.INTER_AREA)
    alpha = np.clip(alpha, 0.0, 1.0).astype(np.float32)
    alpha[alpha < 1.0 / 512] = 0.0
    alpha[alpha > 1.0 - 1.0 / 512] = 1.0

    body_colour = _colour_field(rng, (h, w))
    hair_colour = rng.uniform(0, 255, 3).astype(np.float32)
    strand_share = cv2.resize(strands, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    strand_share = np.clip(strand_share * 2.0, 0, 1)[..., None]
    fg = body_colour * (1 - strand_share) + hair_colour * strand_share
    return np.clip(np.rint(fg), 0, 255).astype(np.uint8), alpha


def procedural_background(seed: int, index: int, size: tuple[int, int]) -> np.ndarray:
    """Synthetic textured background, uint8 (H, W, 3) RGB: gradients, noise, stripes, blobs."""
    h, w = size
    rng = procedural_rng(seed, index, "bg")
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(theta) * xx / w + np.sin(theta) * yy / h)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    img = c0 * (1 - ramp[..., None]) + c1 * ramp[..., None]
    style = int(rng.integers(3))
    if style == 0:  # cloudy texture
        img += (_value_noise(rng, (h, w), 5)[..., None] - 0.5) * rng.uniform(40, 120)
    elif style == 1:  # stripes
        period = rng.uniform(8, 60)
        phi = rng.uniform(0, np.pi)
        stripes = np.sin((np.cos(phi) * xx + np.sin(phi) * yy) * 2 * np.pi / period)
        img += stripes[..., None] * rng.uniform(10, 50)
    else:  # blobs (out-of-focus objects)
        blobs = np.zeros((h, w, 3), np.float32)
        for _ in range(int(rng.integers(5, 25))):
            cv2.circle(blobs, (int(rng.integers(w)), int(rng.integers(h))), int(rng.integers(5, max(6, w // 6))),
                       rng.uniform(-80, 80, 3).tolist(), -1)
        img += cv2.GaussianBlur(blobs, (0, 0), rng.uniform(1, 6))
    img += rng.normal(0, rng.uniform(0.5, 4.0), img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)
