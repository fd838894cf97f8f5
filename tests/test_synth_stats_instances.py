"""synth.stats.instances and the instance statistics of `synth stats`: values on hand-made members
and on a small built dataset (recomputed here from the members), old datasets without instance
members, and the HTML report's section."""
from __future__ import annotations

import json
import tarfile
from collections import defaultdict

import numpy as np
import pytest

from shards.codec import decode_alpha_stored, encode_alpha
from synth.build import build
from synth.recipe import parse_recipe
from synth.stats import StatsOptions, collect_stats, render_html
from synth.stats.instances import measure_instances

from conftest import procedural_recipe


def _members(own: list[np.ndarray], records: list[dict]) -> dict[str, bytes]:
    out = {"instances.json": json.dumps({"count": len(own), "instances": records}).encode()}
    for k, a in enumerate(own):
        out[f"amodal_{k}.png"] = encode_alpha(a, 8)
    return out


def test_measure_instances_values():
    a0 = np.zeros((4, 10), np.float32)
    a0[:, 0:6] = 1.0
    a1 = np.zeros((4, 10), np.float32)
    a1[:, 4:8] = 0.5
    union = np.rint((1 - (1 - a0) * (1 - a1)) * 255).astype(np.uint8)
    recs = [{"visible_fraction": 1.0, "cut": [True, False, True, True]},
            {"visible_fraction": 0.5, "cut": [True, False, True, False]}]
    per_sample, per_instance = measure_instances(_members([a0, a1], recs), union)
    assert per_sample == {"instances.count": 2.0, "instances.overlap_share": 8 / 32}  # columns 4, 5 of 0..7
    assert per_instance["instances.occlusion"] == [0.0, 0.5]
    assert per_instance["instances.cut"] == [1.0, 1.0]
    assert per_instance["instances.cut_left"] == [1.0, 0.0] and per_instance["instances.cut_right"] == [0.0, 0.0]
    assert measure_instances({}, union) is None  # no instance members: nothing to measure
    bad = _members([a0], recs)
    with pytest.raises(ValueError, match="count 1 but 2"):
        measure_instances(bad, union)
    missing = _members([a0, a1], recs)
    del missing["amodal_1.png"]
    with pytest.raises(ValueError, match="amodal_1.png is missing"):
        measure_instances(missing, union)


def _recipe(instances: bool) -> dict:
    d = procedural_recipe(seed=5, fg=(12, (96, 72)), bg=(4, (80, 96)), canvas=(80, 96), per_shard=5,
                          samples=(10, 4))
    d["composition"] = {**d["composition"], "multi_foreground": {"p": 0.8, "max_count": 5, "layout": "group"}}
    if instances:
        d["output"] = {**d["output"], "targets": ["instances"]}
    return d


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("inststats")
    for name, on in (("on", True), ("off", False)):
        build(parse_recipe(_recipe(on)), root / name, cache_dir=root / "cache")
    return root


def _samples(folder):
    out = defaultdict(dict)
    for tar in sorted(folder.glob("*.tar")):
        with tarfile.open(tar) as t:
            for m in t.getmembers():
                key, name = m.name.split(".", 1)
                out[key][name] = t.extractfile(m).read()
    return out


def test_stats_values_on_a_built_dataset(datasets):
    st = collect_stats(datasets / "on", StatsOptions(progress=False))
    inst = st.data["instances"]
    samples = _samples(datasets / "on")
    counts, overlaps, occlusion, cut = [], [], [], []
    for mem in samples.values():
        doc = json.loads(mem["instances.json"])
        counts.append(doc["count"])
        own = np.stack([decode_alpha_stored(mem[f"amodal_{k}.png"]) for k in range(doc["count"])])
        union = decode_alpha_stored(mem["alpha.png"]) > 0
        overlaps.append(np.count_nonzero((own > 0).sum(axis=0) >= 2) / np.count_nonzero(union))
        occlusion += [1 - r["visible_fraction"] for r in doc["instances"]]
        cut += [any(r["cut"]) for r in doc["instances"]]
    assert inst["samples"] == 14 and inst["samples_without"] == 0
    assert inst["count"]["hist"]["counts"] == [counts.count(c) for c in range(1, 9)]
    assert inst["count"]["mean"] == pytest.approx(np.mean(counts))
    assert inst["overlap_share"]["mean"] == pytest.approx(np.mean(overlaps))
    assert inst["occlusion"]["n"] == len(occlusion) and inst["occlusion"]["mean"] == pytest.approx(np.mean(occlusion))
    assert inst["cut"]["mean"] == pytest.approx(np.mean(cut))
    assert max(occlusion) > 0 and max(overlaps) > 0  # the groups do overlap
    assert set(inst["count"]["by_split"]) == {"train", "val"}
    assert not [w for w in st.warnings if w["level"] == "error"]


def test_datasets_without_instance_members_still_work(datasets):
    off = collect_stats(datasets / "off", StatsOptions(progress=False))
    assert off.data["instances"] == {"samples": 0, "samples_without": 14}
    assert off.data["counts"]["bad"] == 0
    html = render_html([off])
    assert "No instance members" in html
    on = collect_stats(datasets / "on", StatsOptions(progress=False))
    html = render_html([on, off])  # compare mode: one column each
    assert "<section id=\"instances\"><h2>Instances</h2>" in html
    assert "instances per sample" in html and "overlap share" in html and "14 / 0" in html and "0 / 14" in html
    assert "alt=\"instances\"" in html
