"""A simulated camera over a still background photo: smooth pan, zoom and roll, hand shake.

The camera maps each canvas pixel ``p`` to a point of the (resized) photo,
``src = C + R(roll) (p - p0) / zoom + pan + shake`` with ``p0`` the canvas centre and ``C``
the window's centre in the photo. Pan, log-zoom and roll are :class:`synth.video.motion.Path`
(drift plus slow sinusoids, bounded velocity and acceleration); the shake is two fast
sinusoids per axis (periods of 3-8 frames). All are zero at the clip's middle frame, so the
middle frame sees the window that a still build's cover crop would.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .motion import Path, sample_path

__all__ = ["CameraParams", "camera_extent", "camera_matrix", "sample_camera"]

_SHAKE_PERIODS = (3.0, 8.0)


@dataclass(frozen=True)
class CameraParams:
    """A clip's camera path (``still``: a tripod, the identity at every frame)."""

    still: bool = True
    pan_x: Path = Path()
    pan_y: Path = Path()
    log_zoom: Path = Path()
    roll: Path = Path()
    shake_x: Path = Path()
    shake_y: Path = Path()

    def to_dict(self) -> dict[str, Any]:
        names = ("pan_x", "pan_y", "log_zoom", "roll", "shake_x", "shake_y")
        return {"still": self.still, **({} if self.still else {k: getattr(self, k).to_dict() for k in names})}

    def state(self, t: float) -> tuple[float, float, float, float]:
        """(x shift, y shift in px, log-zoom, roll in degrees) at time ``t`` (frames)."""
        if self.still:
            return 0.0, 0.0, 0.0, 0.0
        return (self.pan_x.at(t) + self.shake_x.at(t), self.pan_y.at(t) + self.shake_y.at(t), self.log_zoom.at(t),
                self.roll.at(t))


def sample_camera(rng: np.random.Generator, *, frames: int, canvas: tuple[int, int], max_pan: float,
                  max_zoom_rate: float, max_roll: float, shake_px: float, still_p: float) -> CameraParams:
    """Draw a clip's camera. ``max_pan``: canvas (long side) fractions per frame;
    ``max_zoom_rate``: log-zoom per frame; ``max_roll``: degrees per frame; ``shake_px``: shake
    amplitude in px at a 1024-px long side. Accelerations follow from the slowest period."""
    u_still = float(rng.uniform())
    seeds = rng.integers(0, 2**63, size=6)
    if u_still < still_p or frames == 1:
        return CameraParams()
    long_side = max(canvas)
    origin = (frames - 1) / 2
    w_slow = 2 * math.pi / 64.0
    v = max_pan * long_side / math.sqrt(2)
    slow = [(v, v * w_slow * 4), (v, v * w_slow * 4), (max_zoom_rate, max_zoom_rate * w_slow * 4),
            (max_roll, max_roll * w_slow * 4)]
    drifts = rng.uniform(-1.0, 1.0, size=4) * np.array([b for b, _ in slow]) * 0.5
    paths = [sample_path(np.random.default_rng(int(s)), b, a, drift=float(d), origin=origin)
             for s, (b, a), d in zip(seeds[:4], slow, drifts)]
    amp = shake_px * long_side / 1024.0
    w = 2 * math.pi / _SHAKE_PERIODS[0]
    shakes = [sample_path(np.random.default_rng(int(s)), amp * w, amp * w * w, origin=origin, periods=_SHAKE_PERIODS)
              for s in seeds[4:]]
    return CameraParams(False, *paths, *shakes)


def camera_matrix(params: CameraParams, t: float, canvas: tuple[int, int], centre: tuple[float, float]
                  ) -> np.ndarray:
    """The 2x3 affine (float64) from canvas pixels to photo pixels at time ``t`` (for
    ``cv2.warpAffine`` with ``WARP_INVERSE_MAP``); ``centre``: the window's centre (x, y) in
    the photo."""
    sx, sy, log_zoom, roll = params.state(t)
    z = math.exp(-log_zoom)
    a = math.radians(roll)
    c, s = z * math.cos(a), z * math.sin(a)
    ch, cw = canvas
    p0x, p0y = cw / 2.0, ch / 2.0
    cx, cy = centre
    return np.array([[c, -s, cx + sx - c * p0x + s * p0y], [s, c, cy + sy - s * p0x - c * p0y]])


def camera_extent(params: CameraParams, frames: int, canvas: tuple[int, int], step: float = 0.125
                  ) -> tuple[float, float]:
    """The half-extent (x, y) in photo px, around the window's centre, that the camera sees
    over the whole clip (every exposure included): the photo must cover it."""
    ch, cw = canvas
    corners = np.array([[0, 0, 1], [cw, 0, 1], [0, ch, 1], [cw, ch, 1]], np.float64).T
    ex, ey = cw / 2.0, ch / 2.0
    if params.still:
        return ex, ey
    for t in np.arange(-0.5, frames - 0.5 + 1e-9, step):
        pts = camera_matrix(params, float(t), canvas, (0.0, 0.0)) @ corners
        ex, ey = max(ex, float(np.abs(pts[0]).max())), max(ey, float(np.abs(pts[1]).max()))
    # between two evaluations a corner moves at most half a step at its largest speed
    p = params
    radius = math.hypot(ex, ey)
    speed = (max(p.pan_x.speed_bound() + p.shake_x.speed_bound(), p.pan_y.speed_bound() + p.shake_y.speed_bound())
             + radius * (math.radians(p.roll.speed_bound()) + p.log_zoom.speed_bound()))
    return ex + speed * step / 2, ey + speed * step / 2
