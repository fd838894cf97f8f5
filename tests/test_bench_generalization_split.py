"""benchmarks/generalization.py's SAD split by the true alpha (background, mixed, subject):
the values, the report's lines, and runs saved before the split completed from their weights."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import generalization_runs  # noqa: E402
from generalization_fixtures import counting_trainer, half_items  # noqa: E402
from generalization_eval import SPLIT_KEYS, matting_errors  # noqa: E402
from generalization_report import merge_folds, per_photo_split, report  # noqa: E402


def test_the_split_puts_each_error_where_the_true_alpha_is_and_adds_up_to_the_sad():
    # unknown region: every pixel but the last column; true alpha 0 / 0.5 / 1 in three bands
    gt = np.zeros((10, 12), np.float32)
    gt[:, 4:8] = 0.5
    gt[:, 8:] = 1.0
    trimap = np.full((10, 12), 128, np.uint8)
    trimap[:, 11] = 255
    pred = gt.copy()
    pred[:, :4] = 0.25          # background taken for subject: 40 px x 0.25
    pred[:, 8:] = 0.5           # subject taken for background: 30 px (unknown) x 0.5
    errors = matting_errors(pred, gt, trimap)
    assert errors["sad_bg"] == pytest.approx(40 * 0.25 / 1000)
    assert errors["sad_mixed"] == 0.0
    assert errors["sad_fg"] == pytest.approx(30 * 0.5 / 1000)
    assert sum(errors[k] for k in SPLIT_KEYS) == pytest.approx(errors["sad"])
    rng = np.random.default_rng(0)
    for _ in range(5):
        gt, pred = rng.random((16, 16)).astype(np.float32), rng.random((16, 16)).astype(np.float32)
        gt[rng.random((16, 16)) < 0.3] = 0.0
        e = matting_errors(pred, gt, np.where(rng.random((16, 16)) < 0.8, 128, 0).astype(np.uint8))
        assert sum(e[k] for k in SPLIT_KEYS) == pytest.approx(e["sad"], rel=1e-9)


def _run(sad: float, split: bool, photo: str) -> dict:
    real = {"sad": sad, "mse": 1.0, "grad": 1.0}
    if split:
        real.update(sad_bg=sad / 4, sad_mixed=sad / 2, sad_fg=sad / 4)
    return {"real": {**real, "per_image": {photo: dict(real)}}, "comp": {"sad": 1.0, "mse": 1.0, "grad": 1.0}}


def test_the_report_prints_the_split_only_when_every_run_has_it_and_folds_keep_it():
    merged = merge_folds([_run(2.0, True, "GT01"), _run(4.0, True, "GT07")])
    assert merged["real"]["sad_mixed"] == pytest.approx(1.5) and merged["real"]["sad_bg"] == pytest.approx(0.75)
    results = {"naive": {0: merged, 1: merged}, "portrait": {0: merged, 1: merged}}
    text = report(results, ["naive", "portrait"], [0, 1])
    assert "real SAD by the true alpha" in text
    assert "  portrait                 0.750 ± 0.000 |   1.500 ± 0.000 |   0.750 ± 0.000" in text
    # one fold saved before the split: the merged seed has none, and the report leaves it out
    old = merge_folds([_run(2.0, True, "GT01"), _run(4.0, False, "GT07")])
    assert "sad_mixed" not in old["real"] and old["real"]["sad"] == pytest.approx(3.0)
    results["portrait"][1] = old
    assert "real SAD by the true alpha" not in report(results, ["naive", "portrait"], [0, 1])


def test_the_per_photo_split_shows_each_photos_parts_and_each_variants_change():
    def seed(parts: dict[str, tuple[float, float, float]]) -> dict:
        per = {p: {"sad": sum(v), "mse": 1.0, "grad": 1.0, **dict(zip(SPLIT_KEYS, v))} for p, v in parts.items()}
        return merge_folds([{"real": {"sad": 0.0, "mse": 1.0, "grad": 1.0, "per_image": per},
                             "comp": {"sad": 1.0, "mse": 1.0, "grad": 1.0}}])
    naive = {0: seed({"GT04": (1.0, 15.0, 1.0), "GT13": (2.0, 4.0, 6.0)}),
             1: seed({"GT04": (1.0, 17.0, 1.5), "GT13": (2.0, 4.0, 6.0)})}
    portrait = {0: seed({"GT04": (1.5, 21.0, 3.0), "GT13": (1.0, 4.0, 4.0)}),
                1: seed({"GT04": (1.5, 21.0, 3.5), "GT13": (1.0, 5.0, 4.0)})}
    lines = per_photo_split({"naive": naive, "portrait": portrait}, ["naive", "portrait"], [0, 1])
    rows = {line.split()[0]: [float(x) for x in line.split()[1:]] for line in lines[2:]}
    assert rows["GT04"] == [1.0, 16.0, 1.25, 0.5, 5.0, 2.0]  # naive's parts, then portrait's changes
    assert rows["GT13"] == [2.0, 4.0, 6.0, -1.0, 0.5, -2.0]
    # a photo without the split in one run: no lines
    del portrait[1]["real"]["per_image"]["GT13"]["sad_fg"]
    assert per_photo_split({"naive": naive, "portrait": portrait}, ["naive", "portrait"], [0, 1]) == []


def test_a_run_saved_before_the_split_is_completed_from_its_weights_without_training(tmp_path, capsys):
    cfg = generalization_runs.TrainConfig(steps=1, batch=1, crop=32, widths=(4, 8, 8, 8), lr=1e-3, workers=0)
    done = tmp_path / "runs" / "naive-seed0-abc.json"
    items = half_items(90)
    fits, fit, measure = counting_trainer(cfg.widths, items, seed=7)

    run = generalization_runs.finished_run(done, "d1", cfg, {"dog": items}, fit, measure)
    assert len(fits) == 1 and all(k in run["real"] for k in SPLIT_KEYS)
    assert all(k in run["real"]["per_image"]["cat"] and k in run["also"]["dog"] for k in SPLIT_KEYS)
    # strip the split, as a run saved before it was measured
    old = json.loads(done.read_text())
    for errors in (old["real"], old["real"]["per_image"]["cat"], old["comp"], old["also"]["dog"],
                   old["also"]["dog"]["per_image"]["cat"]):
        for k in SPLIT_KEYS:
            errors.pop(k, None)
    done.write_text(json.dumps(old))
    again = generalization_runs.finished_run(done, "d1", cfg, {"dog": items}, fit, measure)
    assert len(fits) == 1  # evaluated from the saved weights, not retrained
    assert again["real"] == run["real"] and again["also"]["dog"] == run["also"]["dog"]
    assert again["env"] == run["env"] and again["train_data"] == "d1"
    assert json.loads(done.read_text()) == again  # saved completed
    assert "WARNING" not in capsys.readouterr().out
