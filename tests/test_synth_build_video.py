"""synth build of a video recipe, end to end: serial and Ray builds are byte-identical, the
manifest counts clips and frames, plain webdataset reads the clip members, and the loader's
clip mode (frames=T) yields windows of the stored frames."""
from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import video_recipe
from shards import MattingDataset
from shards.clip_names import frame_member
from shards.codec import decode_alpha
from shards.manifest import read_manifest
from synth.build import build
from synth.execution import RayExecutor
from synth.recipe import parse_recipe

FRAMES = 6


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.suffix == ".tar" or p.name == "manifest.json"}


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    root = tmp_path_factory.mktemp("video-build")
    recipe = parse_recipe(video_recipe(frames=FRAMES, realism=False, image_format="png"))
    build(recipe, root / "serial", cache_dir=root / "cache")
    return root, recipe


def test_serial_and_ray_builds_are_byte_identical(serial, ray_session, tmp_path):
    root, recipe = serial
    with RayExecutor(workers=2) as ex:
        report = build(recipe, tmp_path / "ray", executor=ex, cache_dir=tmp_path / "cold-cache")
    assert report.executor == "ray"
    assert _files(tmp_path / "ray") == _files(root / "serial")


def test_the_manifest_counts_clips_and_frames(serial):
    root, _ = serial
    m = read_manifest(root / "serial")
    assert m.splits == {"train": 4, "val": 2}
    assert m.extra["video"] == {"clips": {"train": 4, "val": 2}, "frames_per_clip": FRAMES,
                                "frames": {"train": 4 * FRAMES, "val": 2 * FRAMES}}
    assert sum(s.samples for s in m.shards if s.split == "train") == 4


def test_plain_webdataset_reads_the_clip_members(serial):
    wds = pytest.importorskip("webdataset")
    root, _ = serial
    tars = sorted(str(p) for p in (root / "serial").glob("train-*.tar"))
    samples = list(wds.WebDataset(tars, shardshuffle=False))
    assert len(samples) == 4
    for s in samples:
        clip = json.loads(s["clip.json"])
        assert clip["frames"] == FRAMES and clip["key"] == s["__key__"]
        for t in range(FRAMES):
            for name in (frame_member("image", t, "png"), frame_member("alpha", t, "png"),
                         frame_member("trimap", t, "png"), frame_member("fg", t, "jpg"), frame_member("bg", t, "jpg")):
                assert isinstance(s[name], bytes) and s[name], name


def _stored_alphas(out: Path) -> dict[str, list[np.ndarray]]:
    alphas = {}
    for tar in sorted(out.glob("train-*.tar")):
        with tarfile.open(tar) as f:
            for m in f.getmembers():
                key, _, name = m.name.partition(".")
                if name.startswith("alpha_"):
                    alphas.setdefault(key, {})[int(name[6:9])] = decode_alpha(f.extractfile(m).read())
    return {k: [v[t] for t in range(FRAMES)] for k, v in alphas.items()}


def test_the_loader_yields_windows_of_the_stored_frames(serial):
    root, _ = serial
    stored = _stored_alphas(root / "serial")
    ds = MattingDataset(root / "serial", split="train", crop=None, frames=4, frame_stride=(1, 2), reverse_p=0.5,
                        outputs=("image", "alpha", "fg", "bg"), augment={"scale": (1.0, 1.0)}, seed=1)
    seen = 0
    for s in ds:
        seen += 1
        assert s["image"].shape == (4, 3, 96, 96) and s["alpha"].shape == (4, 1, 96, 96)
        frames = []
        for a in s["alpha"][:, 0].numpy():
            hits = [t for t, ref in enumerate(stored[s["key"]])
                    if np.abs(ref - a).max() < 1e-6 or np.abs(ref[:, ::-1] - a).max() < 1e-6]
            assert hits, "every output frame is one of the clip's stored frames"
            frames.append(hits[0])
        steps = {b - a for a, b in zip(frames, frames[1:])}
        assert len(steps) == 1 and 0 < abs(steps.pop()) <= 2
        # realism off: the composite of the window's layers is its image (within JPEG layers' rounding)
        img, fg, bg = (s[k].float() / 255 for k in ("image", "fg", "bg"))
        alpha = s["alpha"].float()
        assert float((alpha * fg + (1 - alpha) * bg - img).abs().mean()) < 2 / 255
        assert not torch.equal(s["alpha"][0], s["alpha"][-1]) or frames[0] == frames[-1]
    assert seen == 4


def test_an_interrupted_video_build_resumes_to_the_same_bytes(serial, tmp_path):
    import shutil

    root, recipe = serial
    out = tmp_path / "resumed"
    shutil.copytree(root / "serial", out)
    (out / "manifest.json").unlink()
    (out / "train-000001.tar").unlink()
    report = build(recipe, out, resume=True, cache_dir=root / "cache")
    assert report.shards_reused == 2 and report.shards_built == 1
    assert _files(out) == _files(root / "serial")
