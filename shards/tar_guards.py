"""Guards for reading tar archives from anyone: what ``tarfile`` lets through unnoticed.

``tarfile`` ends an archive silently where a header is missing or zeroed, skips a
streamed member with one small read per block whatever the stream still holds (a
forged size of 2**62 never finishes), and reads long-name and pax headers with one
``read(declared size)``. :mod:`shards.reader` reads every shard through these guards,
so each such shard is a :class:`ShardError` at once.
"""
from __future__ import annotations

import os
import tarfile
from typing import BinaryIO, Callable

from .errors import ShardError

__all__ = ["TailReader", "BoundedFile", "FileFrom", "check_end_of_archive", "check_nothing_after",
           "skip_to_next_header", "read_at", "DRAIN_FROM"]


def read_at(f: BinaryIO, offset: int, size: int) -> bytes:
    """Up to ``size`` bytes of an open local file from ``offset`` (``pread`` where there is one)."""
    if hasattr(os, "pread"):
        return os.pread(f.fileno(), size, offset)
    f.seek(offset)  # pragma: no cover - Windows
    return f.read(size)  # pragma: no cover


class TailReader:
    """Read-through wrapper of a stream that keeps the last bytes read (to look back at
    the block where ``tarfile`` stopped)."""

    def __init__(self, raw: BinaryIO, keep: int = 1 << 16) -> None:
        self.raw, self.keep, self.pos, self.tail = raw, keep, 0, bytearray()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.pos += len(data)
        self.tail += data
        if len(self.tail) > 2 * self.keep:
            del self.tail[: len(self.tail) - self.keep]
        return data

    def block_at(self, offset: int, size: int) -> bytes | None:
        """Up to ``size`` bytes read from ``offset`` on (fewer at the end of the stream);
        ``None`` if they are no longer kept."""
        start = self.pos - len(self.tail)
        if offset < start:
            return None
        return bytes(self.tail[offset - start: offset - start + size])


def check_end_of_archive(tar: tarfile.TarFile, block: bytes | None, url: str, last: str | None) -> None:
    """Raise :class:`ShardError` unless ``block`` (the 512 bytes where ``tarfile`` stopped)
    is an end-of-archive block of zeros.

    ``tarfile`` ends an archive silently where a header is missing, cut short or invalid,
    so a shard cut at a member boundary, or with a corrupt header, would read as a
    shorter valid tar. ``block`` is ``None`` where it cannot be known (compressed stream).
    """
    if block is None or (len(block) == tarfile.BLOCKSIZE and block.count(0) == tarfile.BLOCKSIZE):
        return
    after = f"after member {last!r}" if last else "at its start"
    what = "the file ends" if not block else ("the file ends inside a header" if len(block) < tarfile.BLOCKSIZE
                                              else "an invalid header")
    raise ShardError(f"truncated or corrupt shard {url}: no end-of-archive block {after} "
                     f"({what} at byte {tar.offset})", url)


#: Gaps between headers larger than this are read through here (not skipped by ``tarfile``).
DRAIN_FROM = 1 << 20


def skip_to_next_header(tar: tarfile.TarFile, url: str, last: str | None) -> None:
    """Read a stream up to where ``tarfile`` will look for the next header, in bounded
    chunks, so that a header declaring more bytes than the shard holds is a
    :class:`ShardError` as soon as the stream ends.

    ``tarfile`` skips forward in a stream with one 10 KiB read per 10 KiB declared,
    whatever the stream still holds, so a forged size (2**62, in a member, a sparse map
    or a long-name header) would never finish. Small gaps are left to ``tarfile``.
    """
    f = tar.fileobj
    left = tar.offset - f.tell()
    if left <= DRAIN_FROM:
        return
    while left > 0:
        chunk = f.read(min(left, 1 << 20))
        if not chunk:
            raise ShardError(f"truncated or corrupt shard {url}: member {last!r} declares more bytes than the "
                             f"shard holds (it ends at byte {f.tell()}, the next header would be at {tar.offset})",
                             url)
        left -= len(chunk)


class BoundedFile:
    """A local file whose reads never ask for more than it holds: ``tarfile`` reads a
    long-name or pax header with one ``read(declared size)``, which for a forged size
    would allocate that much up front."""

    def __init__(self, raw: BinaryIO, size: int) -> None:
        self.raw, self.size = raw, size

    def read(self, n: int = -1) -> bytes:
        left = max(0, self.size - self.raw.tell())
        return self.raw.read(left if n is None or n < 0 else min(n, left))

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()


class FileFrom:
    """Sequential reads of a local file from ``offset`` on (``pread``: the file's own
    position is left alone)."""

    def __init__(self, f: BinaryIO, offset: int) -> None:
        self.f, self.pos = f, offset

    def read(self, size: int) -> bytes:
        data = read_at(self.f, self.pos, size)
        self.pos += len(data)
        return data


def check_nothing_after(read: Callable[[int], bytes], offset: int, url: str, last: str | None) -> None:
    """Raise :class:`ShardError` if a tar header follows the end-of-archive block.

    A zeroed header block reads as an end of archive; the members after it would vanish
    without a trace. Zero padding and junk that is not a header are let be (tools
    ignore what follows the end of an archive).
    """
    while len(block := read(tarfile.BLOCKSIZE)) == tarfile.BLOCKSIZE:
        if block.count(0) != tarfile.BLOCKSIZE:
            try:
                info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
            except tarfile.HeaderError:
                pass
            else:
                after = f"after member {last!r}" if last else "at its start"
                raise ShardError(f"corrupt shard {url}: a zero block {after} ends the archive, but member "
                                 f"{info.name!r} follows at byte {offset}", url)
        offset += tarfile.BLOCKSIZE
