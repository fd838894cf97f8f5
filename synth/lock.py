"""One build at a time per output folder: the lock file `OUT/.build.lock`.

The lock holds the builder's host, pid, process start time and the time it was taken, as
JSON. On a local folder it is created atomically (`O_CREAT | O_EXCL`); creating it is also
the check that the folder can be written, made before any input is prepared. A lock whose
holder is gone (same host, pid no longer running, or running a different process since) is
taken over with a notice; a lock from another host is never taken over (its process cannot
be checked from here), and the message says how to remove it. On an fsspec URL the lock is
best effort: written when absent and read back, as object stores offer no exclusive create.

Readers never see the lock: datasets are `*.tar` files and `manifest.json`.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from .output import OutputFolder

__all__ = ["LOCK_NAME", "LockError", "LockInfo", "OutputLock", "pid_state"]

LOCK_NAME = ".build.lock"


class LockError(RuntimeError):
    """The output folder cannot be locked: another build holds it, or it cannot be written."""


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock: `started` is the epoch time it was taken; `pid_start` identifies the
    process beyond its pid (its start time in clock ticks after boot, Linux only)."""

    host: str
    pid: int
    started: float
    pid_start: int | None = None
    token: str = ""

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> LockInfo | None:
        """The lock's content, or None when it is not a lock this module wrote."""
        try:
            raw = json.loads(data)
            return cls(str(raw["host"]), int(raw["pid"]), float(raw["started"]),
                       None if raw.get("pid_start") is None else int(raw["pid_start"]), str(raw.get("token", "")))
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        age = max(0.0, time.time() - self.started)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"pid {self.pid} on host {self.host}, since {when} ({_duration(age)} ago)"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in ticks) of a Linux process, None when unknown."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()  # after "pid (comm) "
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def pid_state(pid: int, pid_start: int | None = None) -> str:
    """'alive', 'dead' (no such process, a zombie, or another process with the same pid since
    `pid_start` does not match) for a process on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "dead"
    except PermissionError:
        pass  # someone else's process: it exists
    except OSError:
        return "alive"  # cannot tell: assume the worst
    stat = _proc_stat(pid)
    if stat is not None:
        state, start = stat
        if state in ("Z", "X") or (pid_start is not None and start != pid_start):
            return "dead"
    return "alive"


def _me() -> LockInfo:
    stat = _proc_stat(os.getpid())
    return LockInfo(socket.gethostname(), os.getpid(), time.time(), stat[1] if stat else None, uuid.uuid4().hex)


def _write_error(out: OutputFolder, err: OSError) -> LockError:
    reason = (err.strerror or type(err).__name__).lower() if isinstance(err, OSError) else str(err)
    return LockError(f"cannot write to {out.location}: {reason}")


class OutputLock:
    """The build lock of `out` (a context manager). `acquire` creates the folder if needed
    (noting what it created) and the lock; `release` removes the lock, and the folders it
    created when they are still empty (a build that failed early leaves nothing behind)."""

    def __init__(self, out: OutputFolder, log: Callable[[str], None] = lambda s: None) -> None:
        self.out = out
        self.log = log
        self.info: LockInfo | None = None
        self._created: list[Path] = []

    @property
    def location(self) -> str:
        return self.out.url(LOCK_NAME)

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # ------------------------------------------------------------------ acquire

    def acquire(self) -> None:
        """Take the lock; LockError naming the holder, or saying that the folder cannot be written."""
        me = _me()
        if self.out.fs is None:
            self._makedirs_local()
            try:
                self._acquire_local(me)
            except BaseException:
                self._remove_created()
                raise
        else:
            self._acquire_remote(me)
        self.info = me

    def _makedirs_local(self) -> None:
        missing, p = [], self.out.local
        while not p.exists() and p != p.parent:
            missing.append(p)
            p = p.parent
        for d in reversed(missing):
            try:
                d.mkdir()
            except FileExistsError:
                continue
            except OSError as err:
                self._remove_created()
                raise _write_error(self.out, err) from None
            self._created.append(d)

    def _acquire_local(self, me: LockInfo) -> None:
        path = self.out.local / LOCK_NAME
        for _ in range(3):  # a taken-over stale lock may be retaken by another build meanwhile
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                self._take_over_local(path)
                continue
            except OSError as err:
                raise _write_error(self.out, err) from None
            try:
                os.write(fd, me.to_json())
            except OSError as err:
                os.close(fd)
                path.unlink(missing_ok=True)
                raise _write_error(self.out, err) from None
            os.close(fd)
            return
        raise LockError(f"{self.location}: could not take the build lock (other builds keep taking it)")

    def _take_over_local(self, path: Path) -> None:
        """Remove a stale lock at `path` (renamed aside first, so that of two builds taking it
        over only one removes it); LockError when its holder may still run."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return  # released meanwhile: try again
        except OSError as err:
            raise _write_error(self.out, err) from None
        holder = self._check_stale(data)
        aside = path.with_name(f"{LOCK_NAME}.{uuid.uuid4().hex[:12]}.stale")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return
        except OSError as err:
            raise _write_error(self.out, err) from None
        if aside.read_bytes() != data:  # not the lock we judged stale: put it back unless a newer one exists
            with contextlib.suppress(OSError):
                os.link(aside, path)
        else:
            self.log(f"notice: taking over the build lock of {holder}: that process is no longer running")
        aside.unlink(missing_ok=True)

    def _acquire_remote(self, me: LockInfo) -> None:
        fs, path = self.out.fs, self.out.url(LOCK_NAME)
        lock_path = f"{self.out.root.rstrip('/')}/{LOCK_NAME}"
        try:
            self.out.makedirs()
            if fs.exists(lock_path):
                self._check_stale(fs.cat_file(lock_path))
                self.log(f"notice: taking over the stale build lock {path}")
            fs.pipe_file(lock_path, me.to_json())
            back = LockInfo.from_json(fs.cat_file(lock_path))
        except OSError as err:
            raise _write_error(self.out, err) from None
        if back is None or back.token != me.token:
            raise LockError(f"{self.out.location} is being locked by another build at the same time "
                            f"({back.describe() if back else 'unknown holder'}); run one build per output folder")

    def _check_stale(self, data: bytes) -> str:
        """The holder's description when the lock in `data` is stale; LockError otherwise."""
        holder = LockInfo.from_json(data)
        lock = self.location
        if holder is None:
            raise LockError(f"{self.out.location} holds a lock file {lock} that is not a build lock; "
                            f"remove it if no build is running into this folder")
        if holder.host == socket.gethostname() and pid_state(holder.pid, holder.pid_start) == "dead":
            return holder.describe()
        where = "" if holder.host == socket.gethostname() else " (on another host: its process cannot be checked)"
        raise LockError(f"{self.out.location} is locked by another build: {holder.describe()}{where}. "
                        f"Wait for it to finish; if it is no longer running, remove {lock} "
                        "and run again (with --resume to keep its complete shards)")

    # ------------------------------------------------------------------ release

    def release(self) -> None:
        """Remove the lock if this object holds it (and the folders it created, if empty)."""
        if self.info is None:
            return
        try:
            if self.out.fs is None:
                path = self.out.local / LOCK_NAME
                if LockInfo.from_json(path.read_bytes()) == self.info:
                    path.unlink()
            else:
                self.out.remove(LOCK_NAME)
        except OSError:
            pass  # gone already, or the folder became unwritable: a later build finds it stale
        self.info = None
        self._remove_created()

    def _remove_created(self) -> None:
        for d in reversed(self._created):
            try:
                d.rmdir()
            except OSError:
                break  # not empty: the build wrote something
        self._created = []
