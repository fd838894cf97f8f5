"""The processes of a local Ray instance die with the driver that started it, even on kill -9.

Ray fate-shares the GCS server and the raylet with the driver, but the raylet's children
outlive it: after a SIGKILL of the driver, `ray::DashboardAgent` and `ray::RuntimeEnvAgent`
(started by every raylet in Ray 2.x, with no option to leave them out) notice their parent's
death within ~2 s, then spend 60 s trying to report it to the GCS, which is dead too.

`start_reaper` starts a small watcher process (this file run as a script: standard library
only, its own session so a terminal's Ctrl-C does not reach it). It reads a pipe from the
driver and, once a second, records the processes of the Ray session: the driver's children
whose command line names the session folder, and all their descendants (pid and start time,
so a reused pid is never hit). When the pipe ends (the driver closed it after
`ray.shutdown()`, or the driver died) it sends SIGKILL to every recorded process still
running, then exits. Linux only (it reads /proc); elsewhere nothing is started.
"""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

__all__ = ["Reaper", "start_reaper", "proc_stat"]

_SCAN_INTERVAL_S = 1.0


def proc_stat(pid: int) -> tuple[int, int, str] | None:
    """(parent pid, start time in ticks, state letter) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    try:
        return int(fields[1]), int(fields[19]), fields[0]
    except (IndexError, ValueError):
        return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _processes() -> dict[int, tuple[int, int, str]]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := proc_stat(int(entry))) is not None:
            found[int(entry)] = st
    return found


def _scan(driver: int, session_dir: str, tracked: dict[int, int]) -> None:
    """Add to `tracked` (pid -> start time) the Ray processes of the session: the driver's
    children naming `session_dir`, and every descendant of a tracked process."""
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    me = os.getpid()  # a child of the driver naming the session too
    for pid in children.get(driver, []):
        if pid != me and pid not in tracked and session_dir in _cmdline(pid):
            tracked[pid] = procs[pid][1]
    todo = [pid for pid in tracked if pid in procs and procs[pid][1] == tracked[pid]]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in tracked and child != me:
                tracked[child] = procs[child][1]
                todo.append(child)


def _kill(tracked: dict[int, int]) -> list[int]:
    """SIGKILL every tracked process that still runs (same start time, not a zombie)."""
    killed = []
    for pid, start in sorted(tracked.items()):
        st = proc_stat(pid)
        if st is not None and st[1] == start and st[2] not in ("Z", "X"):
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except OSError:
                pass
    return killed


def _watch(driver: int, session_dir: str) -> None:
    """The watcher's loop: scan until stdin ends, then kill what was found."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tracked: dict[int, int] = {}
    while True:
        _scan(driver, session_dir, tracked)
        ready, _, _ = select.select([0], [], [], _SCAN_INTERVAL_S)
        if ready and not os.read(0, 4096):
            break
    _scan(driver, session_dir, tracked)
    _kill(tracked)


class Reaper:
    """The handle of a started watcher: `stop()` after `ray.shutdown()` (it then removes what
    is left of the session and exits)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self._proc = proc

    @property
    def pid(self) -> int:
        return self._proc.pid

    def stop(self, timeout: float = 5.0) -> None:
        """Close the pipe (the watcher kills what is left of the session) and wait for it."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def start_reaper(session_dir: str) -> Reaper | None:
    """Start the watcher of this driver's local Ray session (`session_dir`, as ray.init's
    context reports it); None where /proc is missing."""
    if not sys.platform.startswith("linux") or not os.path.isdir("/proc/self"):
        return None
    proc = subprocess.Popen([sys.executable, "-I", "-S", __file__, str(os.getpid()), session_dir],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, close_fds=True)
    return Reaper(proc)


if __name__ == "__main__":
    _watch(int(sys.argv[1]), sys.argv[2])
