"""benchmarks/generalization.py's training settings: the run key that names saved runs, and the
loader's colour jitter (``--photometric``) reaching the training batches."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import generalization  # noqa: E402
import generalization_runs  # noqa: E402
from shards.config import AugmentConfig  # noqa: E402
from synth.build import build  # noqa: E402
from synth.recipe import parse_recipe  # noqa: E402

from conftest import procedural_recipe  # noqa: E402
from generalization_fixtures import train_config as _cfg  # noqa: E402


def test_run_key_keeps_the_names_of_runs_saved_before_photometric_and_separates_jittered_runs():
    # the key as it was computed before the field existed: every saved run is named by it
    old_fields = {"steps": 400, "batch": 8, "crop": 160, "widths": (16, 32, 64, 128), "lr": 3e-3, "workers": 1}
    old = hashlib.sha256(json.dumps([old_fields, 1600, 640, 36, "None"], sort_keys=True).encode()).hexdigest()[:12]
    assert generalization_runs.run_key(_cfg(), 1600, 640, 36, None) == old == "eee0471b59f1"
    jittered = {generalization_runs.run_key(_cfg(photometric=p), 1600, 640, 36, None) for p in (0.5, 1.0)}
    assert len(jittered) == 2 and old not in jittered
    assert generalization_runs.run_key(_cfg(steps=800), 1600, 640, 36, None) == "321ecb30a693"
    # the jittered runs saved before band_outer existed keep their key; a drawn-apart band gets its own
    assert generalization_runs.run_key(_cfg(photometric=1.0), 1600, 640, 36, None) == "b2f1a2781f69"
    two_sided = generalization_runs.run_key(_cfg(photometric=1.0, band_outer=(1, 29)), 1600, 640, 36, None)
    assert two_sided not in jittered | {old}



def test_the_command_line_trains_with_jitter_by_default_and_zero_finds_the_runs_saved_without_it():
    args = generalization.arg_parser().parse_args(["--out", "x"])
    assert args.photometric == 1.0
    off = generalization.arg_parser().parse_args(["--out", "x", "--photometric", "0"])

    def key(a) -> str:
        return generalization_runs.run_key(_cfg(steps=a.steps, photometric=a.photometric), 1600, 640, 36, None)
    assert key(off) == generalization_runs.run_key(_cfg(steps=off.steps), 1600, 640, 36, None)
    assert key(args) != key(off)
    assert args.band_outer is None
    assert generalization.arg_parser().parse_args(["--out", "x", "--band-outer", "1", "29"]).band_outer == [1, 29]

def test_photometric_jitter_changes_the_trained_model_and_zero_is_the_plain_loader(tmp_path):
    raw = procedural_recipe(seed=2, fg=(2, (40, 40)), bg=(2, (40, 40)), canvas=(32, 32), per_shard=4,
                            samples=(4, 2))
    build(parse_recipe(raw), tmp_path / "data", cache_dir=tmp_path / "cache")
    small = {"steps": 2, "batch": 2, "crop": 32, "widths": (4, 8, 8, 8), "lr": 1e-2, "workers": 0}

    def weights(**kw) -> list[torch.Tensor]:
        cfg = generalization_runs.TrainConfig(**{**small, **kw})
        return [p.detach().clone() for p in generalization.train(tmp_path / "data", 0, cfg).parameters()]

    # strength 0 is the loader's own default augmentation: runs without the flag train as before it
    assert AugmentConfig.of({"photometric": 0.0}) == AugmentConfig.of(None)
    plain, jitter = weights(), weights(photometric=1.0)
    assert not all(torch.equal(a, b) for a, b in zip(plain, jitter))
    assert all(torch.equal(a, b) for a, b in zip(jitter, weights(photometric=1.0)))  # deterministic
    # the drawn-apart band reaches the trimaps the model is trained on (2-4 px outside at 32 px)
    assert not all(torch.equal(a, b) for a, b in zip(plain, weights(band_outer=(40, 80))))
