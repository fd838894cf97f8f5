"""Member codecs for shards: bytes in, bytes out.

Every member of a sample is encoded and decoded here, never with
webdataset's own encoders/decoders (they convert to RGB/L, lose 16-bit data
and assert on RGBA arrays). Array conventions follow CONVENTIONS.md:

- RGB images: ``uint8 (H, W, 3)`` RGB (BGR only inside this module, at the
  OpenCV boundary);
- alpha: ``float32 (H, W)`` in ``[0, 1]``, stored as an 8- or 16-bit grey PNG;
- trimaps: ``uint8 (H, W)`` with values exactly ``{0, 128, 255}``, stored as
  an 8-bit grey PNG.

Encoding is deterministic: the same array and parameters give the same bytes
(fixed PNG compression level, no timestamps or metadata chunks). Decoding
undecodable bytes raises ``ValueError``.
"""
from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
import simplejpeg

from .jpeg_window import restart_interval
from .png_fast import GREY, RGB, decode_png_fast

__all__ = [
    "encode_rgb",
    "decode_rgb",
    "decode_jpeg_reduced",
    "jpeg_size",
    "encode_alpha",
    "encode_alpha_levels",
    "decode_alpha",
    "decode_alpha_stored",
    "alpha_unit",
    "encode_trimap",
    "decode_trimap",
    "sniff_format",
    "TRIMAP_VALUES",
]

#: zlib level of every PNG written here (fixed, so bytes are reproducible).
PNG_LEVEL = 3
TRIMAP_VALUES = (0, 128, 255)

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def sniff_format(data: bytes) -> str | None:
    """``"jpg"``, ``"png"`` or ``None`` from the first bytes of ``data``."""
    head = bytes(data[:8])
    if head.startswith(_JPEG_MAGIC):
        return "jpg"
    if head.startswith(_PNG_MAGIC):
        return "png"
    return None


def _as_buffer(data: bytes, what: str) -> np.ndarray:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"{what}: expected bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError(f"{what}: empty data")
    return np.frombuffer(data, dtype=np.uint8)


#: OpenCV PNG settings by row filtering. ``adaptive``: libpng's per-row choice (OpenCV's default);
#: ``none``: no filter search, run-length zlib (~4x faster to write, about as small on mattes);
#: ``up``: every row "Up" at zlib level 6, written once and read often (as small as ``adaptive``
#: at level 3). :mod:`shards.png_fast` decodes ``none`` and ``up`` without libpng.
_PNG_PARAMS = {
    "adaptive": [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL],
    "none": [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE,
             cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE],
    "up": [cv2.IMWRITE_PNG_COMPRESSION, 6, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP],
}


def _png(arr: np.ndarray, what: str, filters: Literal["adaptive", "none", "up"] = "adaptive") -> bytes:
    params = _PNG_PARAMS[filters]
    ok, buf = cv2.imencode(".png", arr, params)
    if not ok:  # pragma: no cover - OpenCV failure
        raise ValueError(f"{what}: PNG encoding failed for array {arr.shape} {arr.dtype}")
    return buf.tobytes()


# --------------------------------------------------------------------- RGB
def encode_rgb(
    img: np.ndarray,
    fmt: Literal["jpg", "png"],
    quality: int = 95,
    *,
    subsampling: Literal["444", "420"] = "444",
    restart_markers: bool = False,
    fast_png: bool = False,
) -> bytes:
    """Encode ``img: uint8 (H, W, 3)`` RGB as JPEG (``quality`` 1–100) or PNG.

    JPEG uses 4:4:4 chroma by default (matting cares about colour at hair
    edges); ``subsampling="420"`` halves the chroma for smaller, faster files.
    ``restart_markers=True`` (JPEG) puts a restart marker after every strip of
    :func:`shards.jpeg_window.restart_interval` MCUs (64 px where the width allows, else
    every MCU row; slightly larger files), so that :func:`shards.jpeg_window.decode_window`
    can decode a window without the rest; any JPEG decoder reads it as usual.
    ``fast_png=True`` (PNG) filters every row "Up" instead of libpng's per-row choice: about
    as small, slower to write, and :func:`decode_rgb` reads it about 2.9x faster
    (:mod:`shards.png_fast`, ``benchmarks/bench_png.py``); for files written once and read many times (the preparation cache).
    """
    img = np.asarray(img)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"encode_rgb: expected uint8 (H, W, 3), got {img.dtype} {img.shape}")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"encode_rgb: empty image {img.shape}")
    if fmt in ("jpg", "jpeg"):
        if not 1 <= int(quality) <= 100:
            raise ValueError(f"encode_rgb: quality must be in [1, 100], got {quality}")
        if subsampling not in ("444", "420"):
            raise ValueError(f"encode_rgb: subsampling must be '444' or '420', got {subsampling!r}")
        img = np.ascontiguousarray(img)
        if restart_markers:
            return _encode_jpeg_restart_markers(img, int(quality), subsampling)
        return bytes(simplejpeg.encode_jpeg(img, int(quality), "RGB", subsampling))
    if fmt == "png":
        return _png(_bgr(img), "encode_rgb", "up" if fast_png else "adaptive")
    raise ValueError(f"encode_rgb: fmt must be 'jpg' or 'png', got {fmt!r}")


def _bgr(img: np.ndarray) -> np.ndarray:
    """RGB -> BGR copy for OpenCV's encoders (a native channel swap: several times faster
    than copying the reversed-channel view, same bytes)."""
    return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2BGR)


def _encode_jpeg_restart_markers(img: np.ndarray, quality: int, subsampling: str) -> bytes:
    """JPEG with restart intervals aligned to the MCU rows (OpenCV's encoder exposes the interval)."""
    mcu = 8 if subsampling == "444" else 16
    factor = cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444 if subsampling == "444" else cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420
    ok, buf = cv2.imencode(".jpg", _bgr(img), [
        cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, factor,
        cv2.IMWRITE_JPEG_RST_INTERVAL, restart_interval(-(-img.shape[1] // mcu)),
    ])
    if not ok:  # pragma: no cover - OpenCV failure
        raise ValueError("encode_rgb: JPEG encoding failed")
    return buf.tobytes()


def decode_rgb(data: bytes) -> np.ndarray:
    """Decode JPEG or PNG bytes to ``uint8 (H, W, 3)`` RGB.

    Grey images are broadcast to three channels, an alpha channel is dropped,
    16-bit PNGs are reduced to 8 bits. JPEG goes through simplejpeg, with OpenCV
    as the fallback for what it cannot read.
    """
    buf = _as_buffer(data, "decode_rgb")
    fmt = sniff_format(data)
    if fmt == "png":
        img = decode_png_fast(data, RGB)  # e.g. the preparation cache's F, without libpng
        if img is not None:
            return img
    if fmt == "jpg":
        try:
            h, w = jpeg_size(data)
            img = simplejpeg.decode_jpeg(data, colorspace="RGB")
            if img.shape == (h, w, 3):
                return img
        except (ValueError, RuntimeError):
            pass  # fall through to OpenCV, which reports a clear failure
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"decode_rgb: cannot decode {len(data)} bytes (format {fmt or 'unknown'})")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def jpeg_size(data: bytes) -> tuple[int, int]:
    """``(height, width)`` from a JPEG's header (``ValueError`` or ``RuntimeError`` if unreadable)."""
    h, w, _, _ = simplejpeg.decode_jpeg_header(data)
    return int(h), int(w)


def decode_jpeg_reduced(data: bytes, hw: tuple[int, int], reduce: int) -> np.ndarray:
    """Decode a JPEG of stored size ``hw`` at 1/``reduce`` of it (``reduce`` in 1, 2, 4, 8;
    DCT scaling): ``uint8 (ceil(h / r), ceil(w / r), 3)`` RGB, pixel j covering stored
    pixels ``[j r, j r + r)``. The caller checks the shape (a decoder without that factor
    returns another size); ``ValueError`` / ``RuntimeError`` for undecodable data."""
    eh, ew = -(-hw[0] // reduce), -(-hw[1] // reduce)
    return simplejpeg.decode_jpeg(data, colorspace="RGB", min_height=eh, min_width=ew, min_factor=reduce)


# ------------------------------------------------------------------- alpha
def encode_alpha(alpha: np.ndarray, bits: int = 8) -> bytes:
    """Encode ``alpha: float (H, W)`` in ``[0, 1]`` as an 8- or 16-bit grey PNG (no per-row
    filter search, run-length zlib: several times faster than the default, about as small
    on mattes).

    Values are rounded with ``np.rint(alpha * (2**bits - 1))``.
    """
    alpha = np.asarray(alpha)
    if bits not in (8, 16):
        raise ValueError(f"encode_alpha: bits must be 8 or 16, got {bits}")
    if not np.issubdtype(alpha.dtype, np.floating) or alpha.ndim != 2:
        raise ValueError(f"encode_alpha: expected float (H, W), got {alpha.dtype} {alpha.shape}")
    if alpha.size == 0:
        raise ValueError(f"encode_alpha: empty alpha {alpha.shape}")
    lo, hi = float(np.min(alpha)), float(np.max(alpha))
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0.0 or hi > 1.0:
        raise ValueError(f"encode_alpha: values must be finite in [0, 1], got range [{lo}, {hi}]")
    scale = 255.0 if bits == 8 else 65535.0
    q = np.rint(alpha.astype(np.float64) * scale).astype(np.uint8 if bits == 8 else np.uint16)
    return _png(q, "encode_alpha", "none")


def encode_alpha_levels(levels: np.ndarray) -> bytes:
    """Encode integer alpha levels, ``uint8`` or ``uint16 (H, W)``, as an 8- or 16-bit grey PNG
    without the per-row filter search (fast): it decodes to exactly the values
    :func:`encode_alpha` of ``levels / (2**bits - 1)`` would give."""
    levels = np.asarray(levels)
    if levels.dtype not in (np.uint8, np.uint16) or levels.ndim != 2 or levels.size == 0:
        raise ValueError(f"encode_alpha_levels: expected uint8 or uint16 (H, W), got {levels.dtype} {levels.shape}")
    return _png(np.ascontiguousarray(levels), "encode_alpha_levels", "none")


def _decode_grey(data: bytes, name: str) -> np.ndarray:
    """An image at its stored depth and channels (``IMREAD_UNCHANGED``): the build's own grey
    PNGs (no row filters) through :mod:`shards.png_fast`, anything else through OpenCV;
    ``ValueError`` starting with ``name`` when it cannot be decoded. The callers check shape,
    depth and values, whichever path decoded it."""
    buf = _as_buffer(data, name)
    arr = decode_png_fast(data, GREY)
    if arr is not None:
        return arr
    try:
        arr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error as e:  # e.g. a header declaring more pixels than OpenCV's limit
        raise ValueError(f"{name}: cannot decode {len(data)} bytes: {str(e).strip().splitlines()[-1]}") from e
    if arr is None:
        raise ValueError(f"{name}: cannot decode {len(data)} bytes")
    return arr


def decode_alpha_stored(data: bytes, name: str = "decode_alpha") -> np.ndarray:
    """Decode an 8- or 16-bit grey PNG at its stored depth: ``uint8`` or ``uint16 (H, W)``.

    The one alpha decoder: :func:`decode_alpha`, the loader and ``synth stats`` use it.
    ``name`` starts every error message (e.g. the member name).
    """
    arr = _decode_grey(data, name)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a single-channel image, got shape {arr.shape}")
    if arr.dtype != np.uint8 and arr.dtype != np.uint16:
        raise ValueError(f"{name}: unsupported depth {arr.dtype}")
    return arr


def alpha_unit(dtype: np.dtype) -> np.float32:
    """The float32 value of one step of a stored alpha: 1/255 (uint8) or 1/65535 (uint16)."""
    return np.float32(1.0 / 255.0) if dtype == np.uint8 else np.float32(1.0 / 65535.0)


def decode_alpha(data: bytes) -> np.ndarray:
    """Decode an 8- or 16-bit grey PNG to ``float32 (H, W)`` in ``[0, 1]``."""
    arr = decode_alpha_stored(data)
    return arr.astype(np.float32) * alpha_unit(arr.dtype)


# ------------------------------------------------------------------ trimap
def _check_trimap(trimap: np.ndarray, what: str) -> None:
    bad = (trimap != 0) & (trimap != 128) & (trimap != 255)
    if bad.any():
        values = np.unique(trimap[bad])[:8].tolist()
        raise ValueError(f"{what}: trimap values must be in {{0, 128, 255}}, found {values}")


def encode_trimap(trimap: np.ndarray) -> bytes:
    """Encode ``trimap: uint8 (H, W)`` with values in ``{0, 128, 255}`` as a grey PNG (the
    fast setting of :func:`encode_alpha`)."""
    trimap = np.asarray(trimap)
    if trimap.dtype != np.uint8 or trimap.ndim != 2 or trimap.size == 0:
        raise ValueError(f"encode_trimap: expected uint8 (H, W), got {trimap.dtype} {trimap.shape}")
    _check_trimap(trimap, "encode_trimap")
    return _png(np.ascontiguousarray(trimap), "encode_trimap", "none")


def decode_trimap(data: bytes, name: str = "decode_trimap", *, check: bool = True) -> np.ndarray:
    """Decode a grey PNG to ``uint8 (H, W)`` with values in ``{0, 128, 255}``.

    ``name`` starts every error message; ``check=False`` leaves the values to the caller
    (who may count the bad ones itself).
    """
    arr = _decode_grey(data, name)
    if arr.ndim != 2 or arr.dtype != np.uint8:
        raise ValueError(f"{name}: expected 8-bit grey, got {arr.dtype} {arr.shape}")
    if check:
        _check_trimap(arr, name)
    return arr
