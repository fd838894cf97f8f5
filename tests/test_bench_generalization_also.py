"""benchmarks/generalization.py's ``--also-real`` sets (photos every fold's model also predicts),
the test-photo layouts it reads, the weights it keeps beside each run, and the variant form
shared by the benchmarks (benchmarks/variants.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import generalization  # noqa: E402
import generalization_runs  # noqa: E402
from generalization_fixtures import counting_trainer, half_items as _items  # noqa: E402
from generalization_eval import photo_files, real_test_set, trivial_sad  # noqa: E402
from generalization_report import also_report, report, trivial_line  # noqa: E402
from tiny_matting_net import TinyMattingNet  # noqa: E402
from variants import parse_variant  # noqa: E402


def _photo(folder: Path, name: str, value: int, size=(6, 8)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / name), np.full(size, value, np.uint8))


def test_flat_layout_pairs_each_photo_with_its_alpha_and_trimap(tmp_path):
    # pymatting's layout: STEM.png, STEM_alpha.png, STEM_trimap.png; a spare background is no photo
    _photo(tmp_path, "cat.png", 10)
    _photo(tmp_path, "cat_alpha.png", 255)
    _photo(tmp_path, "cat_trimap.png", 120)
    _photo(tmp_path, "beach.png", 200)
    assert [(s, i.name, a.name, t.name) for s, i, a, t in photo_files(tmp_path)] == [
        ("cat", "cat.png", "cat_alpha.png", "cat_trimap.png")]
    [(stem, image, alpha, trimap)] = real_test_set(tmp_path, None)
    assert stem == "cat" and image.shape == (6, 8, 3) and (image == 10).all()
    assert alpha.dtype == np.float32 and (alpha == 1.0).all()
    assert (trimap == 128).all()  # 120 is unknown: trimaps are snapped to {0, 128, 255}


def test_stems_with_glob_characters_find_their_own_files(tmp_path):
    """A stem is compared as a string: ``[`` in a name is no pattern, and ``cat.x`` is not ``cat``."""
    _photo(tmp_path, "cat [1].png", 10)
    _photo(tmp_path, "cat [1]_alpha.png", 255)
    _photo(tmp_path, "cat [1]_trimap.png", 0)
    _photo(tmp_path, "c_alpha.png", 0)  # what the pattern "cat [1]_alpha.*" would match
    assert [(s, a.name, t.name) for s, _, a, t in photo_files(tmp_path)] == [
        ("cat [1]", "cat [1]_alpha.png", "cat [1]_trimap.png")]
    for sub, name in (("image", "x[ab].png"), ("alpha", "x[ab].png"), ("trimap", "x[ab].png"),
                      ("alpha", "xa.png"), ("trimap", "x[ab].extra.png")):
        _photo(tmp_path / "set" / sub, name, 1)
    [(stem, _, alpha_p, trimap_p)] = photo_files(tmp_path / "set")
    assert (stem, alpha_p.name, trimap_p.name) == ("x[ab]", "x[ab].png", "x[ab].png")


def test_folder_layout_and_its_errors(tmp_path):
    for sub, v in (("image", 10), ("alpha", 0), ("trimap", 250)):
        _photo(tmp_path / "set" / sub, "a.png", v)
    [(stem, _, alpha, trimap)] = real_test_set(tmp_path / "set", None)
    assert stem == "a" and (alpha == 0).all() and (trimap == 255).all()
    assert real_test_set(tmp_path / "set", ["a"])[0][0] == "a"
    with pytest.raises(SystemExit, match="no test images"):
        real_test_set(tmp_path / "set", ["b"])
    _photo(tmp_path / "flat", "dog.jpg", 1)
    _photo(tmp_path / "flat", "dog_alpha.png", 1)
    with pytest.raises(SystemExit, match=r"dog\.jpg.*dog_trimap"):
        photo_files(tmp_path / "flat")
    _photo(tmp_path / "flat", "dog_trimap.png", 0, size=(5, 8))
    with pytest.raises(SystemExit, match=r"dog\.jpg.*differ in size"):
        real_test_set(tmp_path / "flat", None)
    with pytest.raises(SystemExit, match="not a folder"):
        photo_files(tmp_path / "missing")


def test_also_real_defaults_to_the_lemur_and_refuses_the_training_sources(tmp_path):
    shared = tmp_path / "shared"
    for sub in ("alphamatting", "backgrounds"):
        (shared / sub).mkdir(parents=True)
    assert generalization.also_real_dirs(None, shared) == []  # no lemur in this shared folder
    (shared / "lemur").mkdir()
    assert generalization.also_real_dirs(None, shared) == [shared / "lemur"]
    assert generalization.also_real_dirs([], shared) == []
    with pytest.raises(SystemExit, match="names must differ"):
        generalization.also_real_dirs([tmp_path / "a" / "x", tmp_path / "b" / "x"], shared)
    with pytest.raises(SystemExit, match="training sets are drawn from there"):
        generalization.also_real_dirs([shared / "alphamatting"], shared)


def test_saved_weights_give_the_same_model_and_a_changed_retraining_is_reported(tmp_path, capsys):
    cfg = generalization_runs.TrainConfig(steps=1, batch=1, crop=32, widths=(4, 8, 8, 8), lr=1e-3, workers=0)
    done = tmp_path / "runs" / "naive-seed0-abc.json"
    assert generalization_runs.saved_model(done, cfg) is None  # a run from before weights were kept
    torch.manual_seed(3)
    model = TinyMattingNet(widths=cfg.widths)
    done.parent.mkdir()
    torch.save(model.state_dict(), done.with_suffix(".pt"))
    loaded = generalization_runs.saved_model(done, cfg)
    x = torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8)
    t = torch.full((1, 1, 32, 32), 128, dtype=torch.uint8)
    model.eval()
    loaded.eval()
    assert torch.equal(model(x, t), loaded(x, t))
    same = {"real": {"sad": 2.5}}
    generalization_runs.check_retrained(done, same, {"real": {"sad": 2.5}})
    generalization_runs.check_retrained(done, None, {"real": {"sad": 9.0}})  # nothing saved: nothing to compare
    assert capsys.readouterr().out == ""
    generalization_runs.check_retrained(done, same, {"real": {"sad": 2.6}})
    assert "WARNING naive-seed0-abc.json" in capsys.readouterr().out


def test_parse_variant_glues_list_values_back_together():
    assert parse_variant("p=realism.defocus.radius=[2.0, 8.0],realism.defocus.p=0.5") == (
        "p", ["realism.defocus.radius=[2.0, 8.0]", "realism.defocus.p=0.5"])
    assert parse_variant("x=a.b=1") == ("x", ["a.b=1"])
    for bad in ("x", "=a.b=1", "x="):
        with pytest.raises(SystemExit, match="NAME=path.to.field=value"):
            parse_variant(bad)


def test_finished_run_trains_once_and_completes_a_saved_run_from_its_weights(tmp_path, capsys):
    cfg = generalization_runs.TrainConfig(steps=1, batch=1, crop=32, widths=(4, 8, 8, 8), lr=1e-3, workers=0)
    done = tmp_path / "runs" / "portrait-seed0-abc.json"
    fits, fit, measure = counting_trainer(cfg.widths, _items(90))

    run = generalization_runs.finished_run(done, "d1", cfg, {"cat": _items(10)}, fit, measure)
    assert len(fits) == 1 and done.with_suffix(".pt").exists()
    assert set(run["also"]) == {"cat"} and run["train_data"] == "d1" and run["env"] == generalization_runs.environment()
    assert generalization_runs.finished_run(done, "d1", cfg, {"cat": _items(10)}, fit, measure) == run
    assert len(fits) == 1  # reused as saved
    # a new set is evaluated from the saved weights, without training
    more = generalization_runs.finished_run(done, "d1", cfg, {"cat": _items(10), "dog": _items(200)}, fit, measure)
    assert len(fits) == 1 and set(more["also"]) == {"cat", "dog"}
    assert more["also"]["cat"] == run["also"]["cat"] and more["real"] == run["real"]
    # without weights (a run from before they were kept) it retrains
    done.with_suffix(".pt").unlink()
    generalization_runs.finished_run(done, "d1", cfg, {"cat": _items(10), "dog": _items(200), "eel": _items(5)},
                                fit, measure)
    assert len(fits) == 2
    # this fit draws another initialisation, so the retrained run does not repeat the saved one
    assert "WARNING portrait-seed0-abc.json" in capsys.readouterr().out
    # other training data: retrained whatever is saved
    generalization_runs.finished_run(done, "d2", cfg, {}, fit, measure)
    assert len(fits) == 3


def test_trivial_sad_is_a_constant_alphas_error_in_the_unknown_region_and_the_report_prints_it():
    # unknown region: the right half of the image (16 x 32 px), whose true alpha is 1
    [(_, image, alpha, trimap)] = _items(0)
    trimap[:, :16] = 0
    sads = trivial_sad([("cat", image, alpha, trimap)])
    assert sads == pytest.approx({0.0: 512 / 1000, 0.5: 256 / 1000, 1.0: 0.0})
    assert trivial_line(sads) == ["  (no model)             SAD of a constant alpha in the unknown region, "
                                  "0: 0.512, 0.5: 0.256, 1: 0.000"]
    assert trivial_line(None) == []
    run = {"real": {"sad": 1.0, "mse": 1.0, "grad": 1.0}, "comp": {"sad": 1.0, "mse": 1.0, "grad": 1.0},
           "also": {"cat": {"sad": 2.0, "mse": 1.0, "grad": 1.0, "per_image": {"cat": {}}, "models": [2.0]}}}
    results = {"naive": {0: run}, "portrait": {0: run}}
    text = report(results, ["naive", "portrait"], [0], sads)
    assert text.count("(no model)") == 1 and text.index("(no model)") < text.index("MSE (lower")
    assert "(no model)" in also_report(results, ["naive", "portrait"], [0], {"cat": sads})
    assert "(no model)" not in also_report(results, ["naive", "portrait"], [0])
