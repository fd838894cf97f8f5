"""Reading input images robustly: any mode, 8/16-bit, EXIF orientation, size limits.

Every failure raises `InputError` naming the file and the problem, so a build can record
the item as skipped (or stop) with a message a user can act on.
"""
from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import fsspec
import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = [
    "InputError",
    "SizeLimits",
    "read_bytes",
    "image_size",
    "decode_rgb",
    "decode_alpha",
    "decode_rgba",
    "decode_background",
    "exif_orientation",
    "orient",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")


class InputError(ValueError):
    """An input file that cannot be used. `path` names it, `reason` says why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class SizeLimits:
    """Refuse absurd inputs before decoding them (decompression bombs, 1-px images)."""

    max_pixels: int = 80_000_000
    min_side: int = 16


_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"), (b"II*\x00", "TIFF"),
               (b"MM\x00*", "TIFF"), (b"BM", "BMP"))
_ADDRESS = re.compile(r"<[^<>]*? at 0x[0-9a-fA-F]+>|\b0x[0-9a-fA-F]{6,}\b")


def _clean(text: str) -> str:
    """An error text without object reprs or memory addresses (so that the manifest of two
    identical builds is identical)."""
    return _ADDRESS.sub("<data>", text)


def _format_of(data: bytes) -> str | None:
    """The image format that `data`'s first bytes announce, if any."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return next((fmt for sig, fmt in _SIGNATURES if data.startswith(sig)), None)


def read_bytes(path: str | Path) -> bytes:
    """Read a local path or fsspec URL; InputError when it cannot be read."""
    try:
        if "://" in str(path):
            with fsspec.open(str(path), "rb") as f:
                return f.read()
        return Path(path).read_bytes()
    except OSError as err:
        reason = err.strerror.lower() if err.strerror else _clean(f"{type(err).__name__}: {err}")
        raise InputError(str(path), f"cannot read file ({reason})") from None
    except ValueError as err:
        raise InputError(str(path), f"cannot read file ({_clean(str(err))})") from None


def _unreadable(data: bytes, err: Exception) -> str:
    """What is wrong with `data` that PIL could not open, in words (no reprs, no addresses)."""
    if not data:
        return "not a readable image: empty file (0 bytes)"
    fmt = _format_of(data)
    if isinstance(err, UnidentifiedImageError):
        if fmt:
            return f"not a readable image: corrupt {fmt} header (starts like a {fmt} file, {len(data)} bytes)"
        return f"not a readable image: unrecognised format ({len(data)} bytes, not JPEG/PNG/WebP/TIFF/BMP/GIF)"
    detail = f"{type(err).__name__}: {_clean(str(err))}"
    if fmt and "truncated" in str(err).lower():
        return f"not a readable image: truncated {fmt} file ({len(data)} bytes; {detail})"
    return f"not a readable image ({detail})"


def _open(data: bytes, name: str, limits: SizeLimits) -> Image.Image:
    """Open (header only) and check the size; the pixels are not decoded yet."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(name, "image is too large (decompression bomb guard)") from None
    except Exception as err:  # PIL raises many types for garbage input
        raise InputError(name, _unreadable(data, err)) from None
    w, h = img.size
    if w * h > limits.max_pixels:
        raise InputError(name, f"image is {w}x{h} = {w * h} pixels, over the limit of {limits.max_pixels}")
    if min(w, h) < limits.min_side:
        raise InputError(name, f"image is {w}x{h}, smaller than the minimum side {limits.min_side}")
    return img


def _load(img: Image.Image, name: str) -> Image.Image:
    """Decode the pixels (orientation is applied separately, see `orient`)."""
    try:
        img.load()
        return img
    except Exception as err:
        raise InputError(name, f"corrupt or truncated image ({type(err).__name__}: {_clean(str(err))})") from None


def _orientation(img: Image.Image) -> int:
    try:
        value = int(img.getexif().get(0x0112, 1))
    except Exception:
        return 1
    return value if 1 <= value <= 8 else 1


def exif_orientation(data: bytes, name: str, limits: SizeLimits = SizeLimits()) -> int:
    """The EXIF orientation tag (1..8; 1 when absent) from the header."""
    return _orientation(_open(data, name, limits))


def orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an (H, W[, C]) array, as viewers display it."""
    if orientation == 2:
        arr = arr[:, ::-1]
    elif orientation == 3:
        arr = arr[::-1, ::-1]
    elif orientation == 4:
        arr = arr[::-1]
    elif orientation == 5:
        arr = arr.swapaxes(0, 1)
    elif orientation == 6:
        arr = np.rot90(arr, -1)
    elif orientation == 7:
        arr = arr[::-1, ::-1].swapaxes(0, 1)
    elif orientation == 8:
        arr = np.rot90(arr, 1)
    return np.ascontiguousarray(arr)


def image_size(data: bytes, name: str, limits: SizeLimits = SizeLimits()) -> tuple[int, int]:
    """(height, width) after EXIF orientation, from the header only."""
    img = _open(data, name, limits)
    w, h = img.size
    return (w, h) if _orientation(img) in (5, 6, 7, 8) else (h, w)


def _to_rgb8(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = np.asarray(img, dtype=np.float32)
        scale = 255.0 / 65535.0 if grey.max(initial=0) > 255 or img.mode.startswith("I;16") else 1.0
        grey8 = np.clip(np.rint(grey * scale), 0, 255).astype(np.uint8)
        return np.repeat(grey8[:, :, None], 3, axis=2)
    if img.mode != "RGB":
        img = img.convert("RGBA").convert("RGB") if img.mode in ("P", "PA") else img.convert("RGB")
    return np.asarray(img, dtype=np.uint8).copy()


def decode_rgb(data: bytes, name: str, limits: SizeLimits = SizeLimits()) -> np.ndarray:
    """Decode any photo to uint8 (H, W, 3) RGB, EXIF orientation applied (alpha dropped)."""
    img = _open(data, name, limits)
    return orient(_to_rgb8(_load(img, name)), _orientation(img))


def _alpha_from_image(img: Image.Image, name: str) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L"):
        return np.asarray(img, dtype=np.float32) / 65535.0
    if mode == "I":  # 16-bit PNGs open as 32-bit int
        a = np.asarray(img, dtype=np.float32)
        return a / (65535.0 if a.max(initial=0) > 255 else 255.0)
    if mode == "F":
        a = np.asarray(img, dtype=np.float32)
        return a / 255.0 if a.max(initial=0) > 1.0 else a
    if mode in ("L", "1", "P"):
        return np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    if mode in ("LA", "RGB", "RGBA", "CMYK", "YCbCr"):
        rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
        if mode in ("LA", "RGBA") and rgb.max(initial=0) == 0:
            # A matte saved in the alpha channel of an otherwise black image.
            return np.asarray(img.getchannel("A"), dtype=np.float32) / 255.0
        if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            raise InputError(name, "alpha matte is a colour image (channels differ); expected greyscale")
        return rgb[..., 0].astype(np.float32) / 255.0
    raise InputError(name, f"unsupported alpha image mode {mode!r}")


def decode_alpha(data: bytes, name: str, limits: SizeLimits = SizeLimits(), orientation: int = 1) -> np.ndarray:
    """Decode an alpha matte (8- or 16-bit grey, or grey stored as RGB) to float32 (H, W) in [0, 1].

    The matte's own EXIF orientation is applied; a matte without one gets `orientation`, the
    orientation of the photo it belongs to, so photo and matte stay aligned.
    """
    img = _open(data, name, limits)
    own = _orientation(img)
    alpha = np.clip(_alpha_from_image(_load(img, name), name), 0.0, 1.0).astype(np.float32)
    return orient(alpha, own if own != 1 else orientation)


def decode_rgba(data: bytes, name: str, limits: SizeLimits = SizeLimits()) -> tuple[np.ndarray, np.ndarray]:
    """Decode an RGBA image into (uint8 (H, W, 3) RGB, float32 (H, W) alpha in [0, 1]).

    16-bit RGBA PNGs keep their 16-bit alpha. Raises InputError when there is no alpha channel.
    """
    header = _open(data, name, limits)
    has_alpha = header.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        header.mode == "P" and "transparency" in header.info
    )
    if header.format == "PNG" and header.mode not in ("P",):
        raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if raw is not None and raw.ndim == 3 and raw.shape[2] == 4 and raw.dtype == np.uint16:
            rgb = cv2.cvtColor(raw[..., :3], cv2.COLOR_BGR2RGB)
            rgb8 = np.clip(np.rint(rgb.astype(np.float32) / 257.0), 0, 255).astype(np.uint8)
            alpha = raw[..., 3].astype(np.float32) / 65535.0
            return rgb8, alpha  # PNG has no EXIF orientation in practice
    if not has_alpha:
        raise InputError(name, f"image has no alpha channel (mode {header.mode}); expected RGBA")
    arr = orient(np.asarray(_load(header, name).convert("RGBA"), dtype=np.uint8), _orientation(header))
    return arr[..., :3].copy(), arr[..., 3].astype(np.float32) / 255.0


def decode_background(data: bytes, name: str, reduce: int = 1) -> np.ndarray:
    """Fast decode of a (validated) background photo to uint8 RGB, optionally at 1/reduce size.

    Uses OpenCV (EXIF orientation applied); `reduce` in {1, 2, 4, 8} uses JPEG DCT scaling,
    which is several times faster than a full decode followed by a downscale.
    """
    flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
             8: cv2.IMREAD_REDUCED_COLOR_8}
    if reduce not in flags:
        raise ValueError(f"reduce must be one of 1, 2, 4, 8, got {reduce}")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), flags[reduce])
    if bgr is None:
        return decode_rgb(data, name, SizeLimits(max_pixels=1 << 40, min_side=1))  # PIL fallback
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
