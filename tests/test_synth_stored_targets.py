"""synth.stored_targets: guidance, semantic and detail members written by the build; switching
them on changes no other member, and their values follow the stored alpha and trimap."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from augment.guidance import Guidance, apply_guidance
from augment.trimap_free import semantic_classes
from shards.codec import decode_alpha, decode_alpha_stored, decode_trimap
from synth.build import prepare_inputs
from synth.plan import make_plan
from synth.recipe import RecipeError, load_recipe, recipe_sha256
from synth.render import render_sample

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["foregrounds.0.count=8", "foregrounds.0.size=[160, 120]", "backgrounds.0.count=5",
         "backgrounds.0.size=[120, 160]", "canvas.height=112", "canvas.width=96"]
BASE = ("image.jpg", "alpha.png", "trimap.png", "fg.jpg", "bg.jpg")


def _render(tmp: Path, overrides: list[str], n: int = 6, recipe: str = "demo.yaml"):
    r = load_recipe(ROOT / "recipes" / recipe, SMALL + overrides)
    fgs, bgs, _ = prepare_inputs(r, tmp)
    plan = make_plan(r, recipe_sha256(r), fgs, bgs)
    return [render_sample(plan, "train", i) for i in range(n)]


def test_stored_targets_change_no_other_member_and_follow_alpha_and_trimap(tmp_path):
    off = _render(tmp_path, [])
    on = _render(tmp_path, ["output.targets=[guidance, semantic, detail]"])
    again = _render(tmp_path, ["output.targets=[guidance, semantic, detail]"])
    for a, b, c in zip(off, on, again):
        assert all(a.members[m] == b.members[m] for m in BASE)
        assert set(b.members) - set(a.members) == {"guidance.png", "semantic.png", "detail.png"}
        assert b.members == c.members  # reproducible
        meta_a, meta_b = json.loads(a.members["meta.json"]), json.loads(b.members["meta.json"])
        assert {k for k in meta_b if meta_b[k] != meta_a.get(k)} == {"recipe_sha256", "targets"}
        alpha = decode_alpha(b.members["alpha.png"])
        trimap = decode_trimap(b.members["trimap.png"])
        params = Guidance.from_dict(meta_b["targets"]["guidance"])
        want = np.rint(apply_guidance(params, alpha) * 255).astype(np.uint8)
        assert np.array_equal(decode_alpha_stored(b.members["guidance.png"]), want)
        assert np.array_equal(decode_alpha_stored(b.members["semantic.png"]), semantic_classes(trimap))
        assert np.array_equal(decode_alpha_stored(b.members["detail.png"]) == 255, trimap == 128)


def test_portrait_recipe_with_the_targets_keeps_its_layers(tmp_path, shared_data):
    data = [f"foregrounds.0.image_dir={shared_data}/alphamatting/image",
            f"foregrounds.0.alpha_dir={shared_data}/alphamatting/alpha",
            f"backgrounds.0.path={shared_data}/backgrounds", "canvas.height=256", "canvas.width=256"]

    def render(extra):
        r = load_recipe(ROOT / "recipes" / "portrait.yaml", data + extra)
        fgs, bgs, _ = prepare_inputs(r, tmp_path / "cache")
        plan = make_plan(r, recipe_sha256(r), fgs, bgs)
        return [render_sample(plan, "train", i) for i in range(3)]

    for a, b in zip(render([]), render(["output.targets=[guidance, semantic, detail]"])):
        assert all(a.members[m] == b.members[m] for m in BASE)
        assert {"guidance.png", "semantic.png", "detail.png"} <= set(b.members)


def test_unknown_targets_are_refused():
    assert load_recipe(ROOT / "recipes" / "demo.yaml", ["output.targets=[guidance, detail]"]).output.targets == (
        "guidance", "detail")
    with pytest.raises(RecipeError, match=r"output.targets: unknown target 'mask'"):
        load_recipe(ROOT / "recipes" / "demo.yaml", ["output.targets=[guidance, mask]"])
