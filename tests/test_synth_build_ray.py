"""Distributed build: serial, Ray(1) and Ray(2) byte-identical; worker and driver deaths; errors;
Ctrl-C; fsspec outputs. Ray tests share the session's local instance (`ray_session`); the
driver-kill tests run `synth build` in a subprocess in its own session and kill the group."""
from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import ray
import yaml
from click.testing import CliRunner
from PIL import Image

from shards.manifest import read_manifest
from synth.build import BuildError, build, build_shard, chunk_size
from synth.cli import main
from synth.execution import RayExecutor, make_executor
from synth.recipe import load_recipe, parse_recipe

from conftest import procedural_recipe

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.ray


def _recipe_dict(**over) -> dict:
    return {**procedural_recipe(seed=5, fg=(6, (72, 64)), bg=(5, (64, 96)), canvas=(64, 72), per_shard=3), **over}


def _dataset(out: Path) -> dict[str, bytes]:
    """Every shard and the manifest, by name; asserts no temporary file is left."""
    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if n.endswith(".partial")], names
    return {n: (out / n).read_bytes() for n in names if n.endswith(".tar") or n == "manifest.json"}


def _keys(out: Path) -> list[str]:
    keys = []
    for tar in sorted(out.glob("*.tar")):
        with tarfile.open(tar) as t:
            keys += sorted({m.name.split(".", 1)[0] for m in t.getmembers()})
    return keys


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A clean serial build (and its warm preparation cache)."""
    root = tmp_path_factory.mktemp("ref")
    recipe = parse_recipe(_recipe_dict())
    build(recipe, root / "out", cache_dir=root / "cache")
    return root, recipe, _dataset(root / "out")


def test_chunking():
    assert chunk_size(20_000, 16) == 64
    assert chunk_size(10, 2) == 2
    assert chunk_size(10_000, 1) == 1


# ------------------------------------------------------------------ byte identity


def test_serial_ray1_ray2_byte_identical(reference, ray_session, tmp_path):
    root, recipe, expected = reference
    for workers, cache in ((1, root / "cache"), (2, tmp_path / "cold-cache")):  # Ray(2) prepares too
        with RayExecutor(workers=workers) as ex:
            report = build(recipe, tmp_path / f"ray{workers}", executor=ex, cache_dir=cache)
        assert report.executor == "ray" and report.shards_built == 5
        assert _dataset(tmp_path / f"ray{workers}") == expected, f"ray with {workers} worker(s)"
    assert len(list((tmp_path / "cold-cache").rglob("*.png"))) > 0


class _KillOwnWorkerOnce:
    """Renders a shard, but the first attempt anywhere SIGKILLs its own worker process after
    writing one sample (a marker file, created exclusively, says it already happened)."""

    def __init__(self, fn, marker: str) -> None:
        self.fn, self.marker = fn, marker

    def _maybe_die(self, key: str, done: int) -> None:
        try:
            with open(self.marker, "x"):
                pass
        except FileExistsError:
            return
        os.kill(os.getpid(), signal.SIGKILL)

    def __call__(self, spec):
        fn = self.fn
        if isinstance(fn, functools.partial) and fn.func is build_shard:
            return build_shard(*fn.args, spec, **{**fn.keywords, "on_sample": self._maybe_die})
        return fn(spec)


class _WrapRender:
    """An executor that runs the render stage's function through `wrap` (test-only hooks)."""

    def __init__(self, inner, wrap) -> None:
        self.inner, self.wrap, self.name = inner, wrap, inner.name

    @property
    def parallelism(self):
        return self.inner.parallelism

    @property
    def failures(self):
        return self.inner.failures

    def imap_unordered(self, fn, items):
        if isinstance(fn, functools.partial) and fn.func is build_shard:
            fn = self.wrap(fn)
        return self.inner.imap_unordered(fn, items)

    def progress_board(self):
        return self.inner.progress_board()

    def close(self):
        self.inner.close()


@pytest.fixture
def by_value():
    """Workers cannot import this test module: ship its classes by value."""
    from ray import cloudpickle

    module = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(module)
    yield
    cloudpickle.unregister_pickle_by_value(module)


def test_worker_killed_mid_task_is_retried(reference, ray_session, tmp_path, by_value):
    root, recipe, expected = reference
    marker = str(tmp_path / "killed")
    with RayExecutor(workers=2) as ray_ex:
        ex = _WrapRender(ray_ex, lambda fn: _KillOwnWorkerOnce(fn, marker))
        report = build(recipe, tmp_path / "o", executor=ex, cache_dir=root / "cache")
    assert os.path.exists(marker)  # a worker really died
    assert report.failures >= 1
    assert _dataset(tmp_path / "o") == expected


def test_worker_dying_beyond_retries_names_the_shard(reference, ray_session, tmp_path, by_value):
    root, recipe, _ = reference
    with RayExecutor(workers=1, max_retries=0) as ray_ex:
        ex = _WrapRender(ray_ex, lambda fn: _KillOwnWorkerOnce(fn, str(tmp_path / "killed")))
        with pytest.raises(BuildError, match=r"^train-00000\d\.tar: its Ray worker died 1 time\(s\)"):
            build(recipe, tmp_path / "o", executor=ex, cache_dir=root / "cache")
    assert not [p for p in (tmp_path / "o").iterdir() if p.name.endswith(".partial")]


# ------------------------------------------------------------------ errors reach the user


def _folder_recipe(tmp_path: Path) -> dict:
    rng = np.random.default_rng(0)
    for i in range(3):
        img = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
        a = np.zeros((48, 40), np.uint8)
        a[8:40, 6:34] = 255
        (tmp_path / "img").mkdir(exist_ok=True)
        (tmp_path / "alpha").mkdir(exist_ok=True)
        Image.fromarray(img).save(tmp_path / "img" / f"p{i}.png")
        Image.fromarray(a).save(tmp_path / "alpha" / f"p{i}.png")
    (tmp_path / "bg").mkdir(exist_ok=True)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)).save(tmp_path / "bg" / f"b{i}.png")
    return _recipe_dict(
        foregrounds=[{"kind": "image_alpha", "image_dir": str(tmp_path / "img"), "alpha_dir": str(tmp_path / "alpha")}],
        backgrounds=[{"kind": "folder", "path": str(tmp_path / "bg")}],
        splits=[{"name": "train", "fraction": 1.0, "samples": 6}],
        composition={"fg_estimation": "blur_fusion"},
    )


def _change_backgrounds(folder: Path):
    def wrap(fn):
        for p in sorted(folder.glob("*.png")):  # after preparation, before rendering
            Image.fromarray(np.zeros((50, 70, 3), np.uint8)).save(p)
        return fn
    return wrap


@pytest.mark.parametrize("workers", [0, 2])
def test_worker_error_names_the_input_file(ray_session, tmp_path, workers):
    recipe = parse_recipe(_folder_recipe(tmp_path))
    ex = _WrapRender(make_executor(workers), _change_backgrounds(tmp_path / "bg"))
    try:
        with pytest.raises(BuildError) as info:
            build(recipe, tmp_path / "o", executor=ex, cache_dir=tmp_path / "c")
    finally:
        ex.close()
    msg = str(info.value)
    assert str(tmp_path / "bg") in msg and "changed since the build started" in msg, msg
    assert msg.startswith("train-00000") and "RayTaskError" not in msg and "Traceback" not in msg
    assert not list((tmp_path / "o").glob("*.partial")) and not list((tmp_path / "o").glob(".*.partial"))


# ------------------------------------------------------------------ fsspec outputs


def test_memory_url_output_round_trip(reference, tmp_path):
    import fsspec

    root, recipe, expected = reference
    url = f"memory://synth-{uuid.uuid4().hex}/out"
    report = build(recipe, url, cache_dir=root / "cache")
    fs = fsspec.filesystem("memory")
    base = url[len("memory://"):]
    got = {p.rsplit("/", 1)[-1]: fs.cat_file(p) for p in fs.ls(base, detail=False)}
    assert {k: v for k, v in got.items() if k in expected} == expected
    assert not [k for k in got if k.endswith(".partial")]
    assert report.outdir == url and read_manifest(url).splits == {"train": 10, "val": 3}
    # Interrupted remote build: manifest and one shard gone, a temporary upload left over.
    fs.rm(f"{base}/manifest.json")
    fs.rm(f"{base}/train-000002.tar")
    fs.pipe_file(f"{base}/.train-000002.tar.partial", b"half")
    report = build(recipe, url, resume=True, cache_dir=root / "cache")
    assert report.shards_built == 1 and report.shards_reused == 4
    again = {p.rsplit("/", 1)[-1]: fs.cat_file(p) for p in fs.ls(base, detail=False)}
    assert {k: v for k, v in again.items() if k in expected} == expected and set(again) == set(got)
    with pytest.raises(BuildError, match="already contains a dataset"):
        build(recipe, url, cache_dir=root / "cache")
    with pytest.raises(BuildError, match="memory:// output lives in this process only"):
        build(recipe, url, overwrite=True, cache_dir=root / "cache", executor=RayExecutor(workers=1))


def test_file_url_output_on_ray(reference, ray_session, tmp_path):
    root, recipe, expected = reference
    with RayExecutor(workers=2) as ex:
        build(recipe, f"file://{tmp_path / 'o'}", executor=ex, cache_dir=root / "cache")
    assert _dataset(tmp_path / "o") == expected


# ------------------------------------------------------------------ CLI


def test_cli_on_the_session_ray_and_usage_errors(reference, ray_session, tmp_path):
    root, _, expected = reference
    recipe_path = tmp_path / "r.yaml"
    recipe_path.write_text(yaml.safe_dump(_recipe_dict()))
    runner = CliRunner()
    res = runner.invoke(main, ["build", str(recipe_path), "-o", str(tmp_path / "o"), "--quiet",
                               "--cache-dir", str(root / "cache"), "--workers", "2"])
    assert res.exit_code == 0, res.output
    assert "built 13 samples" in res.output and "on ray" in res.output
    assert ray_session.is_initialized()  # the CLI did not shut down a Ray it did not start
    assert _dataset(tmp_path / "o") == expected
    res = runner.invoke(main, ["build", str(recipe_path), "-o", str(tmp_path / "x"), "--workers", "0",
                               "--address", "auto"])
    assert res.exit_code == 2 and "cannot be combined" in res.output


def test_cli_joins_a_cluster_by_address(reference, ray_session, tmp_path):
    """A second driver (subprocess) joins the session's instance by its address and leaves it running."""
    root, _, expected = reference
    recipe_path = tmp_path / "r.yaml"
    recipe_path.write_text(yaml.safe_dump(_recipe_dict()))
    address = ray_session.get_runtime_context().gcs_address
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    res = subprocess.run([sys.executable, "-m", "synth.cli", "build", str(recipe_path), "-o", str(tmp_path / "o"),
                          "--quiet", "--cache-dir", str(root / "cache"), "--address", address, "--workers", "1"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "built 13 samples" in res.stdout
    assert _dataset(tmp_path / "o") == expected
    assert ray_session.get(ray_session.put(7)) == 7  # the instance it joined is still up


# ------------------------------------------------------------------ driver killed / interrupted


def _kill_recipe(tmp_path: Path, side: int = 128) -> Path:
    data = _recipe_dict(splits=[{"name": "train", "fraction": 0.67, "samples": 40},
                                {"name": "val", "fraction": 0.33, "samples": 6}],
                        canvas={"height": side, "width": side}, output={"samples_per_shard": 2})
    path = tmp_path / "kill.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _reference(tmp_path_factory, side: int):
    root = tmp_path_factory.mktemp(f"killref{side}")
    recipe_path = _kill_recipe(root, side)
    build(load_recipe(recipe_path), root / "out", cache_dir=root / "cache")
    return root, recipe_path, _dataset(root / "out")


@pytest.fixture(scope="module")
def kill_reference(tmp_path_factory):
    return _reference(tmp_path_factory, 128)


@pytest.fixture(scope="module")
def slow_reference(tmp_path_factory):
    """A build that takes a few seconds after its first shards: time for a Ctrl-C to land mid-build
    (the 128-px one renders its 23 shards in a quarter of a second)."""
    return _reference(tmp_path_factory, 640)


def _session_pids(sid: int) -> list[int]:
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.getsid(int(d)) == sid:
                    pids.append(int(d))
            except OSError:
                pass
    return pids


def _start_build(recipe_path: Path, out: Path, cache: Path, workers: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    cmd = [sys.executable, "-m", "synth.cli", "build", str(recipe_path), "-o", str(out), "--quiet",
           "--cache-dir", str(cache), "--workers", str(workers)]
    # SIGINT back to its default in the child: a shell that runs the tests in the background
    # starts them with SIGINT ignored, and Python keeps an inherited SIG_IGN (no KeyboardInterrupt).
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_for(proc: subprocess.Popen, out: Path, shards: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if shards == 0 and (out / ".build-state.json").exists():
            return
        if shards > 0 and out.is_dir() and len(list(out.glob("*.tar"))) >= shards:
            return
        if proc.poll() is not None:
            pytest.fail(f"build ended before {shards} shard(s) existed: {proc.stdout.read().decode()[-2000:]}")
        time.sleep(0.002)
    pytest.fail(f"no {shards} shard(s) after {timeout} s")


def _reap(proc: subprocess.Popen, sig: int) -> str:
    os.killpg(proc.pid, sig)
    output = proc.communicate(timeout=60)[0].decode()
    deadline = time.monotonic() + 90  # Ray's own processes can take a while to exit on a loaded machine
    while _session_pids(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _session_pids(proc.pid), "processes of the killed build are still alive"
    return output


def _resume_and_check(recipe_path: Path, out: Path, cache: Path, expected: dict[str, bytes]) -> None:
    complete = {p.name for p in out.glob("*.tar")} if out.is_dir() else set()
    report = build(load_recipe(recipe_path), out, resume=True, cache_dir=cache)
    assert report.shards_reused == len(complete)
    assert _dataset(out) == expected
    keys = _keys(out)
    assert len(keys) == len(set(keys)) == 46  # every sample exactly once


@pytest.mark.parametrize("workers, shards", [(0, 0), (0, 1), (0, 9), (2, 3)])
def test_driver_sigkill_then_resume(kill_reference, tmp_path, workers, shards):
    root, recipe_path, expected = kill_reference
    out = tmp_path / "o"
    proc = _start_build(recipe_path, out, root / "cache", workers)
    _wait_for(proc, out, shards)
    _reap(proc, signal.SIGKILL)
    assert not (out / "manifest.json").exists(), "the build finished before it could be killed"
    _resume_and_check(recipe_path, out, root / "cache", expected)


@pytest.mark.parametrize("workers", [0, 2])
def test_ctrl_c_leaves_whole_shards_then_resume(slow_reference, tmp_path, workers):
    root, recipe_path, expected = slow_reference
    out = tmp_path / "o"
    proc = _start_build(recipe_path, out, root / "cache", workers)
    _wait_for(proc, out, 2)
    output = _reap(proc, signal.SIGINT)  # what a terminal's Ctrl-C sends: the whole foreground group
    assert proc.returncode == 130, output
    assert "--resume" in output and "Traceback" not in output, output
    assert not [p for p in out.iterdir() if p.name.endswith(".partial")]
    _resume_and_check(recipe_path, out, root / "cache", expected)


@pytest.mark.slow
def test_ray_start_up_notices_only_with_verbose(tmp_path):
    """Ray's token-authentication notice says nothing about the build: hidden unless --verbose."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}  # set by the session's ray.init

    def stderr(*flags: str) -> str:
        out = subprocess.run([sys.executable, "-c", "from synth.cli import main; main()", "build",
                              str(ROOT / "recipes" / "demo.yaml"), "-o", str(tmp_path / f"o{len(flags)}"),
                              "--limit", "1", "--workers", "1", "--cache-dir", str(tmp_path / "c"), *flags],
                             capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
        assert out.returncode == 0, out.stderr
        return out.stderr

    verbose = stderr("--verbose")
    if "Token authentication is enabled" not in verbose:
        pytest.skip("this Ray version gives no token-authentication notice")
    assert "Token authentication is enabled" not in stderr()


@ray.remote(num_cpus=1)
def _report_samples(report, key: str, n: int) -> None:
    for done in range(1, n + 1):
        report(key, done)
    ray.get(report._actor.snapshot.remote())  # the fire-and-forget reports have arrived


class _Recording:
    """A tqdm stand-in that records every position it is moved to."""

    def __init__(self) -> None:
        self.n, self.seen = 0, []

    def update(self, k: int) -> None:
        self.n += k
        self.seen.append(self.n)


def test_progress_reaches_the_driver_sample_by_sample_on_ray(ray_session):
    """Tasks report each finished sample to a Ray actor while they run; the driver's bar moves
    by samples, not by whole shards, and a retried task's reports never move it back."""
    from synth.execution.progress import BoardWatcher

    with RayExecutor(workers=1) as ex:
        board = ex.progress_board()
        try:
            bar = _Recording()
            with BoardWatcher(board, {"a.tar": 5, "b.tar": 3}, bar, interval_s=3600) as watch:
                ray.get([_report_samples.remote(board.report, "a.tar", 3)])
                watch.refresh()
                assert bar.n == 3  # mid-shard: 3 of a.tar's 5 samples
                ray.get([_report_samples.remote(board.report, "a.tar", 2)])  # a retry, from 0 again
                watch.refresh()
                assert bar.n == 3
                watch.finished("a.tar")
                assert bar.n == 5
                ray.get([_report_samples.remote(board.report, "b.tar", 9)])  # capped at the shard's 3
                watch.refresh()
            assert bar.seen == [3, 5, 8]
        finally:
            board.close()
