"""synth.render with instance targets: switching them on adds the instance members and changes no
other member's bytes; the rendered members agree with each other (visible alphas sum to
alpha.png, depth order as composited, group relations recorded); group composition values."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shards.codec import decode_alpha_stored
from synth.build import prepare_inputs
from synth.instances import instance_member_names
from synth.plan import make_plan
from synth.recipe import load_recipe, recipe_sha256
from synth.render import render_sample

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["foregrounds.0.count=10", "foregrounds.0.size=[160, 120]", "backgrounds.0.count=6",
         "backgrounds.0.size=[120, 160]", "canvas.height=128", "canvas.width=128"]
GROUP = ["composition.multi_foreground.p=0.8", "composition.multi_foreground.max_count=6",
         "composition.multi_foreground.layout=group"]
ON = ["output.targets=[instances]"]
BASE = ("image.jpg", "alpha.png", "trimap.png", "fg.jpg", "bg.jpg")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _render(cache: Path, overrides: list[str], indices=range(8), split: str = "train"):
    recipe = load_recipe(ROOT / "recipes" / "demo.yaml", SMALL + overrides)
    fgs, bgs, _ = prepare_inputs(recipe, cache)
    plan = make_plan(recipe, recipe_sha256(recipe), fgs, bgs)
    return [render_sample(plan, split, i) for i in indices]


def _without(meta: bytes, *keys: str) -> dict:
    d = json.loads(meta)
    return {k: v for k, v in d.items() if k not in keys}


@pytest.mark.parametrize("extra", [GROUP, ["composition.multi_foreground.p=0.8", "composition.multi_foreground.max_count=4",
                                           "output.alpha_bits=16"]], ids=["group-8bit", "independent-16bit"])
def test_instances_on_changes_no_other_member(cache, extra):
    off = _render(cache, extra)
    on = _render(cache, extra + ON)
    for a, b in zip(off, on):
        n = json.loads(b.members["instances.json"])["count"]
        assert sorted(b.members) == sorted(set(a.members) | set(instance_member_names(n)))
        for name in BASE:
            assert a.members[name] == b.members[name], (a.key, name)
        # meta.json: only the recipe hash (the recipe differs) and the added instance list
        assert _without(a.members["meta.json"], "recipe_sha256") == _without(b.members["meta.json"], "recipe_sha256",
                                                                              "instances")
    counts = {json.loads(s.members["instances.json"])["count"] for s in on}
    assert 1 in counts and max(counts) >= 3  # single and grouped samples


def test_demo_recipe_keeps_its_members_and_hash_with_targets_off(cache):
    a = _render(cache, [], indices=range(3))
    b = _render(cache, ["output.targets=[]", "composition.multi_foreground.layout=independent"], indices=range(3))
    assert [s.members for s in a] == [s.members for s in b]
    assert all(not any(n.startswith(("inst", "amodal")) for n in s.members) for s in a)


def test_rendered_members_agree(cache):
    for s in _render(cache, GROUP + ON + ["output.alpha_bits=16"], indices=range(10)):
        doc = json.loads(s.members["instances.json"])
        n = doc["count"]
        alpha = decode_alpha_stored(s.members["alpha.png"]).astype(np.int64)
        assert alpha.dtype == np.int64 and decode_alpha_stored(s.members["inst_0.png"]).dtype == np.uint16
        vis = np.stack([decode_alpha_stored(s.members[f"inst_{k}.png"]) for k in range(n)]).astype(np.int64)
        own = np.stack([decode_alpha_stored(s.members[f"amodal_{k}.png"]) for k in range(n)]).astype(np.int64)
        np.testing.assert_array_equal(vis.sum(axis=0), alpha)
        depth = [r["depth"] for r in doc["instances"]]
        assert sorted(depth) == list(range(n))
        for k in range(n):
            for j in range(n):
                if depth[j] < depth[k]:  # j in front of k; one level for the visible alpha's rounding,
                    # one for the two stored own alphas' (each within half a level of the truth)
                    excess = vis[k] - own[k] * (65535 - own[j]) / 65535
                    assert excess.max() <= 2.0
        front = depth.index(0)
        assert doc["instances"][front]["visible_fraction"] >= 0.999
        meta = json.loads(s.members["meta.json"])
        assert [m["id"] for m in meta["instances"]] == list(range(n))
        assert [m["depth"] for m in meta["instances"]] == depth
        assert [m["foreground_id"] for m in meta["instances"]] == [r["foreground_id"] for r in doc["instances"]]
        assert meta["instances"][0]["foreground_id"] == meta["foreground"]["id"]
        assert [m["foreground_id"] for m in meta["instances"][1:]] == [f["id"] for f in meta.get("extra_foregrounds", [])]
        for inst in meta["instances"]:  # the placement as listed under the instance's ops
            place = next(op for op in meta["ops"] if op["op"] == "place" and op["target"] == inst["target"])
            assert inst["place"] == {k: v for k, v in place.items() if k not in ("op", "target")}
        groups = [op for op in meta["ops"] if op["op"] == "group"]
        assert [op["target"] for op in groups] == [f"foreground{k + 1}" for k in range(1, n)]
        for k, op in enumerate(groups, start=1):
            assert meta["instances"][k]["group"]["relation"] == op["relation"]
            # composited behind the others exactly when the op says so
            behind = next(o["behind"] for o in meta["ops"] if o["op"] == "over" and o["target"] == op["target"])
            if op["relation"] == "behind":
                assert behind
            if op["relation"] == "border":
                assert not behind


def test_group_sizes_and_border_members_cut_by_the_frame(cache):
    samples = _render(cache, ["composition.multi_foreground.p=1.0", "composition.multi_foreground.min_count=4",
                              "composition.multi_foreground.max_count=4", "composition.multi_foreground.layout=group",
                              "composition.multi_foreground.group.side=0", "composition.multi_foreground.group.behind=0",
                              "composition.placement.max_outside=0"] + ON, indices=range(6))
    for s in samples:
        doc = json.loads(s.members["instances.json"])
        assert doc["count"] == 4
        assert doc["instances"][0]["depth"] == 3  # every other member stepped in front of it
        for rec in doc["instances"][1:]:
            assert rec["cut"][1] or rec["cut"][3]  # cut by the right or left side of the frame
    behind = _render(cache, ["composition.multi_foreground.p=1.0", "composition.multi_foreground.layout=group",
                             "composition.multi_foreground.group.side=0", "composition.multi_foreground.group.border=0",
                             "composition.multi_foreground.group.depth_scale=[0.5, 0.6]"] + ON, indices=range(6))
    for s in behind:
        meta = json.loads(s.members["meta.json"])
        doc = json.loads(s.members["instances.json"])
        assert doc["instances"][0]["depth"] == 0 and doc["instances"][1]["depth"] == 1
        h0 = doc["instances"][0]["box"][3] - doc["instances"][0]["box"][1]
        assert meta["instances"][1]["group"]["ratio"] <= 0.6 and h0 > 0
