"""synth.stats.temporal and `synth stats` on tiny built clip datasets: every clip measured (none
'bad'), the temporal indicators per split in the JSON and in the HTML report, a naive clip build
(still background, live noise on the subject only, harmonisation per frame) showing its
mismatches against a video build, the middle frame standing in for the still statistics, and
the comparison table's ratios."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from augment.temporal_mismatch import TEMPORAL_INDICATORS, TEMPORAL_KEYS
from conftest import procedural_recipe, video_recipe
from shards.manifest import read_manifest, shard_url
from shards.reader import iter_shard_samples
from synth.build import build
from synth.recipe import parse_recipe
from synth.stats import StatsOptions, collect_stats, render_html
from synth.stats.temporal import clip_layers, clip_still_view, measure_clip_dataset, mismatch_table

OPTS = StatsOptions(contact=2)


def _naive(data: dict) -> dict:
    data["video"].update(camera={"still_p": 1.0}, motion_blur={"shutter": [0.0, 0.0]}, drift=0.0, fixed_pattern=0.0,
                         noise_layer="foreground", decisions="frame")
    data["harmonization"] = {"p": 1.0, "methods": ["reinhard_lab", "histogram_match"], "strength": [0.2, 0.7]}
    return data


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("temporal_stats")
    out = {}
    for name, data in (("video", video_recipe(frames=6, canvas=160)), ("naive", _naive(video_recipe(frames=6, canvas=160)))):
        data["video"]["motion"]["still_p"] = 0.0
        build(parse_recipe(data), root / name, cache_dir=root / "cache")
        out[name] = root / name
    return out


@pytest.fixture(scope="module")
def stats(built):
    return {name: collect_stats(path, OPTS, label=name) for name, path in built.items()}


def _clip_members(path: Path) -> dict[str, bytes]:
    entry = read_manifest(path).shards[0]
    return next(members for _, (_, members, _) in iter_shard_samples(shard_url(path, entry)))


def test_every_clip_is_measured_with_its_temporal_indicators_per_split(stats):
    d = stats["video"].data
    assert d["counts"]["measured"] == 6 and d["counts"]["bad"] == 0
    assert d["temporal"]["implementation"] == "augment.temporal_mismatch.temporal_mismatch"
    measures = d["temporal"]["measures"]
    assert set(TEMPORAL_KEYS) <= set(measures)
    assert measures["pairs"]["n"] == 6 and measures["pairs"]["max"] == 5
    for key in ("noise_change_log_ratio", "colour_flicker"):
        assert set(measures[key]["by_split"]) == {"train", "val"}
        assert measures[key]["by_split"]["train"]["n"] == 4 and measures[key]["by_split"]["val"]["n"] == 2
    # the still statistics come from each clip's middle frame
    assert d["realism"]["measures"]["noise_log_ratio"]["n"] + d["realism"]["measures"]["noise_log_ratio"]["nonfinite"] == 6
    assert d["alpha"]["coverage"]["n"] == 6


def test_the_naive_build_shows_each_mismatch_the_video_build_does_not(stats):
    naive, video = (stats[k].data["temporal"]["measures"] for k in ("naive", "video"))
    assert naive["still_background"]["mean"] > 0.7 and video["still_background"]["mean"] < naive["still_background"]["mean"] - 0.3
    assert naive["noise_change_log_ratio"]["mean"] > 1.0 and abs(video["noise_change_log_ratio"]["mean"]) < 0.5
    assert naive["colour_flicker"]["mean"] > 5 * video["colour_flicker"]["mean"]
    assert naive["bg_speed"]["mean"] < 0.2 and video["bg_speed"]["mean"] > 2 * naive["bg_speed"]["mean"]  # px/frame


def test_the_html_report_has_a_realism_in_time_section_for_clips_only(stats, tmp_path):
    html = render_html([stats["naive"], stats["video"]])
    assert "Realism in time (clips)" in html and "still background behind a moving subject" in html
    image_root = tmp_path / "images"
    build(parse_recipe(procedural_recipe(name="still", seed=1, fg=(3, (48, 40)), bg=(3, (48, 64)), canvas=(48, 48),
                                         samples=(3, 1), per_shard=4)), image_root, cache_dir=tmp_path / "cache")
    still = collect_stats(image_root, OPTS)
    assert still.data["temporal"]["measures"] == {}
    assert "Realism in time" not in render_html([still])


def test_the_cli_summary_has_a_clip_line(built):
    from click.testing import CliRunner

    from synth.stats_cli import stats as stats_cmd

    r = CliRunner().invoke(stats_cmd, [str(built["naive"]), "--workers", "0", "--contact", "0"])
    assert r.exit_code == 0, r.output
    line = next(x for x in r.output.splitlines() if x.strip().startswith("clips:"))
    assert line.strip().startswith("clips: 6 measured; means: still background ")
    for words in ("noise change", "colour flicker %"):
        assert words in line
    assert "blur vs motion not measured" in line  # procedural blobs have no edges to measure blur on
    still = float(line.split("still background ")[1].split(",")[0])
    assert still > 0.7  # the naive build's background stands still (as in the JSON above)


def test_the_middle_frame_stands_in_for_the_still_statistics(built):
    members = _clip_members(built["video"])
    view = clip_still_view(members)
    assert set(view) == {"meta.json", "image.jpg", "alpha.png", "trimap.png"}
    assert view["image.jpg"] == members["image_003.jpg"] and view["alpha.png"] == members["alpha_003.png"]
    frames, alphas = clip_layers(members)
    assert frames.shape == (6, 160, 160, 3) and alphas.shape == (6, 160, 160) and alphas.dtype.name == "float32"


def test_a_clip_without_a_frame_or_a_still_dataset_is_refused_by_name(built, tmp_path):
    members = dict(_clip_members(built["video"]))
    del members["alpha_002.png"]
    with pytest.raises(ValueError, match="alpha_NNN"):
        clip_layers(members)
    root = tmp_path / "images"
    build(parse_recipe(procedural_recipe(name="still", seed=1, fg=(3, (48, 40)), bg=(3, (48, 64)), canvas=(48, 48),
                                         samples=(2, 1), per_shard=4)), root, cache_dir=tmp_path / "cache")
    with pytest.raises(ValueError, match="is not a clip"):
        measure_clip_dataset(root)


def test_measure_clip_dataset_matches_the_stats_measures(built, stats):
    clips = measure_clip_dataset(built["naive"])
    assert len(clips) == 6 and set(clips[0]) == set(TEMPORAL_KEYS)
    flicker = [c["colour_flicker"] for c in clips]
    assert math.isclose(sum(flicker) / len(flicker), stats["naive"].data["temporal"]["measures"]["colour_flicker"]["mean"],
                        rel_tol=1e-9)


def test_mismatch_table_divides_by_the_baseline_on_each_seed():
    naive = [[{k: 2.0 for k in TEMPORAL_INDICATORS}, {k: -2.0 for k in TEMPORAL_INDICATORS}],
             [{k: 4.0 for k in TEMPORAL_INDICATORS}]]
    video = [[{k: 0.5 for k in TEMPORAL_INDICATORS}, {k: math.nan for k in TEMPORAL_INDICATORS}],
             [{k: -1.0 for k in TEMPORAL_INDICATORS}]]
    table, ratios = mismatch_table({"naive": naive, "video": video}, "naive")
    assert ratios["colour_flicker"]["video"] == [0.25, 0.25]
    assert "still_background" in table and "0.25 0.25" in table
    with pytest.raises(ValueError, match="baseline 'other'"):
        mismatch_table({"naive": naive}, "other")
