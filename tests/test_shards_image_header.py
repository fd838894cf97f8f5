"""shards.image_header: declared sizes from JPEG/PNG headers, against OpenCV's decode, and
the loader's pixel limit (decoder bombs are refused before any pixel is decoded)."""
from __future__ import annotations

import io
import struct
import tarfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shard_fixtures import write_dataset
from shards import MattingDataset
from shards.codec import encode_alpha, encode_rgb
from shards.image_header import check_pixels, declared_size
from shards.manifest import read_manifest


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 300), w=st.integers(1, 300), fmt=st.sampled_from(["jpg", "png", "jpg420", "alpha16"]))
def test_declared_size_matches_the_decoded_size(h, w, fmt):
    img = np.random.default_rng([h, w]).integers(0, 256, (h, w, 3), dtype=np.uint8)
    if fmt == "alpha16":
        data = encode_alpha(img[..., 0].astype(np.float32) / 255, 16)
    elif fmt == "jpg420":
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80, cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
        data = buf.tobytes()
    else:
        data = encode_rgb(img, fmt)
    assert declared_size(data) == cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED).shape[:2]


def _forge_jpeg(data: bytes, h: int, w: int) -> bytes:
    i = next(i for i in range(2, len(data)) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC1, 0xC2))
    return data[:i + 5] + struct.pack(">HH", h, w) + data[i + 9:]


def _forge_png(data: bytes, h: int, w: int) -> bytes:
    ihdr = data[12:16] + struct.pack(">II", w, h) + data[24:29]
    return data[:8] + data[8:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]


def test_forged_headers_are_read_and_refused_over_the_limit():
    img = np.zeros((16, 16, 3), np.uint8)
    jpg = _forge_jpeg(encode_rgb(img, "jpg"), 60000, 60000)
    png = _forge_png(encode_alpha(np.zeros((16, 16), np.float32), 16), 20000, 20000)
    assert declared_size(jpg) == (60000, 60000) and declared_size(png) == (20000, 20000)
    with pytest.raises(ValueError, match=r"member 'image.jpg' declares 60000x60000 pixels \(WxH\), over the limit "
                                         r"of 1000000"):
        check_pixels({"image.jpg": jpg, "meta.json": b"{}"}, 1_000_000)
    check_pixels({"image.jpg": encode_rgb(img, "jpg"), "meta.json": b"x" * 10}, 256)
    for bad, what in [(b"GIF89a" + bytes(30), "neither JPEG nor PNG"), (b"\xff\xd8\xff\xd9", "frame header"),
                      (b"\x89PNG\r\n\x1a\n" + bytes(4), "IHDR")]:
        with pytest.raises(ValueError, match=what):
            check_pixels({"alpha.png": bad}, 10)


def _replace_member(path: Path, member: str, transform) -> None:
    with tarfile.open(path) as t:
        items = [(m, t.extractfile(m).read()) for m in t.getmembers()]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for m, data in items:
            if m.name.endswith(member):
                data = transform(data)
                m.size = len(data)
            t.addfile(m, io.BytesIO(data))
    path.write_bytes(buf.getvalue())


@pytest.mark.parametrize("buffer", ["bytes", "offsets"])
def test_decoder_bombs_are_bad_samples_before_decoding(tmp_path, buffer):
    """Without the check: 60000^2 JPEG frames and 20000^2 16-bit PNGs are decoded
    (~10 GB, ~3 GB) or fail deep inside the decoder; with it each is one counted error."""
    root = tmp_path / "ds"
    write_dataset(root, {"train": [4]}, hw=(24, 32))
    shard = root / read_manifest(root).shards[0].path
    _replace_member(shard, "00000001.image.jpg", lambda d: _forge_jpeg(d, 60000, 60000))
    _replace_member(shard, "00000002.alpha.png", lambda d: _forge_png(d, 20000, 20000))
    seen: list[Exception] = []
    ds = MattingDataset(root, crop=16, handler=seen.append, substitute=False, shuffle=False, buffer=buffer)
    assert [s["index"] for s in ds] == [0, 3]
    assert [type(e).__name__ for e in seen] == ["SampleError", "SampleError"]
    assert "'image.jpg' declares 60000x60000" in str(seen[0]) and "'alpha.png' declares 20000x20000" in str(seen[1])
    # the user's limit applies to every member: 24 x 32 = 768 pixels
    seen.clear()
    assert list(MattingDataset(root, crop=16, handler=seen.append, max_pixels=767, substitute=False)) == []
    assert len(seen) == 4
    assert len(list(MattingDataset(root, crop=16, max_pixels=768, handler=seen.append, substitute=False))) == 2


def test_max_pixels_is_validated(tmp_path):
    write_dataset(tmp_path, {"train": [1]}, hw=(8, 8))
    with pytest.raises(ValueError, match="max_pixels"):
        MattingDataset(tmp_path, max_pixels=0)
