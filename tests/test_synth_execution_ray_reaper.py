"""The processes of a local Ray instance die with the driver, even on kill -9 (without the
reaper, Ray's dashboard and runtime-env agents stayed ~60 s after the driver's death)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synth.execution.ray_reaper import proc_stat as _stat
from synth.execution.ray_reaper import start_reaper

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the reaper reads /proc")


def _running(pid: int, start: int | None = None) -> bool:
    st = _stat(pid)
    return st is not None and st[2] not in ("Z", "X") and (start is None or st[1] == start)


def _descendants(root: int) -> dict[int, int]:
    procs = {int(e): st for e in os.listdir("/proc") if e.isdigit() and (st := _stat(int(e)))}
    found, todo = {}, [root]
    while todo:
        parent = todo.pop()
        for pid, (ppid, start, _) in procs.items():
            if ppid == parent and pid not in found:
                found[pid] = start
                todo.append(pid)
    return found


def _wait_gone(pids: dict[int, int], within: float) -> tuple[float, list[int]]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < within:
        left = [p for p, s in pids.items() if _running(p, s)]
        if not left:
            return time.monotonic() - t0, []
        time.sleep(0.05)
    return time.monotonic() - t0, left


def _kill_all(pids: dict[int, int | None]) -> None:
    """SIGKILL the test's own processes still running (pid -> start time, None: unknown)."""
    for pid, start in pids.items():
        if _running(pid, start):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


_SLEEP = "import time; time.sleep(120)"
_FAKE_DRIVER = f"""
import subprocess, sys, time
from synth.execution.ray_reaper import start_reaper
session = sys.argv[1]
# a "raylet": names the session and starts an "agent" that does not (like ray::DashboardAgent)
raylet = subprocess.Popen([sys.executable, "-c",
                           "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {_SLEEP!r}]); "
                           "time.sleep(120)", session])
other = subprocess.Popen([sys.executable, "-c", {_SLEEP!r}])  # the user's own child: not Ray's
reaper = start_reaper(session)
print(raylet.pid, other.pid, reaper.pid, flush=True)
time.sleep(120)
"""


def test_the_reaper_kills_the_session_when_the_driver_is_killed_and_spares_the_rest(tmp_path):
    session = str(tmp_path / "session_fake")
    driver = subprocess.Popen([sys.executable, "-c", _FAKE_DRIVER, session], stdout=subprocess.PIPE, text=True,
                              cwd=ROOT)
    raylet, other, reaper = (int(x) for x in driver.stdout.readline().split())
    agent = None
    try:
        deadline = time.monotonic() + 20
        while agent is None and time.monotonic() < deadline:
            agent = next(iter(_descendants(raylet)), None)
            time.sleep(0.05)
        assert agent is not None
        time.sleep(1.5)  # the reaper scans once a second
        session_pids = {raylet: _stat(raylet)[1], agent: _stat(agent)[1]}
        driver.kill()
        driver.wait()
        took, left = _wait_gone(session_pids, within=5.0)
        assert left == [] and took < 3.0
        assert _running(other)
        _wait_gone({reaper: _stat(reaper)[1]} if _stat(reaper) else {}, within=5.0)
        assert not _running(reaper)
    finally:
        driver.kill()
        _kill_all({pid: None for pid in (raylet, other, reaper, agent) if pid})


def test_stop_removes_what_is_left_of_the_session(tmp_path):
    session = str(tmp_path / "session_fake")
    left_over = subprocess.Popen([sys.executable, "-c", _SLEEP, session])
    mine = subprocess.Popen([sys.executable, "-c", _SLEEP])
    try:
        reaper = start_reaper(session)
        time.sleep(1.5)
        reaper.stop()
        assert left_over.wait(timeout=5) == -signal.SIGKILL
        assert mine.poll() is None
    finally:
        left_over.kill()
        mine.kill()
        left_over.wait()
        mine.wait()


@pytest.mark.ray
def test_no_ray_process_outlives_a_killed_build_driver(tmp_path):
    """kill -9 of `synth build` on a local Ray instance mid-build: every process of the
    instance (GCS, raylet, agents, workers, monitors) is gone within a few seconds."""
    pytest.importorskip("ray")
    proc = subprocess.Popen([sys.executable, "-m", "synth.cli", "build", str(ROOT / "recipes" / "demo.yaml"),
                             "-o", str(tmp_path / "out"), "--workers", "1", "--quiet",
                             "--cache-dir", str(tmp_path / "cache")],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tracked: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # until the agents and a worker run
            tracked = _descendants(proc.pid)
            titles = [Path(f"/proc/{p}/cmdline").read_bytes()[:24] for p in tracked if _running(p)]
            if sum(t.startswith(b"ray::") for t in titles) >= 3:
                break
            time.sleep(0.2)
        else:
            pytest.fail("Ray did not start within 90 s")
        time.sleep(1.5)  # the reaper has scanned the running instance
        tracked = _descendants(proc.pid)
        session = [p for p in tracked if b"session_dir=" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert session  # the raylet / GCS name the session folder
        proc.kill()
        proc.wait()
        took, left = _wait_gone(tracked, within=10.0)
        assert left == [], f"still running {took:.1f} s after the driver's death: " + ", ".join(
            Path(f"/proc/{p}/cmdline").read_bytes()[:40].decode(errors="replace") for p in left)
    finally:
        proc.kill()
        proc.wait()
        _kill_all(tracked)
