"""The bad-input catalogue of `synth build` / `synth validate`, one row per kind: the exit
status, the message naming the file or the recipe field, no traceback, and, where the build
goes on (`on_error: skip`), the manifest's skipped record. Tiny inputs, serial executor."""
from __future__ import annotations

import errno
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from shards.manifest import read_manifest
from synth.cli import main
from synth.lock import LOCK_NAME
from synth.resume import STATE_NAME

from conftest import deny_writes, jpeg_bytes, png_bytes


_png = png_bytes
_jpeg = jpeg_bytes


def _alpha(h: int, w: int) -> np.ndarray:
    a = np.zeros((h, w), np.float32)
    a[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = 1.0
    yy, xx = np.mgrid[0:h, 0:w]
    soft = np.clip(1.2 - np.hypot(yy - h / 2, xx - w / 2) / (0.4 * min(h, w)), 0, 1)
    return np.rint(np.maximum(a * 0.999, soft) * 255).astype(np.uint8)


class Scene:
    """An image_alpha + folder dataset of 4 photos with mattes and 3 backgrounds (64x64) and
    its recipe; a row changes what it needs, then `run` invokes the CLI in-process."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
        self.root, self.mp, self.cache = root, monkeypatch, cache
        rng = np.random.default_rng(7)
        for d in ("img", "alpha", "bg"):
            (root / d).mkdir()
        for i in range(4):
            self.write(f"img/p{i}.png", _png(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)))
            self.write(f"alpha/p{i}.png", _png(np.roll(_alpha(64, 64), 3 * i, axis=1)))
        for i in range(3):
            self.write(f"bg/b{i}.png", _png(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)))
        self.recipe: dict = {
            "foregrounds": [{"kind": "image_alpha", "image_dir": str(root / "img"), "alpha_dir": str(root / "alpha")}],
            "backgrounds": [{"kind": "folder", "path": str(root / "bg")}],
            "splits": [{"name": "train", "fraction": 1.0, "samples": 4}],
            "canvas": {"height": 48, "width": 48},
            "composition": {"fg_estimation": "blur_fusion"},
        }
        self.recipe_path = root / "r.yaml"
        self.recipe_bytes: bytes | None = None  # the recipe file's bytes, when not the YAML of `recipe`
        self.out = root / "out"
        self.command = "build"
        self.args: list[str] = []
        self.quiet = True

    def write(self, rel: str, data: bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def deny_read(self, rel: str) -> None:
        """Make a file unreadable (mode 000; as root, where that does not bind, reading it
        raises PermissionError as the kernel would)."""
        path = self.root / rel
        path.chmod(0)
        if os.geteuid() == 0:
            real = pathlib.Path.read_bytes

            def read_bytes(p: pathlib.Path) -> bytes:
                if Path(p).absolute() == path:
                    raise PermissionError(errno.EACCES, "Permission denied", str(p))
                return real(p)

            self.mp.setattr(pathlib.Path, "read_bytes", read_bytes)

    def deny_write(self, folder: Path) -> None:
        """Make `folder` read-only (as root, creating in it raises PermissionError)."""
        deny_writes(folder, self.mp)

    def build_first(self) -> None:
        """A complete dataset in `out` from the recipe as it is now."""
        self.recipe_path.write_text(yaml.safe_dump(self.recipe))
        res = CliRunner().invoke(main, ["build", str(self.recipe_path), "-o", str(self.out), "--workers", "0",
                                        "--quiet", "--cache-dir", str(self.cache)])
        assert res.exit_code == 0, res.output

    def run(self):
        if self.recipe_bytes is not None:
            self.recipe_path.write_bytes(self.recipe_bytes)
        elif self.recipe is not None:
            self.recipe_path.write_text(yaml.safe_dump(self.recipe))
        if self.command == "build":
            argv = ["build", str(self.recipe_path), "-o", str(self.out), "--workers", "0",
                    "--cache-dir", str(self.cache)] + (["--quiet"] if self.quiet else [])
        else:
            argv = ["validate", str(self.recipe_path)]
        return CliRunner().invoke(main, argv + self.args)


@dataclass(frozen=True)
class Row:
    """`arrange` changes the scene; `messages` must all appear in the output ({root},
    {out}, {recipe}, {pid}, {host} filled in); `skipped` is the manifest's (path, reason
    substring) record when the build goes on."""

    id: str
    arrange: Callable[[Scene], None]
    status: int
    messages: tuple[str, ...]
    skipped: tuple[str, str] | None = None


def _set(path: str, value) -> Callable[[Scene], None]:
    def arrange(s: Scene) -> None:
        node = s.recipe
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
        node[keys[-1]] = value
    return arrange


def _all(*steps: Callable[[Scene], None]) -> Callable[[Scene], None]:
    def arrange(s: Scene) -> None:
        for step in steps:
            step(s)
    return arrange


def _validate(s: Scene) -> None:
    s.command = "validate"


def _bytes(rel: str, data: bytes | Callable[[Scene], bytes]) -> Callable[[Scene], None]:
    return lambda s: s.write(rel, data(s) if callable(data) else data) and None


def _remove(rel: str) -> Callable[[Scene], None]:
    return lambda s: (s.root / rel).unlink()


def _args(*args: str) -> Callable[[Scene], None]:
    return lambda s: s.args.extend(args)


def _exif_rotated_photo(s: Scene) -> None:
    """p1's photo stored 48x64 (WxH) with EXIF orientation 6 (displayed 64x48); its matte saved
    as displayed, 64x48, without EXIF."""
    (s.root / "img" / "p1.png").unlink()
    s.write("img/p1.jpg", _jpeg(np.full((64, 48, 3), 120, np.uint8), orientation=6))
    s.write("alpha/p1.png", _png(_alpha(48, 64)))


def _rgba_source(s: Scene) -> None:
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[..., 3] = _alpha(64, 64)
    s.write("rgba/c0.png", _png(rgba))
    s.write("rgba/c1.png", _png(rgba[..., :3].copy()))
    s.recipe["foregrounds"] = [{"kind": "rgba", "path": str(s.root / "rgba")}]


def _lock(s: Scene, pid: int, host: str) -> None:
    s.out.mkdir()
    (s.out / LOCK_NAME).write_text(json.dumps({"host": host, "pid": pid, "started": time.time() - 60}))


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def _item_5_read_only_parent(s: Scene) -> None:
    s.deny_write(s.root / "ro")
    s.out = s.root / "ro" / "out"


def _item_5_read_only_out(s: Scene) -> None:
    s.deny_write(s.root / "ro")
    s.out = s.root / "ro"


ROWS = [
    # ---- the recipe file and its fields: nothing is built
    Row("bad_yaml", lambda s: setattr(s, "recipe_bytes", b"name: [unclosed\n"), 1, ("{recipe}: not valid YAML",)),
    Row("non_utf8_recipe", lambda s: setattr(s, "recipe_bytes", "name: caf\xe9\n".encode("latin-1")), 1,
        ("{recipe}: not a UTF-8 text file (byte 0xe9 at offset 9",)),
    Row("non_utf8_recipe_validate", _all(_validate, lambda s: setattr(s, "recipe_bytes", b"name: \xff\xfe\n")), 1,
        ("{recipe}: not a UTF-8 text file",)),
    Row("empty_recipe", lambda s: setattr(s, "recipe_bytes", b""), 1, ("{recipe}: recipe is empty",)),
    Row("missing_recipe", lambda s: setattr(s, "recipe", None), 1, ("{recipe}: cannot read recipe",)),
    Row("unknown_key", _set("colour", 1), 1, ("{recipe}: invalid recipe", "colour: Extra inputs are not permitted")),
    Row("out_of_range", _set("canvas.height", 1), 1, ("{recipe}: invalid recipe", "canvas.height")),
    Row("missing_required", lambda s: s.recipe.pop("splits"), 1, ("{recipe}: invalid recipe", "splits: Field required")),
    Row("set_unknown_path", _args("--set", "composition.nope=1"), 1,
        ("{recipe}: invalid recipe", "composition.nope: Extra inputs are not permitted")),
    Row("set_missing_list_item", _args("--set", "splits.5.samples=1"), 1, ("splits.5: no list item '5'",)),
    Row("albumentations_unknown_transform", _set("foreground_augment", {"albumentations": [{"name": "Foo"}]}), 1,
        ("foreground_augment.albumentations.0.name: unknown transform 'Foo'",)),
    Row("albumentations_bad_parameters",
        _set("foreground_augment", {"albumentations": [{"name": "GaussNoise", "params": {"std_range": [5, -1]}}]}), 1,
        ("foreground_augment.albumentations.0.params: bad parameters for GaussNoise: std_range: All values",)),
    Row("albumentations_bad_parameters_validate", _all(_validate, _set(
        "foreground_augment", {"albumentations": [{"name": "Blur", "params": {"blur_limitt": 3}}]})), 1,
        ("{recipe}: foreground_augment.albumentations.0.params: bad parameters for Blur: Argument(s) 'blur_limitt'",)),
    # ---- sources that stop the build
    Row("missing_folder", _set("foregrounds.0.image_dir", "{root}/nope"), 1,
        ("{root}/nope: folder does not exist", "recipe field foregrounds.0.image_dir")),
    Row("missing_folder_validate", _all(_validate, _set("backgrounds.0.path", "{root}/nope")), 1,
        ("{root}/nope: folder does not exist", "recipe field backgrounds.0.path")),
    Row("empty_background_folder", _all(*[_remove(f"bg/b{i}.png") for i in range(3)], _bytes("bg/notes.txt", b"x")), 1,
        ("{root}/bg: background pool 'folder' contains no JPEG/PNG/WebP images (recipe field backgrounds.0.path)",)),
    Row("no_usable_foregrounds", _all(*[_bytes(f"alpha/p{i}.png", _png(np.zeros((64, 64), np.uint8))) for i in range(4)]),
        1, ("no usable foregrounds (4 found, 4 unusable)", "{root}/alpha/p0.png: alpha is empty")),
    Row("on_error_fail", _all(_bytes("bg/b1.png", b"hello"), _set("on_error", "fail")), 1,
        ("{root}/bg/b1.png: not a readable image: unrecognised format", "(on_error: fail)")),
    # ---- bad input files: skipped and recorded (on_error: skip)
    Row("not_an_image", _bytes("bg/b1.png", b"hello, I am a text file"), 0, (),
        ("{root}/bg/b1.png", "not a readable image: unrecognised format (23 bytes")),
    Row("zero_byte_file", _bytes("alpha/p1.png", b""), 0, (), ("{root}/alpha/p1.png", "empty file (0 bytes)")),
    Row("truncated_jpeg", _all(_remove("bg/b1.png"), _bytes("bg/b1.jpg", lambda s: _jpeg(
        np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8))[:700])), 0, (),
        ("{root}/bg/b1.jpg", "truncated")),
    Row("corrupt_png_header", _bytes("bg/b1.png", lambda s: (s.root / "bg" / "b1.png").read_bytes()[:30]), 0, (),
        ("{root}/bg/b1.png", "corrupt PNG header")),
    Row("alpha_size_mismatch", _bytes("alpha/p1.png", _png(_alpha(56, 56))), 0, (),
        ("{root}/img/p1.png", "size 64x64 does not match its alpha {root}/alpha/p1.png (56x56)")),
    Row("alpha_colour_channels", _bytes("alpha/p1.png", _png(np.dstack([_alpha(64, 64), np.zeros((64, 64, 2), np.uint8)]))),
        0, (), ("{root}/alpha/p1.png", "alpha matte is a colour image (channels differ)")),
    Row("alpha_16bit_all_zero", _bytes("alpha/p1.png", _png(np.zeros((64, 64), np.uint16))), 0, (),
        ("{root}/alpha/p1.png", "alpha is empty (all zero)")),
    Row("alpha_all_opaque", _bytes("alpha/p1.png", _png(np.full((64, 64), 255, np.uint8))), 0, (),
        ("{root}/alpha/p1.png", "alpha is fully opaque everywhere")),
    Row("image_without_alpha", _remove("alpha/p1.png"), 0, (), ("{root}/img/p1.png", "missing alpha")),
    Row("alpha_without_image", _bytes("alpha/p9.png", _png(_alpha(64, 64))), 0, (),
        ("{root}/alpha/p9.png", "alpha without image")),
    Row("unreadable_file_permissions", lambda s: s.deny_read("bg/b1.png"), 0, (),
        ("{root}/bg/b1.png", "cannot read file (permission denied)")),
    Row("image_too_small", _bytes("bg/b1.png", _png(np.zeros((8, 8, 3), np.uint8))), 0, (),
        ("{root}/bg/b1.png", "image is 8x8, smaller than the minimum side 16")),
    Row("image_too_large", _all(_set("inputs", {"max_pixels": 4096}),
                                _bytes("bg/b1.png", _png(np.zeros((64, 80, 3), np.uint8)))), 0, (),
        ("{root}/bg/b1.png", "image is 80x64 = 5120 pixels, over the limit of 4096")),
    Row("rgba_without_alpha_channel", _rgba_source, 0, (), ("{root}/rgba/c1.png", "image has no alpha channel")),
    Row("exif_rotated_matte_as_displayed", _exif_rotated_photo, 0, (),  # item 9
        ("{root}/img/p1.jpg", "size mismatch: image is 64x48 (WxH) as displayed after its EXIF orientation 6 "
                              "(stored 48x64); its alpha {root}/alpha/p1.png is 48x64 after the photo's EXIF "
                              "orientation 6 was applied to it (stored 64x48, no orientation of its own)")),
    Row("duplicate_content", _all(_bytes("img/p4.png", lambda s: (s.root / "img/p0.png").read_bytes()),  # item 8
                                  _bytes("alpha/p4.png", lambda s: (s.root / "alpha/p0.png").read_bytes())), 0, (),
        ("{root}/img/p4.png", "duplicate of {root}/img/p0.png (same content)")),
    Row("duplicate_content_validate", _all(_validate, _bytes("bg/b3.png", lambda s: (s.root / "bg/b0.png").read_bytes())),
        0, ("  duplicates: 1 input(s)", "{root}/bg/b3.png: duplicate of {root}/bg/b0.png (same content)")),
    Row("bad_header_validate", _all(_validate, _bytes("bg/b1.png", b"")), 0,
        ("{root}/bg/b1.png: not a readable image: empty file (0 bytes)", "1 unreadable input(s) would be skipped")),
    # ---- the output folder
    Row("output_is_a_file", lambda s: s.write("out", b"x") and None, 1, ("{out}: exists and is not a folder",)),
    Row("output_holds_a_dataset", _bytes("out/train-000000.tar", b""), 1,
        ("{out} already contains a dataset (train-000000.tar, ...); pass --overwrite",)),
    Row("output_read_only", _item_5_read_only_out, 1, ("cannot write to {out}: permission denied",)),  # item 5
    Row("output_parent_read_only", _item_5_read_only_parent, 1, ("cannot write to {out}: permission denied",)),
    Row("output_locked_by_a_running_build", lambda s: _lock(s, os.getpid(), socket.gethostname()), 1,  # item 10
        ("{out} is locked by another build: pid {pid} on host {host}", "remove {out}/.build.lock")),
    Row("output_locked_on_another_host", lambda s: _lock(s, 1, "node-b"), 1,
        ("{out} is locked by another build: pid 1 on host node-b", "(on another host")),
    Row("stale_lock_of_a_dead_build", _all(lambda s: _lock(s, _dead_pid(), socket.gethostname()),
                                           lambda s: setattr(s, "quiet", False)), 0,
        ("notice: taking over the build lock of pid",)),
    Row("state_of_a_build_that_failed_before_any_shard", _bytes(f"out/{STATE_NAME}", b'{"fingerprint": "x"}'), 0, ()),
    Row("overwrite_and_resume", _args("--overwrite", "--resume"), 1, ("choose either overwrite or resume",)),
    Row("resume_after_the_recipe_changed", _all(lambda s: s.build_first(), _set("seed", 5), _args("--resume")), 1,
        ("{out}: cannot resume: the recipe or its inputs changed",)),
    Row("workers_0_with_an_address", _args("--address", "auto"), 2, ("cannot be combined with address='auto'",)),
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _fill(value, s: Scene):
    if isinstance(value, str):
        return value.format(root=s.root, out=s.out, recipe=s.recipe_path, pid=os.getpid(), host=socket.gethostname())
    if isinstance(value, list):
        return [_fill(v, s) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, s) for k, v in value.items()}
    return value


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input(row: Row, tmp_path, monkeypatch, cache):
    s = Scene(tmp_path, monkeypatch, cache)
    row.arrange(s)
    if s.recipe is not None:
        s.recipe = _fill(s.recipe, s)
    out_existed = s.out.exists()
    try:
        res = s.run()
    finally:
        for p in (tmp_path / "ro", tmp_path / "bg" / "b1.png"):
            if p.exists():
                p.chmod(0o755)
    assert res.exit_code == row.status, res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    for message in row.messages:
        assert _fill(message, s) in res.output, (message, res.output)
    if s.command == "build" and row.status != 0:
        assert out_existed or not s.out.exists()  # a refused build leaves no output folder behind
    if s.command == "build" and row.status == 0:
        m = read_manifest(s.out)
        records = [(r.path, r.reason) for r in m.skipped]
        if row.skipped is None:
            assert records == []
        else:
            path, reason = _fill(list(row.skipped), s)
            assert [r for r in records if r[0] == path and reason in r[1]], records
            assert len(records) == 1, records
        assert sum(m.splits.values()) == 4 and not (s.out / LOCK_NAME).exists()
        assert not [r for _, r in records if re.search(r"0x[0-9a-fA-F]{6,}|object at", r)]  # no addresses


def test_manifest_is_identical_across_builds_with_skipped_inputs(tmp_path, monkeypatch, cache):
    """Item 7: the skip reasons carry no memory address, so the manifests of two builds of
    the same recipe and inputs are equal (the build timings are not in the manifest)."""
    s = Scene(tmp_path, monkeypatch, cache)
    s.write("bg/b1.png", b"hello")
    s.write("alpha/p1.png", b"")
    s.write("bg/b2.png", (s.root / "bg/b2.png").read_bytes()[:30])
    manifests = []
    for name in ("a", "b"):
        s.out = tmp_path / name
        res = s.run()
        assert res.exit_code == 0, res.output
        manifests.append(json.loads((s.out / "manifest.json").read_text()))
    a, b = manifests
    assert a == b
    reasons = [r["reason"] for r in a["skipped"]]
    assert len(reasons) == 3 and not [r for r in reasons if re.search(r"0x[0-9a-fA-F]{6,}|object at", r)]
    shutil.rmtree(tmp_path / "a")
