"""Reading and validating inputs: modes, bit depths, EXIF orientation, and the bad-input catalogue."""
from __future__ import annotations

import functools
import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from synth.prepare import prepare_background, prepare_foreground
from synth.recipe import FgAlphaSource, FolderBackgrounds, ImageAlphaSource, RgbaSource
from synth.sources.imageio import (
    InputError,
    SizeLimits,
    decode_alpha,
    decode_background,
    decode_rgb,
    decode_rgba,
    image_size,
    orient,
    read_bytes,
)
from synth.sources.scan import scan_backgrounds, scan_foregrounds

from conftest import jpeg_bytes, png_bytes


_png = png_bytes
_jpeg = functools.partial(jpeg_bytes, quality=98)


def _soft_alpha(h: int = 40, w: int = 60) -> np.ndarray:
    a = np.zeros((h, w), np.float32)
    a[8:32, 10:50] = 1.0
    return cv2.GaussianBlur(a, (0, 0), 2.0)


# ------------------------------------------------------------------ modes and depths


def test_alpha_8_and_16_bit_and_rgb_grey():
    a = _soft_alpha()
    a8 = np.rint(a * 255).astype(np.uint8)
    a16 = np.rint(a * 65535).astype(np.uint16)
    np.testing.assert_array_equal(decode_alpha(_png(a8), "a8"), a8.astype(np.float32) / 255)
    ok, buf = cv2.imencode(".png", a16)
    np.testing.assert_allclose(decode_alpha(buf.tobytes(), "a16"), a16.astype(np.float32) / 65535, atol=1e-7)
    rgb = np.repeat(a8[..., None], 3, 2)
    np.testing.assert_array_equal(decode_alpha(_png(rgb), "argb"), a8.astype(np.float32) / 255)
    bad = rgb.copy()
    bad[0, 0] = (1, 2, 3)
    with pytest.raises(InputError, match="colour image"):
        decode_alpha(_png(bad), "colour.png")


def test_rgb_from_grey_palette_rgba_and_16bit():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    np.testing.assert_array_equal(decode_rgb(_png(img), "rgb"), img)
    grey = img[..., 0]
    np.testing.assert_array_equal(decode_rgb(_png(grey), "grey"), np.repeat(grey[..., None], 3, 2))
    pal = Image.fromarray(img).quantize(16)
    b = io.BytesIO()
    pal.save(b, "PNG")
    np.testing.assert_array_equal(decode_rgb(b.getvalue(), "pal"), np.asarray(pal.convert("RGB")))
    rgba = np.dstack([img, np.full((20, 30), 7, np.uint8)])
    np.testing.assert_array_equal(decode_rgb(_png(rgba), "rgba"), img)
    g16 = (grey.astype(np.uint16) * 257)
    ok, buf = cv2.imencode(".png", g16)
    np.testing.assert_array_equal(decode_rgb(buf.tobytes(), "g16")[..., 0], grey)


def test_rgba_8_and_16_bit():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    a8 = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    f, a = decode_rgba(_png(np.dstack([rgb, a8])), "x.png")
    np.testing.assert_array_equal(f, rgb)
    np.testing.assert_array_equal(a, a8.astype(np.float32) / 255)
    a16 = rng.integers(0, 65536, (20, 30), dtype=np.uint16)
    bgra16 = np.dstack([rgb[..., ::-1].astype(np.uint16) * 257, a16])
    ok, buf = cv2.imencode(".png", bgra16)
    f, a = decode_rgba(buf.tobytes(), "x16.png")
    np.testing.assert_array_equal(f, rgb)
    np.testing.assert_allclose(a, a16 / 65535, atol=1e-7)
    with pytest.raises(InputError, match="no alpha channel"):
        decode_rgba(_png(rgb), "plain.png")


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pil_and_is_applied_to_alpha(orientation):
    img = np.zeros((40, 60, 3), np.uint8)
    img[:10, :20] = 255
    img[30:, 50:, 0] = 200
    data = _jpeg(img, orientation)
    ref = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
    out = decode_rgb(data, "o.jpg")
    assert out.shape == ref.shape
    assert np.abs(out.astype(int) - ref).max() <= 0
    assert image_size(data, "o.jpg") == ref.shape[:2]
    np.testing.assert_array_equal(decode_background(data, "o.jpg"), out)
    # A matte without its own orientation follows the photo's.
    alpha = decode_alpha(_png((img[..., 0] > 100).astype(np.uint8) * 255), "a.png", orientation=orientation)
    assert alpha.shape == out.shape[:2]
    np.testing.assert_array_equal(alpha > 0.5, out[..., 0] > 100)


def test_orient_is_pil_transpose():
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    methods = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
               5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_90}
    for o, m in methods.items():
        np.testing.assert_array_equal(orient(arr, o), np.asarray(Image.fromarray(arr).transpose(m)))


# ------------------------------------------------------------------ bad input catalogue


def test_corrupt_truncated_and_non_image():
    img = np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = _jpeg(img)
    with pytest.raises(InputError, match=r"t\.jpg: corrupt or truncated"):
        decode_rgb(data[: len(data) // 2], "t.jpg")
    with pytest.raises(InputError, match=r"notes\.png: not a readable image"):
        decode_rgb(b"hello, I am a text file", "notes.png")
    with pytest.raises(InputError, match=r"empty\.png: not a readable image"):
        decode_alpha(b"", "empty.png")


@pytest.mark.parametrize("make, reason", [
    (lambda jpg, png: b"", "not a readable image: empty file (0 bytes)"),
    (lambda jpg, png: b"hello, I am a text file", "not a readable image: unrecognised format (23 bytes, "
                                                  "not JPEG/PNG/WebP/TIFF/BMP/GIF)"),
    (lambda jpg, png: png[:30], "not a readable image: corrupt PNG header (starts like a PNG file, 30 bytes)"),
    (lambda jpg, png: jpg[:20], "not a readable image: corrupt JPEG header (starts like a JPEG file, 20 bytes)"),
    (lambda jpg, png: png[: len(png) // 2], "corrupt or truncated image (OSError: image file is truncated)"),
])
def test_unreadable_reasons_say_what_is_wrong_without_addresses(make, reason):
    """The reason goes into the manifest: it must be the same in every run (PIL's own message
    carries the address of a BytesIO object)."""
    img = np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    with pytest.raises(InputError) as info:
        decode_rgb(make(_jpeg(img), _png(img)), "x.png")
    assert info.value.reason == reason and "0x" not in str(info.value)


def test_unreadable_file_reason_is_the_error_in_words(tmp_path):
    with pytest.raises(InputError, match=r"^.*missing\.png: cannot read file \(no such file or directory\)$"):
        read_bytes(tmp_path / "missing.png")


def test_absurd_sizes():
    img = np.zeros((100, 100), np.uint8)
    with pytest.raises(InputError, match=r"big\.png: image is 100x100 = 10000 pixels, over the limit of 5000"):
        decode_alpha(_png(img), "big.png", SizeLimits(max_pixels=5000))
    with pytest.raises(InputError, match=r"tiny\.png: image is 8x8, smaller than the minimum side 16"):
        decode_alpha(_png(np.zeros((8, 8), np.uint8)), "tiny.png")


def _write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def test_fg_alpha_pairing_records_missing_alpha(tmp_path):
    img = np.full((32, 32, 3), 100, np.uint8)
    a = np.rint(_soft_alpha(32, 32) * 255).astype(np.uint8)
    _write(tmp_path / "fg" / "a.png", _png(img))
    _write(tmp_path / "fg" / "b.png", _png(img))
    _write(tmp_path / "alpha" / "a.png", _png(a))
    _write(tmp_path / "alpha" / "c.png", _png(a))
    items, skipped = scan_foregrounds([FgAlphaSource(kind="fg_alpha", fg_dir=str(tmp_path / "fg"),
                                                     alpha_dir=str(tmp_path / "alpha"))])
    assert [Path(i.paths[0]).name for i in items] == ["a.png"]
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert "missing alpha" in reasons["b.png"] and "alpha without foreground" in reasons["c.png"]


def test_missing_folder_and_empty_pool(tmp_path):
    with pytest.raises(InputError, match=r"nope: folder does not exist"):
        scan_foregrounds([RgbaSource(kind="rgba", path=str(tmp_path / "nope"))])
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(InputError, match=r"empty: background pool 'folder' contains no JPEG/PNG/WebP"):
        scan_backgrounds([FolderBackgrounds(kind="folder", path=str(tmp_path / "empty"))])


@pytest.mark.parametrize(
    "case, match",
    [
        ("size_mismatch", r"img\.png: size 32x32 does not match its alpha .*alpha[/\\]img\.png \(40x40\)"),
        ("all_zero", r"alpha[/\\]img\.png: alpha is empty \(all zero\)"),
        ("all_one", r"alpha[/\\]img\.png: alpha is fully opaque everywhere"),
        ("corrupt_alpha", r"alpha[/\\]img\.png: not a readable image"),
    ],
)
def test_prepare_foreground_bad_inputs(tmp_path, case, match):
    img = np.full((32, 32, 3), 100, np.uint8)
    alpha = np.rint(_soft_alpha(32, 32) * 255).astype(np.uint8)
    alpha_bytes = _png(alpha)
    if case == "size_mismatch":
        alpha_bytes = _png(np.rint(_soft_alpha(40, 40) * 255).astype(np.uint8))
    elif case == "all_zero":
        alpha_bytes = _png(np.zeros((32, 32), np.uint8))
    elif case == "all_one":
        alpha_bytes = _png(np.full((32, 32), 255, np.uint8))
    elif case == "corrupt_alpha":
        alpha_bytes = b"\x89PNG garbage"
    _write(tmp_path / "img" / "img.png", _png(img))
    _write(tmp_path / "alpha" / "img.png", alpha_bytes)
    items, _ = scan_foregrounds([ImageAlphaSource(kind="image_alpha", image_dir=str(tmp_path / "img"),
                                                  alpha_dir=str(tmp_path / "alpha"))])
    with pytest.raises(InputError, match=match):
        prepare_foreground(items[0], estimator="photo", cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*.png")) if (tmp_path / "cache").exists() else True


def test_exif_rotated_photo_with_a_matte_saved_as_displayed_says_which_size_is_which(tmp_path):
    """The photo is stored 221x320 (WxH) with EXIF orientation 6, so it is displayed 320x221;
    its matte was saved as displayed (320x221, no EXIF). The matte follows the photo's
    orientation and becomes 221x320: the message must not call the 320x221 file 221x320
    without saying why."""
    photo = np.full((320, 221, 3), 90, np.uint8)
    matte = np.rint(_soft_alpha(221, 320) * 255).astype(np.uint8)
    _write(tmp_path / "img" / "p.jpg", _jpeg(photo, orientation=6))
    _write(tmp_path / "alpha" / "p.png", _png(matte))
    items, _ = scan_foregrounds([ImageAlphaSource(kind="image_alpha", image_dir=str(tmp_path / "img"),
                                                  alpha_dir=str(tmp_path / "alpha"))])
    with pytest.raises(InputError) as info:
        prepare_foreground(items[0], estimator="photo", cache_dir=tmp_path / "cache")
    alpha_path = tmp_path / "alpha" / "p.png"
    assert info.value.path == str(tmp_path / "img" / "p.jpg")
    assert info.value.reason == (
        "size mismatch: image is 320x221 (WxH) as displayed after its EXIF orientation 6 (stored 221x320); "
        f"its alpha {alpha_path} is 221x320 after the photo's EXIF orientation 6 was applied to it "
        "(stored 320x221, no orientation of its own); the matte seems saved already rotated as displayed: "
        "save it in the photo's stored orientation (a matte without its own EXIF orientation follows its photo's)")


def test_prepare_caches_by_content(tmp_path):
    img = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    alpha = np.rint(_soft_alpha(32, 32) * 255).astype(np.uint8)
    _write(tmp_path / "fg" / "x.png", _png(img))
    _write(tmp_path / "alpha" / "x.png", _png(alpha))
    src = FgAlphaSource(kind="fg_alpha", fg_dir=str(tmp_path / "fg"), alpha_dir=str(tmp_path / "alpha"))
    items, _ = scan_foregrounds([src])
    a = prepare_foreground(items[0], estimator="ml", cache_dir=tmp_path / "c")
    mtime = Path(a.fg_path).stat().st_mtime_ns
    b = prepare_foreground(items[0], estimator="ml", cache_dir=tmp_path / "c")
    assert a == b and Path(b.fg_path).stat().st_mtime_ns == mtime  # cache hit, nothing rewritten
    assert a.estimator == "given" and a.hw == (32, 32) and a.alpha_bits == 8 and a.name == "x.png"
    # Same bytes under another name -> same id.
    _write(tmp_path / "fg2" / "y.png", _png(img))
    _write(tmp_path / "alpha2" / "y.png", _png(alpha))
    items2, _ = scan_foregrounds([FgAlphaSource(kind="fg_alpha", fg_dir=str(tmp_path / "fg2"),
                                                alpha_dir=str(tmp_path / "alpha2"))])
    assert prepare_foreground(items2[0], estimator="ml", cache_dir=tmp_path / "c").id == a.id


def test_prepare_background_truncated(tmp_path):
    img = np.random.default_rng(4).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = _jpeg(img)
    _write(tmp_path / "bg" / "ok.jpg", data)
    _write(tmp_path / "bg" / "cut.jpg", data[: len(data) // 3])
    items = scan_backgrounds([FolderBackgrounds(kind="folder", path=str(tmp_path / "bg"))])
    by_name = {Path(i.path).name: i for i in items}
    ok = prepare_background(by_name["ok.jpg"], cache_dir=tmp_path / "c")
    assert ok.hw == (64, 64) and ok.name == "ok.jpg"
    with pytest.raises(InputError, match=r"cut\.jpg: corrupt or truncated"):
        prepare_background(by_name["cut.jpg"], cache_dir=tmp_path / "c")
