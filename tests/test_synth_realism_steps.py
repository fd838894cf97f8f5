"""synth.realism_steps in builds: what each realistic step changes, and what it never touches."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from augment.estimate import estimate_noise_sigma
from augment.compose import composite
from shards.codec import decode_alpha, decode_rgb
from synth.build import build, prepare_inputs
from synth.plan import make_plan
from synth.realism_steps import replay_post_composite
from synth.recipe import parse_recipe, recipe_sha256

from shard_fixtures import read_dataset

OFF = {"harmonization": {"p": 0.0},
       "realism": {"resolution_match": False, "defocus": {"p": 0.0}, "sharpness_match_p": 0.0,
                   "noise": {"p": 0.0}, "jpeg": {"p": 0.0}}}


def _recipe(**over) -> dict:
    data = {
        "seed": 11,
        "foregrounds": [{"kind": "procedural", "count": 5, "size": [120, 96]}],
        "backgrounds": [{"kind": "procedural", "count": 6, "size": [90, 120]}],
        "splits": [{"name": "train", "fraction": 1.0, "samples": 8}],
        "canvas": {"height": 128, "width": 128},
        "output": {"samples_per_shard": 8, "image_format": "png"},
        **OFF,
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            merged = json.loads(json.dumps(data[key]))
            for k, v in value.items():
                merged[k] = {**merged[k], **v} if isinstance(v, dict) and isinstance(merged.get(k), dict) else v
            data[key] = merged
        else:
            data[key] = value
    return data


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def _build(tmp_path: Path, cache: Path, name: str, data: dict) -> dict[str, dict[str, bytes]]:
    build(parse_recipe(data), tmp_path / name, cache_dir=cache)
    return read_dataset(tmp_path / name)


ALL_ON = {"harmonization": {"p": 1.0},
          "realism": {"resolution_match": True, "defocus": {"p": 0.5}, "sharpness_match_p": 1.0,
                      "noise": {"p": 1.0}, "jpeg": {"p": 0.5}}}


def test_alpha_and_trimap_never_change_with_realism_steps(tmp_path, cache):
    off = _build(tmp_path, cache, "off", _recipe())
    on = _build(tmp_path, cache, "on", _recipe(**ALL_ON))
    assert off.keys() == on.keys() and len(off) == 8
    for key in off:
        assert off[key]["alpha.png"] == on[key]["alpha.png"]
        assert off[key]["trimap.png"] == on[key]["trimap.png"]
        assert off[key]["image.png"] != on[key]["image.png"]
    ops = {op["op"] for s in on.values() for op in json.loads(s["meta.json"])["ops"]}
    assert {"harmonize", "defocus"} <= ops


def test_noise_goes_to_the_composite_only(tmp_path, cache):
    off = _build(tmp_path, cache, "off", _recipe())
    noisy = _build(tmp_path, cache, "noisy", _recipe(realism={"noise": {"p": 1.0, "sigma": [6.0, 8.0],
                                                                        "compensate": False}}))
    for key in off:
        assert off[key]["fg.jpg"] == noisy[key]["fg.jpg"] and off[key]["bg.jpg"] == noisy[key]["bg.jpg"]
        clean, dirty = decode_rgb(off[key]["image.png"]), decode_rgb(noisy[key]["image.png"])
        assert estimate_noise_sigma(dirty) > estimate_noise_sigma(clean) + 2.0
        post = json.loads(noisy[key]["meta.json"])["post_composite"]
        assert [op["op"] for op in post] == ["noise"] and 6.0 <= post[0]["params"]["sigma"] <= 8.0


def test_glare_goes_to_the_composite_only_replays_and_is_off_by_default(tmp_path, cache):
    off = _build(tmp_path, cache, "off", _recipe())
    glare = {"glare": {"p": 1.0, "strength": [0.03, 0.05], "radius": [0.02, 0.04]},
             "noise": {"p": 1.0, "sigma": [1.0, 2.0]}, "jpeg": {"p": 1.0}}
    on = _build(tmp_path, cache, "glare", _recipe(realism=glare))
    for key in off:
        for member in ("fg.jpg", "bg.jpg", "alpha.png", "trimap.png"):
            assert off[key][member] == on[key][member]
        meta = json.loads(on[key]["meta.json"])
        post = meta["post_composite"]
        assert [op["op"] for op in post] == ["glare", "noise", "jpeg"]  # the lens, then the sensor, then the codec
        assert 0.03 <= post[0]["params"]["strength"] <= 0.05 and 0.02 <= post[0]["params"]["radius"] <= 0.04
        fg, bg, alpha = decode_rgb(on[key]["fg.jpg"]), decode_rgb(on[key]["bg.jpg"]), decode_alpha(on[key]["alpha.png"])
        replayed = replay_post_composite(composite(fg, alpha, bg), alpha, post)
        assert np.array_equal(replayed, decode_rgb(on[key]["image.png"]))  # PNG stored: exactly
    # off (the default), the field is not part of the recipe's hash: existing builds keep their bytes
    plain = parse_recipe(_recipe())
    assert "glare" not in plain.to_json_dict()["realism"]
    assert recipe_sha256(plain) == recipe_sha256(parse_recipe(_recipe(realism={"glare": {"p": 0.0}})))
    assert recipe_sha256(plain) != recipe_sha256(parse_recipe(_recipe(realism=glare)))


def test_glare_is_refused_for_clips():
    data = _recipe(realism={"glare": {"p": 0.5}}, video={"frames": 4})
    with pytest.raises(ValueError, match="realism.glare is for still images only"):
        parse_recipe(data)


def test_noise_compensation_gives_a_clean_background_the_textured_foregrounds_own_noise():
    from augment.estimate import estimate_noise_floor
    from synth.realism_steps import post_composite, replay_post_composite

    rng = np.random.default_rng(4)
    h, w = 192, 192
    alpha = np.zeros((h, w), np.float32)
    alpha[:, : w // 2] = 1.0
    # F: a photo's subject with noise of std 3, hair-like texture on 3/4 of it; B: upscaled and
    # defocused, noise-free
    fg = np.full((h, w, 3), 120.0, np.float32)
    fg[: 3 * h // 4] += rng.normal(0, 25, (3 * h // 4, w, 3))
    fg = np.clip(fg + rng.normal(0, 3.0, fg.shape), 0, 255).round().astype(np.uint8)
    bg = np.full((h, w, 3), 90, np.uint8)
    image = np.where(alpha[..., None] > 0.5, fg, bg)
    recipe = parse_recipe(_recipe(realism={"noise": {"p": 1.0, "sigma": [1.0, 1.0], "compensate": True}}))
    out, ops = post_composite(lambda step: np.random.default_rng(0), recipe, image, alpha, fg, bg)
    (op,) = ops
    assert op["compensation_target"] == "background" and op["compensation_sigma"] == pytest.approx(3.0, rel=0.15)
    f_level = estimate_noise_floor(out, alpha > 0.95)
    assert estimate_noise_floor(out, alpha < 0.05) == pytest.approx(f_level, rel=0.15)
    # what meta.json records replays the same bytes from the stored layers' composite
    assert np.array_equal(replay_post_composite(image, alpha, ops), out)
    # the median reading takes F's texture for noise and would have given B several times too much
    assert estimate_noise_sigma(fg, alpha > 0.95) > 3 * f_level


def _lab_mean(img: np.ndarray, weight: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(img.astype(np.float32) / 255, cv2.COLOR_RGB2Lab).reshape(-1, 3)
    w = weight.reshape(-1) / weight.sum()
    return w @ lab


def test_harmonisation_moves_foreground_colour_toward_background(tmp_path, cache):
    off = _build(tmp_path, cache, "off", _recipe())
    on = _build(tmp_path, cache, "harm", _recipe(harmonization={"p": 1.0, "methods": ["reinhard_lab"],
                                                                 "strength": [0.8, 1.0]}))
    closer = 0
    for key in off:
        alpha = decode_alpha(off[key]["alpha.png"])
        bg = decode_rgb(off[key]["bg.jpg"])
        target = _lab_mean(bg, np.ones(alpha.shape, np.float32))
        d_off = np.linalg.norm(_lab_mean(decode_rgb(off[key]["fg.jpg"]), alpha) - target)
        d_on = np.linalg.norm(_lab_mean(decode_rgb(on[key]["fg.jpg"]), alpha) - target)
        closer += d_on < 0.5 * d_off
        assert off[key]["bg.jpg"] == on[key]["bg.jpg"]
    assert closer == len(off)


def test_multiple_foregrounds_union_alpha(tmp_path, cache):
    single = _build(tmp_path, cache, "one", _recipe())
    multi = _build(tmp_path, cache, "multi", _recipe(composition={"multi_foreground": {"p": 1.0, "max_count": 2}}))
    for key in single:
        meta = json.loads(multi[key]["meta.json"])
        extra = meta["extra_foregrounds"]
        assert len(extra) == 1 and extra[0]["id"] != meta["foreground"]["id"]
        a1 = decode_alpha(single[key]["alpha.png"])
        a = decode_alpha(multi[key]["alpha.png"])
        assert np.all(a >= a1 - 1.5 / 255)  # the primary's alpha is inside the union
        assert a.sum() > a1.sum()


def test_resolution_match_when_background_is_upscaled(tmp_path, cache):
    data = _recipe(backgrounds=[{"kind": "procedural", "count": 3, "size": [40, 40]}],
                   realism={"resolution_match": True})
    samples = _build(tmp_path, cache, "res", data)
    for s in samples.values():
        meta = json.loads(s["meta.json"])
        cover = next(op for op in meta["ops"] if op["op"] == "cover_crop")
        place = next(op for op in meta["ops"] if op["op"] == "place")
        match = [op for op in meta["ops"] if op["op"] == "match_resolution"]
        assert cover["scale"] >= 3.2
        expected = cover["scale"] / max(place["scale"], 1.0)
        assert len(match) == 1 and match[0]["target"] == "foreground"
        assert match[0]["factor"] == pytest.approx(expected, rel=0.05)


def test_context_choice_prefers_fitting_backgrounds(tmp_path, cache):
    data = _recipe(backgrounds=[{"kind": "procedural", "count": 12, "size": [90, 120]}],
                   composition={"background_choice": {"mode": "context", "temperature": 0.3, "balance": 0.0}},
                   splits=[{"name": "train", "fraction": 1.0, "samples": 60}])
    recipe = parse_recipe(data)
    fgs, bgs, _ = prepare_inputs(recipe, cache)
    plan = make_plan(recipe, recipe_sha256(recipe), fgs, bgs)
    scores = plan.bg_scores["train"]
    rng = np.random.default_rng(0)
    chosen = [scores[f, plan.background_index("train", f, rng)] for f in range(len(fgs)) for _ in range(40)]
    assert np.mean(chosen) > np.mean(scores) + 0.5 * np.std(scores)
    # The sample records the fit score it was drawn with.
    build(recipe, tmp_path / "ctx", cache_dir=cache)
    meta = json.loads(next(iter(read_dataset(tmp_path / "ctx").values()))["meta.json"])
    assert meta["background"]["fit_score"] <= 0 and 0 < meta["background"]["probability"] <= 1


def test_stretch_fit_reproduces_the_naive_pipeline(tmp_path, cache):
    samples = _build(tmp_path, cache, "stretch", _recipe(composition={"background": {"fit": "stretch"},
                                                                       "background_choice": {"mode": "random"}}))
    for s in samples.values():
        ops = [op["op"] for op in json.loads(s["meta.json"])["ops"]]
        assert "stretch" in ops and "cover_crop" not in ops
        assert decode_rgb(s["bg.jpg"]).shape == (128, 128, 3)


def test_fit_weights_reach_the_scores(tmp_path, cache):
    base = _recipe(backgrounds=[{"kind": "procedural", "count": 6, "size": [90, 120]}])
    plans = {}
    for colour in (1.0, 0.0):
        data = json.loads(json.dumps(base))
        data["composition"] = {"background_choice": {"mode": "context", "weights": {"colour": colour}}}
        recipe = parse_recipe(data)
        fgs, bgs, _ = prepare_inputs(recipe, cache)
        plans[colour] = make_plan(recipe, recipe_sha256(recipe), fgs, bgs).bg_scores["train"]
    assert np.all(plans[0.0] >= plans[1.0] - 1e-9)  # a penalty term removed: scores can only rise
    assert np.any(plans[0.0] > plans[1.0] + 1e-3)


def test_framing_keeps_the_calmest_of_the_sampled_placements(tmp_path, cache):
    from augment.placement import sample_placement
    from synth.rng import step_rng

    plain = _build(tmp_path, cache, "plain", _recipe())
    framed = _build(tmp_path, cache, "framed", _recipe(composition={"framing": {"candidates": 4}}))
    moved = 0
    for key in plain:
        meta_plain, meta = json.loads(plain[key]["meta.json"]), json.loads(framed[key]["meta.json"])
        frame = next(op for op in meta["ops"] if op["op"] == "frame")
        place = next(op for op in meta["ops"] if op["op"] == "place" and op["target"] == "foreground")
        place_plain = next(op for op in meta_plain["ops"] if op["op"] == "place")
        assert not any(op["op"] == "frame" for op in meta_plain["ops"])
        busy = np.array([np.inf if b is None else b for b in frame["busyness"]])
        assert frame["candidates"] == 4 and frame["chosen"] == int(np.argmin(busy))
        # the candidates replay from the sample's placement generator; the first is the unframed draw
        r = step_rng(meta["seed"], meta["split"], meta["index"], "foreground_placement")
        cut = tuple(place.get("cut", ()))  # sides cut by the subject's frame, pinned to the border
        draws = [sample_placement(r, tuple(place["src_hw"]), (128, 128), scale=(0.6, 1.0), cut=cut).to_dict()
                 for _ in range(4)]
        assert draws[0] == {k: place_plain[k] for k in draws[0]}
        assert draws[frame["chosen"]] == {k: place[k] for k in draws[0]}
        moved += frame["chosen"] != 0
        # framing moves the subject, not the background
        assert framed[key]["bg.jpg"] == plain[key]["bg.jpg"]
        if frame["chosen"] == 0:
            assert framed[key]["image.png"] == plain[key]["image.png"]
    assert moved >= 2


def test_backdrop_step_lowers_only_the_background_contrast_to_the_drawn_ratio(tmp_path, cache):
    from augment.backdrop import contrast_ratio

    lossless = {"output": {"samples_per_shard": 8, "image_format": "png", "layer_format": "png"}}
    plain = _build(tmp_path, cache, "plain", _recipe(**lossless))
    calm = _build(tmp_path, cache, "calm", _recipe(**lossless, realism={"backdrop": {"p": 1.0, "ratio": [0.3, 0.5],
                                                                                   "min_factor": 0.0}}))
    capped = _build(tmp_path, cache, "capped", _recipe(**lossless, realism={"backdrop": {"p": 1.0, "ratio": [0.3, 0.5],
                                                                                       "min_factor": 0.7}}))
    lowered = 0
    for key in plain:
        before, after = plain[key], calm[key]
        assert after["alpha.png"] == before["alpha.png"] and after["fg.png"] == before["fg.png"]
        ops = [op for op in json.loads(after["meta.json"])["ops"] if op["op"] == "backdrop_contrast"]
        if not ops:
            assert after["bg.png"] == before["bg.png"]
            continue
        (op,) = ops
        lowered += 1
        alpha, fg = decode_alpha(before["alpha.png"]), decode_rgb(before["fg.png"])
        # the recorded ratio is the unchanged layers' (up to the 8-bit alpha stored); after the step
        # the backdrop sits at the target
        assert op["ratio"] == pytest.approx(contrast_ratio(fg, alpha, decode_rgb(before["bg.png"])), rel=0.01)
        assert 0.3 <= op["target_ratio"] <= 0.5 and op["factor"] == pytest.approx(op["target_ratio"] / op["ratio"])
        assert contrast_ratio(fg, alpha, decode_rgb(after["bg.png"])) == pytest.approx(op["target_ratio"], rel=0.1)
        # min_factor bounds the reduction (where the target asked for less, the same step is taken)
        (op_capped,) = [op for op in json.loads(capped[key]["meta.json"])["ops"] if op["op"] == "backdrop_contrast"]
        assert op_capped["factor"] == pytest.approx(max(op["factor"], 0.7))
    assert lowered >= 4


def test_noise_recorded_by_earlier_draws_replays_as_it_was_drawn():
    """meta.json written before NoiseParams.draw existed (no "draw" key) replays the old draw:
    the compensation field rounded into the image, then the sensor noise's luminance and
    per-channel fields, all from the 65 536-quantile table; a recorded draw 2 replays with
    that table too; new ops record draw 3 and replay to the bytes post_composite gave."""
    from augment.degrade import NoiseParams, add_sensor_noise, quantile_normals
    from synth.realism_steps import post_composite, replay_post_composite
    from synth.rng import seeded_rng

    rng = np.random.default_rng(2)
    h, w = 64, 80
    alpha = np.zeros((h, w), np.float32)
    alpha[:, : w // 2] = 1.0
    image = rng.integers(20, 236, (h, w, 3), dtype=np.uint8)
    params = {"sigma": 2.0, "shot_fraction": 0.5, "chroma": 0.3, "grain_px": 0.4, "denoise": "none",
              "denoise_strength": 0.0}
    op = {"op": "noise", "params": params, "seed": 77, "compensation_sigma": 3.0, "compensation_target": "background"}
    g = seeded_rng(77)
    comp = quantile_normals(g, image.shape) * (np.float32(3.0) * (1.0 - alpha)[..., None]) + image
    expected = add_sensor_noise(NoiseParams(**params), np.clip(np.rint(comp), 0, 255).astype(np.uint8), g)
    assert np.array_equal(replay_post_composite(image, alpha, [op]), expected)
    # draw 2 (the compensation inside the sensor noise's rounding), chroma 1 and no grain: the
    # 65 536-quantile field times the std, plus the white field times the compensation
    flat = {**params, "chroma": 1.0, "grain_px": 0.0, "shot_fraction": 0.0, "draw": 2}
    g = seeded_rng(77)
    sensor, white = quantile_normals(g, image.shape), quantile_normals(g, image.shape)
    noise = sensor * np.float32(2.0 / 255.0) + white * (np.float32(3.0 / 255.0) * (1.0 - alpha))[..., None]
    noise += image.astype(np.float32) * np.float32(1.0 / 255.0)
    expected = np.clip(noise * np.float32(255.0) + np.float32(0.5), 0, 255).astype(np.uint8)
    assert np.array_equal(replay_post_composite(image, alpha, [{**op, "params": flat}]), expected)
    recipe = parse_recipe(_recipe(realism={"noise": {"p": 1.0, "sigma": [2.0, 2.0], "compensate": True}}))
    big = np.zeros((192, 192), np.float32)
    big[:, :96] = 1.0
    fg = np.clip(120 + rng.normal(0, 3.0, (192, 192, 3)), 0, 255).round().astype(np.uint8)
    bg = np.full((192, 192, 3), 90, np.uint8)
    image, alpha = np.where(big[..., None] > 0.5, fg, bg), big
    out, ops = post_composite(lambda step: np.random.default_rng(1), recipe, image, alpha, fg, bg)
    assert ops[0]["params"]["draw"] == 3 and ops[0]["compensation_sigma"] > 0.25
    assert np.array_equal(replay_post_composite(image, alpha, ops), out)
    assert not np.array_equal(out, replay_post_composite(image, alpha, [{**ops[0], "params": params}]))
