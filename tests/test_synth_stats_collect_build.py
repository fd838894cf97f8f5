"""synth.stats on datasets made by `synth build`: numbers equal the manifest and the samples'
meta.json, a clean build has no leakage, a train sample copied into val is flagged, and
serial and Ray runs (and any completion order) give identical statistics."""
from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from shards.manifest import Manifest, ShardEntry, read_manifest, write_manifest
from shards.tar_writer import write_shard
from synth.build import build
from synth.execution import RayExecutor, SerialExecutor
from synth.recipe import parse_recipe
from synth.stats import StatsOptions, collect_stats
from synth.stats_cli import stats as stats_cmd

from conftest import procedural_recipe

OPTS = StatsOptions(contact=3)


def _recipe(seed: int = 3, **over) -> dict:
    return {**procedural_recipe(name="stats-t", seed=seed, fg=(7, (72, 64)), bg=(6, (64, 96)), canvas=(64, 80),
                                samples=(14, 4), fractions=(0.7, 0.3), rotation=(0.5, 20), per_shard=5), **over}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stats_build")
    build(parse_recipe(_recipe()), root / "out", cache_dir=root / "cache")
    return root / "out"


def _metas(out: Path) -> dict[str, dict]:
    metas = {}
    for entry in read_manifest(out).shards:
        with tarfile.open(out / entry.path) as tar:
            for m in tar.getmembers():
                if m.name.endswith(".meta.json"):
                    metas[m.name.split(".", 1)[0]] = {**json.loads(tar.extractfile(m).read()), "_shard": entry.split}
    return metas


def test_numbers_equal_manifest_and_meta(built):
    d = collect_stats(built, StatsOptions(contact=3, check_trimaps=True)).data
    m = read_manifest(built)
    metas = _metas(built)
    assert d["counts"]["splits"] == m.splits == {"train": 14, "val": 4}
    assert d["counts"]["measured_by_split"] == m.splits and d["counts"]["bad"] == 0
    assert [(s["path"], s["samples_read"], s["sha256_ok"]) for s in d["shards"]] == \
        [(s.path, s.samples, True) for s in m.shards]
    fg = d["diversity"]["foreground"]
    # every foreground of each split is used (samples >= pool), so distinct == the manifest's pool
    for split, pool in m.extra["foregrounds"].items():
        assert fg["by_split"][split]["distinct"] == pool
        assert fg["by_split"][split]["pool"] == pool and fg["by_split"][split]["unused"] == 0
        want: dict[str, int] = {}
        for meta in metas.values():
            if meta["split"] == split:
                want[meta["foreground"]["id"]] = want.get(meta["foreground"]["id"], 0) + 1
        assert fg["counts_by_split"][split] == dict(sorted(want.items()))
        # balanced reuse: counts differ by at most one within a split
        assert max(want.values()) - min(want.values()) <= 1
    bg_want: dict[str, int] = {}
    for meta in metas.values():
        bg_want[meta["background"]["id"]] = bg_want.get(meta["background"]["id"], 0) + 1
    assert d["diversity"]["background"]["counts"] == dict(sorted(bg_want.items()))
    bands = [meta["trimap"]["band_px"] for meta in metas.values()]
    assert d["trimap"]["band_px"]["min"] == min(bands) and d["trimap"]["band_px"]["max"] == max(bands)
    rot = [op for op in d["ops"] if op["op"] == "rotate_valid_crop"]
    n_rot = sum(any(o["op"] == "rotate_valid_crop" for o in meta["ops"]) for meta in metas.values())
    assert (rot[0]["samples"] if rot else 0) == n_rot
    assert d["sizes"]["all"] == {"80x64": 18}
    assert d["trimap"]["checked_samples"] == 18 and d["trimap"]["inconsistent_samples"] == 0
    assert d["dataset"]["recipe_sha256"] == m.recipe_sha256 and "recipe_mismatch" not in json.dumps(d["warnings"])


def test_clean_build_has_no_leakage_warning(built):
    d = collect_stats(built, OPTS).data
    assert [w for w in d["warnings"] if w["level"] in ("error", "warning")] == []
    assert d["leakage"]["foreground"]["shared"] == 0
    assert d["leakage"]["near_duplicates"]["pairs"] == 0


def _copy_train_sample_into_val(src: Path, dst: Path) -> tuple[str, str]:
    """A copy of `src` whose val shard also holds train sample 2 (renamed val_leak): returns (train key, fg id)."""
    m = read_manifest(src)
    dst.mkdir()
    shards, entries = {}, []
    for e in m.shards:
        with tarfile.open(src / e.path) as tar:
            samples: dict[str, dict[str, bytes]] = {}
            for mem in tar.getmembers():
                key, name = mem.name.split(".", 1)
                samples.setdefault(key, {})[name] = tar.extractfile(mem).read()
        shards[e.path] = samples
    train_key = sorted(shards["train-000000.tar"])[2]
    leaked = dict(shards["train-000000.tar"][train_key])
    meta = json.loads(leaked["meta.json"])
    fg_id = meta["foreground"]["id"]
    meta.update(key="val_leak", split="val")
    leaked["meta.json"] = json.dumps(meta).encode()
    shards["val-000000.tar"]["val_leak"] = leaked
    for e in m.shards:
        info = write_shard(dst / e.path, list(shards[e.path].items()))
        entries.append(ShardEntry(path=e.path, split=e.split, samples=info.samples, bytes=info.bytes,
                                  sha256=info.sha256, first_index=e.first_index))
    splits = dict(m.splits, val=m.splits["val"] + 1)
    write_manifest(dst, Manifest(recipe=m.recipe, recipe_sha256=m.recipe_sha256, splits=splits, shards=entries,
                                 extra=m.extra))
    return train_key, fg_id


def test_train_sample_copied_into_val_is_flagged(built, tmp_path):
    train_key, fg_id = _copy_train_sample_into_val(built, tmp_path / "leak")
    d = collect_stats(tmp_path / "leak", OPTS).data
    errors = {w["kind"]: w for w in d["warnings"] if w["level"] == "error"}
    assert set(errors) == {"foreground_leak", "near_duplicates"}
    shared = d["leakage"]["foreground"]["items"]
    assert [r["id"] for r in shared] == [fg_id]
    assert "val_leak" in shared[0]["examples"]["val"] and shared[0]["splits"]["val"] == 1
    pairs = d["leakage"]["near_duplicates"]["items"]
    assert {"a": train_key, "a_split": "train", "b": "val_leak", "b_split": "val", "distance": 0} in pairs
    assert d["leakage"]["near_duplicates"]["pairs"] == 1
    assert fg_id[:12] in errors["foreground_leak"]["message"] or "/" in errors["foreground_leak"]["message"]


class _Reversed(SerialExecutor):
    """Completes shards last-first: statistics must not depend on the completion order."""

    name = "reversed"

    def imap_unordered(self, fn, items):
        for i in reversed(range(len(items))):
            yield i, fn(items[i])


def test_completion_order_does_not_change_the_statistics(built):
    serial = collect_stats(built, OPTS)
    reordered = collect_stats(built, OPTS, executor=_Reversed())
    a, b = dict(serial.data), dict(reordered.data)
    a.pop("timing"), b.pop("timing")
    assert a == b
    assert [t["key"] for t in serial.thumbs] == [t["key"] for t in reordered.thumbs]


@pytest.mark.ray
@pytest.mark.slow
def test_ray_equals_serial(built, ray_session):
    serial = collect_stats(built, OPTS)
    with RayExecutor(workers=2) as ex:
        on_ray = collect_stats(built, OPTS, executor=ex)
    a, b = dict(serial.data), dict(on_ray.data)
    a.pop("timing"), b.pop("timing")
    assert a == b
    assert [t["key"] for t in serial.thumbs] == [t["key"] for t in on_ray.thumbs]
    assert ray_session.is_initialized()  # an instance it did not start is left running


@pytest.mark.ray
def test_cli_workers_mean_what_they_mean_for_build(built, ray_session, tmp_path):
    out0, out2 = tmp_path / "w0.json", tmp_path / "w2.json"
    for workers, out in (("0", out0), ("2", out2)):  # serial; Ray tasks (on the session's instance)
        r = CliRunner().invoke(stats_cmd, [str(built), "--json", str(out), "--quiet", "--workers", workers])
        assert r.exit_code == 0, r.output
    a, b = json.loads(out0.read_text()), json.loads(out2.read_text())
    a.pop("timing"), b.pop("timing")
    assert a == b
    r = CliRunner().invoke(stats_cmd, [str(built), "--quiet", "--workers", "0", "--address", "auto"])
    assert r.exit_code != 0 and "cannot be combined with address" in r.output
    r = CliRunner().invoke(stats_cmd, [str(built), "--quiet", "--workers", "0", "--ray"])
    assert r.exit_code == 2 and "choose one" in r.output


def test_compare_two_builds_side_by_side(built, tmp_path):
    other = tmp_path / "b"
    build(parse_recipe(_recipe(seed=9, foreground_augment={"rotation": {"p": 0.0, "max_angle": 0}})), other,
          cache_dir=tmp_path / "cache")
    out_json, out_html = tmp_path / "cmp.json", tmp_path / "cmp.html"
    r = CliRunner().invoke(stats_cmd, [str(built), str(other), "--json", str(out_json), "--html", str(out_html),
                                       "--quiet", "--contact", "2", "--workers", "0"])
    assert r.exit_code == 0, r.output
    cmp = json.loads(out_json.read_text())
    a, b = str(built), str(other)
    assert set(cmp["datasets"]) == {a, b}
    assert cmp["comparison"]["samples"] == {a: 18, b: 18}
    rot = cmp["ops"]["ops/rotate_valid_crop/foreground"]
    assert rot[a] > 0 and rot[b] is None
    html = out_html.read_text()
    assert html.count('class="sheet"') == 2 and a in html and b in html
