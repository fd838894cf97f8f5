"""shards.tar_writer: atomic, reproducible WebDataset tars."""
from __future__ import annotations

import os
import tarfile

import pytest
import webdataset as wds

from shard_fixtures import synthetic_members
from shards import sha256_file, write_shard


# ------------------------------------------------------------- tar writer
def _samples(n=4, split="train"):
    return [(f"{split}_{i:08d}", synthetic_members(split, i, hw=(16, 20))) for i in range(n)]


def test_write_shard_is_deterministic(tmp_path):
    a = write_shard(tmp_path / "a.tar", _samples())
    b = write_shard(tmp_path / "b.tar", iter(_samples()))
    assert a.sha256 == b.sha256 == sha256_file(a.path)
    assert a.bytes == os.path.getsize(a.path) and a.samples == 4
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


def test_tar_headers_are_normalised(tmp_path):
    info = write_shard(tmp_path / "s.tar", _samples(2))
    with tarfile.open(info.path) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == [f"train_{i:08d}.{n}" for i in range(2)
                     for n in sorted(["image.jpg", "alpha.png", "trimap.png", "fg.jpg", "bg.jpg", "meta.json"])]
    for m in members:
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) == (0, 0, 0, "", "", 0o644)
        assert m.isreg()


def test_webdataset_reads_shard_unchanged(tmp_path):
    samples = _samples(3)
    info = write_shard(tmp_path / "train-000000.tar", samples)
    got = list(wds.WebDataset(str(info.path), shardshuffle=False))
    assert [s["__key__"] for s in got] == [k for k, _ in samples]
    for s, (_, members) in zip(got, samples):
        assert {k: v for k, v in s.items() if not k.startswith("__")} == members


def test_crash_mid_write_leaves_nothing(tmp_path):
    def gen():
        yield from _samples(2)
        raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError, match="worker killed"):
        write_shard(tmp_path / "train-000000.tar", gen())
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_previous_file(tmp_path):
    info = write_shard(tmp_path / "s.tar", _samples(1))
    with pytest.raises(ValueError):
        write_shard(tmp_path / "s.tar", [("bad.key", {"x": b"1"})])
    assert sha256_file(tmp_path / "s.tar") == info.sha256
    assert [p.name for p in tmp_path.iterdir()] == ["s.tar"]


def test_two_writers_of_one_shard_do_not_share_a_temporary_file(tmp_path):
    """A straggler and its retry writing the same shard at once each finish a whole file."""
    first, second = _samples(3), _samples(3)
    gen_a = iter(first)

    def interleaved():  # writer A is half-way through when writer B runs from start to end
        yield next(gen_a)
        write_shard(tmp_path / "s.tar", second)
        yield from gen_a

    info = write_shard(tmp_path / "s.tar", interleaved())
    (tmp_path / "ref").mkdir()
    reference = write_shard(tmp_path / "ref" / "s.tar", _samples(3))
    assert sha256_file(tmp_path / "s.tar") == info.sha256 == reference.sha256  # a whole, clean shard
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ref", "s.tar"]  # no temporary file left


@pytest.mark.parametrize("key, msg", [
    ("a.b", "'a.b'"), ("a/b", "'a/b'"), ("", "non-empty"), ("ké", "'ké'"), ("a b", "'a b'"), (3, "3"),
])
def test_invalid_keys_raise_naming_the_key(tmp_path, key, msg):
    with pytest.raises(ValueError, match=msg):
        write_shard(tmp_path / "s.tar", [(key, {"x.txt": b"1"})])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["", "a/b", ".hidden", "x."])
def test_invalid_member_names_raise(tmp_path, name):
    with pytest.raises(ValueError, match="'k1'"):
        write_shard(tmp_path / "s.tar", [("k1", {name: b"1"})])


def test_duplicate_keys_and_bad_payloads_raise(tmp_path):
    with pytest.raises(ValueError, match="duplicate sample key 'k1'"):
        write_shard(tmp_path / "s.tar", [("k1", {"a": b"1"}), ("k1", {"a": b"2"})])
    with pytest.raises(ValueError, match="must be bytes"):
        write_shard(tmp_path / "s.tar", [("k1", {"a": "text"})])
    with pytest.raises(ValueError, match="non-empty mapping"):
        write_shard(tmp_path / "s.tar", [("k1", {})])
