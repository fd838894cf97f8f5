"""JPEG re-compression of the composite (a camera's compression, on I only)."""
from __future__ import annotations

import cv2
import numpy as np

from augment.checks import check_image
from augment.colour import from_float01

__all__ = ["jpeg_recompress"]


def jpeg_recompress(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG encode/decode round trip (4:2:0, like cameras), for the composite ``I`` only.

    Args:
        image: ``uint8 (H, W, 3)`` RGB or ``float32 (H, W, 3)`` in ``[0, 1]``.
        quality: JPEG quality, int in [1, 100].
    Returns:
        same shape and dtype as ``image``.
    """
    check_image(image)
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an int in [1, 100], got {quality!r}")
    u8 = image if image.dtype == np.uint8 else from_float01(image, np.dtype(np.uint8))
    bgr = cv2.cvtColor(u8, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"JPEG encoding failed for an image of shape {image.shape}")
    out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    if image.dtype == np.float32:
        return out.astype(np.float32) / np.float32(255.0)
    return out
