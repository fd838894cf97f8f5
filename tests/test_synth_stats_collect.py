"""synth.stats.collect: whole-dataset statistics on hand-made shards with known content
(planted leaks, overuse, corruption, sampling)."""
from __future__ import annotations

import json

import pytest

from synth.stats import StatsOptions, collect_stats

QUIET = StatsOptions(contact=4)

from stats_samples import H, W, alpha_band, clean_dataset, item_id, levels, make_sample, trimap_of, write_dataset


def test_clean_dataset_numbers(tmp_path):
    root = clean_dataset(tmp_path / "clean")
    d = collect_stats(root, QUIET).data
    assert not levels(d, "error") and not levels(d, "warning"), d["warnings"]
    assert d["counts"]["samples"] == 9 and d["counts"]["measured"] == 9
    assert d["counts"]["measured_by_split"] == {"train": 6, "val": 3}
    assert d["integrity"] == {"checked": 3, "ok": 3, "not_checked": 0, "problems": [], "unlisted_files": []}
    assert all(s["sha256_ok"] for s in d["shards"])
    fg = d["diversity"]["foreground"]
    assert fg["counts"] == {item_id(0): 2, item_id(1): 2, item_id(2): 2, item_id(10): 2, item_id(11): 1}
    assert fg["counts_by_split"]["val"] == {item_id(10): 2, item_id(11): 1}
    assert fg["all"]["distinct"] == 5 and fg["distinct_sources"] == 1
    assert fg["sources"]["hand"] == {"samples": 9, "by_split": {"train": 6, "val": 3}, "items": 5, "uses_per_item": 1.8}
    bg = d["diversity"]["background"]
    assert sum(bg["counts"].values()) == 9 and bg["all"]["distinct"] == 4
    assert d["leakage"]["foreground"]["shared"] == 0 and d["leakage"]["near_duplicates"]["pairs"] == 0
    assert d["sizes"]["all"] == {f"{W}x{H}": 9} and d["image_members"] == {"image.png": 9}
    assert d["alpha"]["pixels"] == 9 * H * W
    assert d["alpha"]["unknown_share"]["mean"] == pytest.approx(4 / W)
    assert d["trimap"]["band_px"]["min"] == 2 and d["trimap"]["band_px"]["max"] == 4
    ops = {(o["op"], o["target"]): o for o in d["ops"]}
    assert ops[("flip", "foreground")]["params"]["horizontal"]["bool"]["true"] == 5  # even seeds 0,2,4,50,52
    scales = [0.5 + 0.01 * s for s in [0, 1, 2, 3, 4, 5, 50, 51, 52]]
    assert ops[("place", "foreground")]["params"]["scale"]["number"]["max"] == pytest.approx(max(scales))
    json.dumps(d, allow_nan=False)  # strict JSON


def test_planted_leak_is_flagged_with_ids_and_keys(tmp_path):
    train = [make_sample(f"train_{i:08d}", "train", item_id(i % 3), item_id(100), i) for i in range(6)]
    leak_key, leak = make_sample("val_00000000", "val", item_id(1), item_id(100), 1)  # same fg and pixels as train_1
    val = [(leak_key, leak)] + [make_sample(f"val_{i:08d}", "val", item_id(10), item_id(100), 40 + i, shift=8) for i in (1, 2)]
    root = write_dataset(tmp_path / "leak", [("train-000000.tar", "train", train), ("val-000000.tar", "val", val)])
    d = collect_stats(root, QUIET).data
    assert {"foreground_leak", "near_duplicates"} <= set(levels(d, "error"))
    items = d["leakage"]["foreground"]["items"]
    assert [r["id"] for r in items] == [item_id(1)]
    assert items[0]["splits"] == {"train": 2, "val": 1}
    assert items[0]["examples"] == {"train": ["train_00000001", "train_00000004"], "val": ["val_00000000"]}
    pairs = d["leakage"]["near_duplicates"]["items"]
    assert {"a": "train_00000001", "a_split": "train", "b": "val_00000000", "b_split": "val", "distance": 0} in pairs


def test_overused_foreground_is_warned(tmp_path):
    samples = [make_sample(f"train_{i:08d}", "train", item_id(0 if i < 12 else i), item_id(100 + i), i) for i in range(20)]
    root = write_dataset(tmp_path / "hot", [("train-000000.tar", "train", samples)])
    d = collect_stats(root, QUIET).data
    kinds = levels(d, "warning")
    assert "overused_foreground" in kinds and "overused_background" not in kinds
    assert d["diversity"]["foreground"]["all"]["overused"][0] == {"id": item_id(0), "name": "hand/fg_0000", "uses": 12}
    d2 = collect_stats(root, StatsOptions(contact=0, overuse_min_uses=13)).data
    assert "overused_foreground" not in levels(d2, "warning")


def test_reuse_is_judged_within_each_split(tmp_path):
    """A small val split uses each of its 2 foregrounds 12 times, train 12 foregrounds twice:
    even within each split, so no warning (judged over the whole dataset, val's were 6x the
    median); an item used far more than its split's others is still named, with its split."""
    train = [make_sample(f"train_{i:08d}", "train", item_id(i % 12), item_id(100 + i), i) for i in range(24)]
    val = [make_sample(f"val_{i:08d}", "val", item_id(50 + i % 2), item_id(200 + i), 60 + i) for i in range(24)]
    root = write_dataset(tmp_path / "small_val", [("train-000000.tar", "train", train), ("val-000000.tar", "val", val)])
    assert "overused_foreground" not in levels(collect_stats(root, QUIET).data, "warning")
    hot = [make_sample(f"val_{i:08d}", "val", item_id(50 if i < 12 else 50 + i), item_id(200 + i), 60 + i)
           for i in range(20)]
    root = write_dataset(tmp_path / "hot_val", [("train-000000.tar", "train", train), ("val-000000.tar", "val", hot)])
    warned = [w for w in collect_stats(root, QUIET).data["warnings"] if w["kind"] == "overused_foreground"]
    assert [w["details"]["split"] for w in warned] == ["val"] and warned[0]["message"].startswith("val: ")


def test_overused_source_is_warned(tmp_path):
    samples = []
    for i in range(24):  # source "big": 2 items used 8x each; source "small": 8 items used once each
        key, members = make_sample(f"train_{i:08d}", "train", item_id(i % 2 if i < 16 else i), item_id(100 + i), i)
        meta = json.loads(members["meta.json"])
        meta["foreground"]["source"] = "big" if i < 16 else "small"
        members["meta.json"] = json.dumps(meta).encode()
        samples.append((key, members))
    root = write_dataset(tmp_path / "src", [("train-000000.tar", "train", samples)])
    d = collect_stats(root, StatsOptions(contact=0, overuse_min_uses=50)).data
    srcs = d["diversity"]["foreground"]["sources"]
    assert srcs["big"]["items"] == 2 and srcs["big"]["uses_per_item"] == 8.0 and srcs["small"]["uses_per_item"] == 1
    assert levels(d, "warning") == []  # big has 16 samples < overuse_min_uses
    d = collect_stats(root, StatsOptions(contact=0)).data
    warned = [w for w in d["warnings"] if w["kind"] == "overused_foreground_source"]
    assert len(warned) == 1 and "'big'" in warned[0]["message"]


def test_check_trimaps_flags_inconsistent_trimaps(tmp_path):
    bad = trimap_of(alpha_band("band"))
    bad[:, 29] = 0  # alpha is 0.5 there
    samples = [make_sample(f"train_{i:08d}", "train", item_id(i), item_id(50), i, trimap=bad if i == 1 else None)
               for i in range(3)]
    root = write_dataset(tmp_path / "tri", [("train-000000.tar", "train", samples)])
    assert collect_stats(root, QUIET).data["trimap"]["checked_samples"] == 0
    d = collect_stats(root, StatsOptions(contact=0, check_trimaps=True)).data
    assert d["trimap"]["checked_samples"] == 3 and d["trimap"]["inconsistent_samples"] == 1
    assert d["trimap"]["inconsistent_pixels"] == H
    assert d["trimap"]["unknown_share"]["max"] == pytest.approx(4 / W)
    assert d["issues"]["trimap_inconsistent"]["examples"] == ["train_00000001"]
    assert "trimap_inconsistent" in levels(d, "warning")


def test_corrupt_and_truncated_shards_and_meta_issues(tmp_path):
    root = clean_dataset(tmp_path / "bad")
    raw = bytearray((root / "train-000000.tar").read_bytes())
    raw[700] ^= 0xFF  # inside the first member's payload: the tar still parses
    (root / "train-000000.tar").write_bytes(bytes(raw))
    data = (root / "train-000001.tar").read_bytes()
    (root / "train-000001.tar").write_bytes(data[:3000])  # inside the first sample
    (root / "stray-000000.tar").write_bytes(b"")
    d = collect_stats(root, QUIET).data
    assert "corrupt_shards" in levels(d, "error")
    probs: dict[str, str] = {}
    for p in d["integrity"]["problems"]:
        probs[p["path"]] = probs.get(p["path"], "") + p["problem"]
    assert "sha256" in probs["train-000000.tar"]
    assert "no end-of-archive block after member 'train_00000004.image.png'" in probs["train-000001.tar"]
    assert d["shards"][1]["samples_read"] < 2
    assert d["integrity"]["ok"] == 1 and d["integrity"]["unlisted_files"] == ["stray-000000.tar"]
    assert [s["sha256_ok"] for s in d["shards"]] == [False, None, True]  # an unreadable shard is not hashed


def test_meta_extra_post_composite_and_mismatches(tmp_path):
    post = [{"op": "sensor_noise", "sigma": 2.5}, {"op": "jpeg", "quality": 80}]
    s0 = make_sample("train_00000000", "train", item_id(0), item_id(9), 0, post=post,
                     meta_extra={"realism": {"noise_log_ratio": -0.5}})
    s1 = make_sample("train_00000001", "val", item_id(1), item_id(9), 1, meta_extra={"realism": {"noise_log_ratio": 0.5}})
    root = write_dataset(tmp_path / "extra", [("train-000000.tar", "train", [s0, s1])])
    d = collect_stats(root, QUIET).data
    assert d["meta_extra"]["realism.noise_log_ratio"]["number"]["mean"] == 0.0
    post_ops = [o for o in d["ops"] if o["stage"] == "post_composite"]
    assert [(o["op"], o["rate"]) for o in post_ops] == [("sensor_noise", 0.5), ("jpeg", 0.5)]
    assert d["issues"]["meta_split_mismatch"] == {"count": 1, "examples": ["train_00000001"]}
    assert "meta_split_mismatch" in levels(d, "warning")


def test_sample_option_measures_a_spread_subset(tmp_path):
    root = clean_dataset(tmp_path / "s")
    d = collect_stats(root, StatsOptions(sample=3, contact=2)).data
    assert d["counts"]["measured"] == 3 and d["counts"]["sampled"]
    assert "sampled" in levels(d, "info")
    assert sum(d["diversity"]["foreground"]["counts"].values()) == 3
    assert d == collect_stats(root, StatsOptions(sample=3, contact=2)).data | {"timing": d["timing"]}


def test_missing_manifest_raises_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest not found"):
        collect_stats(tmp_path)
