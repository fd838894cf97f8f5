"""Atomic, reproducible WebDataset shard writing.

A shard is a plain POSIX (pax/ustar) tar whose members are ``{key}.{name}``,
samples in the given order, member names sorted within a sample, every header
normalised (mtime 0, uid/gid 0, empty uname/gname, mode 0o644), so the same
samples always give byte-identical files. ``webdataset.WebDataset`` and Ray
Data's ``read_webdataset`` read them unchanged.

The file is written under a temporary name of its own in the destination folder
(``.{name}.{random}.partial``, so two writers of one shard, e.g. a retried task
and a straggler, never share a file), flushed and fsync'ed, then renamed with
``os.replace``; a killed or failing writer never leaves a file at the final name.
"""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Mapping

from .atomic import temp_beside

__all__ = ["ShardInfo", "write_shard", "sha256_file", "validate_key", "validate_member_name"]

_BLOCK = 1 << 20


@dataclass(frozen=True)
class ShardInfo:
    """What :func:`write_shard` wrote: final path, sample count, size in bytes, sha256 hex."""

    path: str
    samples: int
    bytes: int
    sha256: str


def validate_key(key: object) -> str:
    """Return ``key`` if it is a valid sample key, else raise ``ValueError`` naming it.

    A key is a non-empty printable-ASCII string without ``.`` (WebDataset
    splits the member name at the first dot), ``/`` or ``\\``.
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f"invalid sample key {key!r}: must be a non-empty string")
    if not all(0x20 < ord(c) < 0x7F for c in key):
        raise ValueError(f"invalid sample key {key!r}: must be printable ASCII without spaces")
    for bad in (".", "/", "\\"):
        if bad in key:
            raise ValueError(f"invalid sample key {key!r}: must not contain {bad!r}")
    return key


def validate_member_name(key: str, name: object) -> str:
    """Return ``name`` if it is a valid member name of sample ``key``, else raise ``ValueError``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"sample {key!r}: invalid member name {name!r} (must be a non-empty string)")
    if not all(0x20 < ord(c) < 0x7F for c in name):
        raise ValueError(f"sample {key!r}: invalid member name {name!r} (must be printable ASCII)")
    if "/" in name or "\\" in name or name.startswith(".") or name.endswith("."):
        raise ValueError(
            f"sample {key!r}: invalid member name {name!r} (no '/', '\\', leading or trailing '.')"
        )
    return name


class _HashingWriter(io.RawIOBase):
    """Write-only file wrapper that hashes and counts what passes through."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self.digest = hashlib.sha256()
        self.nbytes = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[override]
        mv = memoryview(b)
        self.digest.update(mv)
        self._raw.write(mv)
        self.nbytes += mv.nbytes
        return mv.nbytes


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.size = size
    ti.mtime = 0
    ti.mode = 0o644
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    ti.type = tarfile.REGTYPE
    return ti


def write_shard(
    path: str | os.PathLike, samples: Iterable[tuple[str, Mapping[str, bytes]]]
) -> ShardInfo:
    """Write ``samples`` (``(key, {member_name: bytes})`` pairs) to a tar at ``path``.

    Samples keep the given order; members within a sample are sorted by name.
    Keys must be unique within the shard. The sha256 is computed while
    writing. Raises ``ValueError`` (naming the key) for invalid keys, member
    names or payloads; on any exception the temporary file is removed and
    nothing exists at ``path`` that was not there before.
    """
    final = Path(path)
    if final.name.startswith("."):
        raise ValueError(f"write_shard: shard file name must not start with '.': {final}")
    fd, tmp = temp_beside(final)
    n = 0
    seen: set[str] = set()
    f = os.fdopen(fd, "wb")
    try:
        hw = _HashingWriter(f)
        with tarfile.open(fileobj=hw, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for item in samples:
                try:
                    key, members = item
                except (TypeError, ValueError):
                    raise ValueError(
                        f"write_shard: each sample must be a (key, members) pair, got {type(item).__name__}"
                    ) from None
                validate_key(key)
                if key in seen:
                    raise ValueError(f"write_shard: duplicate sample key {key!r} in {final}")
                seen.add(key)
                if not isinstance(members, Mapping) or not members:
                    raise ValueError(f"sample {key!r}: members must be a non-empty mapping")
                for name in sorted(members):
                    validate_member_name(key, name)
                    data = members[name]
                    if not isinstance(data, (bytes, bytearray, memoryview)):
                        raise ValueError(
                            f"sample {key!r}: member {name!r} must be bytes, got {type(data).__name__}"
                        )
                    data = bytes(data)
                    tar.addfile(_tarinfo(f"{key}.{name}", len(data)), io.BytesIO(data))
                n += 1
        # Let the tar stream's __del__ run now, not after the rename: a Ctrl-C that lands inside
        # a __del__ is swallowed, and a build is most likely interrupted just as a shard appears.
        del tar
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(tmp, final)
    except BaseException:
        f.close()
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(final.parent)
    return ShardInfo(path=str(final), samples=n, bytes=hw.nbytes, sha256=hw.digest.hexdigest())


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 hex digest of a local file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)
    return h.hexdigest()
