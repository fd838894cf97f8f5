"""Guided composition (synth.critic.guide through synth.render): byte-identical serial vs Ray,
candidate 0 is the unguided draw, the chosen candidate is the least detectable, the weights'
sha256 in the manifest and every sample, and the diversity guard's background shares."""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from shards.manifest import read_manifest, shard_url
from shards.reader import iter_shard_samples
from synth.build import build
from synth.execution import RayExecutor, SerialExecutor
from synth.recipe import parse_recipe

from conftest import procedural_recipe

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "synth" / "critic" / "weights" / "portrait-gt01-12-sharp.critic"


def _recipe(guided: dict | None, samples: tuple[int, int] = (9, 3), bg: int = 5) -> dict:
    d = procedural_recipe(seed=3, fg=(6, (80, 72)), bg=(bg, (80, 112)), canvas=(96, 96), per_shard=4,
                          samples=samples)
    d["realism"] = {"defocus": {"p": 0.5, "radius": [2.0, 12.0]}, "noise": {"p": 1.0, "sigma": [0.5, 3.0]}}
    if guided is not None:
        d["realism"]["guided"] = {"weights": str(WEIGHTS), **guided}
    return d


def _samples(out: Path) -> dict[str, dict[str, bytes]]:
    found = {}
    for entry in read_manifest(out).shards:
        for _, (key, members, error) in iter_shard_samples(shard_url(out, entry)):
            assert error is None
            found[key] = members
    return found


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.suffix == ".tar" or p.name == "manifest.json"}


@pytest.fixture(scope="module")
def guided_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("guided")
    recipe = parse_recipe(_recipe({"candidates": 3, "patches": 8}))
    build(recipe, root / "serial", cache_dir=root / "cache", executor=SerialExecutor())
    return root, recipe


def test_weights_sha256_in_manifest_and_every_sample(guided_build):
    root, recipe = guided_build
    sha = hashlib_sha256(WEIGHTS)
    manifest = read_manifest(root / "serial")
    assert manifest.recipe["realism"]["guided"]["sha256"] == sha
    samples = _samples(root / "serial")
    assert len(samples) == 12
    for key, members in samples.items():
        g = json.loads(members["meta.json"])["guided"]
        assert g["weights_sha256"] == sha and g["candidates"] == 3 and len(g["scores"]) == 3
        finite = [(s, k) for k, s in enumerate(g["scores"]) if s is not None]
        assert finite, key
        assert g["chosen"] == min(finite)[1] and g["score"] == g["scores"][g["chosen"]]
        meta = json.loads(members["meta.json"])
        assert meta["background"]["id"] == g["backgrounds"][g["chosen"]]


def hashlib_sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.ray
def test_guided_serial_and_ray_byte_identical(guided_build, ray_session):
    root, recipe = guided_build
    expected = _files(root / "serial")
    for workers in (1, 2):
        with RayExecutor(workers=workers) as ex:
            build(recipe, root / f"ray{workers}", cache_dir=root / "cache", executor=ex)
        got = _files(root / f"ray{workers}")
        assert sorted(got) == sorted(expected)
        differ = [name for name in expected if got[name] != expected[name]]
        if differ:  # name the samples and members that differ
            a, b = _samples(root / "serial"), _samples(root / f"ray{workers}")
            differ += [f"{k}/{n}" for k in a for n in a[k] if a[k][n] != b[k].get(n)]
            differ += [json.dumps([json.loads(a[k]["meta.json"])["guided"]["scores"],
                                   json.loads(b[k]["meta.json"])["guided"]["scores"]]) for k in a
                       if a[k]["meta.json"] != b[k]["meta.json"]]
        assert not differ, f"ray with {workers} worker(s): {differ}"


def test_one_candidate_unpinned_is_the_unguided_sample(tmp_path):
    """Candidate 0 draws from the sample's own generators: with one candidate and nothing
    pinned, a guided build stores the unguided build's pixels."""
    plain = parse_recipe(_recipe(None, samples=(4, 2)))
    guided = parse_recipe(_recipe({"candidates": 1, "diversity": {"min_share": 0.0}}, samples=(4, 2)))
    build(plain, tmp_path / "plain", cache_dir=tmp_path / "cache")
    build(guided, tmp_path / "guided", cache_dir=tmp_path / "cache")
    a, b = _samples(tmp_path / "plain"), _samples(tmp_path / "guided")
    assert a.keys() == b.keys()
    for key in a:
        for name in a[key]:
            if name != "meta.json":
                assert a[key][name] == b[key][name], (key, name)
        ma, mb = json.loads(a[key]["meta.json"]), json.loads(b[key]["meta.json"])
        g = mb.pop("guided")
        assert g["chosen"] == 0 and not g["pinned"] and g["planned"]["background"] == ma["background"]["id"]
        ma.pop("recipe_sha256"), mb.pop("recipe_sha256")
        assert ma == mb


def test_diversity_guard_every_background_at_least_half_its_fair_share(tmp_path):
    n, n_bg = 16, 4
    d = _recipe({"candidates": 2, "patches": 4, "diversity": {"min_share": 0.5}}, samples=(n, 0), bg=n_bg)
    d["splits"] = [{"name": "train", "fraction": 1.0, "samples": n}]
    build(parse_recipe(d), tmp_path / "out", cache_dir=tmp_path / "cache")
    metas = [json.loads(m["meta.json"]) for m in _samples(tmp_path / "out").values()]
    uses = Counter(m["background"]["id"] for m in metas)
    assert len(uses) == n_bg
    assert min(uses.values()) >= math.floor(0.5 * n / n_bg)
    assert sum(m["guided"]["pinned"] for m in metas) == n // 2
    # the pinned samples' backgrounds alone: each background exactly twice (n/2 / n_bg)
    assert set(Counter(m["background"]["id"] for m in metas if m["guided"]["pinned"]).values()) == {2}


def test_redraw_keeps_the_other_choices_the_samples_own(tmp_path):
    """``redraw: [harmonize, noise]``: every candidate has the sample's own background and
    placement (what the unguided recipe draws), only harmonisation and noise vary."""
    d = _recipe({"candidates": 3, "patches": 4, "redraw": ["noise", "harmonize"],
                 "diversity": {"min_share": 0.0}}, samples=(6, 0))
    d["harmonization"] = {"p": 1.0, "strength": [0.2, 0.9]}
    recipe = parse_recipe(d)
    assert recipe.realism.guided.redraw == ("harmonize", "noise")  # canonical order
    build(recipe, tmp_path / "redraw", cache_dir=tmp_path / "cache")
    plain = _recipe(None, samples=(6, 0))
    plain["harmonization"] = d["harmonization"]
    build(parse_recipe(plain), tmp_path / "plain", cache_dir=tmp_path / "cache")
    guided, unguided = _samples(tmp_path / "redraw"), _samples(tmp_path / "plain")
    assert guided.keys() == unguided.keys()
    varied = 0
    for key, members in guided.items():
        meta, own = json.loads(members["meta.json"]), json.loads(unguided[key]["meta.json"])
        g = meta["guided"]
        assert g["redraw"] == ["harmonize", "noise"]
        assert set(g["backgrounds"]) == {own["background"]["id"]} == {meta["background"]["id"]}
        assert _place_of(own) == _place_of(meta) is not None
        varied += len(set(g["scores"])) > 1
        if g["chosen"] == 0:  # candidate 0 is the unguided draw, pixels and all
            assert members["image.jpg"] == unguided[key]["image.jpg"]
    assert varied >= 4  # harmonisation and noise do move the detector's score
    # the default (every choice) keeps the record without "redraw", as builds before it
    assert "redraw" not in json.loads(next(iter(_samples_of_default(tmp_path).values()))["meta.json"])["guided"]


def _place_of(meta: dict) -> dict | None:
    """The subject's placement op of a sample's meta."""
    return next((op for op in meta["ops"] if op.get("op") == "place" and op.get("target") == "foreground"), None)


def _samples_of_default(tmp_path: Path) -> dict[str, dict[str, bytes]]:
    d = _recipe({"candidates": 2, "patches": 4}, samples=(2, 0))
    build(parse_recipe(d), tmp_path / "default", cache_dir=tmp_path / "cache")
    return _samples(tmp_path / "default")


def test_guided_choice_lowers_the_score_against_candidate_zero(guided_build):
    root, _ = guided_build
    metas = [json.loads(m["meta.json"]) for m in _samples(root / "serial").values()]
    chosen = np.array([m["guided"]["score"] for m in metas])
    first = np.array([m["guided"]["scores"][0] for m in metas], dtype=float)
    assert np.all(chosen <= first)
    assert any(m["guided"]["chosen"] != 0 for m in metas)


def test_synth_stats_reports_the_guided_diversity_cost(guided_build):
    from click.testing import CliRunner

    from synth.cli import main
    from synth.stats import StatsOptions, collect_stats

    root, _ = guided_build
    g = collect_stats(root / "serial", StatsOptions(contact=0)).data["diversity"]["guided"]
    metas = [json.loads(m["meta.json"]) for m in _samples(root / "serial").values()]
    assert g["samples"] == 12 and g["weights_sha256"] == [hashlib_sha256(WEIGHTS)]
    assert g["pinned_share"] == sum(m["guided"]["pinned"] for m in metas) / 12
    assert g["chosen"]["distinct"] == len({m["background"]["id"] for m in metas})
    assert g["planned"]["distinct"] == len({m["guided"]["planned"]["background"] for m in metas})
    assert g["score_chosen"] == pytest.approx(np.mean([m["guided"]["score"] for m in metas]))
    assert g["score_chosen"] <= g["score_planned"]
    res = CliRunner().invoke(main, ["stats", str(root / "serial"), "--workers", "0"])
    assert res.exit_code == 0 and "guided: effective backgrounds" in res.output


@pytest.mark.ray
def test_difficulty_guard_keeps_the_least_detectable_of_the_no_easier_candidates(tmp_path, ray_session):
    """``keep_difficulty``: the chosen candidate is the lowest-scoring of those no easier than
    candidate 0 (contrast not higher, texture not lower), the guard does overrule the detector
    on some samples, and the build stays byte-identical on Ray."""
    d = _recipe({"candidates": 4, "patches": 4, "keep_difficulty": True}, samples=(10, 0))
    recipe = parse_recipe(d)
    build(recipe, tmp_path / "serial", cache_dir=tmp_path / "cache", executor=SerialExecutor())
    overruled = 0
    for key, members in _samples(tmp_path / "serial").items():
        g = json.loads(members["meta.json"])["guided"]
        diff, eligible, scores = g["difficulty"], g["eligible"], g["scores"]
        assert len(diff) == len(eligible) == 4 and eligible[0]
        c0, t0 = diff[0]
        for (c, t), ok in zip(diff[1:], eligible[1:]):
            if ok:  # rounding keeps <= and >=
                assert c is not None and t is not None and c <= c0 and t >= t0, key
            elif c is not None and t is not None:
                assert c >= c0 or t <= t0, key
        allowed = [(s, k) for k, s in enumerate(scores) if s is not None and eligible[k]]
        assert g["chosen"] == (min(allowed)[1] if allowed else 0), key
        everyone = [(s, k) for k, s in enumerate(scores) if s is not None]
        overruled += bool(everyone) and not eligible[min(everyone)[1]]
    assert overruled >= 1
    # synth stats reports the same count, and prints it
    from synth.stats import collect_stats, render_html
    from synth.stats_cli import _summary_lines

    stats = collect_stats(tmp_path / "serial")
    report = stats.data
    gd = report["diversity"]["guided"]["difficulty_guard"]
    assert gd["samples"] == 10 and gd["overruled_share"] == overruled / 10
    assert any(line.strip().startswith(f"difficulty guard: ruled out the detector's pick on {overruled / 10:.0%}")
               for line in _summary_lines("x", report))
    html = render_html([stats])  # and the HTML report's guided-composition table
    assert "Guided composition" in html and "difficulty guard: detector&#39;s pick ruled out" in html
    assert f"<td>{100 * overruled / 10:.1f}%</td>" in html
    with RayExecutor(workers=2) as ex:
        build(recipe, tmp_path / "ray", cache_dir=tmp_path / "cache", executor=ex)
    assert _files(tmp_path / "ray") == _files(tmp_path / "serial")
