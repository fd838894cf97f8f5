"""Smooth random motion of a still foreground over a clip, bounded in velocity and acceleration.

Each degree of freedom (x, y in canvas px; log-scale; in-plane rotation in degrees) follows a
:class:`Path`: a constant drift plus a few slow sinusoids, zero at its ``origin`` frame. Its
velocity is at most ``|drift| + sum(a w)`` and its acceleration at most ``sum(a w^2)``, and the
sampler scales the amplitudes so these stay within the recipe's bounds (x and y share the
bound so that the speed of the 2-D motion is bounded too). A path is a pure function of
time, so any frame, or any instant inside a frame's exposure, is evaluated alone.

Entering or leaving the frame: the drift points toward the nearest canvas side at the speed
that takes the subject's box out of the canvas over the clip (at most the bound), with the
origin at the last frame (entering: the subject reaches its placement at the end) or the first
(leaving).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["MotionParams", "Path", "Pose", "motion_pose", "pose_matrix", "sample_motion", "sample_path"]

_PERIODS = (8.0, 64.0)  # frames: the sinusoids' periods
_WAVES = 2


@dataclass(frozen=True)
class Path:
    """``p(t) = drift (t - origin) + sum_k amps_k (sin(freqs_k t + phases_k) - sin(freqs_k origin + phases_k))``;
    ``t`` in frames (fractional inside an exposure), ``freqs`` in radians per frame."""

    drift: float = 0.0
    origin: float = 0.0
    amps: tuple[float, ...] = ()
    freqs: tuple[float, ...] = ()
    phases: tuple[float, ...] = ()

    def at(self, t: float) -> float:
        """The value at time ``t`` (0 at ``origin``)."""
        v = self.drift * (t - self.origin)
        for a, w, p in zip(self.amps, self.freqs, self.phases):
            v += a * (math.sin(w * t + p) - math.sin(w * self.origin + p))
        return v

    def speed_bound(self) -> float:
        """An upper bound of ``|dp/dt|``."""
        return abs(self.drift) + sum(a * w for a, w in zip(self.amps, self.freqs))

    def accel_bound(self) -> float:
        """An upper bound of ``|d2p/dt2|``."""
        return sum(a * w * w for a, w in zip(self.amps, self.freqs))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def sample_path(rng: np.random.Generator, max_speed: float, max_accel: float, *, drift: float = 0.0,
                origin: float = 0.0, periods: tuple[float, float] = _PERIODS) -> Path:
    """A path with ``speed_bound() <= max_speed`` and ``accel_bound() <= max_accel``: the given
    ``drift`` (clipped to ``max_speed``) plus ``_WAVES`` sinusoids of random period in
    ``periods`` (frames), phase and share of what the drift leaves of the speed budget.
    Always draws the same numbers from ``rng``."""
    if max_speed < 0 or max_accel < 0:
        raise ValueError(f"max_speed and max_accel must be >= 0, got {max_speed}, {max_accel}")
    drift = float(np.clip(drift, -max_speed, max_speed))
    periods_k = rng.uniform(periods[0], periods[1], _WAVES)
    phases = rng.uniform(0.0, 2 * math.pi, _WAVES)
    weights = rng.uniform(0.2, 1.0, _WAVES)
    energy = float(rng.uniform(0.3, 1.0))
    freqs = 2 * math.pi / periods_k
    budget = max(0.0, max_speed - abs(drift)) * energy
    v, a = float(np.sum(weights * freqs)), float(np.sum(weights * freqs**2))
    c = min(budget / v, max_accel * energy / a) if v > 0 and a > 0 else 0.0
    amps = tuple(float(x) * c * (1 - 1e-9) for x in weights)  # strictly inside the bounds
    return Path(drift, float(origin), amps, tuple(float(f) for f in freqs), tuple(float(p) for p in phases))


@dataclass(frozen=True)
class Pose:
    """A subject's displacement from its placement: ``dx``, ``dy`` (canvas px), ``log_scale``,
    ``angle`` (degrees, counter-clockwise), about the subject's centre."""

    dx: float = 0.0
    dy: float = 0.0
    log_scale: float = 0.0
    angle: float = 0.0

    def is_identity(self) -> bool:
        return self.dx == 0.0 and self.dy == 0.0 and self.log_scale == 0.0 and self.angle == 0.0

    def to_list(self) -> list[float]:
        return [round(self.dx, 4), round(self.dy, 4), round(self.log_scale, 6), round(self.angle, 4)]


@dataclass(frozen=True)
class MotionParams:
    """The paths of a clip's foreground (``kind``: ``still``, ``wander``, ``enter``, ``leave``)."""

    kind: str
    x: Path = Path()
    y: Path = Path()
    log_scale: Path = Path()
    angle: Path = Path()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **{k: getattr(self, k).to_dict() for k in ("x", "y", "log_scale", "angle")}}


def _outward(box: tuple[int, int, int, int], canvas: tuple[int, int]) -> tuple[float, float, float]:
    """Unit vector (ux, uy) toward the canvas side nearest the box's centre, and the distance
    in px that takes the box (y0, x0, y1, x1) wholly out of the canvas that way."""
    y0, x0, y1, x1 = box
    ch, cw = canvas
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    sides = [(cx, (-1.0, 0.0), x1), (cw - cx, (1.0, 0.0), cw - x0), (cy, (0.0, -1.0), y1), (ch - cy, (0.0, 1.0), ch - y0)]
    _, (ux, uy), dist = min(sides, key=lambda s: s[0])
    return ux, uy, float(max(dist, 0))


def sample_motion(rng: np.random.Generator, *, frames: int, canvas: tuple[int, int], box: tuple[int, int, int, int],
                  max_speed: float, max_accel: float, max_scale_rate: float, max_rotation_speed: float,
                  enter_exit_p: float, still_p: float, amount: float = 1.0) -> MotionParams:
    """Draw a clip's foreground motion. ``canvas``: (H, W); ``box``: the placed subject's
    (y0, x0, y1, x1) on it; speeds and accelerations per frame, translation in fractions of the
    canvas's long side, scale as log-scale, rotation in degrees (acceleration bounds of scale
    and rotation follow from the fastest period); ``amount`` scales every bound (0: still)."""
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    u_still, u_enter, u_dir = rng.uniform(size=3)
    long_side = max(canvas)
    # x and y share the bound, so the 2-D speed and acceleration stay within it
    v = max_speed * long_side * amount / math.sqrt(2)
    acc = max_accel * long_side * amount / math.sqrt(2)
    w_max = 2 * math.pi / _PERIODS[0]
    seeds = rng.integers(0, 2**63, size=4)
    if u_still < still_p or amount == 0 or frames == 1:
        return MotionParams("still")
    kind, dx, dy, origin = "wander", 0.0, 0.0, (frames - 1) / 2
    if u_enter < enter_exit_p:
        ux, uy, dist = _outward(box, canvas)
        speed = min(v, dist / max(frames - 1, 1))
        kind = "enter" if u_dir < 0.5 else "leave"
        sign = -1.0 if kind == "enter" else 1.0
        dx, dy = sign * ux * speed, sign * uy * speed
        origin = float(frames - 1) if kind == "enter" else 0.0
    paths = [sample_path(np.random.default_rng(int(s)), bound, accel, drift=d, origin=origin)
             for s, bound, accel, d in zip(seeds, (v, v, max_scale_rate * amount, max_rotation_speed * amount),
                                           (acc, acc, max_scale_rate * amount * w_max,
                                            max_rotation_speed * amount * w_max), (dx, dy, 0.0, 0.0))]
    return MotionParams(kind, *paths)


def motion_pose(params: MotionParams, t: float) -> Pose:
    """The foreground's pose at time ``t`` (frames; fractional inside an exposure)."""
    if params.kind == "still":
        return Pose()
    return Pose(params.x.at(t), params.y.at(t), params.log_scale.at(t), params.angle.at(t))


def pose_matrix(pose: Pose, centre: tuple[float, float], offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """The 2x3 affine (float64) that maps a layer placed with its top-left at ``offset`` (x, y)
    on the canvas to its pose: rotated and scaled about ``centre`` (x, y, canvas px), then moved
    by (dx, dy)."""
    s = math.exp(pose.log_scale)
    a = math.radians(pose.angle)
    c, si = s * math.cos(a), s * math.sin(a)
    cx, cy = centre
    m = np.array([[c, si, 0.0], [-si, c, 0.0]])
    ox, oy = offset
    # p' = R S (p + offset - centre) + centre + d
    m[0, 2] = c * (ox - cx) + si * (oy - cy) + cx + pose.dx
    m[1, 2] = -si * (ox - cx) + c * (oy - cy) + cy + pose.dy
    return m
