"""The build's output folder: a local path (written in place) or an fsspec URL.

On a URL a file is written through a local temporary file, uploaded under a temporary
name (`.{name}.{random}.partial`) and then moved to its final name, so readers see whole
files only; `remove_partials` clears what an interrupted writer left.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from pathlib import Path

from shards.atomic import atomic_write_bytes
from shards.manifest import MANIFEST_NAME, Manifest, write_manifest
from shards.tar_writer import ShardInfo, sha256_file



__all__ = ["OutputFolder"]


def _temp_name(name: str) -> str:
    """A temporary name for `name` no other writer uses (removed by `remove_partials` if left)."""
    return f".{name}.{uuid.uuid4().hex[:16]}.partial"


def _is_partial(name: str) -> bool:
    return name.startswith(".") and name.endswith(".partial")


class OutputFolder:
    """The output folder: `fs` is None for a local folder (`local`, absolute), else the
    fsspec filesystem of the URL `location` (files under `root`)."""

    def __init__(self, location: str | os.PathLike) -> None:
        s = os.fspath(location)
        self.fs = None
        if "://" in s or "::" in s:
            import fsspec
            from fsspec.implementations.local import LocalFileSystem

            fs, path = fsspec.core.url_to_fs(s)
            if not isinstance(fs, LocalFileSystem):
                self.fs = fs
                self.root = path.rstrip("/") or "/"
                self.location = s.rstrip("/")
                return
            s = path
        self.local = Path(s).expanduser().resolve()
        self.location = str(self.local)

    @property
    def protocol(self) -> str:
        if self.fs is None:
            return "file"
        proto = self.fs.protocol
        return proto if isinstance(proto, str) else proto[0]

    def _path(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"

    def url(self, name: str) -> str:
        return str(self.local / name) if self.fs is None else f"{self.location}/{name}"

    def names(self) -> list[str]:
        if self.fs is None:
            return sorted(p.name for p in self.local.iterdir() if p.is_file()) if self.local.is_dir() else []
        if not self.fs.exists(self.root):
            return []
        return sorted(e["name"].rstrip("/").rsplit("/", 1)[-1] for e in self.fs.ls(self.root, detail=True)
                      if e.get("type") == "file")

    def makedirs(self) -> None:
        if self.fs is None:
            self.local.mkdir(parents=True, exist_ok=True)
        else:
            self.fs.makedirs(self.root, exist_ok=True)

    def exists(self, name: str) -> bool:
        return (self.local / name).exists() if self.fs is None else self.fs.exists(self._path(name))

    def remove(self, name: str) -> None:
        if self.fs is None:
            (self.local / name).unlink(missing_ok=True)
        elif self.fs.exists(self._path(name)):
            self.fs.rm(self._path(name))

    def read_bytes(self, name: str) -> bytes:
        return (self.local / name).read_bytes() if self.fs is None else self.fs.cat_file(self._path(name))

    def write_bytes(self, name: str, data: bytes) -> None:
        """Atomic: readers see the old content or the whole new one."""
        if self.fs is None:
            atomic_write_bytes(self.local / name, data)
            return
        tmp = self._path(_temp_name(name))
        self.fs.pipe_file(tmp, data)
        self.fs.mv(tmp, self._path(name))

    def upload(self, local: Path, name: str) -> None:
        """Put a local file under `name`, atomically (temporary name, then move)."""
        tmp = self._path(_temp_name(name))
        self.fs.put_file(str(local), tmp)
        self.fs.mv(tmp, self._path(name))

    def shard_info(self, name: str, count: int) -> ShardInfo:
        if self.fs is None:
            path = self.local / name
            return ShardInfo(str(path), count, path.stat().st_size, sha256_file(path))
        h, size = hashlib.sha256(), 0
        with self.fs.open(self._path(name), "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
                size += len(block)
        return ShardInfo(self.url(name), count, size, h.hexdigest())

    def remove_partials(self) -> None:
        for name in self.names():
            if _is_partial(name):
                self.remove(name)

    def write_manifest(self, manifest: Manifest) -> None:
        """Write `manifest.json` (atomically; the build writes it last)."""
        if self.fs is None:
            write_manifest(self.local, manifest)
            return
        with tempfile.TemporaryDirectory(prefix="synth-manifest-") as tmp:
            data = write_manifest(tmp, manifest).read_bytes()
        self.write_bytes(MANIFEST_NAME, data)
