"""The output lock: one build per folder, the holder named, stale locks taken over, the lock
gone after the build (also on an error or Ctrl-C), unwritable folders refused before any
input is read."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from shards.manifest import read_manifest
from synth.build import BuildError, build
from synth.cli import main
from synth.lock import LOCK_NAME, LockError, LockInfo, OutputLock, pid_state
from synth.output import OutputFolder
from synth.recipe import parse_recipe
from synth.resume import existing_outputs

from conftest import procedural_recipe

ROOT = Path(__file__).resolve().parents[1]


def _recipe():
    return parse_recipe(procedural_recipe(seed=1, fg=(3, (48, 48)), bg=(2, (48, 48)), canvas=(32, 32), per_shard=4,
                                          samples=(4, 2)))


_HOLDER = """
import sys, time
from synth.lock import OutputLock
from synth.output import OutputFolder
lock = OutputLock(OutputFolder(sys.argv[1]))
lock.acquire()
print("locked", flush=True)
time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of tmp_path/out (a real OutputLock), killed at the end."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path / "out")], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_second_build_is_refused_naming_the_holder_before_reading_inputs(tmp_path, holder):
    lines: list[str] = []
    with pytest.raises(BuildError) as info:
        build(_recipe(), tmp_path / "out", cache_dir=tmp_path / "cache", log=lines.append)
    msg = str(info.value)
    assert msg.startswith(f"{tmp_path / 'out'} is locked by another build: pid {holder.pid} on host "
                          f"{socket.gethostname()}")
    assert f"remove {tmp_path / 'out' / LOCK_NAME}" in msg and "--resume" in msg
    assert not (tmp_path / "cache").exists() and not lines  # refused before any input was prepared
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [LOCK_NAME]  # the holder's lock is untouched
    res = CliRunner().invoke(main, ["build", str(ROOT / "recipes" / "demo.yaml"), "-o", str(tmp_path / "out"),
                                    "--workers", "0", "--quiet", "--limit", "1"])
    assert res.exit_code == 1 and f"pid {holder.pid}" in res.output and "Traceback" not in res.output
    # The holder dies without releasing (kill -9): its lock is stale and the next build takes it over.
    holder.kill()
    holder.wait()
    report = build(_recipe(), tmp_path / "out", cache_dir=tmp_path / "cache", log=lines.append)
    assert report.total_samples == 6
    assert any(f"taking over the build lock of pid {holder.pid}" in line for line in lines)
    assert not (tmp_path / "out" / LOCK_NAME).exists()


def _lock_file(folder: Path, **over) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time() - 3600, "pid_start": None,
            "token": "x", **over}
    (folder / LOCK_NAME).write_text(json.dumps(data))
    return folder / LOCK_NAME


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_notice(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    _lock_file(tmp_path / "out", pid=dead.pid)
    lines: list[str] = []
    build(_recipe(), tmp_path / "out", cache_dir=tmp_path / "cache", log=lines.append)
    notices = [line for line in lines if "taking over" in line]
    assert len(notices) == 1 and notices[0].startswith(
        f"notice: taking over the build lock of pid {dead.pid} on host {socket.gethostname()}, since ")
    assert notices[0].endswith("(60 min ago): that process is no longer running")
    assert read_manifest(tmp_path / "out").splits == {"train": 4, "val": 2}
    assert not (tmp_path / "out" / LOCK_NAME).exists()


def test_a_lock_from_another_host_or_not_a_lock_is_refused_with_the_way_out(tmp_path):
    path = _lock_file(tmp_path / "out", host="gpu-node-7", pid=1)
    with pytest.raises(BuildError, match=r"locked by another build: pid 1 on host gpu-node-7, since .* \(60 min ago\) "
                                         r"\(on another host: its process cannot be checked\)\. .*remove .*\.build\.lock"):
        build(_recipe(), tmp_path / "out", cache_dir=tmp_path / "c")
    path.write_text("garbage")
    with pytest.raises(BuildError, match=r"holds a lock file .*\.build\.lock that is not a build lock; remove it"):
        build(_recipe(), tmp_path / "out", cache_dir=tmp_path / "c")
    assert path.read_text() == "garbage"


def test_pid_state_sees_zombies_and_reused_pids():
    assert pid_state(os.getpid()) == "alive"
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child.pid}/stat").read_text().split(") ")[1][0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pid_state(child.pid) == "dead"  # exited, not yet reaped by its parent
    child.wait()
    assert pid_state(child.pid) == "dead"
    start = int(Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19])
    assert pid_state(os.getpid(), start) == "alive"
    assert pid_state(os.getpid(), start + 1) == "dead"  # the same pid, another process


def test_lock_is_released_on_error_and_ctrl_c_and_an_empty_new_folder_removed(tmp_path, monkeypatch):
    import synth.build as build_module

    out = tmp_path / "new" / "out"

    def interrupted(*args, **kwargs):
        assert (out / LOCK_NAME).is_file()  # held while inputs are prepared
        raise KeyboardInterrupt

    monkeypatch.setattr(build_module, "prepare_inputs", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(_recipe(), out, cache_dir=tmp_path / "c")
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    monkeypatch.setattr(build_module, "prepare_inputs", lambda *a, **k: (_ for _ in ()).throw(BuildError("bad")))
    with pytest.raises(BuildError, match="bad"):
        build(_recipe(), tmp_path / "kept", cache_dir=tmp_path / "c")
    assert (tmp_path / "kept").is_dir() and not any((tmp_path / "kept").iterdir())  # existed before: kept


def test_the_lock_is_no_part_of_the_dataset(tmp_path):
    build(_recipe(), tmp_path / "out", cache_dir=tmp_path / "c")
    _lock_file(tmp_path / "out", host="elsewhere")
    out = OutputFolder(tmp_path / "out")
    assert LOCK_NAME not in existing_outputs(out)
    assert all(s.path.endswith(".tar") for s in read_manifest(tmp_path / "out").shards)
    empty = OutputFolder(tmp_path / "only-lock")
    _lock_file(tmp_path / "only-lock", host="elsewhere")
    assert existing_outputs(empty) == []


def test_memory_url_lock_round_trip():
    import fsspec

    out = OutputFolder("memory://lock-test/out")
    with OutputLock(out) as lock:
        assert LockInfo.from_json(fsspec.filesystem("memory").cat_file("/lock-test/out/.build.lock")) == lock.info
        with pytest.raises(LockError, match="locked by another build"):
            OutputLock(OutputFolder("memory://lock-test/out")).acquire()
    assert not out.exists(LOCK_NAME)


@pytest.mark.parametrize("sub", ["", "out"])
def test_an_unwritable_output_is_refused_before_reading_inputs(tmp_path, read_only_dir, sub):
    out = read_only_dir / sub if sub else read_only_dir
    res = CliRunner().invoke(main, ["build", str(ROOT / "recipes" / "demo.yaml"), "-o", str(out), "--workers", "0",
                                    "--cache-dir", str(tmp_path / "cache"), "--limit", "1"])
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [f"Error: cannot write to {out}: permission denied"]
    assert not (tmp_path / "cache").exists()  # checked before any input was prepared
    assert list(read_only_dir.iterdir()) == []
