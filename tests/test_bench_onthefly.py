"""The on-the-fly baseline of benchmarks/bench_loader.py (benchmarks/onthefly_generator.py)
does the work it is credited with: the composite of its own crops, an erosion trimap that
marks every mixed pixel unknown, the crop on the unknown region, and determinism per index."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from onthefly_generator import OnTheFlyGenerator  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
STD = np.array([0.229, 0.224, 0.225], np.float32) * 255


def _files(tmp: Path, n: int = 3, size: int = 160) -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    triples = []
    for i in range(n):
        alpha = np.clip((50 + 5 * i - np.hypot(yy - size / 2, xx - size / 2)) / 6, 0, 1)
        paths = (tmp / f"{i}.fg.png", tmp / f"{i}.alpha.png", tmp / f"{i}.bg.png")
        cv2.imwrite(str(paths[0]), rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
        cv2.imwrite(str(paths[1]), np.rint(alpha * 255).astype(np.uint8))
        cv2.imwrite(str(paths[2]), rng.integers(0, 256, (size + 40, size - 20, 3), dtype=np.uint8))
        triples.append(tuple(map(str, paths)))
    return triples


def _rgb(t) -> np.ndarray:
    """A normalised (3, H, W) tensor back to BGR levels (H, W, 3), as the generator made it."""
    return (t.numpy().transpose(1, 2, 0) * STD + MEAN)[..., ::-1]


@pytest.mark.parametrize("full", [False, True])
def test_items_are_composites_of_their_own_crops_with_an_erosion_trimap(tmp_path, full):
    gen = OnTheFlyGenerator(_files(tmp_path), crop=96, full=full)
    for i in range(len(gen)):
        item = gen[i]
        alpha = item["alpha"].numpy()[0]
        assert alpha.shape == (96, 96) and item["image"].shape == (3, 96, 96)
        a = alpha[..., None]
        expected = _rgb(item["fg"]) * a + _rgb(item["bg"]) * (1 - a)
        assert np.abs(_rgb(item["image"]) - expected).max() < 1e-2  # I = aF + (1 - a)B on the crop
        if full:  # one-hot trimap: every pixel in exactly one class
            assert np.array_equal(item["trimap"].sum(0).numpy(), np.ones((96, 96), np.float32))
            unknown = item["trimap"][1].numpy() == 1
        else:
            trimap = item["trimap"].numpy()[0]
            assert set(np.unique(trimap)) <= {0, 128, 255}
            unknown = trimap == 128
        mixed = (alpha > 1e-4) & (alpha < 1 - 1e-4)
        assert np.all(unknown[mixed])  # erosion never leaves a mixed pixel definite
        assert unknown.any()  # the crop is centred on the unknown region
        again = gen[i]
        assert all(np.array_equal(item[k].numpy(), again[k].numpy()) for k in item)
