"""synth/critic/tune.py and `synth tune`: a tiny coordinate search on procedural sources writes a
valid tuned recipe with what it measured, moves stay inside the diversity guard, and a recipe
with the detector's held-out photos is refused before anything is built."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.cli import main
from synth.critic.tune import PARAMS, Param, param_moves, tune, write_tuned
from synth.recipe import load_recipe, parse_recipe

from conftest import procedural_recipe

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "synth" / "critic" / "weights" / "portrait-gt01-12-sharp.critic"


def _recipe() -> dict:
    return procedural_recipe(seed=2, fg=(4, (80, 72)), bg=(4, (80, 112)), canvas=(96, 96), per_shard=4)


def test_tiny_tune_writes_a_valid_recipe_with_what_it_measured(tmp_path):
    recipe = parse_recipe(_recipe())
    result = tune(recipe, WEIGHTS, tmp_path / "work", budget=3, samples=3, canvas=96)
    assert len(result.trials) == 3 and result.trials[0]["overrides"] == {}
    assert all(np.isfinite(t["score"]) and t["scored"] == 3 for t in result.trials)
    assert result.best["score"] <= result.baseline["score"]
    assert result.best["score"] == min(t["score"] for t in result.trials if t.get("guard_ok", True)) \
        or result.best is result.baseline
    side = write_tuned(recipe, result, tmp_path / "tuned.yaml", "t.yaml", "ab" * 32)
    text = (tmp_path / "tuned.yaml").read_text()
    assert text.startswith("# Tuned by `synth tune t.yaml`") and "Mean detector logit" in text
    tuned = load_recipe(tmp_path / "tuned.yaml")
    for path, value in result.overrides.items():
        node = tuned
        for name in path.split("."):
            node = getattr(node, name)
        assert list(node) == value if isinstance(value, list) else node == value
    logged = json.loads(side.read_text())
    assert [t["score"] for t in logged["trials"]] == [t["score"] for t in result.trials]
    assert logged["baseline"]["score"] == result.baseline["score"]


@settings(max_examples=60, deadline=None)
@given(param=st.sampled_from(PARAMS), a=st.floats(0, 1), b=st.floats(0, 1), step=st.floats(0.01, 0.5))
def test_moves_stay_inside_the_diversity_guard(param, a, b, step):
    if param.kind == "p":
        for v in param_moves(param, a, b, step):
            assert min(0.1, b) <= v <= max(0.95, b) and v != a
    else:
        scale = param.hi - param.lo
        lo, hi = sorted((param.lo + a * scale, param.lo + b * scale))
        for v in param_moves(param, [lo, hi], [lo, hi], step):
            assert param.lo <= v[0] <= v[1] <= param.hi
            assert v[1] - v[0] >= 0.5 * (hi - lo) - 1e-3


def test_held_out_photos_are_refused_before_building(tmp_path):
    from synth.critic.weights import read_weights, save_weights

    header, state = read_weights(WEIGHTS)
    save_weights(state, {**{k: header[k] for k in ("width", "patch", "canvas")},
                         "training": {"held_out_photos": ["GT13"]}}, tmp_path / "w.critic")
    for d in ("image", "alpha"):
        (tmp_path / d).mkdir()
        for stem in ("GT01", "GT13"):
            (tmp_path / d / f"{stem}.png").write_bytes(b"")
    raw = {**_recipe(), "foregrounds": [{"kind": "image_alpha", "image_dir": str(tmp_path / "image"),
                                         "alpha_dir": str(tmp_path / "alpha")}]}
    with pytest.raises(ValueError, match="holds out.*GT13.png"):
        tune(parse_recipe(raw), tmp_path / "w.critic", tmp_path / "work", budget=2, samples=2)
    assert not (tmp_path / "work").exists()


def test_cli_tune(tmp_path):
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(_recipe()))
    res = CliRunner().invoke(main, ["tune", str(tmp_path / "r.yaml"), "-o", str(tmp_path / "t.yaml"),
                                    "--budget", "2", "--samples", "2", "--canvas", "96"])
    assert res.exit_code == 0, res.output
    assert "tuned: score" in res.output and (tmp_path / "t.yaml.tune.json").is_file()
    assert load_recipe(tmp_path / "t.yaml").name == "t"
    assert Param("x", "p").kind == "p"
