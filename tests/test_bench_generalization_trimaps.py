"""benchmarks/generalization.py's ``--test-trimaps``: the held-out photos tested again with
trimaps made from their true alpha, one band shape each, kept with each run, pooled over folds
and reported per shape."""
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
from augment.trimap import make_trimap  # noqa: E402
from generalization_fixtures import counting_trainer, half_items as _items  # noqa: E402
from generalization_eval import trimap_spec, with_trimaps  # noqa: E402
from generalization_report import merge_folds, trimap_report  # noqa: E402
from tiny_matting_net import TinyMattingNet  # noqa: E402


def test_trimap_spec_has_one_spelling_and_refuses_anything_else():
    assert trimap_spec("5:25") == "5:25"
    assert trimap_spec("12") == "12:12"
    assert trimap_spec("007:0") == "7:0"
    for bad in ("", "5:", ":5", "5:25:1", "-1:3", "a:b", "2.5", "5 :25"):
        with pytest.raises(ValueError, match="IN:OUT"):
            trimap_spec(bad)
    parser = generalization.arg_parser()
    args = parser.parse_args(["--out", "x", "--test-trimaps", "10", "5:25"])
    assert args.test_trimaps == ["10:10", "5:25"]
    assert parser.parse_args(["--out", "x"]).test_trimaps == []
    with pytest.raises(SystemExit):
        parser.parse_args(["--out", "x", "--test-trimaps", "5:x"])


def _disc(size: int = 61, radius: float = 15.0) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (np.hypot(yy - size // 2, xx - size // 2) <= radius).astype(np.float32)


def test_with_trimaps_makes_each_trimap_from_the_true_alpha_and_keeps_the_rest():
    alpha = _disc()
    image = np.random.default_rng(0).integers(0, 256, (61, 61, 3), np.uint8)
    hand = np.full((61, 61), 128, np.uint8)
    [(name, img, a, trimap)] = with_trimaps([("disc", image, alpha, hand)], "3:9")
    assert name == "disc" and img is image and a is alpha
    np.testing.assert_array_equal(trimap, make_trimap(alpha, 3, 9))
    # the band along the row through the centre: 9 px of background, 3 of subject on each side
    # (the edge pixels themselves included), from the disc's edge at columns 15 and 45
    row = trimap[30]
    unknown = np.flatnonzero(row == 128)
    assert unknown.min() < 15 - 7 and unknown.max() > 45 + 7  # reaches far out
    assert (row[20:41] == 255).all()  # and only a little way in
    assert (row[:5] == 0).all() and (row[-5:] == 0).all()
    # the wider side is outside: more background pixels unknown than subject pixels
    outside = ((trimap == 128) & (alpha == 0)).sum()
    inside = ((trimap == 128) & (alpha == 1)).sum()
    assert outside > 2 * inside


def test_finished_run_keeps_the_reshaped_sets_and_adds_new_ones_from_the_weights(tmp_path):
    cfg = generalization_runs.TrainConfig(steps=1, batch=1, crop=32, widths=(4, 8, 8, 8), lr=1e-3, workers=0)
    done = tmp_path / "runs" / "naive-seed0-abc.json"
    fits, fit, measure = counting_trainer(cfg.widths, _items(90), seed=0)

    sets = {spec: with_trimaps(_items(90), spec) for spec in ("2:2", "1:6")}
    run = generalization_runs.finished_run(done, "d1", cfg, {}, fit, measure, trimaps={"2:2": sets["2:2"]})
    assert len(fits) == 1 and set(run["trimaps"]) == {"2:2"} and run["also"] == {}
    # the same model on the same photos: the reshaped set's errors are its own, not the hand trimap's
    model = TinyMattingNet(widths=cfg.widths)
    model.load_state_dict(torch.load(done.with_suffix(".pt"), weights_only=True))
    assert run["trimaps"]["2:2"] == generalization.evaluate(model, sets["2:2"], per_image=True)
    assert run["trimaps"]["2:2"]["sad"] != run["real"]["sad"]
    # a second shape comes from the saved weights; without --test-trimaps the run is reused as is
    more = generalization_runs.finished_run(done, "d1", cfg, {}, fit, measure, trimaps=sets)
    assert len(fits) == 1 and set(more["trimaps"]) == {"2:2", "1:6"}
    assert more["trimaps"]["2:2"] == run["trimaps"]["2:2"] and more["real"] == run["real"]
    assert generalization_runs.finished_run(done, "d1", cfg, {}, fit, measure) == more
    assert len(fits) == 1


def _run(real: dict[str, float], shaped: dict[str, dict[str, float]]) -> dict:
    def errors(sads: dict[str, float]) -> dict:
        per = {p: {"sad": v, "mse": 10 * v, "grad": v / 10} for p, v in sads.items()}
        return {**{k: float(np.mean([e[k] for e in per.values()])) for k in ("sad", "mse", "grad")},
                "per_image": per}
    return {"real": errors(real), "comp": {"sad": 1.0, "mse": 10.0, "grad": 0.1},
            "trimaps": {spec: errors(s) for spec, s in shaped.items()}}


def test_merge_folds_pools_each_shapes_photos_over_folds():
    a = _run({"GT01": 1.0}, {"5:25": {"GT01": 2.0}, "9:9": {"GT01": 7.0}})
    b = _run({"GT07": 3.0}, {"5:25": {"GT07": 6.0}})
    merged = merge_folds([a, b])
    assert set(merged["trimaps"]) == {"5:25"}  # a shape only one fold measured is left out
    assert merged["trimaps"]["5:25"]["sad"] == pytest.approx(4.0)
    assert set(merged["trimaps"]["5:25"]["per_image"]) == {"GT01", "GT07"}
    assert merge_folds([a])["trimaps"] == a["trimaps"]
    assert "trimaps" not in merge_folds([_run({"GT01": 1.0}, {}), _run({"GT07": 1.0}, {})])


def test_trimap_report_pairs_each_variant_against_the_first_within_a_shape():
    results = {"naive": {0: _run({"GT01": 1.0}, {"5:25": {"GT01": 10.0, "GT02": 20.0}}),
                         1: _run({"GT01": 1.0}, {"5:25": {"GT01": 10.0, "GT02": 20.0}})},
               "portrait": {0: _run({"GT01": 1.0}, {"5:25": {"GT01": 8.0, "GT02": 16.0}}),
                            1: _run({"GT01": 1.0}, {"5:25": {"GT01": 9.0, "GT02": 18.0}})}}
    text = trimap_report(results, ["naive", "portrait"], [0, 1], ["5:25", "9:9"])
    assert "5 px into the subject and 25 px into the background" in text and "9 px" not in text
    lines = text.splitlines()
    change = next(ln for ln in lines if ln.strip().startswith("portrait") and "seed 0" in ln)
    # seed 0: 12 against 15 (-20 %), seed 1: 13.5 against 15 (-10 %); mean -15 %
    assert "seed 0:  -20.0%" in change and "seed 1:  -10.0%" in change and "mean  -15.0%" in change
    assert "real SAD by the true alpha" not in text  # these runs have no split
    for runs in results.values():
        for run in runs.values():
            shaped = run["trimaps"]["5:25"]
            shaped.update({"sad_bg": shaped["sad"] / 2, "sad_mixed": shaped["sad"] / 2, "sad_fg": 0.0})
    split = trimap_report(results, ["naive", "portrait"], [0, 1], ["5:25"]).splitlines()
    row = next(ln for ln in split if ln.strip().startswith("portrait") and "|" in ln)
    # portrait's background part: 6.0 and 6.75 over the seeds
    assert row.split("|")[0].split()[1:] == ["6.375", "±", "0.530"]
    assert trimap_report(results, ["naive", "portrait"], [0, 1], []) == ""
