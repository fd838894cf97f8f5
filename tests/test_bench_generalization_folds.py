"""Cross-validation folds of benchmarks/generalization.py: which photos each fold trains and
tests on, where it keeps its files, and the variants it refuses."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import generalization  # noqa: E402
import generalization_runs  # noqa: E402
import generalization_data  # noqa: E402


def test_folds_hold_out_every_photo_exactly_once():
    tests = [generalization_data.fold_photos(k)[1] for k in range(generalization_data.FOLDS)]
    assert sorted(p for t in tests for p in t) == [f"GT{i:02d}" for i in range(1, 19)]
    for k in range(generalization_data.FOLDS):
        train, test = generalization_data.fold_photos(k)
        assert len(train) == 12 and len(test) == 6 and not set(train) & set(test)
    # the default fold is the split the pinned detector held out
    assert generalization_data.fold_photos(2) == (generalization_data.TRAIN_FG, generalization_data.TEST_FG)
    assert generalization_data.TEST_FG == ["GT13", "GT14", "GT15", "GT16", "GT17", "GT18"]
    with pytest.raises(ValueError, match="fold"):
        generalization_data.fold_photos(3)


def test_prepare_sources_links_a_folds_photos_in_its_own_folder(tmp_path):
    shared = tmp_path / "shared"
    for sub in ("image", "alpha"):
        (shared / "alphamatting" / sub).mkdir(parents=True)
        for i in range(1, 19):
            (shared / "alphamatting" / sub / f"GT{i:02d}.png").write_bytes(b"x")
    (shared / "backgrounds").mkdir()
    for i in range(1, 71):
        (shared / "backgrounds" / f"bg{i:03d}.jpg").write_bytes(b"x")
    work = tmp_path / "work"
    src0 = generalization_data.prepare_sources(shared, work, 0)
    src2 = generalization_data.prepare_sources(shared, work)
    stems = {k: sorted(p.stem for p in v.iterdir()) for k, v in src0.items()}
    assert stems["fg_test_image"] == ["GT01", "GT02", "GT03", "GT04", "GT05", "GT06"]
    assert stems["fg_train_alpha"] == [f"GT{i:02d}" for i in range(7, 19)]
    assert len(stems["bg_train"]) == 50 and len(stems["bg_val"]) == 20
    assert src0["fg_test_image"] == work / "src" / "fold0" / "test" / "image"
    assert src2["fg_test_image"] == work / "src" / "test" / "image"  # the default fold where it always was
    assert sorted(p.stem for p in src2["fg_test_image"].iterdir()) == generalization_data.TEST_FG


def test_check_folds_refuses_variants_that_saw_the_test_photos():
    generalization.check_folds([2], ["naive", "portrait-guided", "tuned=x.yaml"], None)  # the default fold
    generalization.check_folds([0, 1, 2], ["naive", "portrait", "portrait-nonoise"], None)
    generalization.check_folds([0, 1], ["naive", "p-colour=composition.background_choice.weights.colour=1"], None)
    with pytest.raises(SystemExit, match="portrait-guided"):
        generalization.check_folds([0, 1, 2], ["naive", "portrait-guided"], None)
    with pytest.raises(SystemExit, match="tuned=x.yaml"):
        generalization.check_folds([1], ["naive", "tuned=x.yaml"], None)
    with pytest.raises(SystemExit, match="--real"):
        generalization.check_folds([0, 2], ["naive"], Path("real"))
    with pytest.raises(SystemExit, match="each fold once"):
        generalization.check_folds([0, 0], ["naive"], None)


def test_override_variants_are_portrait_with_their_overrides(tmp_path):
    v = "p-light=realism.defocus.radius=[2.0, 8.0],realism.defocus.p=0.5"
    assert generalization_data.variant_name(v) == "p-light"
    assert generalization_data.variant_overrides(v) == ["realism.defocus.radius=[2.0, 8.0]", "realism.defocus.p=0.5"]
    assert generalization_data.variant_overrides("portrait-nonoise") == ["realism.noise.p=0"]
    assert generalization_data.variant_overrides("tuned=x.yaml") == [] and generalization_data.variant_overrides("naive") == []
    src = {k: tmp_path for k in ("image", "alpha", "bg")}
    recipe = generalization_data._recipe_for(v, src["image"], src["alpha"], src["bg"], 12, 320, 3)
    assert recipe.realism.defocus.radius == (2.0, 8.0) and recipe.realism.defocus.p == 0.5
    assert recipe.name == "portrait" and recipe.seed == 3 and recipe.canvas.height == 320
    with pytest.raises(SystemExit, match="not found"):
        generalization_data._recipe_for("t=missing.yaml", src["image"], src["alpha"], src["bg"], 12, 320, 3)


def _manifest(folder: Path, digests: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shards = [{"path": f"train-{i:06d}.tar", "sha256": d} for i, d in enumerate(digests)]
    (folder / "manifest.json").write_text(json.dumps({"shards": shards}))
    return folder


def test_saved_runs_are_reused_only_on_the_same_training_bytes(tmp_path, capsys):
    data = _manifest(tmp_path / "a", ["11" * 32, "22" * 32])
    digest = generalization_data.dataset_digest(data)
    assert len(digest) == 12
    # the order shards are listed in does not matter; any shard's bytes do
    assert generalization_data.dataset_digest(_manifest(tmp_path / "b", ["22" * 32, "11" * 32])) == digest
    other = generalization_data.dataset_digest(_manifest(tmp_path / "c", ["11" * 32, "23" * 32]))
    assert other != digest
    path = tmp_path / "runs" / "portrait-seed0-abc.json"
    assert generalization_runs.saved_run(path, digest) is None  # nothing saved yet
    path.parent.mkdir()
    run = {"real": {"sad": 1.5}, "comp": {"sad": 2.0}, "train_data": digest}
    path.write_text(json.dumps(run))
    assert generalization_runs.saved_run(path, digest) == run
    assert generalization_runs.saved_run(path, other) is None  # trained on other bytes: retrain
    assert "trained on other data" in capsys.readouterr().out
    path.write_text(json.dumps({"real": {"sad": 1.5}, "comp": {"sad": 2.0}}))  # from before the stamp
    assert generalization_runs.saved_run(path, digest) is None


def test_saved_runs_of_another_environment_are_retrained_and_unrecorded_ones_are_flagged(tmp_path, capsys):
    env = generalization_runs.environment()
    assert env["torch"] == torch.__version__ and env["torch_threads"] == str(torch.get_num_threads())
    path = tmp_path / "naive-seed0-abc.json"
    run = {"real": {"sad": 1.5}, "comp": {"sad": 2.0}, "train_data": "d1", "env": env}
    path.write_text(json.dumps(run))
    assert generalization_runs.saved_run(path, "d1", env) == run
    other = {**env, "numpy": "0.0.1"}
    assert generalization_runs.saved_run(path, "d1", other) is None
    assert f"numpy {env['numpy']} -> 0.0.1" in capsys.readouterr().out
    old = {k: v for k, v in run.items() if k != "env"}  # saved before environments were recorded: kept
    path.write_text(json.dumps(old))
    assert generalization_runs.saved_run(path, "d1", other) == old
    results = {"naive": {0: [run, old], 1: [run]}, "portrait": {0: [run], 1: [old]}}
    [line] = generalization_runs.unrecorded_runs(results)
    assert "2 run(s)" in line
    assert generalization_runs.unrecorded_runs({"naive": {0: [run]}}) == []


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "alphamatting").is_dir(), reason="../shared/data is absent")
def test_redraw_builds_one_training_set_per_data_seed_and_one_validation_set(tmp_path):
    src = generalization_data.prepare_sources(SHARED, tmp_path)
    args = ("naive", src, tmp_path, 3, 2, 96)
    train0, val0 = generalization_data.build_variant(*args)
    again, _ = generalization_data.build_variant(*args, data_seed=0)
    train1, val1 = generalization_data.build_variant(*args, data_seed=1)
    assert (train0, again, train1) == (tmp_path / "data" / "naive" / "train",) * 2 + (
        tmp_path / "data" / "naive" / "train-seed1",)
    assert val0 == val1 == tmp_path / "data" / "naive" / "val"  # validation is drawn once, seed 1
    seeds = [json.loads((d / "manifest.json").read_text())["recipe"]["seed"] for d in (train0, train1, val0)]
    assert seeds == [0, 1, 1]
    # another realisation: other bytes, so runs saved on one are not reused for the other
    assert generalization_data.dataset_digest(train0) != generalization_data.dataset_digest(train1)
