"""shards.clips: windows of clips for video matting: one geometry for the whole window,
frames in order (stride, reversal) from one clip, fresh per epoch, exact resume, errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from shard_fixtures import RECIPE, RECIPE_SHA256, aligned_arrays, sample_key
from shards import MattingDataset, MattingLoader
from shards.clip_names import frame_member
from shards.clips import clip_window
from shards.codec import encode_alpha, encode_rgb, encode_trimap
from shards.manifest import Manifest, ShardEntry, write_manifest
from shards.tar_writer import write_shard

pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")
HW = (40, 48)


def clip_members(clip: int, n: int, static: bool = False) -> dict[str, bytes]:
    """A clip of n frames: image = fg = the aligned pattern (moving 2 px per frame unless
    static), alpha its red channel; bg a flat colour that names the frame and the clip
    (R = 10 t, G = 20 clip), so a window's frames can be read back from the output."""
    base = aligned_arrays(0, clip, HW)
    members = {"clip.json": json.dumps({"frames": n}).encode()}
    for t in range(n):
        shift = 0 if static else 2 * t
        img = np.roll(base["image"], shift, axis=1)
        alpha = np.roll(base["alpha"], shift, axis=1)
        bg = np.zeros((*HW, 3), np.uint8)
        bg[..., 0], bg[..., 1] = 10 * t, 20 * clip
        tri = np.full(HW, 128, np.uint8)
        tri[alpha == 0], tri[alpha == 1] = 0, 255
        members |= {frame_member("image", t, "png"): encode_rgb(img, "png"),
                    frame_member("fg", t, "png"): encode_rgb(img, "png"),
                    frame_member("bg", t, "png"): encode_rgb(bg, "png"),
                    frame_member("alpha", t, "png"): encode_alpha(alpha),
                    frame_member("trimap", t, "png"): encode_trimap(tri)}
    return members


def write_clips(root: Path, lengths: list[list[int]], static: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    entries, first = [], 0
    for si, shard in enumerate(lengths):
        samples = [(sample_key("train", first + i), clip_members(first + i, n, static)) for i, n in enumerate(shard)]
        info = write_shard(root / f"train-{si:06d}.tar", samples)
        entries.append(ShardEntry(path=f"train-{si:06d}.tar", split="train", samples=len(shard), bytes=info.bytes,
                                  sha256=info.sha256, first_index=first))
        first += len(shard)
    write_manifest(root, Manifest(recipe=RECIPE, recipe_sha256=RECIPE_SHA256, splits={"train": first},
                                  shards=entries))
    return root


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    return write_clips(tmp_path_factory.mktemp("clips"), [[12, 9, 16], [10, 8]])


OUTS = ("image", "alpha", "trimap", "fg", "bg", "guidance", "semantic", "detail")


def _frames_of(bg: torch.Tensor) -> tuple[list[int], set[int]]:
    """Frame numbers and clip ids read back from the flat bg of each output frame."""
    return [int(f[0, 0, 0]) // 10 for f in bg], {int(f[1, 0, 0]) // 20 for f in bg}


@pytest.mark.parametrize("stride, reverse_p", [((1, 1), 0.0), ((1, 3), 0.0), ((2, 2), 1.0)])
def test_a_window_is_consecutive_frames_of_one_clip_with_one_geometry(clips, stride, reverse_p):
    lengths = [12, 9, 16, 10, 8]
    ds = MattingDataset(clips, crop=(24, 32), frames=4, frame_stride=stride, reverse_p=reverse_p, outputs=OUTS,
                        buffer_size=4, augment={"scale": (0.8, 1.5)})
    seen = 0
    for s in ds:
        seen += 1
        for name, c in (("image", 3), ("alpha", 1), ("trimap", 1), ("fg", 3), ("bg", 3), ("guidance", 1),
                        ("semantic", 1), ("detail", 1)):
            assert s[name].shape == (4, c, 24, 32), name
        frames, clip_ids = _frames_of(s["bg"])
        assert clip_ids == {int(s["index"])}  # never crosses clips
        steps = {b - a for a, b in zip(frames, frames[1:])}
        assert len(steps) == 1 and all(0 <= f < lengths[int(s["index"])] for f in frames)
        step = steps.pop()
        if reverse_p == 1.0:
            assert step < 0 and -step == min(2, (lengths[int(s["index"])] - 1) // 3)
        else:
            assert stride[0] <= step <= stride[1]
        # one geometry for the window: the alpha is the image's red channel in every frame
        assert torch.equal(s["image"], s["fg"])
        assert float((s["alpha"][:, 0] * 255 - s["image"][:, 0].float()).abs().max()) <= 1.01
        assert torch.equal(s["detail"][:, 0], (s["trimap"][:, 0] == 128).float())
    assert seen == 5


def test_a_static_clip_gives_identical_frames(tmp_path):
    root = write_clips(tmp_path / "static", [[6, 7]], static=True)
    for s in MattingDataset(root, crop=(24, 24), frames=5, outputs=("image", "alpha", "trimap", "guidance")):
        for name in ("image", "alpha", "trimap", "guidance"):
            assert all(torch.equal(s[name][0], s[name][t]) for t in range(5)), name


def test_windows_are_fresh_every_epoch_deterministic_and_resume_exactly(clips):
    def run(epoch, workers=0):
        ds = MattingDataset(clips, crop=(16, 16), frames=3, frame_stride=(1, 2), reverse_p=0.5, seed=4,
                            outputs=("image", "bg"), buffer_size=4)
        loader = MattingLoader(ds, batch_size=2, num_workers=workers)
        loader.set_epoch(epoch)
        return {k: (img, _frames_of(bg)[0]) for b in loader
                for k, img, bg in zip(b["key"], b["image"], b["bg"])}

    e0, e0w, e1 = run(0), run(0, workers=2), run(1)
    assert sorted(e0) == sorted(e1) and len(e0) == 5
    assert all(torch.equal(e0[k][0], e0w[k][0]) and e0[k][1] == e0w[k][1] for k in e0)
    assert sum(e0[k][1] != e1[k][1] for k in e0) >= 3
    ds = MattingDataset(clips, crop=(16, 16), frames=3, seed=4, outputs=("image",), buffer_size=4)
    full = [b for b in MattingLoader(ds, batch_size=1, num_workers=2)]
    loader = MattingLoader(MattingDataset(clips, crop=(16, 16), frames=3, seed=4, outputs=("image",), buffer_size=4),
                           batch_size=1, num_workers=2)
    it = iter(loader)
    head = [next(it), next(it)]
    again = MattingLoader(MattingDataset(clips, crop=(16, 16), frames=3, seed=4, outputs=("image",), buffer_size=4),
                          batch_size=1, num_workers=2)
    again.load_state_dict(loader.state_dict())
    got = head + list(again)
    assert [b["key"] for b in got] == [b["key"] for b in full]
    assert all(torch.equal(a["image"], b["image"]) for a, b in zip(got, full))


def test_bad_clips_are_counted_errors_naming_the_frame(tmp_path):
    short = write_clips(tmp_path / "short", [[3, 6]])
    seen: list[Exception] = []
    got = list(MattingDataset(short, crop=16, frames=4, handler=seen.append, substitute=False))
    assert len(got) == 1 and len(seen) == 1 and "clip has 3 frames, fewer than frames=4" in str(seen[0])
    members = clip_members(0, 5)
    del members[frame_member("alpha", 2, "png")]
    root = tmp_path / "gap"
    root.mkdir()
    info = write_shard(root / "train-000000.tar", [(sample_key("train", 0), members)])
    write_manifest(root, Manifest(recipe=RECIPE, recipe_sha256=RECIPE_SHA256, splits={"train": 1}, shards=[
        ShardEntry(path="train-000000.tar", split="train", samples=1, bytes=info.bytes, sha256=info.sha256,
                   first_index=0)]))
    seen.clear()
    assert list(MattingDataset(root, crop=16, frames=5, handler=seen.append, substitute=False)) == []
    assert "clip frame 2: no alpha_002.png member" in str(seen[0])
    seen.clear()  # image shards read with frames=: a clear error, counted
    assert list(MattingDataset(short, crop=16, handler=seen.append, substitute=False)) == []
    assert "alpha.png" in str(seen[0])


def test_clip_settings_are_validated(clips):
    for kw, field in [({"frames": 0}, "frames"), ({"frames": 2, "outputs": ("alpha", "instances")}, "clips"),
                      ({"frames": 2, "frame_stride": (3, 1)}, "frame_stride"), ({"frames": 2, "reverse_p": 2}, "reverse_p"),
                      ({"frames": 2, "augment": {"recomposite_p": 0.5}}, "recomposite_p")]:
        with pytest.raises(ValueError, match=field):
            MattingDataset(clips, **kw)


def test_clip_window_policy():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, t = int(rng.integers(1, 30)), int(rng.integers(1, 8))
        if n < t:
            with pytest.raises(ValueError, match="fewer than"):
                clip_window(rng, n, t, (1, 3), 0.5)
            continue
        w = clip_window(rng, n, t, (1, 3), 0.5)
        steps = {abs(b - a) for a, b in zip(w, w[1:])}
        assert len(w) == t and all(0 <= f < n for f in w) and len(steps) <= 1 and (not steps or steps <= {1, 2, 3})
