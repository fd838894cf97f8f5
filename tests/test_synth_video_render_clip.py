"""synth.video.render_clip: any frame regenerated alone is byte-identical, the stored layers
reproduce every frame, a static scene is static (no blur, the same pixels), motion recorded
in meta.json is smooth within the recipe's bounds, the noise has a per-clip fixed pattern."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from augment.compose import composite
from conftest import video_recipe
from shards.clip_names import frame_member
from shards.codec import decode_alpha, decode_rgb
from synth.build import prepare_inputs
from synth.plan import make_plan
from synth.recipe import parse_recipe, recipe_sha256
from synth.video.noise import replay_clip_post
from synth.video.render_clip import render_clip, render_frames

FRAMES = 6


def _plan(tmp_path_factory, **kw):
    recipe = parse_recipe(video_recipe(frames=FRAMES, **kw))
    fgs, bgs, _ = prepare_inputs(recipe, tmp_path_factory.getbasetemp() / "video-cache")
    return make_plan(recipe, recipe_sha256(recipe), fgs, bgs)


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    return _plan(tmp_path_factory, image_format="png")


@pytest.fixture(scope="module")
def clips(plan):
    return {i: render_clip(plan, "train", i) for i in range(4)}


def test_a_clip_sample_has_every_frame_member_and_its_records(clips):
    for i, s in clips.items():
        clip = json.loads(s.members["clip.json"])
        assert clip["frames"] == FRAMES and clip["key"] == s.key
        names = {frame_member(stem, t, ext) for t in range(FRAMES)
                 for stem, ext in (("image", "png"), ("alpha", "png"), ("trimap", "png"), ("fg", "jpg"), ("bg", "jpg"))}
        assert set(s.members) == names | {"clip.json", "meta.json"}
        assert [r["t"] for r in s.meta["frame_ops"]] == list(range(FRAMES))


def test_any_frame_regenerated_alone_is_byte_identical(plan, clips):
    for i in (0, 3):
        for t in (0, FRAMES // 2, FRAMES - 1):
            alone = render_frames(plan, "train", i, [t])[t]
            assert alone and all(clips[i].members[name] == data for name, data in alone.items()), (i, t)


def test_the_stored_layers_and_recorded_steps_reproduce_every_frame(clips):
    """image == replay(post_composite, composite(fg, alpha, bg)) exactly (PNG images; noise and JPEG replayed)."""
    replayed = 0
    for s in clips.values():
        for t, record in enumerate(s.meta["frame_ops"]):
            m = s.members
            fg, bg = decode_rgb(m[frame_member("fg", t, "jpg")]), decode_rgb(m[frame_member("bg", t, "jpg")])
            alpha = decode_alpha(m[frame_member("alpha", t, "png")])
            expected = replay_clip_post(composite(fg, alpha, bg), alpha, record["post_composite"])
            assert np.array_equal(decode_rgb(m[frame_member("image", t, "png")]), expected), (s.key, t)
            replayed += bool(record["post_composite"])
    assert replayed > 0  # the noise and JPEG steps were exercised


def test_without_realism_steps_the_image_is_the_composite_of_the_layers(tmp_path_factory):
    plan = _plan(tmp_path_factory, realism=False)
    s = render_clip(plan, "train", 1)
    for t in range(FRAMES):
        m = s.members
        fg, bg = decode_rgb(m[frame_member("fg", t, "jpg")]), decode_rgb(m[frame_member("bg", t, "jpg")])
        alpha = decode_alpha(m[frame_member("alpha", t, "png")])
        diff = np.abs(decode_rgb(m[frame_member("image", t, "jpg")]).astype(int) - composite(fg, alpha, bg))
        assert s.meta["frame_ops"][t]["post_composite"] == [] and diff.mean() < 1.0 and diff.max() <= 24


def test_a_static_scene_gives_no_blur_and_the_same_pixels_in_every_frame(tmp_path_factory):
    plan = _plan(tmp_path_factory, realism=False, static=True)
    for i in range(3):
        s = render_clip(plan, "train", i)
        assert s.meta["motion"]["kind"] == "still" and s.meta["camera"]["still"]
        for record in s.meta["frame_ops"]:
            assert record["blur"] == {"foreground": [0.0, 0.0], "background": [0.0, 0.0]}
            assert record["pose"] == [0.0, 0.0, 0.0, 0.0] and record["camera"] == [0.0, 0.0, 0.0, 0.0]
        for stem, ext in (("image", "jpg"), ("alpha", "png"), ("trimap", "png"), ("fg", "jpg"), ("bg", "jpg")):
            first = s.members[frame_member(stem, 0, ext)]
            assert all(s.members[frame_member(stem, t, ext)] == first for t in range(FRAMES)), (i, stem)


def test_static_noise_has_a_fixed_pattern_share_and_a_fresh_part(tmp_path_factory):
    data = video_recipe(frames=4, realism=False, static=True, image_format="png")
    data["realism"]["noise"] = {"p": 1.0, "sigma": [6.0, 6.0]}
    data["video"]["fixed_pattern"] = 0.5
    recipe = parse_recipe(data)
    fgs, bgs, _ = prepare_inputs(recipe, tmp_path_factory.getbasetemp() / "video-cache")
    s = render_clip(make_plan(recipe, recipe_sha256(recipe), fgs, bgs), "train", 0)
    m = s.members
    clean = composite(decode_rgb(m[frame_member("fg", 0, "jpg")]), decode_alpha(m[frame_member("alpha", 0, "png")]),
                      decode_rgb(m[frame_member("bg", 0, "jpg")])).astype(np.float64)
    res = [decode_rgb(m[frame_member("image", t, "png")]).astype(np.float64) - clean for t in range(4)]
    inner = (slice(8, -8), slice(8, -8))  # away from clipping at the borders of the colour range
    corr = [np.corrcoef(res[a][inner].ravel(), res[b][inner].ravel())[0, 1] for a, b in ((0, 1), (1, 2), (0, 3))]
    assert all(0.4 < c < 0.6 for c in corr), corr  # the fixed pattern is half the variance
    assert all(abs(np.std(r[inner]) - 6.0) < 1.5 for r in res)


def test_recorded_motion_is_smooth_within_the_bounds(tmp_path_factory):
    plan = _plan(tmp_path_factory, realism=False)
    motion = plan.recipe.video.motion
    long_side = plan.recipe.canvas.height
    kinds = set()
    for i in range(4):
        s = render_clip(plan, "train", i)
        kinds.add(s.meta["motion"]["kind"])
        pose = np.array([r["pose"] for r in s.meta["frame_ops"]])
        speed = np.hypot(*np.diff(pose[:, :2], axis=0).T)
        accel = np.hypot(*np.diff(pose[:, :2], n=2, axis=0).T)
        assert speed.max() <= motion.max_speed * long_side + 1e-3
        assert accel.max() <= motion.max_accel * long_side + 1e-3
        assert np.abs(np.diff(pose[:, 2])).max() <= motion.max_scale_rate + 1e-5
        assert np.abs(np.diff(pose[:, 3])).max() <= motion.max_rotation_speed + 1e-3
        if s.meta["motion"]["kind"] != "still":
            assert speed.max() > 0.05  # it does move
        # the smear is the subject's motion over the exposure: at most max_speed x shutter (+ the shake)
        blur = np.array([r["blur"]["foreground"] for r in s.meta["frame_ops"]])
        shutter = s.meta["shutter"]
        if s.meta["camera"]["still"]:
            assert np.hypot(*blur.T).max() <= motion.max_speed * long_side * shutter + 1e-3
        if s.meta["motion"]["kind"] != "still":
            assert np.hypot(*blur.T).max() > 0
        if s.meta["motion"]["kind"] == "enter":
            assert pose[-1, :2].tolist() == [0.0, 0.0] and math.hypot(*pose[0, :2]) > 1.0
    assert kinds - {"still"}


def test_realism_decisions_are_per_clip_no_flicker_on_a_static_scene(tmp_path_factory):
    """Harmonisation, defocus, sharpness and backdrop run on every frame with the clip's draws:
    on a static scene without drift the layers are the same bytes in every frame; only the
    image's fresh noise changes."""
    data = video_recipe(frames=4, realism=True, static=True, image_format="png")
    data["video"]["drift"] = 0.0
    data["harmonization"] = {"p": 1.0, "methods": ["reinhard_lab", "histogram_match", "exposure"]}
    data["realism"].update(defocus={"p": 0.5}, sharpness_match_p=1.0)
    recipe = parse_recipe(data)
    fgs, bgs, _ = prepare_inputs(recipe, tmp_path_factory.getbasetemp() / "video-cache")
    plan = make_plan(recipe, recipe_sha256(recipe), fgs, bgs)
    steps = set()
    for i in range(4):
        s = render_clip(plan, "train", i)
        ops = [r["ops"] for r in s.meta["frame_ops"]]
        assert all(o == ops[0] for o in ops)
        steps |= {o["op"] for o in ops[0]}
        for stem, ext in (("alpha", "png"), ("fg", "jpg"), ("bg", "jpg")):
            assert len({s.members[frame_member(stem, t, ext)] for t in range(4)}) == 1, stem
        assert len({s.members[frame_member("image", t, "png")] for t in range(4)}) == 4  # fresh noise
    assert {"harmonize"} <= steps and steps & {"defocus", "match_sharpness"}


def test_light_drift_is_slow(tmp_path_factory):
    plan = _plan(tmp_path_factory)
    s = render_clip(plan, "train", 2)
    gains = np.log([next(o["gains"] for o in r["ops"] if o["op"] == "light_drift") for r in s.meta["frame_ops"]])
    drift = plan.recipe.video.drift
    step = np.abs(np.diff(gains, axis=0)).max()
    assert 0 < step <= drift * (2 * np.pi / 40) * 1.3 + 1e-6


def _naive_plan(tmp_path_factory):
    data = video_recipe(frames=4, realism=True, static=True, image_format="png")
    data["video"].update(drift=0.0, fixed_pattern=0.0, noise_layer="foreground", decisions="frame")
    data["harmonization"] = {"p": 1.0, "methods": ["reinhard_lab", "histogram_match"], "strength": [0.2, 0.9]}
    data["realism"].update(defocus={"p": 0.0}, sharpness_match_p=0.0, jpeg={"p": 0.0})
    recipe = parse_recipe(data)
    fgs, bgs, _ = prepare_inputs(recipe, tmp_path_factory.getbasetemp() / "video-cache")
    return make_plan(recipe, recipe_sha256(recipe), fgs, bgs)


def test_naive_switches_put_live_noise_on_the_subject_and_draw_choices_per_frame(tmp_path_factory):
    """video.noise_layer: foreground and video.decisions: frame (recipes/video_naive.yaml): on a static
    scene the background's bytes never change (frozen), the subject's change every frame (its own
    fresh noise, its harmonisation drawn per frame), and the stored layers still make the image."""
    plan = _naive_plan(tmp_path_factory)
    for i in range(3):
        s = render_clip(plan, "train", i)
        m = s.members
        assert len({m[frame_member("bg", t, "jpg")] for t in range(4)}) == 1
        assert len({m[frame_member("fg", t, "jpg")] for t in range(4)}) == 4
        records = s.meta["frame_ops"]
        noise = [[o for o in r["ops"] if o["op"] == "noise"] for r in records]
        assert all(len(n) == 1 and n[0]["target"] == "foreground" for n in noise)
        assert len({n[0]["seed"] for n in noise}) == 4
        harm = [json.dumps([o for o in r["ops"] if o["op"] == "harmonize"], sort_keys=True) for r in records]
        assert len(set(harm)) == 4  # a new draw every frame
        for t, r in enumerate(records):
            assert r["post_composite"] == []  # no noise on the composite
            fg, bg = decode_rgb(m[frame_member("fg", t, "jpg")]), decode_rgb(m[frame_member("bg", t, "jpg")])
            alpha = decode_alpha(m[frame_member("alpha", t, "png")])
            assert np.array_equal(decode_rgb(m[frame_member("image", t, "png")]), composite(fg, alpha, bg))


def test_naive_frames_regenerated_alone_are_byte_identical(tmp_path_factory):
    plan = _naive_plan(tmp_path_factory)
    whole = render_clip(plan, "train", 1)
    alone = render_frames(plan, "train", 1, [2])[2]
    assert all(whole.members[name] == data for name, data in alone.items())


def test_naive_switches_are_validated_and_left_out_of_the_hash_at_their_defaults():
    data = video_recipe(frames=4)
    data["video"].update(noise_layer="foreground")
    with pytest.raises(ValueError, match="video.fixed_pattern must be 0 with video.noise_layer: foreground"):
        parse_recipe(data)
    plain = video_recipe(frames=4)
    explicit = video_recipe(frames=4)
    explicit["video"].update(noise_layer="composite", decisions="clip")
    per_frame = video_recipe(frames=4)
    per_frame["video"].update(decisions="frame")
    digest = recipe_sha256(parse_recipe(plain))
    assert recipe_sha256(parse_recipe(explicit)) == digest != recipe_sha256(parse_recipe(per_frame))
    assert "decisions" not in parse_recipe(plain).to_json_dict()["video"]
