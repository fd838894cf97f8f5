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

try:  # libjpeg-turbo without the BGR round trip; optional.
    import simplejpeg as _simplejpeg
except ImportError:  # pragma: no cover - simplejpeg is a soft dependency
    _simplejpeg = None

__all__ = [
    "encode_rgb",
    "decode_rgb",
    "encode_alpha",
    "decode_alpha",
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


def _png(arr: np.ndarray, what: str) -> bytes:
    ok, buf = cv2.imencode(".png", arr, [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL])
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
) -> bytes:
    """Encode ``img: uint8 (H, W, 3)`` RGB as JPEG (``quality`` 1–100) or PNG.

    JPEG uses 4:4:4 chroma by default (matting cares about colour at hair
    edges); ``subsampling="420"`` halves the chroma for smaller, faster files.
    ``restart_markers=True`` (JPEG) puts a restart marker after every strip of
    :func:`shards.jpeg_window.restart_interval` MCUs (64 px where the width allows, else
    every MCU row; about 2 % more bytes), so that :func:`shards.jpeg_window.decode_window`
    can decode a window without the rest; any JPEG decoder reads it as usual.
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
        if _simplejpeg is not None:
            return bytes(_simplejpeg.encode_jpeg(img, int(quality), "RGB", subsampling))
        factor = (  # pragma: no cover - fallback without simplejpeg
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444 if subsampling == "444"
            else cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420
        )
        ok, buf = cv2.imencode(  # pragma: no cover
            ".jpg", img[..., ::-1],
            [cv2.IMWRITE_JPEG_QUALITY, int(quality), cv2.IMWRITE_JPEG_SAMPLING_FACTOR, factor],
        )
        if not ok:  # pragma: no cover
            raise ValueError("encode_rgb: JPEG encoding failed")
        return buf.tobytes()  # pragma: no cover
    if fmt == "png":
        return _png(_bgr(img), "encode_rgb")
    raise ValueError(f"encode_rgb: fmt must be 'jpg' or 'png', got {fmt!r}")


def _bgr(img: np.ndarray) -> np.ndarray:
    """RGB -> BGR copy for OpenCV's encoders (a native channel swap: several times faster
    than copying the reversed-channel view, same bytes)."""
    return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2BGR)


def _encode_jpeg_restart_markers(img: np.ndarray, quality: int, subsampling: str) -> bytes:
    """JPEG with restart intervals aligned to the MCU rows (OpenCV's encoder exposes the interval)."""
    from .jpeg_window import restart_interval

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
    16-bit PNGs are reduced to 8 bits. JPEG goes through simplejpeg (when
    installed) with OpenCV as the fallback.
    """
    buf = _as_buffer(data, "decode_rgb")
    fmt = sniff_format(data)
    if fmt == "jpg" and _simplejpeg is not None:
        try:
            h, w, _, _ = _simplejpeg.decode_jpeg_header(data)
            img = _simplejpeg.decode_jpeg(data, colorspace="RGB")
            if img.shape == (h, w, 3):
                return img
        except (ValueError, RuntimeError):
            pass  # fall through to OpenCV, which reports a clear failure
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"decode_rgb: cannot decode {len(data)} bytes (format {fmt or 'unknown'})")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


# ------------------------------------------------------------------- alpha
def encode_alpha(alpha: np.ndarray, bits: int = 8) -> bytes:
    """Encode ``alpha: float (H, W)`` in ``[0, 1]`` as an 8- or 16-bit grey PNG.

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
    return _png(q, "encode_alpha")


def decode_alpha(data: bytes) -> np.ndarray:
    """Decode an 8- or 16-bit grey PNG to ``float32 (H, W)`` in ``[0, 1]``."""
    buf = _as_buffer(data, "decode_alpha")
    arr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ValueError(f"decode_alpha: cannot decode {len(data)} bytes")
    if arr.ndim != 2:
        raise ValueError(f"decode_alpha: expected a single-channel image, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) * np.float32(1.0 / 255.0)
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) * np.float32(1.0 / 65535.0)
    raise ValueError(f"decode_alpha: unsupported depth {arr.dtype}")


# ------------------------------------------------------------------ trimap
def _check_trimap(trimap: np.ndarray, what: str) -> None:
    bad = (trimap != 0) & (trimap != 128) & (trimap != 255)
    if bad.any():
        values = np.unique(trimap[bad])[:8].tolist()
        raise ValueError(f"{what}: trimap values must be in {{0, 128, 255}}, found {values}")


def encode_trimap(trimap: np.ndarray) -> bytes:
    """Encode ``trimap: uint8 (H, W)`` with values in ``{0, 128, 255}`` as a grey PNG."""
    trimap = np.asarray(trimap)
    if trimap.dtype != np.uint8 or trimap.ndim != 2 or trimap.size == 0:
        raise ValueError(f"encode_trimap: expected uint8 (H, W), got {trimap.dtype} {trimap.shape}")
    _check_trimap(trimap, "encode_trimap")
    return _png(np.ascontiguousarray(trimap), "encode_trimap")


def decode_trimap(data: bytes) -> np.ndarray:
    """Decode a grey PNG to ``uint8 (H, W)`` with values in ``{0, 128, 255}``."""
    buf = _as_buffer(data, "decode_trimap")
    arr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ValueError(f"decode_trimap: cannot decode {len(data)} bytes")
    if arr.ndim != 2 or arr.dtype != np.uint8:
        raise ValueError(f"decode_trimap: expected 8-bit grey, got {arr.dtype} {arr.shape}")
    _check_trimap(arr, "decode_trimap")
    return arr
