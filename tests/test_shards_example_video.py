"""examples/train_tiny_video.py: the temporal-consistency loss, and a short end-to-end
training on procedural clips built by `synth build recipes/video_demo.yaml`."""
from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")


def _load():
    sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location("train_tiny_video", EXAMPLES / "train_tiny_video.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def test_temporal_loss_punishes_flicker_not_motion():
    mod = _load()
    g = torch.Generator().manual_seed(0)
    alpha = torch.rand((2, 4, 1, 8, 8), generator=g)
    trimap = torch.full((2, 4, 1, 8, 8), 128, dtype=torch.uint8)
    assert float(mod.temporal_loss(alpha, alpha, trimap)) == 0.0  # exact motion: no cost
    assert float(mod.temporal_loss(alpha + 0.1, alpha, trimap)) == pytest.approx(0.0, abs=1e-6)  # constant bias
    flicker = alpha.clone()
    flicker[:, 1::2] += 0.2
    assert float(mod.temporal_loss(flicker, alpha, trimap)) == pytest.approx(0.2, abs=1e-5)
    known = torch.zeros_like(trimap)
    assert float(mod.temporal_loss(flicker, alpha, known)) == 0.0  # only the unknown region counts
    out = mod.TinyRecurrentMattingNet()(torch.zeros((1, 3, 3, 16, 16), dtype=torch.uint8), trimap[:1, :3, :, :8, :8]
                                        .repeat(1, 1, 1, 2, 2))
    assert out.shape == (1, 3, 1, 16, 16)


def test_trains_end_to_end_on_built_clips(tmp_path):
    mod = _load()
    data = mod.build_demo(tmp_path / "video", frames=4)
    got = mod.main(["--data", str(data), "--out", str(tmp_path / "run"), "--steps", "4", "--frames", "4",
                    "--crop", "64", "--batch", "2", "--workers", "1", "--log-every", "100"])
    assert got["step"] == 4 and math.isfinite(got["loss"]) and got["temporal"] >= 0.0
    assert (tmp_path / "run" / "model.pt").exists()
