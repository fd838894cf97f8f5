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


# ------------------------------------------------------------------ reader: forged member sizes
def _forged_size_tar(declared: int, member: str = "image.jpg") -> bytes:
    """s000 (two members), then a header for s001.<member> declaring ``declared`` bytes
    (GNU base-256 size field) followed by 3,000 bytes and an end-of-archive."""
    raw, off = _three_sample_tar()
    info = tarfile.TarInfo(f"s001.{member}")
    info.size = declared
    head = info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")
    return raw[:off - 1024] + head + bytes(3000) + bytes(1024)


class Hang(BaseException):
    """Raised by :class:`_Deadline`; not an ``OSError`` (as ``TimeoutError`` is), so the
    reader cannot mistake it for a read error and report a shard error in time."""


class _Deadline:
    """Fail (:class:`Hang`) instead of hanging when the block takes over ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __enter__(self) -> None:
        import signal

        def boom(*_):
            raise Hang(f"still reading after {self.seconds} s")

        self.old = signal.signal(signal.SIGALRM, boom)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc) -> None:
        import signal

        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.old)


@pytest.mark.parametrize("declared", [300 << 20, 8 << 30, 1 << 40, 1 << 62])
@pytest.mark.parametrize("how", ["stream", "spans", "fsspec", "not_kept", "before_start"])
def test_a_member_declaring_more_bytes_than_the_shard_holds_is_a_shard_error_at_once(tmp_path, declared, how):
    """tarfile skips a streamed member with size / 10 KiB reads whatever the stream holds:
    2**62 bytes declared never finished. Every mode stops where the stream ends."""
    import fsspec

    blob = _forged_size_tar(declared)
    path = tmp_path / "s.tar"
    path.write_bytes(blob)
    url = str(path)
    kw: dict = {"spans": how == "spans"}
    if how == "fsspec":
        fsspec.filesystem("memory").pipe("/forged/s.tar", blob)
        url = "memory://forged/s.tar"
    if how == "not_kept":
        kw["keep"] = lambda m: m == "alpha.png"
    start = 2 if how == "before_start" else 0
    got = []
    with _Deadline(5.0), pytest.raises(ShardError, match="truncated or corrupt shard|truncated shard") as e:
        for _, (key, _, _) in iter_shard_samples(url, start, **kw):
            got.append(key)
    assert got == ([] if start else ["s000"])
    assert "s.tar" in str(e.value)


def test_a_large_member_within_the_shard_is_read_or_skipped_as_before(tmp_path):
    """Draining is only for members not kept: a 3 MB member that is kept reads whole, and
    one that is not kept is passed over with the sample intact."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for k in range(2):
            for member, n in (("image.jpg", 3 << 20), ("alpha.png", 10)):
                info = tarfile.TarInfo(f"s{k:03d}.{member}")
                info.size = n
                t.addfile(info, io.BytesIO(bytes([k + 1]) * n))
    path = tmp_path / "big.tar"
    path.write_bytes(buf.getvalue())
    whole = list(iter_shard_samples(str(path)))
    assert [len(m["image.jpg"]) for _, (_, m, _) in whole] == [3 << 20, 3 << 20]
    assert whole[1][1][1]["image.jpg"][:3] == b"\x02\x02\x02"
    alpha_only = list(iter_shard_samples(str(path), keep=lambda m: m == "alpha.png"))
    assert [(k, sorted(m), m["alpha.png"][:1], err) for _, (k, m, err) in alpha_only] == [
        ("s000", ["alpha.png"], b"\x01", None), ("s001", ["alpha.png"], b"\x02", None)]
    over = list(iter_shard_samples(str(path), max_member_bytes=1 << 20))
    assert [err for _, (_, _, err) in over] == ["member 's000.image.jpg' is 3145728 bytes (limit 1048576)",
                                               "member 's001.image.jpg' is 3145728 bytes (limit 1048576)"]


def test_count_samples_reads_like_the_loader(tmp_path):
    """Counting (for a bare URL list) checks the end of archive and forged sizes too."""
    from shards.reader import count_samples

    raw, off = _three_sample_tar()
    for name, blob, n in [("ok.tar", raw, 3), ("empty.tar", bytes(1024), 0)]:
        (tmp_path / name).write_bytes(blob)
        assert count_samples(str(tmp_path / name)) == n
    for name, blob in [("cut.tar", raw[:off]), ("forged.tar", _forged_size_tar(1 << 62)), ("junk.tar", b"x" * 700)]:
        (tmp_path / name).write_bytes(blob)
        with _Deadline(5.0), pytest.raises(ShardError, match=name):
            count_samples(str(tmp_path / name))


@pytest.mark.parametrize("typ", [tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE, tarfile.GNUTYPE_SPARSE])
@pytest.mark.parametrize("spans", [False, True])
def test_special_headers_declaring_huge_sizes_are_shard_errors_without_allocating(tmp_path, typ, spans):
    """A long-name or pax header is read with one read(declared size) (2**62: MemoryError on
    a local file), a sparse map is skipped by its stored size (never finished on a stream)."""
    raw, off = _three_sample_tar()
    info = tarfile.TarInfo("s001.image.jpg")
    info.type, info.size = typ, 1 << 62
    path = tmp_path / "s.tar"
    path.write_bytes(raw[:off - 1024] + info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")
                     + bytes(3000) + bytes(1024))
    with _Deadline(5.0), pytest.raises(ShardError, match=r"s\.tar"):
        list(iter_shard_samples(str(path), spans=spans))


def test_a_key_that_comes_again_is_a_bad_sample_and_extra_samples_are_a_shard_error(tmp_path):
    raw, off = _three_sample_tar()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for k in (0, 1, 0, 2):
            info = tarfile.TarInfo(f"s{k:03d}.image.jpg")
            info.size = 5
            t.addfile(info, io.BytesIO(bytes(5)))
    path = tmp_path / "dup.tar"
    path.write_bytes(buf.getvalue())
    got = [(k, err) for _, (k, _, err) in iter_shard_samples(str(path))]
    assert got == [("s000", None), ("s001", None), ("s000", "sample key 's000' comes again (first as sample 0 "
                                                                "of the shard)"), ("s002", None)]
    # a manifest that says 3 samples: reading to the end finds the fourth, after yielding three
    (tmp_path / "ok.tar").write_bytes(raw)
    assert len(list(iter_shard_samples(str(tmp_path / "ok.tar"), 0, 3, to_end=True))) == 3
    seen = []
    with pytest.raises(ShardError, match=r"dup\.tar holds more samples than the 3 expected .*'s002' follows"):
        for _, (k, _, _) in iter_shard_samples(str(path), 1, 3, to_end=True):
            seen.append(k)
    assert seen == ["s001", "s000"]
    assert [k for _, (k, _, _) in iter_shard_samples(str(path), 1, 3)] == ["s001", "s000"]  # not to the end
