"""benchmarks/dataset_difficulty.py's ring measures, on datasets and on real photos."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import dataset_difficulty  # noqa: E402


def _disc(h: int = 96, w: int = 128) -> np.ndarray:
    """float32 alpha: a disc with a soft (4-px) edge."""
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    r = np.hypot(yy - h / 2, xx - w / 2)
    return np.clip((30.0 - r) / 4.0, 0.0, 1.0).astype(np.float32)


def test_ring_measures_read_the_background_around_the_subject():
    alpha = _disc()
    flat = np.full(alpha.shape, 50.0, np.float32)
    assert dataset_difficulty.ring_measures(flat, alpha) == (0.0, 0.0)
    # stripes of period 2 px: |Laplacian| is 2 * 20 per pixel (a 3x3 aperture: 4 neighbours
    # minus 4x the centre, two of them differ by 20) away from the image border
    stripes = np.where(np.arange(alpha.shape[1]) % 2 == 0, 40.0, 60.0).astype(np.float32)[None, :].repeat(96, 0)
    busy, sharp = dataset_difficulty.ring_measures(stripes, alpha)
    assert busy == pytest.approx(10.0, abs=0.2)  # std of a 40/60 mix in near-equal shares
    assert sharp == pytest.approx(40.0)
    # the subject itself does not count: stripes inside the subject only, flat outside
    inside = np.where(alpha > 0.05, stripes, np.float32(50.0)).astype(np.float32)
    assert dataset_difficulty.ring_measures(inside, alpha)[0] == 0.0
    # a blurred background is less sharp
    blurred = cv2.GaussianBlur(stripes, (0, 0), 1.0)
    assert dataset_difficulty.ring_measures(blurred, alpha)[1] < sharp / 4
    # no band, no ring: sharpness is nan
    assert np.isnan(dataset_difficulty.ring_measures(flat, np.zeros_like(alpha))[1])


def _write_photo(folder: Path, stem: str, image: np.ndarray, alpha: np.ndarray) -> None:
    (folder / "image").mkdir(parents=True, exist_ok=True)
    (folder / "alpha").mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / "image" / f"{stem}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "alpha" / f"{stem}.png"), np.rint(alpha * 255).astype(np.uint8))


def test_measure_photos_shrinks_to_the_long_side_and_picks_stems(tmp_path):
    alpha = cv2.resize(_disc(), (256, 192), interpolation=cv2.INTER_LINEAR)
    grey = np.full((192, 256, 3), 128, np.uint8)
    # columns of 4 px alternating dark / light: shrunk 2x (area) they become 2-px stripes
    cols = np.where((np.arange(256) // 4) % 2 == 0, 60, 200).astype(np.uint8)
    stripes = np.repeat(np.repeat(cols[None, :, None], 192, 0), 3, 2)
    _write_photo(tmp_path, "A01", grey, alpha)
    _write_photo(tmp_path, "A02", stripes, alpha)
    _write_photo(tmp_path, "A03", stripes, alpha)
    img, al = tmp_path / "image", tmp_path / "alpha"
    r = dataset_difficulty.measure_photos(img, al, 128, stems=["A01", "A02"])
    assert len(r["busyness"]) == 2 and np.isnan(r["contrast"]).all()
    assert r["busyness"][0] == pytest.approx(0.0, abs=1e-4)  # flat grey (float32 L)
    assert r["sharpness"][0] == pytest.approx(0.0, abs=1e-4)
    assert r["busyness"][1] > 20 and r["sharpness"][1] > 0
    # at the full size the stripes are twice as wide: less Laplacian per pixel
    full = dataset_difficulty.measure_photos(img, al, 256, stems=["A02"])
    assert full["sharpness"][0] < r["sharpness"][1]
    with pytest.raises(SystemExit, match="no image"):
        dataset_difficulty.measure_photos(img, al, 128, stems=["B01"])
    cv2.imwrite(str(al / "A03.png"), np.zeros((10, 10), np.uint8))
    with pytest.raises(SystemExit, match="A03.png: alpha"):
        dataset_difficulty.measure_photos(img, al, 128, stems=["A03"])
