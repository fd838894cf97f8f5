"""shards.reader: the end-of-archive check."""
from __future__ import annotations

import io
import tarfile

import pytest

from shards.reader import ShardError, iter_shard_samples


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
