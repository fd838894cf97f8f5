"""shards.manifest: round trip, determinism, errors naming the file."""
from __future__ import annotations

import json

import pytest

from shard_fixtures import write_dataset
from shards import (
    Manifest,
    ShardEntry,
    SkippedInput,
    read_manifest,
    sha256_file,
    shard_url,
    write_manifest,
)


# --------------------------------------------------------------- manifest
def test_manifest_round_trip_and_determinism(tmp_path):
    m = write_dataset(tmp_path / "ds", {"train": [3, 2], "val": [2]}, hw=(16, 20))
    m = m.model_copy(update={"skipped": [SkippedInput(path="x.png", reason="no alpha")]})
    p1 = write_manifest(tmp_path / "ds", m)
    bytes1 = p1.read_bytes()
    assert bytes1.endswith(b"\n") and json.loads(bytes1)["splits"] == {"train": 5, "val": 2}
    assert list(json.loads(bytes1)) == sorted(json.loads(bytes1))
    for loc in (tmp_path / "ds", p1, str(p1), "file://" + str(tmp_path / "ds")):
        assert read_manifest(loc) == m
    write_manifest(tmp_path / "ds", read_manifest(p1))
    assert p1.read_bytes() == bytes1
    assert not any(p.name.endswith(".partial") for p in (tmp_path / "ds").iterdir())
    e = m.shards[1]
    assert (e.first_index, e.samples) == (3, 2)
    assert shard_url(tmp_path / "ds", e) == str(tmp_path / "ds" / "train-000001.tar")
    assert shard_url(p1, e) == str(tmp_path / "ds" / "train-000001.tar")
    assert shard_url("s3://bucket/ds/manifest.json", e) == "s3://bucket/ds/train-000001.tar"
    assert shard_url("s3://bucket/ds/", e) == "s3://bucket/ds/train-000001.tar"
    assert sha256_file(shard_url(p1, e)) == e.sha256


def test_read_manifest_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"invalid manifest .*manifest.json"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"recipe": {}, "splits": {}, "shards": [], "bogus": 1}))
    with pytest.raises(ValueError, match="bogus"):
        read_manifest(tmp_path / "manifest.json")


def test_shard_entry_rejects_escaping_paths():
    good = dict(split="train", samples=1, bytes=1, sha256="0" * 64, first_index=0)
    for bad in ("/abs.tar", "../x.tar", "s3://b/x.tar"):
        with pytest.raises(ValueError, match="relative"):
            ShardEntry(path=bad, **good)
    Manifest(recipe={}, recipe_sha256="x", splits={}, shards=[ShardEntry(path="sub/x.tar", **good)])
