"""Streaming tar reading: group members into samples, validate, only ever bytes.

Shards are read sequentially (``tarfile`` streaming mode over an fsspec file
object), so local paths and any fsspec URL (``file://``, ``s3://``,
``https://``, ``memory://`` ...) work the same. Nothing is unpickled and
nothing is written to disk: a member is bytes, a sample is
``(key, {name: bytes}, error)``. Member names are validated (``{key}.{name}`` with a
valid key and a name without ``/``), only regular files are accepted, and
member sizes are capped.

A bad sample (invalid key or member name, not a regular file, duplicate or
oversized member) comes out with an ``error`` message so that positions stay
aligned with the manifest; an unreadable shard (missing, truncated, not a
tar, checksum mismatch) raises :class:`ShardError`. :mod:`shards.dataset`
turns bad samples into :class:`SampleError` and applies the ``handler``
policy to both.
"""
from __future__ import annotations

import hashlib
import os
import tarfile
from typing import BinaryIO, Callable, Iterator, Mapping, NamedTuple

import fsspec

from .errors import LoaderError, SampleError, ShardError
from .tar_guards import (
    BoundedFile,
    FileFrom,
    TailReader,
    check_end_of_archive,
    check_nothing_after,
    read_at,
    skip_to_next_header,
)
from .tar_writer import validate_key, validate_member_name

__all__ = [
    "LoaderError",
    "SampleError",
    "ShardError",
    "open_shard",
    "iter_tar_samples",
    "iter_shard_samples",
    "is_local_tar",
    "local_path",
    "verify_sha256",
    "read_span",
    "load_members",
    "find_member",
    "count_samples",
    "Span",
    "MAX_MEMBER_BYTES",
]

#: Members larger than this are refused (a corrupt header must not allocate gigabytes).
MAX_MEMBER_BYTES = 256 << 20

RawSample = tuple[str, dict[str, "bytes | Span"], "str | None"]


class Span(NamedTuple):
    """Where a member's bytes lie in an uncompressed tar: ``size`` bytes at ``offset`` of ``path``."""

    path: str
    offset: int
    size: int


def read_span(span: Span) -> bytes:
    """The bytes of one member (:class:`Span`); :class:`ShardError` if the file is shorter now."""
    try:
        with open(span.path, "rb", buffering=0) as f:
            data = read_at(f, span.offset, span.size)
    except OSError as e:
        raise ShardError(f"cannot read shard {span.path}: {e}", span.path) from e
    if len(data) != span.size:
        raise ShardError(f"truncated shard {span.path}: {len(data)} of {span.size} bytes at offset {span.offset}",
                         span.path)
    return data


def load_members(members: Mapping[str, "bytes | Span"], key: str) -> dict[str, bytes]:
    """Members as bytes: :class:`Span` s are read from their shard (a failure is a
    :class:`SampleError` of sample ``key``)."""
    try:
        return {name: read_span(v) if isinstance(v, Span) else v for name, v in members.items()}
    except ShardError as e:
        raise SampleError(f"sample {key!r}: {e}", url=e.url, key=key) from e


def find_member(members: Mapping[str, "bytes | Span"], stem: str) -> "bytes | Span | None":
    """The member named ``stem.<ext>`` (the first one), or None."""
    for name, data in members.items():
        if name.partition(".")[0] == stem:
            return data
    return None


def open_shard(url: str, *, random_access: bool = False) -> BinaryIO:
    """Open a shard for binary reading: sequential (local path or fsspec URL), or with
    ``random_access`` a local file (see :func:`is_local_tar`) whose read-ahead the kernel
    starts now (its members are read back by offset soon after: sequential disk reads now,
    page-cache hits then)."""
    try:
        if not random_access:
            return fsspec.open(url, "rb").open()
        f = open(local_path(url), "rb")
    except FileNotFoundError as e:
        raise ShardError(f"shard not found: {url}", url) from e
    except OSError as e:
        raise ShardError(f"cannot open shard {url}: {e}", url) from e
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_WILLNEED)
    return f


def _member_error(info: tarfile.TarInfo, member: str, members: Mapping[str, object]) -> str | None:
    """Why member ``info`` makes its sample unusable (not a regular file, invalid name,
    duplicate), or None."""
    try:
        if not info.isreg() or info.issparse():
            raise ValueError(f"member {info.name!r} is not a regular file")
        _split_name(info.name)
    except ValueError as e:
        return str(e)
    if member in members:
        return f"duplicate member {info.name!r}"
    return None


def _split_name(name: str) -> tuple[str, str]:
    key, dot, member = name.partition(".")
    if not dot:
        raise ValueError(f"member {name!r} has no '.' between key and name")
    validate_key(key)
    validate_member_name(key, member)
    return key, member


def iter_tar_samples(
    fileobj: BinaryIO,
    url: str = "",
    *,
    keep: Callable[[str], bool] | None = None,
    keep_from: int = 0,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    spans: str | None = None,
) -> Iterator[RawSample]:
    """Yield ``(key, members, error)`` for each run of consecutive members sharing a key.

    ``members`` maps member names (``"image.jpg"``) to bytes; only names for
    which ``keep(name)`` is true are kept, and samples before ordinal
    ``keep_from`` keep nothing (they are read past). With ``spans`` (the local
    path of ``fileobj``, an uncompressed tar opened for random access) members
    map to :class:`Span` instead of bytes (read them with :func:`read_span`):
    only the headers are read, and every member is checked to lie within the
    file. ``error`` is ``None`` or a message saying why the sample is unusable (invalid key or member name,
    not a regular file, duplicate or oversized member). Raises
    :class:`ShardError` when the tar itself is unreadable; the sample being
    assembled at that point is dropped, since it may be incomplete.
    """
    key: str | None = None
    members: dict[str, bytes] = {}
    error: str | None = None
    ordinal = -1
    seen: dict[str, int] = {}  # key -> its first ordinal
    name: str | None = None
    stream = TailReader(fileobj) if spans is None else None
    try:
        file_size = os.fstat(fileobj.fileno()).st_size if spans is not None else 0
        tar = tarfile.open(fileobj=stream or BoundedFile(fileobj, file_size), mode="r|*" if spans is None else "r:")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise ShardError(f"not a readable tar: {url}: {e}", url) from e
    try:
        while True:
            try:
                if stream is not None and name is not None:  # past the first header tarfile.open read
                    skip_to_next_header(tar, url, name)
                info = tar.next()
            except (tarfile.TarError, OSError, EOFError, ValueError) as e:
                raise ShardError(f"truncated or corrupt shard {url}: {e}", url) from e
            if info is None:
                if stream is None:
                    end = read_at(fileobj, tar.offset, tarfile.BLOCKSIZE)
                elif getattr(tar.fileobj, "comptype", "tar") == "tar":
                    end = stream.block_at(tar.offset, tarfile.BLOCKSIZE)
                else:
                    end = None  # offsets of a decompressed stream: nothing to look back at
                check_end_of_archive(tar, end, url, name)
                if stream is None:
                    rest = FileFrom(fileobj, tar.offset + tarfile.BLOCKSIZE).read
                else:
                    rest = tar.fileobj.read  # the stream goes on just after the zero block
                check_nothing_after(rest, tar.offset + tarfile.BLOCKSIZE, url, name)
                break
            name = info.name
            k, _, member = name.partition(".")
            if k != key:
                if key is not None:
                    yield key, members, error
                key, members, error = k, {}, None
                ordinal += 1
                if k in seen:
                    error = f"sample key {k!r} comes again (first as sample {seen[k]} of the shard)"
                seen.setdefault(k, ordinal)
            if error is None:
                error = _member_error(info, member, members)
            wanted = error is None and ordinal >= keep_from and (keep is None or keep(member))
            if wanted and info.size > max_member_bytes:
                error, wanted = f"member {name!r} is {info.size} bytes (limit {max_member_bytes})", False
            if not wanted:
                continue
            if spans is not None:
                if info.offset_data + info.size > file_size:
                    raise ShardError(f"truncated shard {url}: member {name!r} ends at byte "
                                     f"{info.offset_data + info.size} of a {file_size}-byte file", url)
                members[member] = Span(spans, info.offset_data, info.size)
                continue
            try:
                f = tar.extractfile(info)
                data = f.read() if f is not None else b""
            except (tarfile.TarError, OSError, EOFError, ValueError) as e:
                raise ShardError(f"truncated or corrupt shard {url}: {e}", url) from e
            if len(data) != info.size:
                raise ShardError(f"truncated shard {url}: member {name!r} has {len(data)} of {info.size} bytes", url)
            members[member] = data
        if key is not None:
            yield key, members, error
    finally:
        tar.close()


def iter_shard_samples(
    url: str,
    start: int = 0,
    stop: int | None = None,
    *,
    keep: Callable[[str], bool] | None = None,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    spans: bool = False,
    to_end: bool = False,
) -> Iterator[tuple[int, RawSample]]:
    """Yield ``(position, (key, members, error))`` for samples ``start .. stop - 1`` of a shard.

    Positions are file-order ordinals. Samples before ``start`` are read past
    without keeping their bytes. ``spans=True`` (``url`` a local uncompressed
    tar, see :func:`is_local_tar`): members are :class:`Span` s, not bytes.
    Raises :class:`ShardError` if the shard is unreadable or holds fewer than
    ``stop`` samples, or (``to_end``: ``stop`` is the shard's sample count) more:
    then the rest of the shard is read to its end-of-archive block, after the last
    sample is yielded.
    """
    f = open_shard(url, random_access=spans)
    try:
        if stop is not None and stop <= start:
            return
        samples = iter_tar_samples(f, url, keep=keep, keep_from=start, max_member_bytes=max_member_bytes,
                                   spans=local_path(url) if spans else None)
        read = 0
        for pos, sample in enumerate(samples):
            read = pos + 1
            if stop is not None and pos >= stop:
                raise ShardError(f"shard {url} holds more samples than the {stop} expected (by the manifest): "
                                 f"{sample[0]!r} follows", url)
            if pos >= start:
                yield pos, sample
            if stop is not None and pos + 1 >= stop and not to_end:
                return
        if stop is not None and read < stop:
            raise ShardError(f"truncated shard {url}: it ended before sample {stop} (expected by the manifest)", url)
    finally:
        f.close()


def count_samples(url: str, stems: set[str] | None = None) -> int:
    """Samples in a shard, without a manifest: runs of members sharing a key, read as the
    loader reads them (headers only for a local ``.tar``); :class:`ShardError` if the shard
    is unreadable, truncated or corrupt. ``stems``: a set that gets every member's stem
    (``"image"`` of ``"image.jpg"``)."""
    spans = is_local_tar(url)
    f = open_shard(url, random_access=spans)
    keep = _nothing if stems is None else _noting_stems(stems)
    try:
        samples = iter_tar_samples(f, url, keep=keep, spans=local_path(url) if spans else None)
        return sum(1 for _ in samples)
    finally:
        f.close()


def _nothing(member: str) -> bool:
    return False


def _noting_stems(stems: set[str]) -> Callable[[str], bool]:
    """A ``keep`` that keeps nothing and adds each member's stem to ``stems``."""
    def keep(member: str) -> bool:
        stems.add(member.partition(".")[0])
        return False
    return keep


def local_path(url: str) -> str:
    """The local file path of ``url`` (a plain path or a ``file://`` URL); ``ValueError`` otherwise."""
    path = url[len("file://"):] if url.startswith("file://") else url
    if "://" in path or "::" in path:
        raise ValueError(f"not a local file: {url}")
    return path


def is_local_tar(url: str) -> bool:
    """True for a local path or ``file://`` URL of an uncompressed ``.tar`` (members can be read by offset)."""
    try:
        path = local_path(url)
    except ValueError:
        return False
    return path.endswith(".tar")


def verify_sha256(url: str, expected: str, block: int = 1 << 20) -> None:
    """Hash a whole shard (streaming) and raise :class:`ShardError` unless it matches ``expected``."""
    h = hashlib.sha256()
    f = open_shard(url)
    try:
        while chunk := f.read(block):
            h.update(chunk)
    except OSError as e:
        raise ShardError(f"cannot read shard {url}: {e}", url) from e
    finally:
        f.close()
    if h.hexdigest() != expected:
        raise ShardError(f"sha256 mismatch for {url}: expected {expected}, got {h.hexdigest()}", url)
