"""End-to-end: recipe -> shards -> manifest; determinism, re-derivation, resume, bad inputs, CLI."""
from __future__ import annotations

import os
import stat
import json
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from augment.compose import composite
from shards.codec import decode_alpha, decode_rgb, decode_trimap
from shards.manifest import read_manifest
from synth.build import BuildError, build
from synth.cli import main
from synth.realism_steps import replay_post_composite
from synth.recipe import load_recipe, parse_recipe
from synth.resume import STATE_NAME, software_fingerprint

from conftest import procedural_recipe
from shard_fixtures import folder_bytes, read_dataset, simulate_killed_build

ROOT = Path(__file__).resolve().parents[1]


def _small_recipe(**over) -> dict:
    return {**procedural_recipe(seed=3, fg=(6, (96, 80)), bg=(5, (80, 120)), canvas=(96, 112), band=(1, 9),
                                per_shard=4), **over}


@pytest.fixture(scope="module")
def demo_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    recipe = parse_recipe(_small_recipe(output={"samples_per_shard": 4, "image_format": "png"},
                                        realism={"noise": {"p": 0.7, "compensate": True},
                                                 "backdrop": {"p": 1.0, "ratio": [0.2, 0.4]}}))
    report = build(recipe, root / "out", cache_dir=root / "cache")
    return root, recipe, report


def test_layout_and_manifest(demo_build):
    root, recipe, report = demo_build
    out = root / "out"
    m = read_manifest(out)
    assert m.splits == {"train": 10, "val": 3}
    assert [s.path for s in m.shards] == ["train-000000.tar", "train-000001.tar", "train-000002.tar", "val-000000.tar"]
    assert [s.samples for s in m.shards] == [4, 4, 2, 3]
    assert [s.first_index for s in m.shards] == [0, 4, 8, 0]
    for s in m.shards:
        p = out / s.path
        assert p.stat().st_size == s.bytes
        import hashlib

        assert hashlib.sha256(p.read_bytes()).hexdigest() == s.sha256
    assert not list(out.glob("*.partial")) and not list(out.glob(".*.partial"))
    assert report.total_samples == 13


def test_members_keys_and_tar_headers(demo_build):
    root, _, _ = demo_build
    with tarfile.open(root / "out" / "train-000000.tar") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names[:6] == ["train_00000000.alpha.png", "train_00000000.bg.jpg", "train_00000000.fg.jpg",
                         "train_00000000.image.png", "train_00000000.meta.json", "train_00000000.trimap.png"]
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members)
    assert all(n.count(".") >= 1 and "." not in n.split(".", 1)[0] for n in names)


def test_every_composite_rederives_from_stored_layers(demo_build):
    root, recipe, _ = demo_build
    n = 0
    post_seen: set[str] = set()
    for tar in sorted((root / "out").glob("*.tar")):
        for key, s in read_dataset(tar.parent, tar.name).items():
            image = decode_rgb(s["image.png"])
            alpha = decode_alpha(s["alpha.png"])
            fg, bg = decode_rgb(s["fg.jpg"]), decode_rgb(s["bg.jpg"])
            assert image.shape == (96, 112, 3) and alpha.shape == (96, 112)
            meta = json.loads(s["meta.json"])
            # The stored layers reproduce the composite; recorded post-composite steps replay exactly.
            derived = replay_post_composite(composite(fg, alpha, bg), alpha, meta["post_composite"])
            diff = np.abs(derived.astype(int) - image.astype(int))
            assert diff.max() <= 1, key  # exact up to rounding
            post_seen.update(op["op"] for op in meta["post_composite"])
            post_seen.update("compensation" for op in meta["post_composite"] if op.get("compensation_sigma"))
            trimap = decode_trimap(s["trimap.png"])
            a8 = np.rint(alpha * 255)
            assert set(np.unique(trimap)) <= {0, 128, 255}
            assert np.all(trimap[(a8 > 0) & (a8 < 255)] == 128)
            assert np.all(a8[trimap == 255] == 255) and np.all(a8[trimap == 0] == 0)
            meta = json.loads(s["meta.json"])
            assert meta["key"] == key and meta["seed"] == 3
            assert meta["recipe_sha256"] == read_manifest(root / "out").recipe_sha256
            assert len(meta["foreground"]["id"]) == 64 and len(meta["background"]["id"]) == 64
            assert {op["op"] for op in meta["ops"]} >= {"place", "cover_crop", "flip"}
            post_seen.update(op["op"] for op in meta["ops"] if op["op"] == "backdrop_contrast")
            n += 1
    assert n == 13
    # the replay above was exercised on every step (and on a background whose contrast was lowered);
    # these clean procedural layers need no noise compensation: its replay is tested in test_realistic
    assert post_seen - {"compensation"} == {"noise", "jpeg", "backdrop_contrast"}


def test_splits_disjoint_by_foreground(demo_build):
    root, _, _ = demo_build
    fg_by_split: dict[str, set] = {}
    for tar in (root / "out").glob("*.tar"):
        for s in read_dataset(tar.parent, tar.name).values():
            meta = json.loads(s["meta.json"])
            fg_by_split.setdefault(meta["split"], set()).add(meta["foreground"]["id"])
    assert not (fg_by_split["train"] & fg_by_split["val"])
    assert len(fg_by_split["train"]) == 4 and len(fg_by_split["val"]) == 2


def test_deterministic_rebuild(demo_build, tmp_path):
    root, recipe, _ = demo_build
    build(recipe, tmp_path / "again", cache_dir=tmp_path / "cache2")  # cold cache, same bytes
    a = (root / "out" / "manifest.json").read_bytes()
    b = (tmp_path / "again" / "manifest.json").read_bytes()
    assert a == b
    for tar in (root / "out").glob("*.tar"):
        assert tar.read_bytes() == (tmp_path / "again" / tar.name).read_bytes()


def test_different_seed_differs(demo_build, tmp_path):
    root, _, _ = demo_build
    other = parse_recipe(_small_recipe(seed=4, output={"samples_per_shard": 4, "image_format": "png"}))
    build(other, tmp_path / "o", cache_dir=root / "cache")
    assert (tmp_path / "o" / "val-000000.tar").read_bytes() != (root / "out" / "val-000000.tar").read_bytes()


def test_refuses_to_overwrite_and_resumes_identically(demo_build, tmp_path):
    root, recipe, _ = demo_build
    out = tmp_path / "r"
    build(recipe, out, cache_dir=root / "cache")
    with pytest.raises(BuildError, match="already contains a dataset"):
        build(recipe, out, cache_dir=root / "cache")
    reference = folder_bytes(out)
    simulate_killed_build(out)
    report = build(recipe, out, resume=True, cache_dir=root / "cache")
    assert report.shards_built == 1 and report.shards_reused == 3
    assert folder_bytes(out) == reference
    # Resume with a changed recipe is refused.
    (out / "manifest.json").unlink()
    changed = parse_recipe(_small_recipe(seed=9, output={"samples_per_shard": 4, "image_format": "png"}))
    with pytest.raises(BuildError, match="recipe or its inputs changed"):
        build(changed, out, resume=True, cache_dir=root / "cache")
    build(changed, out, overwrite=True, cache_dir=root / "cache")
    assert (out / "manifest.json").exists()


def test_resume_is_refused_after_a_software_change(demo_build, tmp_path):
    """Shards made by other code or codec versions would not match: resume refuses, naming what changed."""
    root, recipe, _ = demo_build
    out = tmp_path / "s"
    build(recipe, out, cache_dir=root / "cache")
    state = json.loads((out / STATE_NAME).read_text())
    assert state["software"] == software_fingerprint() and len(state["software"]["code_sha256"]) == 64
    (out / "manifest.json").unlink()
    (out / "train-000001.tar").unlink()
    for key, value in (("code_sha256", "0" * 64), ("opencv", "3.0.0")):
        edited = dict(state, software={**state["software"], key: value})
        (out / STATE_NAME).write_text(json.dumps(edited))
        with pytest.raises(BuildError, match=rf"the software changed since the interrupted build \({key}\)"):
            build(recipe, out, resume=True, cache_dir=root / "cache")
    (out / STATE_NAME).write_text(json.dumps({k: v for k, v in state.items() if k != "software"}))  # older build
    with pytest.raises(BuildError, match="software changed"):
        build(recipe, out, resume=True, cache_dir=root / "cache")
    (out / STATE_NAME).write_text(json.dumps(state))
    assert build(recipe, out, resume=True, cache_dir=root / "cache").shards_built == 1


def test_software_fingerprint_follows_the_source(tmp_path, monkeypatch):
    import importlib

    first = software_fingerprint()
    assert software_fingerprint() == first  # stable
    fake = tmp_path / "augment"
    fake.mkdir()
    (fake / "__init__.py").write_text("x = 1\n")
    real_import = importlib.import_module

    class FakeModule:
        __file__ = str(fake / "__init__.py")

    monkeypatch.setattr(importlib, "import_module", lambda name: FakeModule if name == "augment" else real_import(name))
    one = software_fingerprint()["code_sha256"]
    (fake / "__init__.py").write_text("x = 2\n")
    assert software_fingerprint()["code_sha256"] not in (one, first["code_sha256"])


def test_max_shard_bytes_splits_shards(tmp_path):
    recipe = parse_recipe(_small_recipe(output={"samples_per_shard": 100, "max_shard_bytes": 1 << 20}))
    build(recipe, tmp_path / "o", cache_dir=tmp_path / "c")
    m = read_manifest(tmp_path / "o")
    assert all(s.bytes <= 1 << 20 for s in m.shards)
    per = read_manifest(tmp_path / "o").shards
    assert sum(s.samples for s in per) == 13


def _write_png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def _folder_sources(tmp_path: Path, bad: str | None = None) -> dict:
    rng = np.random.default_rng(0)
    for i in range(4):
        img = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
        a = np.zeros((64, 48), np.float32)
        a[10:54, 8:40] = 1
        a = cv2.GaussianBlur(a, (0, 0), 2)
        _write_png(tmp_path / "img" / f"p{i}.png", img)
        _write_png(tmp_path / "alpha" / f"p{i}.png", np.rint(a * 255).astype(np.uint8))
    for i in range(3):
        _write_png(tmp_path / "bg" / f"b{i}.png", rng.integers(0, 256, (50, 70, 3), dtype=np.uint8))
    if bad == "truncated_bg":
        data = (tmp_path / "bg" / "b0.png").read_bytes()
        (tmp_path / "bg" / "b0.png").write_bytes(data[: len(data) // 2])
    elif bad == "empty_alpha":
        _write_png(tmp_path / "alpha" / "p1.png", np.zeros((64, 48), np.uint8))
    elif bad == "missing_alpha":
        (tmp_path / "alpha" / "p2.png").unlink()
    return _small_recipe(
        foregrounds=[{"kind": "image_alpha", "image_dir": str(tmp_path / "img"), "alpha_dir": str(tmp_path / "alpha")}],
        backgrounds=[{"kind": "folder", "path": str(tmp_path / "bg")}],
        splits=[{"name": "train", "fraction": 1.0, "samples": 5}],
        composition={"fg_estimation": "blur_fusion"},
    )


@pytest.mark.parametrize("bad, culprit, reason", [
    ("truncated_bg", "b0.png", "corrupt or truncated"),
    ("empty_alpha", "p1.png", "alpha is empty"),
    ("missing_alpha", "p2.png", "missing alpha"),
])
def test_bad_inputs_skip_or_fail(tmp_path, bad, culprit, reason):
    data = _folder_sources(tmp_path, bad)
    report = build(parse_recipe(data), tmp_path / "skip", cache_dir=tmp_path / "c")
    m = read_manifest(tmp_path / "skip")
    assert len(m.skipped) == 1 and m.skipped[0].path.endswith(culprit) and reason in m.skipped[0].reason
    assert m.splits == {"train": 5} and report.total_samples == 5
    data["on_error"] = "fail"
    with pytest.raises(BuildError, match=rf"{culprit}.*{reason}"):
        build(parse_recipe(data), tmp_path / "fail", cache_dir=tmp_path / "c")
    assert not (tmp_path / "fail").exists() or not any((tmp_path / "fail").iterdir())


def test_cli_build_validate_and_errors(tmp_path):
    recipe_path = tmp_path / "r.yaml"
    recipe_path.write_text(yaml.safe_dump(_small_recipe()))
    runner = CliRunner()
    res = runner.invoke(main, ["build", str(recipe_path), "-o", str(tmp_path / "o"), "--quiet",
                               "--cache-dir", str(tmp_path / "c"), "--set", "splits.0.samples=5", "--limit", "2",
                               "--workers", "0"])
    assert res.exit_code == 0, res.output
    assert "built 4 samples" in res.output
    assert read_manifest(tmp_path / "o").splits == {"train": 2, "val": 2}
    res = runner.invoke(main, ["build", str(recipe_path), "-o", str(tmp_path / "o"), "--quiet"])
    assert res.exit_code != 0 and "--overwrite" in res.output
    res = runner.invoke(main, ["build", str(recipe_path), "-o", str(tmp_path / "x"), "--set", "canvas.height=1"])
    assert res.exit_code != 0 and "canvas.height" in res.output and str(recipe_path) in res.output
    res = runner.invoke(main, ["validate", str(recipe_path)])
    assert res.exit_code == 0 and "recipe OK" in res.output and "foregrounds: 6 found" in res.output
    data = _folder_sources(tmp_path / "src", "truncated_bg")
    (tmp_path / "src" / "bg" / "b1.png").write_bytes(b"not an image")
    (tmp_path / "v.yaml").write_text(yaml.safe_dump(data))
    res = runner.invoke(main, ["validate", str(tmp_path / "v.yaml")])
    assert res.exit_code == 0 and "headers: 10 of 11 input files readable" in res.output
    assert "b1.png: not a readable image" in res.output and "would be skipped" in res.output
    res = runner.invoke(main, ["validate", str(ROOT / "recipes" / "portrait.yaml"), "--no-inputs"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["validate", str(ROOT / "recipes" / "portrait.yaml")])
    assert res.exit_code != 0 and "folder does not exist" in res.output


def test_webdataset_reads_shards(demo_build):
    import webdataset as wds

    root, _, _ = demo_build
    urls = [str(p) for p in sorted((root / "out").glob("train-*.tar"))]
    samples = list(wds.WebDataset(urls, shardshuffle=False))
    assert [s["__key__"] for s in samples] == [f"train_{i:08d}" for i in range(10)]
    tars = {}
    for tar in sorted((root / "out").glob("train-*.tar")):
        tars.update(read_dataset(tar.parent, tar.name))
    for s in samples:
        assert s["alpha.png"] == tars[s["__key__"]]["alpha.png"]
    braced = str(root / "out" / f"train-{{000000..{len(urls) - 1:06d}}}.tar")  # as users write shard lists
    assert [s["__key__"] for s in wds.WebDataset(braced, shardshuffle=False)] == [s["__key__"] for s in samples]


def test_hugging_face_datasets_streams_shards(demo_build):
    datasets = pytest.importorskip("datasets")
    root, _, _ = demo_build
    files = [str(p) for p in sorted((root / "out").glob("train-*.tar"))]
    ds = datasets.load_dataset("webdataset", data_files={"train": files}, split="train", streaming=True)
    keys = [row["__key__"] for row in ds]
    assert keys == [f"train_{i:08d}" for i in range(10)]


@pytest.mark.ray
def test_ray_data_reads_shards(demo_build, ray_session):
    pytest.importorskip("pyarrow")
    import ray.data

    root, _, _ = demo_build
    ds = ray.data.read_webdataset(str(root / "out"), file_extensions=["tar"], decoder=None)
    rows = ds.take_all()
    assert len(rows) == 13
    assert sorted(r["__key__"] for r in rows)[:2] == ["train_00000000", "train_00000001"]


@pytest.fixture(scope="module")
def instance_build(tmp_path_factory) -> Path:
    """recipes/instances.yaml built by the CLI (smaller items, 6 samples per split)."""
    out = tmp_path_factory.mktemp("inst") / "out"
    small = ["foregrounds.0.count=12", "foregrounds.0.size=[128, 96]", "backgrounds.0.count=4",
             "backgrounds.0.size=[96, 128]", "canvas.height=96", "canvas.width=96", "output.samples_per_shard=4"]
    res = CliRunner().invoke(main, ["build", str(ROOT / "recipes" / "instances.yaml"), "-o", str(out), "--limit", "6",
                                    "--workers", "0", "--quiet", "--cache-dir", str(out.parent / "cache"),
                                    *[f"--set={o}" for o in small]])
    assert res.exit_code == 0, res.output
    return out


def test_webdataset_reads_instance_members(instance_build):
    import webdataset as wds

    urls = [str(p) for p in sorted(instance_build.glob("*.tar"))]
    samples = list(wds.WebDataset(urls, shardshuffle=False))
    assert len(samples) == 12
    tars = {}
    for tar in sorted(instance_build.glob("*.tar")):
        tars.update(read_dataset(tar.parent, tar.name))
    for s in samples:
        doc = json.loads(s["instances.json"])
        n = doc["count"]
        names = {k for k in s if not k.startswith("__")}
        assert names == {"image.jpg", "alpha.png", "trimap.png", "fg.jpg", "bg.jpg", "meta.json", "instances.json",
                         *(f"inst_{k}.png" for k in range(n)), *(f"amodal_{k}.png" for k in range(n))}
        assert all(s[name] == tars[s["__key__"]][name] for name in names)
        visible = sum(decode_alpha(s[f"inst_{k}.png"]).astype(np.float64) for k in range(n))
        assert np.abs(visible - decode_alpha(s["alpha.png"])).max() <= 1.5 / 255


@pytest.mark.ray
def test_ray_data_reads_instance_members(instance_build, ray_session):
    pytest.importorskip("pyarrow")
    import ray.data

    rows = ray.data.read_webdataset(str(instance_build), file_extensions=["tar"], decoder=None).take_all()
    assert len(rows) == 12
    for r in rows:  # a member a sample lacks reads as None or NaN (columns differ between samples)
        n = json.loads(r["instances.json"])["count"]
        present = [k for k in range(6) if isinstance(r.get(f"inst_{k}.png"), bytes)]
        assert present == list(range(n)) and all(isinstance(r.get(f"amodal_{k}.png"), bytes) for k in present)


@pytest.mark.realdata
def test_real_photos_as_image_alpha_sources(shared_data, tmp_path):
    recipe = load_recipe(ROOT / "recipes" / "portrait.yaml", [
        f"foregrounds.0.image_dir={shared_data / 'alphamatting' / 'image'}",
        f"foregrounds.0.alpha_dir={shared_data / 'alphamatting' / 'alpha'}",
        f"backgrounds.0.path={shared_data / 'backgrounds'}",
        "canvas.height=320", "canvas.width=320", "composition.fg_estimation=blur_fusion",
        "splits.0.samples=6", "splits.1.samples=2", "output.samples_per_shard=4",
    ])
    report = build(recipe, tmp_path / "o", cache_dir=tmp_path / "c")
    m = read_manifest(tmp_path / "o")
    assert m.skipped == [] and m.splits == {"train": 6, "val": 2}
    assert m.extra["foregrounds"] == {"train": 16, "val": 2}
    fg_ids = {"train": set(), "val": set()}
    for tar in (tmp_path / "o").glob("*.tar"):
        for s in read_dataset(tar.parent, tar.name).values():
            meta = json.loads(s["meta.json"])
            fg_ids[meta["split"]].add(meta["foreground"]["id"])
            assert meta["foreground"]["file"].startswith("GT") and meta["foreground"]["estimator"] == "blur_fusion"
            img = decode_rgb(s["image.jpg"])
            assert img.shape == (320, 320, 3)
    assert not (fg_ids["train"] & fg_ids["val"])
    assert report.total_samples == 8


@pytest.mark.parametrize("mode, rotation_p", [("border", 0.0), ("anywhere", 0.0), ("border", 1.0)])
def test_a_frame_cut_subject_is_cut_by_the_canvas_border(tmp_path, mode, rotation_p):
    """Subjects cut by their photo's left edge: with cut_edges=border the canvas cuts them there
    too (no straight cut through the subject inside the picture); `anywhere` shows the cut."""
    from augment.mismatch import straight_cut

    rng = np.random.default_rng(5)
    for i in range(4):
        yy, xx = np.mgrid[0:64, 0:48]
        disk = ((xx - 2) ** 2 + (yy - 32) ** 2 <= 24**2).astype(np.float32)
        a = cv2.GaussianBlur(disk, (0, 0), 1.0)  # a round subject whose left part the photo's edge cuts
        _write_png(tmp_path / "img" / f"p{i}.png", rng.integers(0, 256, (64, 48, 3), dtype=np.uint8))
        _write_png(tmp_path / "alpha" / f"p{i}.png", np.rint(a * 255).astype(np.uint8))
    data = _small_recipe(
        foregrounds=[{"kind": "image_alpha", "image_dir": str(tmp_path / "img"), "alpha_dir": str(tmp_path / "alpha")}],
        splits=[{"name": "train", "fraction": 1.0, "samples": 16}],
        composition={"fg_estimation": "blur_fusion",
                     "placement": {"scale": [0.4, 0.8], "max_outside": 0.1, "cut_edges": mode}},
        foreground_augment={"flip_p": 0.5, "rotation": {"p": rotation_p, "max_angle": 15}},
    )
    build(parse_recipe(data), tmp_path / "out", cache_dir=tmp_path / "c")
    samples = read_dataset(tmp_path / "out")
    cuts, flips = [], 0
    for s in samples.values():
        meta = json.loads(s["meta.json"])
        place = next(o for o in meta["ops"] if o["op"] == "place")
        flipped = next(o for o in meta["ops"] if o["op"] == "flip" and o["target"] == "foreground")["horizontal"]
        flips += flipped
        side = "right" if flipped else "left"
        cuts.append(straight_cut(decode_alpha(s["alpha.png"])))
        if rotation_p > 0:  # rotated: cropped only where the frame cut it, and every cut side pinned
            rot = next(o for o in meta["ops"] if o["op"] == "rotate_valid_crop")
            assert sum(rot["expand"]) > 0 and side in place["cut"] and place["pinned"] == sorted(
                place["cut"], key=["top", "bottom", "left", "right"].index)
        elif mode == "border":
            assert place["cut"] == [side] and place["pinned"] == [side]
            w = place["size_hw"][1]
            assert (place["left"] <= 0) if side == "left" else (place["left"] + w >= 112)
        else:
            assert "cut" not in place and place["pinned"] == []
    assert 0 < flips < len(samples)  # both sides exercised
    if mode == "border":
        assert max(cuts) < 0.2  # only the soft outline's short straight stretches
    else:
        assert max(cuts) > 0.7  # the cut (over 3/4 of the subject's height) standing inside the canvas


def test_every_file_a_build_writes_gets_the_umask_mode(tmp_path):
    """Shards, manifest, resume state and cache files are readable by the group when the
    umask says so (mkstemp alone makes them 0600: hidden from a training job's account)."""
    saved = os.umask(0o002)
    try:
        build(parse_recipe(_small_recipe()), tmp_path / "out", cache_dir=tmp_path / "cache")
    finally:
        os.umask(saved)
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    files += [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".tar", ".json", ".png"}
    assert (tmp_path / "out" / STATE_NAME).is_file()
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {oct(0o664)}


def test_portrait_without_data_names_the_field_and_creates_nothing(tmp_path):
    """What a new user runs first: the error names the recipe field, the --set line that
    fixes it and the demo recipe, and no output folder is left behind."""
    out = tmp_path / "out" / "p"
    result = CliRunner().invoke(main, ["build", str(ROOT / "recipes" / "portrait.yaml"), "-o", str(out),
                                       "--workers", "0", "--set", f"foregrounds.0.image_dir={tmp_path / 'none'}"])
    assert result.exit_code == 1
    assert "recipe field foregrounds.0.image_dir" in result.output
    assert "--set foregrounds.0.image_dir=" in result.output and "recipes/demo.yaml" in result.output
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(main, ["validate", str(ROOT / "recipes" / "portrait.yaml"),
                                       "--set", f"backgrounds.0.path={tmp_path / 'none'}",
                                       "--set", f"foregrounds.0.image_dir={ROOT / 'recipes'}",
                                       "--set", f"foregrounds.0.alpha_dir={ROOT / 'recipes'}"])
    assert result.exit_code == 1 and "recipe field backgrounds.0.path" in result.output


def test_validate_shows_each_splits_inputs(tmp_path):
    result = CliRunner().invoke(main, ["validate", str(ROOT / "recipes" / "demo.yaml")])
    assert result.exit_code == 0, result.output
    recipe = load_recipe(ROOT / "recipes" / "demo.yaml")
    fg = recipe.foregrounds[0].count
    for spec in recipe.splits:
        assert f"  {spec.name}: " in result.output
    lines = [line for line in result.output.splitlines() if "foregrounds, " in line]
    assert sum(int(line.split(":")[1].split()[0]) for line in lines) == fg  # the splits share them out


def test_an_output_path_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    result = CliRunner().invoke(main, ["build", str(ROOT / "recipes" / "demo.yaml"), "-o", str(tmp_path / "f"),
                                       "--workers", "0"])
    assert result.exit_code == 1 and "exists and is not a folder" in result.output
    assert (tmp_path / "f").read_bytes() == b"x"


def test_help_pages_summarise_and_show_examples():
    runner = CliRunner()
    top = runner.invoke(main, ["--help"]).output
    commands = top.split("Commands:")[1]
    assert "Build a dataset from a recipe." in commands and "..." not in commands  # no truncated summary
    for cmd in ("build", "validate", "stats"):
        page = runner.invoke(main, [cmd, "--help"]).output
        assert "Examples:" in page and f"synth {cmd} " in page, cmd


def test_validate_without_inputs_imports_no_albumentations_or_torch():
    """`synth validate --no-inputs` is a quick check: it must not pay for albumentations (which
    imports torch) when the recipe names no albumentations step."""
    import subprocess
    import sys

    code = ("import sys; from synth.cli import main\n"
            "try:\n    main(['validate', 'recipes/demo.yaml', '--no-inputs'])\nexcept SystemExit as e:\n"
            "    assert e.code in (0, None)\n"
            "print(sorted(m for m in ('albumentations', 'torch', 'scipy', 'ray') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip().splitlines()[-1] == "[]"
