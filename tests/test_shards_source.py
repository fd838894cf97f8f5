"""shards.source (ShardSet): lists of shard URLs and manifests, and what they must not hide:
unreadable or empty shards are counted at construction, shards listed twice are refused."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shard_fixtures import SIZES, write_dataset
from shards import MattingDataset, ShardError
from shards.manifest import read_manifest, shard_filename

pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")


@pytest.fixture(scope="module")
def ds(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("src")
    write_dataset(root, {"train": SIZES, "val": [4]}, hw=(24, 32))
    return root


def _urls(root: Path) -> list[str]:
    return [str(root / e.path) for e in read_manifest(root).shards_of("train")]


def _with(root: Path, tmp_path: Path, **blobs: bytes) -> list[str]:
    """The train URLs with the shards named in ``blobs`` (by index: s1=...) replaced."""
    urls = _urls(root)
    for name, blob in blobs.items():
        i = int(name[1:])
        p = tmp_path / f"bad-{i}.tar"
        p.write_bytes(blob)
        urls[i] = str(p)
    return urls


@pytest.mark.parametrize("blob", [b"not a tar at all" * 40, b"", "cut"])
def test_an_unreadable_shard_in_a_url_list_is_skipped_and_counted_with_handler_skip(ds, tmp_path, blob):
    if blob == "cut":
        blob = (ds / shard_filename("train", 2)).read_bytes()[:1536]
    urls = _with(ds, tmp_path, s2=blob)
    got = MattingDataset(urls, crop=16, buffer_size=8, outputs=("alpha",), handler="skip")
    assert got.sizes == [5, 3, 0, 4, 9, 1]
    assert got.error_counts()["shard_errors"] == 1
    indices = sorted(s["index"] for s in got)
    assert len(indices) == len(got) == sum(SIZES) - 7  # the other shards' samples, each once
    with pytest.raises(ShardError, match="bad-2.tar"):
        MattingDataset(urls, crop=16, handler="raise")
    seen: list[ShardError] = []
    MattingDataset(urls, crop=16, handler=seen.append)
    assert len(seen) == 1 and seen[0].url == urls[2]


def test_an_empty_archive_in_a_url_list_is_counted_not_silently_zero(ds, tmp_path):
    urls = _with(ds, tmp_path, s0=bytes(10240))  # only end-of-archive blocks
    seen: list[ShardError] = []
    got = MattingDataset(urls, crop=16, handler=seen.append)
    assert got.sizes[0] == 0 and len(seen) == 1
    assert "holds no samples" in str(seen[0]) and "bad-0.tar" in str(seen[0])


def test_a_shard_listed_twice_is_refused(ds, tmp_path):
    urls = _urls(ds)
    with pytest.raises(ValueError, match=r"listed more than once.*train-000003\.tar"):
        MattingDataset(urls + [urls[3]], crop=16)
    m = json.loads((ds / "manifest.json").read_text())
    twice = tmp_path / "twice"
    shutil.copytree(ds, twice)
    m["shards"].append(dict(m["shards"][1]))
    (twice / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match=r"'train-000001\.tar' is listed more than once"):
        MattingDataset(twice, crop=16)
    # the same shard under a second name: same sha256
    shutil.copy(twice / "train-000001.tar", twice / "copy.tar")
    m["shards"][-1] = {**m["shards"][1], "path": "copy.tar", "first_index": 29}
    (twice / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match=r"'train-000001\.tar' and 'copy\.tar' have the same sha256"):
        MattingDataset(twice, crop=16)


def test_the_canvas_comes_from_the_manifest_recipe(ds, tmp_path):
    assert MattingDataset(ds, crop=16).shards.canvas is None  # the test recipe names no canvas
    m = json.loads((ds / "manifest.json").read_text())
    m["recipe"]["canvas"] = {"height": 24, "width": 32}
    root = tmp_path / "canvas"
    shutil.copytree(ds, root)
    (root / "manifest.json").write_text(json.dumps(m))
    got = MattingDataset(root, crop=16)
    assert got.shards.canvas == (24, 32) and got.max_pixels == 4 * 24 * 32
    assert MattingDataset(root, crop=16, max_pixels=10).max_pixels == 10
    assert MattingDataset(_urls(ds), crop=16).max_pixels == 1 << 26
