"""synth.stats: accumulators, diversity, leakage search, per-sample measures, and whole-dataset
statistics on hand-made shards with known content (planted leaks, overuse, corruption)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from shards.codec import encode_alpha, encode_rgb, encode_trimap
from shards.manifest import Manifest, ShardEntry, write_manifest
from shards.tar_writer import write_shard
from synth.stats import (
    StatsOptions,
    collect_stats,
    gini,
    hamming64,
    measure_sample,
    near_duplicate_pairs,
    normalized_entropy,
    phash64,
    select_positions,
    usage_summary,
)
from synth.stats.accum import Histogram, Moments, scalar_acc
from synth.stats.ops import OpsAcc, flatten_params
from synth.stats_cli import stats as stats_cmd

H = W = 64
QUIET = StatsOptions(contact=4)


# --------------------------------------------------------------------------- hand-made samples
def _alpha(kind: str, shift: int = 0) -> np.ndarray:
    """Left part 0, right part 1, a 4-px column of 0.5 between (shifted by `shift`)."""
    a = np.zeros((H, W), np.float32)
    c = 28 + shift
    a[:, c:c + 4] = 0.5
    a[:, c + 4:] = 1.0
    if kind == "wide":
        a[:, c - 4:c] = 0.25
    return a


def _trimap(alpha: np.ndarray) -> np.ndarray:
    t = np.where(alpha >= 1.0, 255, 0).astype(np.uint8)
    t[(alpha > 0) & (alpha < 1)] = 128
    return t


def _image(seed: int, alpha: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(seed)
    fg = np.empty((H, W, 3), np.float32)
    fg[:] = rng.integers(0, 256, 3)
    bg = rng.integers(0, 256, (H // 8, W // 8, 3)).astype(np.float32)
    bg = cv2.resize(bg, (W, H), interpolation=cv2.INTER_NEAREST)
    img = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_sample(key: str, split: str, fg: str, bg: str, seed: int, *, alpha_kind: str = "band",
                shift: int = 0, meta_extra: dict | None = None, post: list | None = None,
                bits: int = 8, trimap: np.ndarray | None = None) -> tuple[str, dict[str, bytes]]:
    alpha = _alpha(alpha_kind, shift)
    meta = {
        "key": key, "split": split, "index": int(key.rsplit("_", 1)[-1]), "seed": 1,
        "recipe_sha256": "0" * 64, "size": [H, W],
        "foreground": {"id": fg, "source": "hand", "kind": "rgba", "file": f"fg_{fg[:4]}", "estimator": "given"},
        "background": {"id": bg, "source": "pool", "file": f"bg_{bg[:4]}"},
        "ops": [{"op": "flip", "target": "foreground", "horizontal": seed % 2 == 0, "vertical": False},
                {"op": "place", "target": "foreground", "scale": 0.5 + 0.01 * seed, "size_hw": [H, W]}],
        "trimap": {"band_px": 2 + seed % 3},
        "post_composite": post or [],
        **(meta_extra or {}),
    }
    members = {
        "image.png": encode_rgb(_image(seed, alpha), "png"),
        "alpha.png": encode_alpha(alpha, bits),
        "trimap.png": encode_trimap(_trimap(alpha) if trimap is None else trimap),
        "meta.json": json.dumps(meta).encode(),
    }
    return key, members


def write_dataset(root: Path, shards: list[tuple[str, str, list]], recipe: dict | None = None) -> Path:
    """shards: (file name, split, samples); writes the tars and a manifest."""
    root.mkdir(parents=True, exist_ok=True)
    entries, splits, first = [], {}, {}
    for name, split, samples in shards:
        info = write_shard(root / name, samples)
        entries.append(ShardEntry(path=name, split=split, samples=info.samples, bytes=info.bytes,
                                  sha256=info.sha256, first_index=first.get(split, 0)))
        first[split] = first.get(split, 0) + info.samples
        splits[split] = splits.get(split, 0) + info.samples
    write_manifest(root, Manifest(recipe=recipe or {"name": "hand", "background_split": "shared"},
                                  recipe_sha256="0" * 64, splits=splits, shards=entries))
    return root


def _fg(i: int) -> str:
    return f"{i:064x}"


def _clean_dataset(root: Path) -> Path:
    train = [make_sample(f"train_{i:08d}", "train", _fg(i % 3), _fg(100 + i % 4), i) for i in range(6)]
    val = [make_sample(f"val_{i:08d}", "val", _fg(10 + i % 2), _fg(100 + i % 4), 50 + i, shift=6 * (i + 1))
           for i in range(3)]
    return write_dataset(root, [("train-000000.tar", "train", train[:4]), ("train-000001.tar", "train", train[4:]),
                                ("val-000000.tar", "val", val)])


def _levels(d: dict, level: str) -> list[str]:
    return [w["kind"] for w in d["warnings"] if w["level"] == level]


# --------------------------------------------------------------------------- accumulators
def test_moments_and_histogram_merge_equal_one_pass():
    rng = np.random.default_rng(0)
    x = rng.normal(0.5, 0.3, 1000)
    one, a, b = scalar_acc("alpha.coverage"), scalar_acc("alpha.coverage"), scalar_acc("alpha.coverage")
    one.add_array(x)
    a.add_array(x[:300])
    b.add_array(np.r_[x[300:], np.nan])
    a.merge(b)
    sa, so = a.summary(), one.summary()
    assert sa["n"] == so["n"] == 1000 and sa["nonfinite"] == 1
    assert sa["mean"] == pytest.approx(x.mean()) and sa["std"] == pytest.approx(x.std())
    assert sa["min"] == x.min() and sa["max"] == x.max()
    assert sa["hist"]["counts"] == so["hist"]["counts"]
    h = a.hist
    assert h.under == np.count_nonzero(x < 0) and h.over == np.count_nonzero(x > 1)
    assert sum(h.counts) + h.under + h.over == 1000
    assert abs(h.quantile(0.5) - np.median(x)) < 0.03  # bins are 0.02 wide


def test_histogram_rejects_mismatched_merge_and_bad_bins():
    with pytest.raises(ValueError, match="hi > lo"):
        Histogram(1.0, 0.0, 10)
    with pytest.raises(ValueError, match="bins differ"):
        Histogram(0, 1, 10).merge(Histogram(0, 1, 20))
    assert Moments().summary()["mean"] is None


# --------------------------------------------------------------------------- diversity
def test_gini_and_entropy_reference_values():
    assert gini([5, 5, 5, 5]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 10]) == pytest.approx(0.75)  # (n-1)/n for one item taking all
    assert gini([1, 2, 3, 4]) == pytest.approx(0.25)
    assert gini([]) is None
    assert normalized_entropy([3, 3, 3]) == pytest.approx(1.0)
    assert normalized_entropy([1]) is None
    p = np.array([1, 3]) / 4
    assert normalized_entropy([1, 3]) == pytest.approx(-(p * np.log(p)).sum() / math.log(2))
    with pytest.raises(ValueError, match=">= 0"):
        gini([1, -1])


def test_usage_summary_flags_overuse():
    counts = {f"id{i}": 2 for i in range(9)} | {"hot": 30}
    s = usage_summary(counts, overuse_factor=3.0, names={"hot": "hot.png"})
    assert s["distinct"] == 10 and s["uses"] == 48 and s["max"] == 30 and s["median"] == 2
    assert s["max_over_median"] == 15 and s["top"][0] == {"id": "hot", "name": "hot.png", "uses": 30}
    assert [o["id"] for o in s["overused"]] == ["hot"]
    assert s["reuse_histogram"] == {"2": 9, "30": 1}
    with pytest.raises(ValueError, match="overuse_factor"):
        usage_summary(counts, overuse_factor=0)


# --------------------------------------------------------------------------- leakage search
def _brute(h: np.ndarray, g: np.ndarray, d: int) -> set[tuple[int, int]]:
    out = set()
    for i in range(len(h)):
        for j in range(i + 1, len(h)):
            if g[i] != g[j] and bin(int(h[i]) ^ int(h[j])).count("1") <= d:
                out.add((i, j))
    return out


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 60), d=st.integers(0, 12), flips=st.integers(0, 14))
def test_near_duplicate_pairs_equal_brute_force(seed, n, d, flips):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**63, max(1, n // 3), dtype=np.int64).astype(np.uint64)
    h = base[rng.integers(0, base.size, n)]
    for k in range(n):  # flip a few random bits so distances spread around d
        for bit in rng.choice(64, rng.integers(0, flips + 1), replace=False):
            h[k] ^= np.uint64(1) << np.uint64(bit)
    g = rng.integers(0, 3, n)
    total, pairs = near_duplicate_pairs(h, g, d, limit=10_000)
    want = _brute(h, g, d)
    assert total == len(want)
    assert {(i, j) for i, j, _ in pairs} == want
    assert all(dist == bin(int(h[i]) ^ int(h[j])).count("1") for i, j, dist in pairs)
    assert [p[2] for p in pairs] == sorted(p[2] for p in pairs)


def test_near_duplicate_pairs_limits_and_validation():
    h = np.zeros(5, np.uint64)
    total, pairs = near_duplicate_pairs(h, np.array([0, 0, 1, 1, 1]), 0, limit=3)
    assert total == 6 and len(pairs) == 3
    assert near_duplicate_pairs(h, np.zeros(5), 4) == (0, [])  # one group: nothing across splits
    with pytest.raises(ValueError, match="max_distance"):
        near_duplicate_pairs(h, np.zeros(5), 16)
    with pytest.raises(ValueError, match="same length"):
        near_duplicate_pairs(h, np.zeros(4), 2)
    assert hamming64(np.uint64(0b1011), np.uint64(0)) == 3


def test_phash_is_robust_to_reencoding_and_separates_images():
    rng = np.random.default_rng(1)
    a = cv2.GaussianBlur(rng.integers(0, 256, (96, 128)).astype(np.uint8), (0, 0), 4)
    b = cv2.GaussianBlur(rng.integers(0, 256, (96, 128)).astype(np.uint8), (0, 0), 4)
    _, jpg = cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, 70])
    a2 = cv2.imdecode(jpg, cv2.IMREAD_GRAYSCALE)
    assert hamming64(phash64(a), phash64(a2)) <= 4
    assert hamming64(phash64(a), phash64(cv2.resize(a, (64, 48), interpolation=cv2.INTER_AREA))) <= 4
    assert hamming64(phash64(a), phash64(b)) > 12
    with pytest.raises(ValueError, match="grey image"):
        phash64(np.zeros((4, 4, 3)))


# --------------------------------------------------------------------------- ops
def test_flatten_params_and_ops_accumulator():
    flat = dict(flatten_params({"a": 1, "hw": [2, 3], "t": [{"name": "Blur", "p": 0.5}, {"name": "Affine"}],
                                "long": list(range(10)), "nested": {"x": True}}))
    assert flat["a"] == 1 and flat["hw[0]"] == 2 and flat["hw[1]"] == 3 and flat["nested.x"] is True
    assert flat["t[].name"] in ("Blur", "Affine")  # aggregated under one path
    acc = OpsAcc()
    acc.add_sample("ops", [{"op": "blur", "target": "bg", "sigma": 1.0, "mode": "box"},
                           {"op": "blur", "target": "bg", "sigma": 3.0, "mode": None}])
    acc.add_sample("ops", [{"op": "noise", "sigma": 2, "on": True}, "junk"])
    acc.add_sample("ops", "not a list")
    other = OpsAcc()
    other.add_sample("ops", [{"op": "noise", "sigma": 4, "on": False}])
    acc.merge(other)
    s = {(o["op"], o["target"]): o for o in acc.summary(4)}
    assert acc.malformed == 2
    blur = s[("blur", "bg")]
    assert blur["count"] == 2 and blur["samples"] == 1 and blur["rate"] == 0.25
    assert blur["params"]["sigma"]["number"]["min"] == 1.0 and blur["params"]["sigma"]["number"]["max"] == 3.0
    assert blur["params"]["mode"] == {"values": {"box": 1}, "null": 1}
    noise = s[("noise", None)]
    assert noise["samples"] == 2 and noise["params"]["on"]["bool"] == {"true": 1, "false": 1, "true_rate": 0.5}
    assert noise["params"]["sigma"]["number"]["mean"] == 3.0


# --------------------------------------------------------------------------- per-sample measures
def test_measure_sample_known_content():
    key, members = make_sample("train_00000000", "train", _fg(1), _fg(2), 3, alpha_kind="wide")
    m = measure_sample(members, check_trimap=True, thumb_height=32)
    assert m.error is None and m.hw == (H, W) and m.alpha_bits == 8 and m.trimap_checked
    a8 = np.rint(_alpha("wide") * 255)
    assert m.scalars["alpha.coverage"] == pytest.approx(a8.mean() / 255)
    assert m.scalars["alpha.unknown_share"] == pytest.approx(8 / W)
    assert m.scalars["trimap.unknown_share"] == pytest.approx(8 / W)
    assert m.trimap_inconsistent == 0
    assert m.alpha_hist.sum() == H * W and m.alpha_hist[128] == 4 * H and m.alpha_hist[64] == 4 * H
    # F is one flat colour: foreground luma std ~ 0, the colour of F is the sampled one
    fg_rgb = np.random.default_rng(3).integers(0, 256, 3)
    assert m.scalars["colour.fg_r"] == pytest.approx(fg_rgb[0], abs=1)
    assert m.scalars["colour.fg_luma_std"] < 1.0
    assert set(m.thumbs) == {"image", "alpha", "trimap"}
    assert cv2.imdecode(np.frombuffer(m.thumbs["alpha"], np.uint8), cv2.IMREAD_UNCHANGED).shape == (32, 32)
    assert {"realism.noise_log_ratio", "realism.lab_mean_dist"} <= set(m.scalars)


def test_measure_sample_16bit_alpha_and_trimap_inconsistency():
    alpha = _alpha("band")
    bad_trimap = _trimap(alpha)
    bad_trimap[:, 28:30] = 255  # alpha is 0.5 there
    _, members = make_sample("train_00000001", "train", _fg(1), _fg(2), 1, bits=16, trimap=bad_trimap)
    assert measure_sample(members).trimap_inconsistent == 0  # trimaps are only decoded when asked
    m = measure_sample(members, check_trimap=True)
    assert m.error is None and m.alpha_bits == 16
    assert m.scalars["alpha.unknown_share"] == pytest.approx(4 / W)
    assert m.trimap_inconsistent == 2 * H


@pytest.mark.parametrize("change, message", [
    (lambda m: m.pop("meta.json"), "missing member meta.json"),
    (lambda m: m.pop("image.png"), "missing member image"),
    (lambda m: m.pop("alpha.png"), "missing member alpha.png"),
    (lambda m: m.update({"meta.json": b"[1]"}), "JSON object"),
    (lambda m: m.update({"alpha.png": b"garbage"}), "alpha.png: cannot decode"),
    (lambda m: m.update({"trimap.png": encode_trimap(np.zeros((8, 8), np.uint8))}), "trimap.png is 8x8"),
    (lambda m: m.update({"trimap.png": cv2.imencode(".png", np.full((H, W), 7, np.uint8))[1].tobytes()}),
     r"values must be in \{0, 128, 255\}, found \[7\]"),
    (lambda m: m.update({"image.png": encode_rgb(np.zeros((8, 8, 3), np.uint8), "png")}), "image.png is 8x8"),
])
def test_measure_sample_reports_bad_samples(change, message):
    _, members = make_sample("train_00000002", "train", _fg(1), _fg(2), 2)
    change(members)
    m = measure_sample(members, check_trimap=True)
    assert m.error is not None
    assert pytest.importorskip("re").search(message, m.error), m.error


def test_measure_sample_without_trimap():
    _, members = make_sample("train_00000003", "train", _fg(1), _fg(2), 2)
    del members["trimap.png"]
    m = measure_sample(members)
    assert m.error is None and not m.has_trimap and "trimap.unknown_share" not in m.scalars


def test_select_positions_is_uniform_and_deterministic():
    assert select_positions([3, 4], None) == [None, None]
    assert select_positions([3, 4], 7) == [None, None]
    sel = select_positions([10, 10, 10], 6)
    assert sel == [(2, 7), (2, 7), (2, 7)]
    assert sum(len(s) for s in select_positions([5, 0, 9, 1], 4)) == 4


def test_options_validation():
    with pytest.raises(ValueError, match="phash_distance"):
        StatsOptions(phash_distance=20)
    with pytest.raises(ValueError, match="sample"):
        StatsOptions(sample=0)


# --------------------------------------------------------------------------- whole datasets
def test_clean_dataset_numbers(tmp_path):
    root = _clean_dataset(tmp_path / "clean")
    d = collect_stats(root, QUIET).data
    assert not _levels(d, "error") and not _levels(d, "warning"), d["warnings"]
    assert d["counts"]["samples"] == 9 and d["counts"]["measured"] == 9
    assert d["counts"]["measured_by_split"] == {"train": 6, "val": 3}
    assert d["integrity"] == {"checked": 3, "ok": 3, "not_checked": 0, "problems": [], "unlisted_files": []}
    assert all(s["sha256_ok"] for s in d["shards"])
    fg = d["diversity"]["foreground"]
    assert fg["counts"] == {_fg(0): 2, _fg(1): 2, _fg(2): 2, _fg(10): 2, _fg(11): 1}
    assert fg["counts_by_split"]["val"] == {_fg(10): 2, _fg(11): 1}
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
    train = [make_sample(f"train_{i:08d}", "train", _fg(i % 3), _fg(100), i) for i in range(6)]
    leak_key, leak = make_sample("val_00000000", "val", _fg(1), _fg(100), 1)  # same fg and pixels as train_1
    val = [(leak_key, leak)] + [make_sample(f"val_{i:08d}", "val", _fg(10), _fg(100), 40 + i, shift=8) for i in (1, 2)]
    root = write_dataset(tmp_path / "leak", [("train-000000.tar", "train", train), ("val-000000.tar", "val", val)])
    d = collect_stats(root, QUIET).data
    assert {"foreground_leak", "near_duplicates"} <= set(_levels(d, "error"))
    items = d["leakage"]["foreground"]["items"]
    assert [r["id"] for r in items] == [_fg(1)]
    assert items[0]["splits"] == {"train": 2, "val": 1}
    assert items[0]["examples"] == {"train": ["train_00000001", "train_00000004"], "val": ["val_00000000"]}
    pairs = d["leakage"]["near_duplicates"]["items"]
    assert {"a": "train_00000001", "a_split": "train", "b": "val_00000000", "b_split": "val", "distance": 0} in pairs


def test_overused_foreground_is_warned(tmp_path):
    samples = [make_sample(f"train_{i:08d}", "train", _fg(0 if i < 12 else i), _fg(100 + i), i) for i in range(20)]
    root = write_dataset(tmp_path / "hot", [("train-000000.tar", "train", samples)])
    d = collect_stats(root, QUIET).data
    kinds = _levels(d, "warning")
    assert "overused_foreground" in kinds and "overused_background" not in kinds
    assert d["diversity"]["foreground"]["all"]["overused"][0] == {"id": _fg(0), "name": "hand/fg_0000", "uses": 12}
    d2 = collect_stats(root, StatsOptions(contact=0, overuse_min_uses=13)).data
    assert "overused_foreground" not in _levels(d2, "warning")


def test_overused_source_is_warned(tmp_path):
    samples = []
    for i in range(24):  # source "big": 2 items used 8x each; source "small": 8 items used once each
        key, members = make_sample(f"train_{i:08d}", "train", _fg(i % 2 if i < 16 else i), _fg(100 + i), i)
        meta = json.loads(members["meta.json"])
        meta["foreground"]["source"] = "big" if i < 16 else "small"
        members["meta.json"] = json.dumps(meta).encode()
        samples.append((key, members))
    root = write_dataset(tmp_path / "src", [("train-000000.tar", "train", samples)])
    d = collect_stats(root, StatsOptions(contact=0, overuse_min_uses=50)).data
    srcs = d["diversity"]["foreground"]["sources"]
    assert srcs["big"]["items"] == 2 and srcs["big"]["uses_per_item"] == 8.0 and srcs["small"]["uses_per_item"] == 1
    assert _levels(d, "warning") == []  # big has 16 samples < overuse_min_uses
    d = collect_stats(root, StatsOptions(contact=0)).data
    warned = [w for w in d["warnings"] if w["kind"] == "overused_foreground_source"]
    assert len(warned) == 1 and "'big'" in warned[0]["message"]


def test_check_trimaps_flags_inconsistent_trimaps(tmp_path):
    bad = _trimap(_alpha("band"))
    bad[:, 29] = 0  # alpha is 0.5 there
    samples = [make_sample(f"train_{i:08d}", "train", _fg(i), _fg(50), i, trimap=bad if i == 1 else None)
               for i in range(3)]
    root = write_dataset(tmp_path / "tri", [("train-000000.tar", "train", samples)])
    assert collect_stats(root, QUIET).data["trimap"]["checked_samples"] == 0
    d = collect_stats(root, StatsOptions(contact=0, check_trimaps=True)).data
    assert d["trimap"]["checked_samples"] == 3 and d["trimap"]["inconsistent_samples"] == 1
    assert d["trimap"]["inconsistent_pixels"] == H
    assert d["trimap"]["unknown_share"]["max"] == pytest.approx(4 / W)
    assert d["issues"]["trimap_inconsistent"]["examples"] == ["train_00000001"]
    assert "trimap_inconsistent" in _levels(d, "warning")


def test_corrupt_and_truncated_shards_and_meta_issues(tmp_path):
    root = _clean_dataset(tmp_path / "bad")
    raw = bytearray((root / "train-000000.tar").read_bytes())
    raw[700] ^= 0xFF  # inside the first member's payload: the tar still parses
    (root / "train-000000.tar").write_bytes(bytes(raw))
    data = (root / "train-000001.tar").read_bytes()
    (root / "train-000001.tar").write_bytes(data[:3000])  # inside the first sample
    (root / "stray-000000.tar").write_bytes(b"")
    d = collect_stats(root, QUIET).data
    assert "corrupt_shards" in _levels(d, "error")
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
    s0 = make_sample("train_00000000", "train", _fg(0), _fg(9), 0, post=post,
                     meta_extra={"realism": {"noise_log_ratio": -0.5}})
    s1 = make_sample("train_00000001", "val", _fg(1), _fg(9), 1, meta_extra={"realism": {"noise_log_ratio": 0.5}})
    root = write_dataset(tmp_path / "extra", [("train-000000.tar", "train", [s0, s1])])
    d = collect_stats(root, QUIET).data
    assert d["meta_extra"]["realism.noise_log_ratio"]["number"]["mean"] == 0.0
    post_ops = [o for o in d["ops"] if o["stage"] == "post_composite"]
    assert [(o["op"], o["rate"]) for o in post_ops] == [("sensor_noise", 0.5), ("jpeg", 0.5)]
    assert d["issues"]["meta_split_mismatch"] == {"count": 1, "examples": ["train_00000001"]}
    assert "meta_split_mismatch" in _levels(d, "warning")


def test_sample_option_measures_a_spread_subset(tmp_path):
    root = _clean_dataset(tmp_path / "s")
    d = collect_stats(root, StatsOptions(sample=3, contact=2)).data
    assert d["counts"]["measured"] == 3 and d["counts"]["sampled"]
    assert "sampled" in _levels(d, "info")
    assert sum(d["diversity"]["foreground"]["counts"].values()) == 3
    assert d == collect_stats(root, StatsOptions(sample=3, contact=2)).data | {"timing": d["timing"]}


def test_missing_manifest_raises_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest not found"):
        collect_stats(tmp_path)


# --------------------------------------------------------------------------- CLI
def test_cli_json_html_and_fail_on(tmp_path):
    root = _clean_dataset(tmp_path / "cli")
    out_json, out_html = tmp_path / "s.json", tmp_path / "r.html"
    r = CliRunner().invoke(stats_cmd, [str(root), "--json", str(out_json), "--html", str(out_html), "--quiet",
                                       "--contact", "3", "--fail-on", "warning"])
    assert r.exit_code == 0, r.output
    d = json.loads(out_json.read_text())
    assert d["counts"]["samples"] == 9 and out_html.read_text().startswith("<!DOCTYPE html>")
    leak = write_dataset(tmp_path / "leak", [
        ("train-000000.tar", "train", [make_sample("train_00000000", "train", _fg(1), _fg(2), 1)]),
        ("val-000000.tar", "val", [make_sample("val_00000000", "val", _fg(1), _fg(2), 1)])])
    r = CliRunner().invoke(stats_cmd, [str(leak), "--fail-on", "error", "--contact", "0"])
    assert r.exit_code == 1
    assert "ERROR: 1 foreground(s) appear in more than one split" in r.output
    r = CliRunner().invoke(stats_cmd, [str(root), str(leak), "--json", "-", "--quiet", "--contact", "0"])
    assert r.exit_code == 0, r.output
    cmp = json.loads(r.output)
    assert set(cmp["datasets"]) == {str(root), str(leak)}
    assert cmp["comparison"]["foregrounds in 2+ splits"] == {str(root): 0, str(leak): 1}
    r = CliRunner().invoke(stats_cmd, [str(tmp_path / "nothing")])
    assert r.exit_code != 0 and "manifest not found" in r.output
    r = CliRunner().invoke(stats_cmd, [str(root), str(root), str(root)])
    assert r.exit_code == 2 and "one dataset, or two" in r.output


def test_realism_measures_see_a_noisy_background():
    """A flat noiseless F on a noisy B: noise mismatch ln(sF/sB) < 0 (augment.mismatch's estimator)."""
    rng = np.random.default_rng(0)
    h, w = 256, 320
    alpha = np.zeros((h, w), np.float32)
    alpha[:, 150:] = 1.0
    alpha[:, 148:150] = 0.5
    bg = np.clip(120 + rng.normal(0, 12, (h, w, 3)), 0, 255)
    img = alpha[..., None] * 90.0 + (1 - alpha[..., None]) * bg
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    members = {"image.png": encode_rgb(img, "png"), "alpha.png": encode_alpha(alpha),
               "trimap.png": encode_trimap(_trimap(alpha)), "meta.json": b"{}"}
    m = measure_sample(members, window=96)
    assert m.error is None
    assert m.scalars["realism.noise_log_ratio"] < -1.0
    assert abs(m.scalars["realism.luma_mean_diff"]) > 5
