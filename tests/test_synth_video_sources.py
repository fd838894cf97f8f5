"""synth.video.sources: clip folders (VideoMatte240K layout, image+alpha frame folders,
background clips) are scanned, checked and built; bad clips (frame and matte counts or sizes
that disagree, gaps in the numbering, too short, unreadable frames) are skipped with a reason
naming the clip and the frame and recorded in the manifest, or stop the build with on_error: fail."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import video_recipe
from shards.manifest import read_manifest
from synth.build import BuildError, build, prepare_inputs
from synth.recipe import parse_recipe
from synth.sources.procedural import procedural_background, procedural_foreground

FRAMES = 4


def _write(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = arr if arr.ndim == 2 else cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(str(path), img)


def _clip(root: Path, clip: str, n: int, seed: int, size=(72, 60), alpha_ext: str = "jpg") -> None:
    """A moving procedural subject: fgr/CLIP/NNNN.jpg and pha/CLIP/NNNN.<alpha_ext>."""
    fg, alpha = procedural_foreground(seed, 0, size)
    for k in range(n):
        _write(root / "fgr" / clip / f"{k:04d}.jpg", np.roll(fg, k, axis=1))
        _write(root / "pha" / clip / f"{k:04d}.{alpha_ext}", np.roll(np.rint(alpha * 255).astype(np.uint8), k, axis=1))


def _bg_clip(root: Path, clip: str, n: int, seed: int) -> None:
    bg = procedural_background(seed, 0, (90, 120))
    for k in range(n):
        _write(root / "bgr" / clip / f"{k:05d}.jpg", np.roll(bg, 2 * k, axis=1))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clips")
    for i, name in enumerate(["good_a", "good_b", "good_c", "good_d"]):
        _clip(root, name, 6, i)
    _clip(root, "count", 6, 5)
    (root / "pha" / "count" / "0005.jpg").unlink()  # 6 frames, 5 mattes
    _clip(root, "gap", 6, 6)
    for k in (2,):
        (root / "fgr" / "gap" / f"{k:04d}.jpg").unlink()
        (root / "pha" / "gap" / f"{k:04d}.jpg").unlink()
    _clip(root, "short", FRAMES - 1, 7)
    _clip(root, "size", 6, 8)
    _write(root / "pha" / "size" / "0003.jpg", np.zeros((40, 40), np.uint8))  # matte of another size
    _clip(root, "broken", 6, 9)
    (root / "fgr" / "broken" / "0004.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    _clip(root, "resized", 6, 10)
    _write(root / "fgr" / "resized" / "0002.jpg", np.zeros((80, 60, 3), np.uint8))
    _write(root / "pha" / "resized" / "0002.jpg", np.zeros((80, 60), np.uint8))
    (root / "pha" / "orphan").mkdir(parents=True)
    _write(root / "pha" / "orphan" / "0000.jpg", np.zeros((72, 60), np.uint8))
    for i in range(3):
        _bg_clip(root, f"bg{i}", 6, i)
    _bg_clip(root, "bgshort", 2, 4)
    return root


def _recipe(root: Path, on_error: str = "skip", **changes) -> dict:
    data = video_recipe(frames=FRAMES, samples=(4, 2), realism=False)
    data["foregrounds"] = [{"kind": "fg_alpha_clips", "fg_dir": str(root / "fgr"), "alpha_dir": str(root / "pha")}]
    data["backgrounds"] = [{"kind": "clips", "path": str(root / "bgr")}, {"kind": "procedural", "count": 3,
                                                                         "size": [120, 160]}]
    data["splits"] = [{"name": "train", "fraction": 0.5, "samples": 4}, {"name": "val", "fraction": 0.5, "samples": 2}]
    data["on_error"] = on_error
    return {**data, **changes}


EXPECTED = {
    "count": "clip count: 6 colour frames and 5 matte frames disagree (frame 5 is in only one of them)",
    "gap": "clip gap: gap in colour frame numbers: frame 2 missing (after 1, next 3)",
    "short": f"clip short: {FRAMES - 1} frames, shorter than the {FRAMES} one clip sample needs",
    "size": "clip size frame 3: matte is 40x40, its frame 60x72 (WxH)",
    "broken": "clip broken frame 4:",
    "resized": "clip resized frame 2: 60x80, frame 0 is 60x72 (WxH)",
    "orphan": "clip orphan: matte folder without frames in",
    "bgshort": "clip bgshort: 2 frames, shorter than the 4 one clip sample needs",
}


def test_bad_clips_are_skipped_and_recorded_naming_the_clip_and_frame(data, tmp_path):
    report = build(parse_recipe(_recipe(data)), tmp_path / "out", cache_dir=tmp_path / "cache")
    skipped = {s.path: s.reason for s in read_manifest(tmp_path / "out").skipped}
    for clip, reason in EXPECTED.items():
        hits = [(p, r) for p, r in skipped.items() if f"/{clip}" in p and r.startswith(reason)]
        assert len(hits) == 1, (clip, skipped)
    assert len(skipped) == len(EXPECTED)
    assert report.total_samples == 6
    broken = next(r for p, r in skipped.items() if "/broken" in p)
    assert "0004.jpg" in next(p for p in skipped if "/broken" in p) and "frame 4" in broken


def test_on_error_fail_stops_the_build_naming_the_clip(data, tmp_path):
    with pytest.raises(BuildError, match=r"clip (broken|count|gap|short|orphan|size|resized|bgshort)"):
        build(parse_recipe(_recipe(data, on_error="fail")), tmp_path / "out", cache_dir=tmp_path / "cache")


def test_good_clips_play_their_frames_in_order(data, tmp_path):
    recipe = parse_recipe(_recipe(data))
    fgs, bgs, _ = prepare_inputs(recipe, tmp_path / "cache")
    assert sorted(f.name for f in fgs) == ["good_a", "good_b", "good_c", "good_d"]
    assert {b.name for b in bgs} >= {"bg0", "bg1", "bg2"}
    build(recipe, tmp_path / "out", cache_dir=tmp_path / "cache")
    import tarfile

    with tarfile.open(tmp_path / "out" / "train-000000.tar") as f:
        metas = [json.loads(f.extractfile(m).read()) for m in f.getmembers() if m.name.endswith(".meta.json")]
    for meta in metas:
        src = [r["source_frame"] for r in meta["frame_ops"]]
        assert src == list(range(src[0], src[0] + FRAMES)) and 0 <= src[0] <= 6 - FRAMES
        assert meta["foreground"]["kind"] == "fg_alpha_clips"
        if "background_frame" in meta["frame_ops"][0]:
            bg = [r["background_frame"] for r in meta["frame_ops"]]
            assert bg == list(range(bg[0], bg[0] + FRAMES))


def test_image_alpha_clips_estimate_f_per_frame(data, tmp_path):
    recipe = _recipe(data)
    recipe["foregrounds"] = [{"kind": "image_alpha_clips", "image_dir": str(data / "fgr"),
                              "alpha_dir": str(data / "pha")}]
    recipe["composition"]["fg_estimation"] = "blur_fusion"
    report = build(parse_recipe(recipe), tmp_path / "out", cache_dir=tmp_path / "cache")
    assert report.total_samples == 6
    import tarfile

    with tarfile.open(tmp_path / "out" / "train-000000.tar") as f:
        metas = [json.loads(f.extractfile(m).read()) for m in f.getmembers() if m.name.endswith(".meta.json")]
    assert {(m["foreground"]["kind"], m["foreground"]["estimator"]) for m in metas} == {("image_alpha_clips",
                                                                                          "blur_fusion")}


def test_clip_sources_need_a_video_section(data):
    recipe = _recipe(data)
    del recipe["video"]
    with pytest.raises(ValueError, match="foregrounds.0: clip sources need a video section"):
        parse_recipe(recipe)


def test_validate_lists_the_bad_clips(data, tmp_path):
    import yaml
    from click.testing import CliRunner

    from synth.cli import main

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(_recipe(data)))
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    assert "foregrounds: 7 found, 5 unpaired" in res.output  # frames that fail to decode show at build time
    for clip in ("count", "gap", "short", "orphan", "bgshort"):
        assert f"clip {clip}:" in res.output
