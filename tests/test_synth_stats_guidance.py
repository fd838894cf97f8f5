"""synth.stats.guidance: guidance-mask quality against the alpha, from the stored mask or the
loader's own draw, in the statistics JSON."""
from __future__ import annotations

import numpy as np
import pytest

from augment.guidance import apply_guidance, boundary_fscore, mask_iou, sample_guidance
from shards.codec import encode_alpha_levels
from shards.order import sample_seed
from synth.stats.guidance import measure_guidance


def _alpha(h: int = 300, w: int = 200) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.clip((70 - np.hypot(yy - h / 2, xx - w / 2)) * 12 + 128, 0, 255).astype(np.uint8)


def test_without_a_stored_mask_it_measures_the_loaders_draw():
    a8 = _alpha()
    a = a8.astype(np.float32) / 255
    got = measure_guidance({}, a8, 5)
    mask = apply_guidance(sample_guidance(np.random.default_rng([*sample_seed(0, 0, 5), 7]), a), a)
    assert got == {"guidance.iou": mask_iou(mask, a), "guidance.boundary_f": boundary_fscore(mask, a),
                   "guidance.stored": 0.0}
    assert got != measure_guidance({}, a8, 6) or got["guidance.iou"] == 1.0


def test_a_stored_mask_is_measured_as_stored():
    a8 = _alpha()
    perfect = np.where(a8 > 127, 255, 0).astype(np.uint8)
    assert measure_guidance({"guidance.png": encode_alpha_levels(perfect)}, a8, 0) == {
        "guidance.iou": 1.0, "guidance.boundary_f": 1.0, "guidance.stored": 1.0}
    shifted = np.roll(perfect, 40, axis=1)
    got = measure_guidance({"guidance.png": encode_alpha_levels(shifted)}, a8, 0)
    assert 0.2 < got["guidance.iou"] < 0.8 and got["guidance.boundary_f"] < 0.5
    with pytest.raises(ValueError, match="guidance.png is 10x10 but alpha.png is 200x300"):
        measure_guidance({"guidance.png": encode_alpha_levels(np.zeros((10, 10), np.uint8))}, a8, 0)


def test_large_samples_are_measured_at_512_px():
    a8 = np.kron(_alpha(), np.ones((4, 4), np.uint8))  # 1200 x 800
    got = measure_guidance({"guidance.png": encode_alpha_levels(np.where(a8 > 127, 255, 0).astype(np.uint8))}, a8, 0)
    assert got["guidance.iou"] > 0.99


def test_synth_stats_reports_guidance_on_a_built_dataset(tmp_path):
    """Stored masks (output.targets: [guidance]) are measured as stored; without them the
    loader's draw is; the JSON and the report carry both."""
    import tarfile

    from conftest import procedural_recipe
    from shards.codec import decode_alpha_stored
    from synth.build import build
    from synth.recipe import parse_recipe
    from synth.stats import StatsOptions, collect_stats, render_html

    stats = {}
    for name, targets in (("stored", ["guidance"]), ("loader", [])):
        d = procedural_recipe(seed=3, fg=(8, (96, 72)), bg=(4, (80, 96)), canvas=(80, 96), per_shard=5,
                              samples=(6, 2))
        d["output"] = {**d["output"], "targets": targets}
        build(parse_recipe(d), tmp_path / name, cache_dir=tmp_path / "cache")
        stats[name] = collect_stats(tmp_path / name, StatsOptions(progress=False))
    g = stats["stored"].data["guidance"]
    ious = []
    for tar in sorted((tmp_path / "stored").glob("*.tar")):
        with tarfile.open(tar) as t:
            mem: dict = {}
            for m in t.getmembers():
                key, part = m.name.split(".", 1)
                mem.setdefault(key, {})[part] = t.extractfile(m).read()
        for parts in mem.values():
            a = decode_alpha_stored(parts["alpha.png"]).astype(np.float32) / 255
            ious.append(mask_iou(decode_alpha_stored(parts["guidance.png"]).astype(np.float32) / 255, a))
    assert g["iou"]["n"] == len(ious) == 8 and g["iou"]["mean"] == pytest.approx(np.mean(ious))
    assert g["stored"]["mean"] == 1.0 and stats["loader"].data["guidance"]["stored"]["mean"] == 0.0
    assert set(g["iou"]["by_split"]) == {"train", "val"} and sum(g["iou"]["hist"]["counts"]) == 8
    html = render_html([stats["stored"], stats["loader"]])
    assert "stored guidance.png" in html and "the loader&#39;s (epoch 0, seed 0)" in html
    assert "Guided composition" not in html  # that table only for guided builds
