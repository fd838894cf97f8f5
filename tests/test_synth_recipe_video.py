"""synth.recipe.video: the video section and clip sources validate up front; what a video
recipe cannot build is a one-line error naming the field; a recipe without a video section
keeps its hash (the section is an added field)."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import procedural_recipe, video_recipe
from synth.recipe import RecipeError, load_recipe, parse_recipe, recipe_sha256

ROOT = Path(__file__).resolve().parent.parent


def test_the_video_recipes_load():
    demo = load_recipe(ROOT / "recipes" / "video_demo.yaml")
    real = load_recipe(ROOT / "recipes" / "video.yaml")
    assert demo.video.frames == 12 and real.video.frames == 16
    assert [s.kind for s in real.foregrounds] == ["fg_alpha_clips"]
    assert [s.kind for s in real.backgrounds] == ["folder", "clips"]


def test_no_video_section_keeps_the_hash():
    data = procedural_recipe(seed=0, fg=(4, (64, 64)), bg=(4, (64, 64)), canvas=(64, 64), per_shard=4)
    plain = parse_recipe(data)
    assert "video" not in plain.to_json_dict()
    assert recipe_sha256(parse_recipe({**data, "video": None})) == recipe_sha256(plain)
    assert recipe_sha256(parse_recipe(video_recipe())) != recipe_sha256(plain)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["composition"].update(multi_foreground={"p": 0.5}), "video: composition.multi_foreground.p must be 0"),
    (lambda d: d["output"].update(targets=["guidance"]), "video: output.targets ['guidance'] are for still images"),
    (lambda d: d["realism"]["noise"].update(compensate=True), "video: realism.noise.compensate is for still images"),
    (lambda d: d["composition"].update(background={"fit": "stretch"}), "video: composition.background.fit must be cover"),
    (lambda d: d["video"].update(frames=0), "frames"),
    (lambda d: d["video"]["motion_blur"].update(shutter=[0.6, 0.2]), "shutter"),
    (lambda d: d["video"]["motion"].update(speed=1), "speed"),
    (lambda d: d.update(backgrounds=[{"kind": "clips", "path": "x"}]) or d.pop("video"),
     "backgrounds.0: clip sources need a video section"),
])
def test_what_a_video_recipe_cannot_build_is_named(change, message):
    data = video_recipe()
    data["video"]["motion_blur"] = {"shutter": [0.3, 0.5]}
    change(data)
    with pytest.raises(RecipeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_recipe(data)
