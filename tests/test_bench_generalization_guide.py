"""benchmarks/generalization.py --guide mask: a mask-guided model (a coarse mask of the subject in
place of the trimap, the alpha predicted near the mask's edge), trained on the loader's guidance
output and tested on whole photos with a mask made from the true alpha."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import generalization  # noqa: E402
import generalization_runs  # noqa: E402
from augment.guidance import apply_guidance  # noqa: E402
from augment.trimap import make_trimap  # noqa: E402
from generalization_eval import (MASK_BAND, TEST_GUIDANCE, evaluate, mask_trimap, mask_trimaps,  # noqa: E402
                                 matting_errors, trivial_sad, with_guidance)
from generalization_report import trivial_line  # noqa: E402
from synth.build import build  # noqa: E402
from synth.recipe import parse_recipe  # noqa: E402
from tiny_matting_net import TinyMattingNet  # noqa: E402

from conftest import procedural_recipe  # noqa: E402
from generalization_fixtures import train_config as _cfg  # noqa: E402


def _disc(size: int = 128, radius: float = 40.0) -> np.ndarray:
    """float32 (size, size): a disc of alpha 1 with a 2 px soft rim."""
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2, xx - size / 2)
    return np.clip((radius - r) / 2 + 0.5, 0, 1).astype(np.float32)


def test_trimap_runs_keep_their_names_and_mask_guided_runs_get_their_own():
    assert generalization_runs.run_key(_cfg(photometric=1.0), 1600, 640, 36, None) == "b2f1a2781f69"
    guided = generalization_runs.run_key(_cfg(photometric=1.0, guide="mask"), 1600, 640, 36, None)
    assert guided != "b2f1a2781f69"
    assert generalization.arg_parser().parse_args(["--out", "x"]).guide == "trimap"
    assert generalization.arg_parser().parse_args(["--out", "x", "--guide", "mask"]).guide == "mask"
    with pytest.raises(SystemExit):
        generalization.arg_parser().parse_args(["--out", "x", "--guide", "box"])


def test_new_model_reads_the_mask_as_a_seventh_channel_and_the_trimap_model_is_unchanged():
    torch.manual_seed(3)
    plain = TinyMattingNet(widths=(4, 8))
    torch.manual_seed(3)
    trimap = generalization_runs.new_model(_cfg(widths=(4, 8)))
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), trimap.parameters()))
    assert trimap.enc[0][0].in_channels == 6
    assert generalization_runs.new_model(_cfg(widths=(4, 8), guide="mask")).enc[0][0].in_channels == 7
    with pytest.raises(ValueError, match="guide"):
        generalization_runs.new_model(_cfg(guide="box"))


def test_with_guidance_makes_the_whole_image_unknown_and_the_mask_from_the_true_alpha():
    alpha = _disc()
    image = np.full((128, 128, 3), 90, np.uint8)
    [(name, img, a, region, band, mask)] = with_guidance([("disc", image, alpha, np.zeros((128, 128), np.uint8))])
    assert name == "disc" and img is image and a is alpha
    assert region.dtype == np.uint8 and np.all(region == 128)
    assert np.array_equal(mask, apply_guidance(TEST_GUIDANCE, alpha))
    assert set(np.unique(mask)) <= {0.0, 1.0}  # hard, as TEST_GUIDANCE asks
    # right far inside and far outside; wrong only within the 1/8-resolution blocks at the edge
    r = np.hypot(*(np.mgrid[:128, :128] - 64.0))
    assert np.all(mask[r < 30] == 1) and np.all(mask[r > 52] == 0)
    wrong = mask != (alpha > 0.5)
    assert wrong.any() and np.all(np.abs(r[wrong] - 40) < 12)


def test_the_model_works_within_the_band_of_the_masks_edge_which_holds_the_test_masks_errors():
    alpha = _disc()
    [(_, _, _, _, band, mask)] = with_guidance([("disc", np.zeros((128, 128, 3), np.uint8), alpha, None)])
    tri = mask_trimap(mask)
    assert np.array_equal(band, tri)  # made once per photo, with the mask
    assert np.array_equal(tri, make_trimap((mask >= 0.5).astype(np.uint8) * 255, MASK_BAND))
    r = np.hypot(*(np.mgrid[:128, :128] - 64.0))
    assert np.all(tri[mask != (alpha > 0.5)] == 128)  # every pixel the mask has wrong can be mended
    assert np.all(tri[r < 14] == 255) and np.all(tri[r > 62] == 0)  # far from the edge the mask is kept
    soft = np.where(np.mgrid[:64, :64][1] < 30, 0.3, 0.9).astype(np.float32)  # a soft mask: split at 0.5
    assert np.array_equal(mask_trimap(soft, 4), make_trimap(np.where(soft >= 0.5, 255, 0).astype(np.uint8), 4))
    batch = torch.from_numpy(np.stack([mask, 1 - mask]))[:, None]
    got = mask_trimaps(batch)
    assert got.dtype == torch.uint8 and got.shape == (2, 1, 128, 128)
    assert np.array_equal(got[0, 0].numpy(), tri) and np.array_equal(got[1, 0].numpy(), mask_trimap(1 - mask))


class _MaskEcho(torch.nn.Module):
    """Predicts its guidance input unchanged and records the trimap it was given."""

    multiple = 4

    def __init__(self) -> None:
        super().__init__()
        self.trimaps: list[np.ndarray] = []

    def forward(self, image, trimap, extra=None):
        assert extra is not None and extra.shape == trimap.shape
        self.trimaps.append(trimap[0, 0].numpy())
        return extra


def test_evaluate_hands_each_photo_its_mask_and_band_and_scores_every_pixel():
    alpha = _disc(126)  # not a multiple of 4: the inputs are padded and the prediction cut back
    items = with_guidance([("disc", np.zeros((126, 126, 3), np.uint8), alpha, np.zeros((126, 126), np.uint8))])
    mask = items[0][5]
    echo = _MaskEcho()
    got = evaluate(echo, items, per_image=True)
    assert np.array_equal(echo.trimaps[0][:126, :126], mask_trimap(mask))
    want = float(np.abs(mask.astype(np.float64) - alpha).sum() / 1000)
    assert got["sad"] == pytest.approx(want, rel=1e-9) and want > 0
    assert got["per_image"]["disc"] == matting_errors(mask, alpha, np.full((126, 126), 128, np.uint8))


def test_mask_guided_training_sees_the_guidance_and_learns_the_alpha_everywhere(tmp_path, monkeypatch):
    raw = procedural_recipe(seed=2, fg=(2, (40, 40)), bg=(2, (40, 40)), canvas=(32, 32), per_shard=4,
                            samples=(4, 2))
    build(parse_recipe(raw), tmp_path / "data", cache_dir=tmp_path / "cache")
    seen: list[dict] = []
    loss = generalization.matting_loss

    def spy(pred, batch):
        seen.append({k: v.clone() for k, v in batch.items() if isinstance(v, torch.Tensor)})
        return loss(pred, batch)

    monkeypatch.setattr(generalization, "matting_loss", spy)
    cfg = generalization_runs.TrainConfig(steps=2, batch=2, crop=32, widths=(4, 8, 8, 8), lr=1e-2, workers=0,
                                          guide="mask")
    torch.manual_seed(0)
    init = generalization_runs.new_model(cfg).enc[0][0].weight.detach().clone()
    model = generalization.train(tmp_path / "data", 0, cfg)
    assert len(seen) == 2
    for batch in seen:
        g = batch["guidance"]
        assert g.shape == batch["alpha"].shape and 0 <= g.min() and g.max() <= 1 and g.max() > 0
        assert torch.equal(batch["trimap"], mask_trimaps(g))  # the model and its loss work in the mask's band
    # the mask channel took part: its first-layer weights moved
    assert not torch.equal(init[:, 6], model.enc[0][0].weight.detach()[:, 6])
    again = generalization.train(tmp_path / "data", 0, cfg)  # deterministic for a seed
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))


def test_the_command_line_refuses_test_trimaps_for_a_mask_guided_model(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "argv", ["generalization.py", "--out", str(tmp_path), "--guide", "mask",
                                      "--test-trimaps", "6:6"])
    with pytest.raises(SystemExit, match="takes no trimap"):
        generalization.main()


def test_the_floor_of_a_mask_guided_test_set_includes_the_mask_itself():
    alpha = _disc()
    plain = [("disc", np.zeros((128, 128, 3), np.uint8), alpha, np.full((128, 128), 128, np.uint8))]
    guided = with_guidance(plain)
    sads = trivial_sad(guided)
    assert "mask" not in trivial_sad(plain) and set(sads) == {0.0, 0.5, 1.0, "mask"}
    assert sads["mask"] == pytest.approx(float(np.abs(guided[0][5] - alpha.astype(np.float64)).sum() / 1000))
    assert sads[0.0] == pytest.approx(float(alpha.astype(np.float64).sum() / 1000))  # the whole image counts
    assert sads["mask"] < sads[0.0] / 10  # the mask is right but for the edge
    line = trivial_line(sads)[0]
    assert line.endswith(f"1: {sads[1.0]:.3f}; the test mask itself: {sads['mask']:.3f}")
