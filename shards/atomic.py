"""Atomic local writes: a temporary file beside the target, renamed over it when whole.

Readers see the old file or the whole new one, never half of it. Files get the mode any
other new file of this process gets (``0o666`` less the umask): ``tempfile.mkstemp``
alone creates them ``0o600``, which on shared storage hides a dataset from the other
users and from a training job's service account.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "current_umask", "temp_beside"]


def current_umask() -> int:
    """This process's umask (read from /proc where it can be, so it is never changed)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: the only portable way to read it is to set it
    os.umask(mask)
    return mask


def temp_beside(path: str | os.PathLike) -> tuple[int, str]:
    """Open a new temporary file ``.NAME.*.partial`` in ``path``'s folder for writing.

    Returns ``(fd, temp_path)``; the file's mode is ``0o666 & ~umask``. The caller writes,
    closes and ``os.replace``-s it over ``path`` (or unlinks it on failure).
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    return fd, tmp


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably (fsync; creating its folder), mode
    ``0o666 & ~umask``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(target)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
