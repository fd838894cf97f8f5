"""Per-sample measurements: a pure function of one sample's member bytes.

:func:`measure_sample` decodes only what the statistics need, once each:

- the composite once, at analysis resolution (reduced by 1, 2, 4 or 8 so its long
  side stays >= :data:`ANALYSIS_SIDE`; JPEGs via DCT scaling), for colour statistics,
  the perceptual hash and the realism measures (on a window straddling the boundary);
- the alpha PNG at its native depth (8 or 16 bit) for exact coverage, unknown share
  and the transparency histogram;
- the trimap PNG only when asked (``check_trimap``: its unknown share and its
  consistency with the alpha) or for a contact-sheet thumbnail.

``fg.*`` and ``bg.*`` are never decoded: foreground and background colour statistics
are measured on the composite where ``alpha >= 0.95`` and ``alpha <= 0.05``, which is
what a model sees.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import cv2
import numpy as np

from augment.bands import BG_THRESHOLD, FG_THRESHOLD
from augment.mismatch import realism_mismatch
from shards.codec import decode_alpha_stored, decode_rgb, decode_trimap, jpeg_size, sniff_format

from .guidance import measure_guidance
from .instances import measure_instances
from .temporal import clip_still_view, is_clip, measure_clip_members

#: The realism measures' implementation, named in the stats report.
REALISM_IMPL = "augment.mismatch.realism_mismatch"

__all__ = [
    "SampleMeasures",
    "measure_sample",
    "phash64",
    "ANALYSIS_SIDE",
    "REALISM_IMPL",
    "realism_measures",
]

#: The composite is analysed reduced by r in (1, 2, 4, 8), the largest keeping its long side
#: >= ANALYSIS_SIDE (a 512 canvas at 256, 1024 at 256, 800 at 400): JPEG DCT scaling decodes
#: it directly at that size, and datasets of different canvas sizes are measured alike.
ANALYSIS_SIDE = 256


@dataclass
class SampleMeasures:
    """What :func:`measure_sample` found in one sample.

    ``error`` is set (and the pixel fields are empty) when the sample is unusable.
    ``scalars`` maps dotted names (``"alpha.coverage"``, ``"realism.noise_log_ratio"``) to
    floats (``nan`` when not measurable). ``alpha_hist`` is ``int64 (256,)``: pixel counts
    of the alpha quantised to 8 bits. ``phash`` is a 64-bit DCT perceptual hash of the
    composite. ``thumbs`` (when asked for) holds small encoded PNG/JPEG images for a
    contact sheet. ``per_instance`` maps names (``"instances.occlusion"``) to one float per
    instance (:mod:`synth.stats.instances`; empty without instance members).
    """

    meta: dict[str, Any] | None = None
    error: str | None = None
    hw: tuple[int, int] | None = None
    image_member: str | None = None
    alpha_bits: int | None = None
    member_bytes: dict[str, int] = field(default_factory=dict)
    alpha_hist: np.ndarray | None = None
    scalars: dict[str, float] = field(default_factory=dict)
    trimap_inconsistent: int = 0
    has_trimap: bool = False
    trimap_checked: bool = False
    phash: int | None = None
    thumbs: dict[str, bytes] | None = None
    per_instance: dict[str, list[float]] = field(default_factory=dict)


# ------------------------------------------------------------------ perceptual hash
def phash64(grey: np.ndarray) -> int:
    """64-bit DCT perceptual hash of a grey image ``(H, W)`` (uint8 or float).

    The image is shrunk to 32x32 (``INTER_AREA``), transformed with a 2-D DCT, and the
    8x8 lowest frequencies are thresholded at their median (DC excluded from the
    median). Bit ``8*r + c`` is coefficient ``(r, c)``. Near-identical images differ in
    few bits; compare with a Hamming distance.
    """
    g = np.asarray(grey)
    if g.ndim != 2 or g.size == 0:
        raise ValueError(f"phash64: expected a non-empty grey image (H, W), got shape {g.shape}")
    small = cv2.resize(g.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA)
    low = cv2.dct(small)[:8, :8].ravel()
    bits = low > np.median(low[1:])
    return int(np.packbits(bits, bitorder="little").view("<u8")[0])


# ------------------------------------------------------------------ realism
def realism_measures(image: np.ndarray, alpha: np.ndarray) -> dict[str, float]:
    """F/B mismatch measures near the alpha boundary (noise, sharpness, colour).

    ``image: uint8 (H, W, 3)`` RGB, ``alpha: float32 (H, W)`` in ``[0, 1]``; the keys of
    :data:`augment.mismatch.MISMATCH_KEYS` (:func:`augment.mismatch.realism_mismatch`).
    """
    return dict(realism_mismatch(image, alpha))


def _boundary_window(fg: np.ndarray, bg: np.ndarray, step: int, hw: tuple[int, int],
                     win: int) -> tuple[slice, slice]:
    """The ``win x win`` window (clipped to the image ``hw``) that best straddles the alpha boundary.

    ``fg``/``bg``: ``uint8`` masks (0/255) of ``alpha >= 0.95`` / ``alpha <= 0.05`` at ``1/step``
    of the image's size. The window maximises ``min(share of fg, share of bg)`` inside it
    (first maximum).
    """
    h, w = hw
    if h <= win and w <= win:
        return slice(0, h), slice(0, w)
    k = max(1, win // step)
    score = np.minimum(cv2.blur(fg, (k, k), borderType=cv2.BORDER_CONSTANT),
                       cv2.blur(bg, (k, k), borderType=cv2.BORDER_CONSTANT))
    cy, cx = np.unravel_index(int(np.argmax(score)), score.shape)
    y = min(max(int(round((cy + 0.5) * step)) - win // 2, 0), max(h - win, 0))
    x = min(max(int(round((cx + 0.5) * step)) - win // 2, 0), max(w - win, 0))
    return slice(y, y + min(win, h)), slice(x, x + min(win, w))


# ------------------------------------------------------------------ decoding helpers
# trimap class: 0 (value 0), 1 (128), 2 (255), 3 (any other value: invalid)
_TRIMAP_CLASS_LUT = np.full(256, 3, np.uint8)
_TRIMAP_CLASS_LUT[[0, 128, 255]] = [0, 1, 2]


def _mean_std(img: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    if cv2.countNonZero(mask) == 0:
        return None
    m, s = cv2.meanStdDev(img, mask=mask)
    return m.ravel(), s.ravel()


def _thumb(arr: np.ndarray, height: int, nearest: bool, jpeg: bool) -> bytes:
    h, w = arr.shape[:2]
    if h > height:
        size = (max(1, int(round(w * height / h))), height)
        arr = cv2.resize(arr, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    if jpeg:
        ok, buf = cv2.imencode(".jpg", arr, [cv2.IMWRITE_JPEG_QUALITY, 88])
    else:
        ok, buf = cv2.imencode(".png", arr)
    if not ok:  # pragma: no cover
        raise ValueError("thumbnail encoding failed")
    return buf.tobytes()


# ------------------------------------------------------------------ the measurement
def measure_sample(
    members: Mapping[str, bytes],
    *,
    window: int = 96,
    check_trimap: bool = False,
    thumb_height: int | None = None,
) -> SampleMeasures:
    """Measure one sample from its member bytes (``{"image.jpg": b"...", ...}``).

    Needs ``meta.json``, ``image.jpg|png`` and ``alpha.png``; a clip (``clip.json``, video) is
    measured on its middle frame's members, plus its ``temporal.*`` indicators over all frames
    (:mod:`synth.stats.temporal`). ``window``: side (analysis
    pixels) of the boundary window on which the realism measures are taken.
    ``check_trimap``: also decode ``trimap.png`` (when present) for its unknown share and
    its consistency with the alpha (slower; the band width is always read
    from ``meta.json``). ``thumb_height``: when set, small thumbnails of the composite
    (JPEG), alpha and trimap (PNG) are returned for a contact sheet. Never raises for bad
    data: the reason is returned in ``error``.
    """
    out = SampleMeasures(member_bytes={k: len(v) for k, v in members.items()})
    try:
        temporal: dict[str, float] = {}
        if is_clip(members):  # a clip: its temporal indicators, the rest on its middle frame
            temporal = measure_clip_members(members, ANALYSIS_SIDE)
            members = clip_still_view(members)
        _measure(members, out, window, check_trimap, thumb_height)
        out.scalars.update(temporal)
    except (ValueError, cv2.error, json.JSONDecodeError, UnicodeDecodeError) as e:
        out.error = str(e)
        out.alpha_hist = None
        out.scalars = {}
        out.phash = None
        out.thumbs = None
        out.per_instance = {}
    return out


def _analysis_factor(hw: tuple[int, int]) -> int:
    """Largest r in (1, 2, 4, 8) with ``max(hw) / r >= ANALYSIS_SIDE``."""
    r = 1
    while r < 8 and max(hw) / (2 * r) >= ANALYSIS_SIDE:
        r *= 2
    return r


def _decode_analysis_image(data: bytes, name: str, hw: tuple[int, int], r: int) -> np.ndarray:
    """The composite reduced by ``r`` (JPEG: DCT scaling, PNG: INTER_AREA), ``uint8 (h, w, 3)`` RGB."""
    fmt = sniff_format(data)
    if fmt == "jpg" and r > 1:
        flag = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}[r]
        try:
            h, w = jpeg_size(data)
        except ValueError as e:
            raise ValueError(f"{name}: cannot read the JPEG header ({e})") from None
        if (h, w) != hw:
            raise ValueError(f"{name} is {w}x{h} but alpha.png is {hw[1]}x{hw[0]}")
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
        if bgr is None:
            raise ValueError(f"{name}: cannot decode {len(data)} bytes")
        want = (-(-hw[0] // r), -(-hw[1] // r))
        if bgr.shape[:2] != want:
            raise ValueError(f"{name} does not match alpha.png's size {hw[1]}x{hw[0]}")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    img = decode_rgb(data)
    if img.shape[:2] != hw:
        raise ValueError(f"{name} is {img.shape[1]}x{img.shape[0]} but alpha.png is {hw[1]}x{hw[0]}")
    if r > 1:
        img = cv2.resize(img, (-(-hw[1] // r), -(-hw[0] // r)), interpolation=cv2.INTER_AREA)
    return img


def _measure(members: Mapping[str, bytes], out: SampleMeasures, window: int, check_trimap: bool,
             thumb_height: int | None) -> None:
    raw_meta = members.get("meta.json")
    if raw_meta is None:
        raise ValueError("missing member meta.json")
    meta = json.loads(bytes(raw_meta).decode("utf-8"))
    if not isinstance(meta, dict):
        raise ValueError(f"meta.json must hold a JSON object, got {type(meta).__name__}")
    out.meta = meta

    image_names = sorted(n for n in members if n.startswith("image."))
    if not image_names:
        raise ValueError("missing member image.jpg/image.png")
    out.image_member = image_names[0]
    if "alpha.png" not in members:
        raise ValueError("missing member alpha.png")
    alpha = decode_alpha_stored(members["alpha.png"], "alpha.png")
    hw = (int(alpha.shape[0]), int(alpha.shape[1]))
    r = _analysis_factor(hw)
    img_a = _decode_analysis_image(members[out.image_member], out.image_member, hw, r)
    out.hw = hw
    npx = float(hw[0] * hw[1])
    maxv = 255 if alpha.dtype == np.uint8 else 65535
    out.alpha_bits = 8 if maxv == 255 else 16

    # alpha (exact, native size and depth) and its joint histogram with the trimap classes
    sc = out.scalars
    a8 = alpha if maxv == 255 else ((alpha.astype(np.uint32) + 128) // 257).astype(np.uint8)
    trimap = None
    out.has_trimap = "trimap.png" in members
    if out.has_trimap and (check_trimap or thumb_height):
        trimap = decode_trimap(members["trimap.png"], "trimap.png", check=False)
        if trimap.shape != hw:
            raise ValueError(f"trimap.png is {trimap.shape[1]}x{trimap.shape[0]} but alpha.png is {hw[1]}x{hw[0]}")
    if trimap is not None and check_trimap:
        t_class = cv2.LUT(trimap, _TRIMAP_CLASS_LUT)
        # joint[a, t]: pixels with 8-bit alpha a and trimap class t (0: 0, 1: 128, 2: 255, 3: invalid)
        joint = cv2.calcHist([a8, t_class], [0, 1], None, [256, 4], [0, 256, 0, 4]).astype(np.int64)
        if joint[:, 3].any():
            bad_values = np.setdiff1d(np.unique(trimap), [0, 128, 255])[:8].tolist()
            raise ValueError(f"trimap.png: values must be in {{0, 128, 255}}, found {bad_values}")
        hist = joint.sum(axis=1)
        sc["trimap.unknown_share"] = float(joint[:, 1].sum()) / npx
        # inconsistent: trimap 0 where alpha > 0, or trimap 255 where alpha < 1 (this includes
        # every unknown alpha pixel outside the 128 band)
        if maxv == 255:
            out.trimap_inconsistent = int(joint[1:, 0].sum() + joint[:255, 2].sum())
        else:  # classes from the native 16-bit alpha, not its 8-bit rounding
            a_class = cv2.add(cv2.inRange(alpha, 1, maxv - 1) // 255, (cv2.inRange(alpha, maxv, maxv) // 255) * 2)
            j3 = cv2.calcHist([a_class, t_class], [0, 1], None, [3, 4], [0, 3, 0, 4]).astype(np.int64)
            out.trimap_inconsistent = int(j3[1:, 0].sum() + j3[:2, 2].sum())
        out.trimap_checked = True
    else:
        hist = cv2.calcHist([a8], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    out.alpha_hist = hist
    if maxv == 255:
        sc["alpha.coverage"] = float(hist @ np.arange(256)) / (255.0 * npx)
        sc["alpha.unknown_share"] = float(npx - hist[0] - hist[255]) / npx
    else:
        sc["alpha.coverage"] = cv2.mean(alpha)[0] / maxv
        sc["alpha.unknown_share"] = cv2.countNonZero(cv2.inRange(alpha, 1, maxv - 1)) / npx

    inst = measure_instances(members, alpha)
    if inst is not None:
        sc.update(inst[0])
        out.per_instance = inst[1]
    if isinstance(meta.get("index"), int):
        sc.update(measure_guidance(members, alpha, meta["index"]))

    # analysis resolution: perceptual hash and realism window; colour statistics at half that
    ah, aw = img_a.shape[:2]
    alpha_a = alpha if r == 1 else cv2.resize(alpha, (aw, ah), interpolation=cv2.INTER_AREA)
    grey_a = cv2.cvtColor(img_a, cv2.COLOR_RGB2GRAY)
    out.phash = phash64(grey_a)
    csize = (max(1, aw // 2), max(1, ah // 2))
    img_c = cv2.resize(img_a, csize, interpolation=cv2.INTER_AREA)
    alpha_c = cv2.resize(alpha_a, csize, interpolation=cv2.INTER_AREA)
    fg_c = cv2.inRange(alpha_c, math.ceil(FG_THRESHOLD * maxv), maxv)
    bg_c = cv2.inRange(alpha_c, 0, math.floor(BG_THRESHOLD * maxv))
    grey_c = cv2.cvtColor(img_c, cv2.COLOR_RGB2GRAY)
    sat_c = cv2.cvtColor(img_c, cv2.COLOR_RGB2HSV)[..., 1]
    stack = cv2.merge([img_c, grey_c])
    nan = float("nan")
    for name, mask in (("fg", fg_c), ("bg", bg_c)):
        ms = _mean_std(stack, mask)
        for c, ch in enumerate(("r", "g", "b")):
            sc[f"colour.{name}_{ch}"] = float(ms[0][c]) if ms else nan
        sc[f"colour.{name}_luma"] = float(ms[0][3]) if ms else nan
        sc[f"colour.{name}_luma_std"] = float(ms[1][3]) if ms else nan
        sc[f"colour.{name}_saturation"] = cv2.mean(sat_c, mask)[0] / 255.0 if ms else nan
    sc["colour.luma_diff"] = sc["colour.fg_luma"] - sc["colour.bg_luma"]

    ys, xs = _boundary_window(fg_c, bg_c, 2, (ah, aw), window)
    win_alpha = alpha_a[ys, xs].astype(np.float32) * np.float32(1.0 / maxv)
    for k, v in realism_measures(np.ascontiguousarray(img_a[ys, xs]), win_alpha).items():
        sc[f"realism.{k}"] = float(v)

    if thumb_height:
        out.thumbs = {
            "image": _thumb(img_a, thumb_height, nearest=False, jpeg=True),
            "alpha": _thumb(a8, thumb_height, nearest=False, jpeg=False),
        }
        if trimap is not None:
            out.thumbs["trimap"] = _thumb(trimap, thumb_height, nearest=True, jpeg=False)
