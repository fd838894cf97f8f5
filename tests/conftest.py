"""Shared pytest fixtures and recipe builders: real data location, one local Ray instance per
session, small procedural recipes."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import pytest
from hypothesis import settings

# CI replays the same examples on every run (derandomized, no example database), so a run is
# red only when the code is; locally hypothesis explores fresh examples each run.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")

# The test process runs OpenCV itself and forks DataLoader workers, so it does what
# docs/loader.md asks of a training process: one OpenCV thread, set before any fork (a forked
# child of a process whose OpenCV pool was resized can hang in its first parallel OpenCV call;
# test_augment_colour resizes it).
cv2.setNumThreads(1)

# Dumps and ends hung DataLoader workers (tests/hang_watchdog.py; the ini option hang_watchdog).
pytest_plugins = ["hang_watchdog"]

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` (real photos with alpha, real backgrounds); skips when absent."""
    root = Path(os.environ.get("SYNTH_SHARED_DATA", SHARED_DATA))
    if not (root / "alphamatting" / "alpha").is_dir():
        pytest.skip(f"real sample data not found at {root}")
    return root


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray instance for the whole test session (2 CPUs, no dashboard)."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=200 * 1024 * 1024,
            log_to_driver=False,
            configure_logging=False,
        )
    yield ray
    ray.shutdown()


def procedural_recipe(*, seed: int, fg: tuple[int, tuple[int, int]], bg: tuple[int, tuple[int, int]],
                      canvas: tuple[int, int], per_shard: int, band: tuple[int, int] = (1, 7),
                      samples: tuple[int, int] = (10, 3), fractions: tuple[float, float] = (0.67, 0.33),
                      rotation: tuple[float, float] = (0.7, 30), name: str = "t") -> dict:
    """A small raw recipe on procedural sources (no data needed), train and val splits.

    fg / bg: (count, (height, width)) of the procedural foregrounds / backgrounds; canvas:
    (height, width); rotation: (p, max_angle). Callers replace top-level sections with `{**d, ...}`.
    """
    data = {
        "name": name,
        "seed": seed,
        "foregrounds": [{"kind": "procedural", "count": fg[0], "size": list(fg[1])}],
        "backgrounds": [{"kind": "procedural", "count": bg[0], "size": list(bg[1])}],
        "splits": [{"name": "train", "fraction": fractions[0], "samples": samples[0]},
                   {"name": "val", "fraction": fractions[1], "samples": samples[1]}],
        "canvas": {"height": canvas[0], "width": canvas[1]},
        "composition": {"placement": {"scale": [0.5, 0.9], "max_outside": 0.1}},
        "foreground_augment": {"rotation": {"p": rotation[0], "max_angle": rotation[1]}},
        "trimap": {"band": list(band)},
        "output": {"samples_per_shard": per_shard},
    }
    return data


def png_bytes(arr, mode: str | None = None, **save_kw) -> bytes:
    """``arr`` (a numpy image) saved as PNG by Pillow (``mode``, ``save_kw`` as Pillow takes them)."""
    import io

    from PIL import Image

    b = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(b, "PNG", **save_kw)
    return b.getvalue()


def jpeg_bytes(arr, orientation: int = 1, quality: int = 95) -> bytes:
    """``arr`` saved as JPEG by Pillow, with an EXIF orientation tag unless it is 1."""
    import io

    from PIL import Image

    im = Image.fromarray(arr)
    exif = im.getexif()
    if orientation != 1:
        exif[0x0112] = orientation
    b = io.BytesIO()
    im.save(b, "JPEG", quality=quality, exif=exif)
    return b.getvalue()


def deny_writes(folder: Path, monkeypatch) -> None:
    """Make ``folder`` (created if needed) one nothing can be created in: mode 0555, and as root,
    where mode bits do not bind, ``os.open(O_CREAT)`` and ``os.mkdir`` inside it raise
    PermissionError as the kernel would."""
    import errno

    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    if os.geteuid() != 0:
        return
    real_open, real_mkdir = os.open, os.mkdir

    def denied(path) -> bool:
        return Path(os.fspath(path)).absolute().parent == folder

    def fake_open(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and denied(path) and not Path(os.fspath(path)).exists():
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    def fake_mkdir(path, *args, **kwargs):
        if denied(path):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)


@pytest.fixture
def read_only_dir(tmp_path, monkeypatch):
    """A folder nothing can be created in (see :func:`deny_writes`)."""
    ro = tmp_path / "read-only"
    deny_writes(ro, monkeypatch)
    yield ro
    ro.chmod(0o755)


def video_recipe(*, frames: int = 6, samples: tuple[int, int] = (4, 2), canvas: int = 96, realism: bool = True,
                 static: bool = False, per_shard: int = 3, seed: int = 3, image_format: str = "jpg") -> dict:
    """A small raw video recipe on procedural sources: clips of `frames` frames on a square
    canvas. realism=False: no harmonisation, defocus, sharpness match, noise, JPEG or drift;
    static=True: subject and camera never move."""
    data = procedural_recipe(seed=seed, fg=(6, (96, 80)), bg=(6, (120, 160)), canvas=(canvas, canvas),
                             per_shard=per_shard, samples=samples, name="video_t")
    motion = {"max_speed": 0.03, "max_accel": 0.006, "enter_exit_p": 0.3, "still_p": 1.0 if static else 0.0}
    camera = {"max_pan": 0.01, "shake_px": 2.0, "still_p": 1.0 if static else 0.3}
    data["video"] = {"frames": frames, "motion": motion, "camera": camera, "drift": 0.05 if realism else 0.0}
    data["output"]["image_format"] = image_format
    data["realism"] = {"noise": {"p": 1.0, "sigma": [2.0, 4.0]}, "jpeg": {"p": 0.5}}
    if not realism:
        data["harmonization"] = {"p": 0.0}
        data["realism"] = {"resolution_match": False, "defocus": {"p": 0.0}, "sharpness_match_p": 0.0,
                           "noise": {"p": 0.0}, "jpeg": {"p": 0.0}}
    return data
