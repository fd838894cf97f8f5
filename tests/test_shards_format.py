"""Shard format: codecs, the atomic tar writer, the manifest."""
from __future__ import annotations

import io
import json
import os
import tarfile

import numpy as np
import pytest
import webdataset as wds
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from shard_fixtures import synthetic_members, write_dataset
from shards import (
    Manifest,
    ShardEntry,
    SkippedInput,
    decode_alpha,
    decode_rgb,
    decode_trimap,
    encode_alpha,
    encode_rgb,
    encode_trimap,
    read_manifest,
    sha256_file,
    shard_url,
    write_manifest,
    write_shard,
)
from shards.reader import ShardError, iter_shard_samples


def _rgb(seed=0, h=33, w=47):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ------------------------------------------------------------------ codec
def test_png_rgb_round_trip_exact():
    img = _rgb()
    assert np.array_equal(decode_rgb(encode_rgb(img, "png")), img)


def test_png_rgb_keeps_channel_order():
    img = np.zeros((4, 4, 3), np.uint8)
    img[..., 0] = 200  # pure red
    out = decode_rgb(encode_rgb(img, "png"))
    assert out[0, 0].tolist() == [200, 0, 0]
    for restart in (False, True):
        out = decode_rgb(encode_rgb(img, "jpg", 100, restart_markers=restart))
        assert out[0, 0, 0] > 190 and out[0, 0, 1] < 10 and out[0, 0, 2] < 10
    strided = _rgb(2, 40, 60)[:, ::2]  # a non-contiguous view is encoded as its values
    assert np.array_equal(decode_rgb(encode_rgb(strided, "png")), strided)


def test_jpeg_round_trip_close():
    import cv2

    img = cv2.GaussianBlur(_rgb(1, 64, 80), (7, 7), 2)
    out = decode_rgb(encode_rgb(img, "jpg", 95))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - img).mean() < 2.0


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=24),
                  elements=st.floats(0, 1, width=32)), st.sampled_from([8, 16]))
def test_alpha_round_trip_exact_at_bit_depth(alpha, bits):
    scale = 2**bits - 1
    out = decode_alpha(encode_alpha(alpha, bits))
    assert out.dtype == np.float32 and out.shape == alpha.shape
    assert np.array_equal(np.rint(out.astype(np.float64) * scale), np.rint(alpha.astype(np.float64) * scale))
    assert np.abs(out - alpha).max() <= 0.5 / scale + 1e-6
    # a decoded alpha re-encodes to the same bytes
    assert encode_alpha(out, bits) == encode_alpha(alpha, bits)


def test_alpha_16bit_keeps_precision():
    alpha = np.linspace(0, 1, 4096, dtype=np.float32).reshape(64, 64)
    out = decode_alpha(encode_alpha(alpha, 16))
    assert np.abs(out - alpha).max() < 1e-5
    assert len(np.unique(out)) == 4096


def test_alpha_validation():
    with pytest.raises(ValueError, match="bits must be 8 or 16"):
        encode_alpha(np.zeros((2, 2), np.float32), 12)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        encode_alpha(np.full((2, 2), 1.5, np.float32))
    with pytest.raises(ValueError, match="finite"):
        encode_alpha(np.full((2, 2), np.nan, np.float32))
    with pytest.raises(ValueError, match="expected float"):
        encode_alpha(np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="single-channel"):
        decode_alpha(encode_rgb(_rgb(), "png"))


def test_trimap_round_trip_and_validation():
    tri = np.random.default_rng(0).choice(np.array([0, 128, 255], np.uint8), (20, 30))
    assert np.array_equal(decode_trimap(encode_trimap(tri)), tri)
    bad = tri.copy()
    bad[0, 0] = 7
    with pytest.raises(ValueError, match=r"\[7\]"):
        encode_trimap(bad)
    with pytest.raises(ValueError, match="trimap values"):
        import cv2

        decode_trimap(cv2.imencode(".png", bad)[1].tobytes())


def test_encoding_is_deterministic():
    img, alpha = _rgb(3), np.random.default_rng(3).random((33, 47)).astype(np.float32)
    assert encode_rgb(img, "jpg") == encode_rgb(img.copy(), "jpg")
    assert encode_rgb(img, "png") == encode_rgb(img.copy(), "png")
    assert encode_alpha(alpha, 16) == encode_alpha(alpha.copy(), 16)


@pytest.mark.parametrize("data", [b"", b"not an image", b"\xff\xd8\xff\xe0" + b"\0" * 50])
def test_undecodable_bytes_raise_value_error(data):
    for fn in (decode_rgb, decode_alpha, decode_trimap):
        with pytest.raises(ValueError):
            fn(data)


def test_truncated_jpeg_raises():
    data = encode_rgb(_rgb(), "jpg")
    with pytest.raises(ValueError):
        decode_rgb(data[: len(data) // 3])


def test_encode_rgb_validation():
    with pytest.raises(ValueError, match="uint8"):
        encode_rgb(np.zeros((4, 4), np.uint8), "jpg")
    with pytest.raises(ValueError, match="fmt"):
        encode_rgb(_rgb(), "webp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="quality"):
        encode_rgb(_rgb(), "jpg", 0)


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


# ------------------------------------------------------------ lazy imports
def test_format_modules_do_not_import_torch():
    """`import shards.codec` (the build, `synth stats`) must not pay for torch (PEP 562 lazy names)."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, shards.codec, shards.manifest, shards.tar_writer, shards.reader, shards; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "from shards import MattingDataset, MattingLoader, collate_matting, AugmentConfig; "
            "assert 'torch' in sys.modules; "
            "import shards.dataset; assert shards.MattingDataset is shards.dataset.MattingDataset; "
            "assert 'MattingLoader' in dir(shards); "
            "ns = {}; exec('from shards import *', ns); assert 'collate_matting' in ns")
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
    with pytest.raises(AttributeError):
        import shards
        shards.no_such_name  # noqa: B018


# ------------------------------------------------------------------ reader: end of archive
def _three_sample_tar() -> tuple[bytes, int]:
    """An uncompressed tar of samples s000..s002 (two members each) and the offset of s002's header."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for k in range(3):
            for member, n in (("image.jpg", 700), ("alpha.png", 300)):
                info = tarfile.TarInfo(f"s{k:03d}.{member}")
                info.size = n
                t.addfile(info, io.BytesIO(bytes([k]) * n))
    raw = buf.getvalue()
    return raw, raw.index(b"s002.image.jpg")


@pytest.mark.parametrize("spans", [False, True])
@pytest.mark.parametrize("cut, message", [
    ("at_header", "the file ends"),
    ("in_header", "the file ends inside a header"),
    ("bad_header", "an invalid header"),
])
def test_a_shard_cut_at_a_member_boundary_is_not_a_shorter_valid_tar(tmp_path, spans, cut, message):
    """tarfile ends an archive silently where a header is missing or invalid; the reader does not."""
    raw, off = _three_sample_tar()
    blob = {"at_header": raw[:off], "in_header": raw[:off + 100],
            "bad_header": raw[:off] + b"\xff" * 512 + raw[off + 512:]}[cut]
    path = tmp_path / "s.tar"
    path.write_bytes(raw)
    assert [k for _, (k, _, _) in iter_shard_samples(str(path), spans=spans)] == ["s000", "s001", "s002"]
    path.write_bytes(blob)
    got = []
    with pytest.raises(ShardError, match=rf"s\.tar: no end-of-archive block after member 's001\.alpha\.png' "
                                         rf"\({message} at byte {off}\)"):
        for _, (key, _, _) in iter_shard_samples(str(path), spans=spans):
            got.append(key)
    assert got == ["s000"]  # s001 may be incomplete when the cut comes: it is dropped with the error


def test_end_of_archive_check_on_fsspec_and_compressed_streams(tmp_path):
    import gzip

    import fsspec

    raw, off = _three_sample_tar()
    fs = fsspec.filesystem("memory")
    fs.pipe("/eoa/ok.tar", raw)
    fs.pipe("/eoa/cut.tar", raw[:off])
    assert [k for _, (k, _, _) in iter_shard_samples("memory://eoa/ok.tar")] == ["s000", "s001", "s002"]
    with pytest.raises(ShardError, match="no end-of-archive block"):
        list(iter_shard_samples("memory://eoa/cut.tar"))
    # a gzipped tar is read as before (its offsets are in the decompressed stream)
    gz = tmp_path / "s.tar.gz"
    gz.write_bytes(gzip.compress(raw))
    assert [k for _, (k, _, _) in iter_shard_samples(str(gz))] == ["s000", "s001", "s002"]
    # 70 000 bytes of member data: the block tarfile stops at lies beyond the reader's first chunks
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for k in range(40):
            info = tarfile.TarInfo(f"s{k:03d}.image.jpg")
            info.size = 70_000
            t.addfile(info, io.BytesIO(bytes(70_000)))
    big = tmp_path / "big.tar"
    big.write_bytes(buf.getvalue())
    assert len(list(iter_shard_samples(str(big)))) == 40
