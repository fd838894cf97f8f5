"""What a build stores of a composite's layers and alpha, and the layers it composites from.

:func:`stored_layers` encodes F and B (``output.layers``, ``output.layer_format``) and returns
the layers as decoded, so that the stored members are exactly what the composite is made from;
:func:`alpha_outputs` makes the trimap and ``alpha.png`` from the alpha at its stored precision.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import cv2
import numpy as np

from augment.bands import subject_box
from augment.trimap import alpha_to_uint8, make_trimap
from shards.codec import decode_rgb, encode_alpha, encode_alpha_levels, encode_rgb
from shards.jpeg_window import decode_window

from .recipe.output import OutputSpec

__all__ = ["StoredLayers", "alpha_outputs", "layer_members", "stored_layers"]


class StoredLayers(NamedTuple):
    """The layers of a composite as the build stores them (:func:`stored_layers`)."""

    fg_bytes: bytes | None  # None: the recipe writes no layers (output.layers: false)
    bg_bytes: bytes | None
    fg: np.ndarray  # uint8 (H, W, 3): F as decoded from fg_bytes, at least in the box of alpha > 0 (else 0);
    bg: np.ndarray  # uint8 (H, W, 3): B as decoded from bg_bytes  (without layers: F and B themselves)
    alpha: np.ndarray  # float32 (H, W) at its stored precision (k / 255 for alpha_bits 8)
    levels: np.ndarray | None  # uint8 (H, W): those levels k (None for 16 bits), for alpha_outputs


def stored_layers(out: OutputSpec, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> StoredLayers:
    """The layers a composite is made from, and their bytes as the build stores them.

    With ``out.layers``, F and B are encoded first (``out.layer_format``; JPEGs with restart
    markers on their block grid, so the loader decodes only the part its crop needs) and the
    layers returned are the decoded ones, so that the stored F and B are exactly what the
    composite is made from (F decoded only where a composite reads it, the box of alpha > 0,
    and 0 where not decoded). Without, nothing is encoded and the layers are ``fg`` and ``bg``
    themselves. Alpha comes back at its stored precision either way.
    ``fg``, ``bg``: ``uint8 (H, W, 3)``; ``alpha``: ``float32 (H, W)`` in [0, 1]."""
    fg_bytes = bg_bytes = None
    if out.layers:
        fg_bytes = encode_rgb(fg, out.layer_format, out.jpeg_quality, restart_markers=True)
        bg_bytes = encode_rgb(bg, out.layer_format, out.jpeg_quality, restart_markers=True)
    levels = None
    if out.alpha_bits == 8:
        levels = alpha_to_uint8(alpha)  # rint(255 alpha), range-checked
        alpha = cv2.LUT(levels, _LEVELS_8)  # k / 255 in float32, as np.rint(alpha * 255) / 255 gives
    if fg_bytes is not None and bg_bytes is not None and out.layer_format == "jpg":
        fg, bg = _decoded_where_seen(fg_bytes, alpha if levels is None else levels), decode_rgb(bg_bytes)
    return StoredLayers(fg_bytes, bg_bytes, fg, bg, alpha, levels)


def layer_members(stored: StoredLayers, name: Callable[[str], str]) -> dict[str, bytes]:
    """The ``fg`` and ``bg`` members of ``stored``, named ``name("fg")`` and ``name("bg")``;
    none when the recipe writes no layers."""
    if stored.fg_bytes is None or stored.bg_bytes is None:
        return {}
    return {name("fg"): stored.fg_bytes, name("bg"): stored.bg_bytes}


def _decoded_where_seen(data: bytes, alpha: np.ndarray) -> np.ndarray:
    """F decoded from its JPEG ``data`` over the restart intervals that cover the box of
    ``alpha > 0`` (float32 or uint8 levels, ``(H, W)``; :func:`decode_window`, the same pixels
    as a whole decode), 0 elsewhere: a composite reads F nowhere else (where alpha is 0 it is
    B). ``uint8 (H, W, 3)``."""
    h, w = alpha.shape
    try:
        ys, xs = subject_box(alpha)
    except ValueError:  # no subject: a composite reads no F at all
        return np.zeros((h, w, 3), np.uint8)
    part = decode_window(data, ys.start, ys.stop, xs.start, xs.stop)
    if part is None:  # the box is the whole image, or the JPEG cannot be cut
        return decode_rgb(data)
    window, top, left = part
    fg = np.zeros((h, w, 3), np.uint8)
    fg[top:top + window.shape[0], left:left + window.shape[1]] = window
    return fg


#: float32(k) / 255 for the 8-bit alpha levels k.
_LEVELS_8 = np.arange(256, dtype=np.float32) / np.float32(255.0)


def alpha_outputs(alpha: np.ndarray, levels: np.ndarray | None, bits: int, band_px: int
                  ) -> tuple[np.ndarray, bytes]:
    """The trimap (uint8 (H, W), :func:`augment.trimap.make_trimap` with ``band_px``) and the
    ``alpha.png`` bytes of a stored alpha: from the 8-bit ``levels`` of :func:`stored_layers`
    when given (the same trimap and the bytes :func:`shards.codec.encode_alpha` makes of
    ``alpha``, without quantising it again), else from ``alpha`` (``bits`` 16)."""
    if levels is None:
        return make_trimap(alpha, band_px), encode_alpha(alpha, bits)
    return make_trimap(levels, band_px), encode_alpha_levels(levels)
