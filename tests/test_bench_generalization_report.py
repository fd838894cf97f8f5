"""The report of benchmarks/generalization.py (benchmarks/generalization_report.py): paired
changes, their interval, and the per-photo table, on hand-made results."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from generalization_report import (against_second, also_report, merge_also, merge_folds,  # noqa: E402
                                   paired_interval, per_fold, per_photo, photo_weighted, photo_weighted_change,
                                   report)


def _run(sads: dict[str, float]) -> dict:
    per = {p: {"sad": v, "mse": 10 * v, "grad": v / 10} for p, v in sads.items()}
    mean = {k: float(np.mean([e[k] for e in per.values()])) for k in ("sad", "mse", "grad")}
    return {"real": {**mean, "per_image": per}, "comp": {"sad": 1.0, "mse": 10.0, "grad": 0.1}}


RESULTS = {
    "naive": {0: _run({"GT13": 10.0, "GT14": 20.0}), 1: _run({"GT13": 10.0, "GT14": 20.0})},
    "portrait": {0: _run({"GT13": 8.0, "GT14": 21.0}), 1: _run({"GT13": 9.0, "GT14": 19.0})},
}


def test_per_photo_gives_each_photos_mean_change_and_how_often_it_is_lower():
    lines = per_photo(RESULTS, ["naive", "portrait"], [0, 1])
    assert lines[1].split() == ["photo", "naive", "SAD", "portrait"]
    # one row per photo: naive's own SAD, then GT13: -20 % and -10 % -> -15 %, lower on both;
    # GT14: +5 % and -5 % -> 0 %, lower on one
    assert lines[2].split() == ["GT13", "10.000", "-15.0%", "(2/2)"]
    assert lines[3].split() == ["GT14", "20.000", "+0.0%", "(1/2)"]


def test_report_of_one_variant_lists_its_errors_and_compares_nothing():
    text = report({"naive": RESULTS["naive"]}, ["naive"], [0, 1])
    assert "naive" in text and "portrait" not in text
    rows = per_photo({"naive": RESULTS["naive"]}, ["naive"], [0, 1])
    assert rows[1].split() == ["photo", "naive", "SAD"]
    assert [r.split() for r in rows[2:]] == [["GT13", "10.000"], ["GT14", "20.000"]]


def test_photo_weighted_change_weighs_every_photo_the_same():
    # seed 0: ratios 0.8 and 1.05 -> sqrt(0.84) - 1; the plain change of mean SAD is -3.3 %
    assert photo_weighted_change(RESULTS, "portrait", "naive", 0) == pytest.approx(np.sqrt(0.8 * 1.05) - 1)
    # seed 1: 0.9 and 0.95
    assert photo_weighted_change(RESULTS, "portrait", "naive", 1) == pytest.approx(np.sqrt(0.9 * 0.95) - 1)
    # a photo ten times larger in SAD moves it no more than a small one: scaling one photo's
    # SAD in both variants leaves the change as it was
    scaled = {v: {s: _run({p: e["sad"] * (10 if p == "GT14" else 1)
                           for p, e in r["real"]["per_image"].items()}) for s, r in runs.items()}
              for v, runs in RESULTS.items()}
    assert photo_weighted_change(scaled, "portrait", "naive", 0) == pytest.approx(np.sqrt(0.8 * 1.05) - 1)
    line = photo_weighted(RESULTS, ["naive", "portrait"], [0, 1])[1]
    mean = (np.sqrt(0.84) + np.sqrt(0.855)) / 2 - 1
    assert f"seed 0: {100 * (np.sqrt(0.84) - 1):+6.1f}%" in line and f"mean {100 * mean:+6.1f}%" in line


def test_merge_folds_pools_the_photos_of_every_fold():
    a = _run({"GT01": 2.0, "GT02": 4.0})
    b = _run({"GT13": 10.0, "GT14": 20.0})
    b["comp"] = {"sad": 3.0, "mse": 30.0, "grad": 0.3}
    merged = merge_folds([a, b])
    assert sorted(merged["real"]["per_image"]) == ["GT01", "GT02", "GT13", "GT14"]
    assert merged["real"]["sad"] == pytest.approx(9.0) and merged["real"]["mse"] == pytest.approx(90.0)
    assert merged["comp"] == pytest.approx({"sad": 2.0, "mse": 20.0, "grad": 0.2})
    assert merge_folds([a]) == {**a, "also": {}}  # one fold as is (no --also-real sets)
    with pytest.raises(ValueError, match="share a test photo"):
        merge_folds([a, _run({"GT02": 1.0})])


def test_per_photo_is_left_out_for_runs_without_per_photo_errors():
    old = {v: {s: {"real": {k: r["real"][k] for k in ("sad", "mse", "grad")}, "comp": r["comp"]}
               for s, r in runs.items()} for v, runs in RESULTS.items()}
    assert per_photo(old, ["naive", "portrait"], [0, 1]) == []
    assert "per photo" not in report(old, ["naive", "portrait"], [0, 1])
    assert "per photo" in report(RESULTS, ["naive", "portrait"], [0, 1])


def test_report_paired_changes_and_interval():
    text = report(RESULTS, ["naive", "portrait"], [0, 1])
    # seed 0: 14.5 vs 15 -> -3.3 %; seed 1: 14 vs 15 -> -6.7 %
    assert "seed 0:   -3.3%" in text and "seed 1:   -6.7%" in text and "mean   -5.0%" in text
    lo, hi = paired_interval([-1 / 30, -1 / 15])
    half = 12.706 * np.std([-1 / 30, -1 / 15], ddof=1) / np.sqrt(2)
    assert lo == pytest.approx(-0.05 - half) and hi == pytest.approx(-0.05 + half)
    assert paired_interval([0.1]) == (0.1, 0.1)


def test_detector_ranking_gives_both_orders_spearman_and_its_permutation_p(tmp_path):
    import json

    from generalization_report import detector_ranking

    sads = {"naive": 12.0, "portrait": 10.0, "a": 11.0, "b": 11.5}
    results = {v: {0: _run({"GT13": s}), 1: _run({"GT13": s})} for v, s in sads.items()}
    det = tmp_path / "detectability.json"
    det.write_text(json.dumps({"results": {"naive": {"0": {"auc": 0.74}}, "portrait": {"0": {"auc": 0.69}},
                                           "a": {"0": {"auc": 0.70}}, "b": {"0": {"auc": 0.71}},
                                           "broken": {"0": {"auc": 0.92}}}}))
    text = detector_ranking(results, list(sads), [0, 1], [det])
    assert "by AUC: portrait 0.690 < a 0.700 < b 0.710 < naive 0.740" in text
    assert "by SAD: portrait 10.000 < a 11.000 < b 11.500 < naive 12.000" in text
    # the same order: rho = 1, and 2 of the 24 pairings (this order and its reverse) reach |rho| = 1
    assert "Spearman rank correlation +1.00" in text and "p = 0.08 over 4 variants" in text


def _with_also(run: dict, sads: dict[str, float], name: str = "lemur") -> dict:
    return {**run, "also": {name: _run(sads)["real"]}}


def test_merge_also_averages_every_fold_models_errors_per_photo():
    a = _with_also(_run({"GT01": 1.0}), {"lemur": 4.0, "cat": 2.0})
    b = _with_also(_run({"GT13": 1.0}), {"lemur": 6.0, "cat": 4.0})
    merged = merge_also([a, b])["lemur"]
    assert merged["per_image"]["lemur"]["sad"] == pytest.approx(5.0)
    assert merged["per_image"]["cat"]["mse"] == pytest.approx(30.0)
    assert merged["sad"] == pytest.approx(4.0)  # the mean over the two photos of their fold means
    assert merged["models"] == pytest.approx([3.0, 5.0])  # each fold model's own mean SAD
    assert merge_folds([a, b])["also"]["lemur"]["sad"] == pytest.approx(4.0)
    # a set that one fold's run lacks is left out rather than averaged over fewer models
    assert merge_also([a, _run({"GT13": 1.0})]) == {}


def test_also_report_pairs_each_seed_and_counts_the_models_that_are_lower():
    results = {
        "naive": {0: merge_folds([_with_also(_run({"GT01": 1.0}), {"lemur": 10.0}),
                                  _with_also(_run({"GT13": 1.0}), {"lemur": 12.0})]),
                  1: merge_folds([_with_also(_run({"GT01": 1.0}), {"lemur": 10.0}),
                                  _with_also(_run({"GT13": 1.0}), {"lemur": 10.0})])},
        "portrait": {0: merge_folds([_with_also(_run({"GT01": 1.0}), {"lemur": 8.0}),
                                     _with_also(_run({"GT13": 1.0}), {"lemur": 13.0})]),
                     1: merge_folds([_with_also(_run({"GT01": 1.0}), {"lemur": 9.0}),
                                     _with_also(_run({"GT13": 1.0}), {"lemur": 9.0})])},
    }
    text = also_report(results, ["naive", "portrait"], [0, 1])
    assert "Also evaluated: lemur (1 photo: lemur)" in text and "mean over its 2 fold models" in text
    # seed 0: 10.5 against 11 -> -4.5 %; seed 1: 9 against 10 -> -10 %; lower for 3 of the 4 models
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("portrait") and "seed 0" in ln)
    assert "seed 0:   -4.5%" in line and "seed 1:  -10.0%" in line and "lower for 3 of 4 models" in line
    assert "-7.3%" in line  # their mean
    assert "per photo" not in text  # one photo: no per-photo table
    assert also_report({v: {s: {k: r for k, r in run.items() if k != "also"} for s, run in per.items()}
                        for v, per in results.items()}, ["naive", "portrait"], [0, 1]) == ""



def test_also_report_pairs_the_third_variant_with_the_second_as_well():
    def seed(*lemur: float) -> dict:  # one run per fold, each with its lemur SAD
        return merge_folds([_with_also(_run({p: 1.0}), {"lemur": x}) for p, x in zip(("GT01", "GT13"), lemur)])
    results = {"naive": {0: seed(10.0, 10.0), 1: seed(10.0, 10.0)},
               "portrait": {0: seed(8.0, 8.0), 1: seed(10.0, 10.0)},
               "faint": {0: seed(9.0, 7.0), 1: seed(11.0, 11.0)}}
    lines = also_report(results, ["naive", "portrait", "faint"], [0, 1]).splitlines()
    heads = [i for i, ln in enumerate(lines) if "paired per-seed change of SAD against" in ln]
    assert [lines[i].split("against ")[1] for i in heads] == ["naive (negative = better):", "portrait (negative = better):"]
    second = lines[heads[1] + 1]  # faint against portrait: 8 vs 8 -> 0 %, 11 vs 10 -> +10 %; 1 of 4 models lower
    assert second.strip().startswith("faint")
    assert "seed 0:   +0.0%" in second and "seed 1:  +10.0%" in second and "lower for 1 of 4 models" in second
    assert not any(ln.strip().startswith("naive") and "seed 0" in ln for ln in lines)
    # two variants: one block only
    two = also_report({v: results[v] for v in ("naive", "portrait")}, ["naive", "portrait"], [0, 1])
    assert two.count("paired per-seed change") == 1


def test_also_report_weighs_every_photo_the_same_against_the_second_as_well():
    def seed(lemur: float, cat: float) -> dict:  # one fold, a two-photo everyday set
        return merge_folds([_with_also(_run({"GT01": 1.0}), {"lemur": lemur, "cat": cat}, name="everyday")])
    results = {"naive": {0: seed(10.0, 10.0), 1: seed(10.0, 10.0)},
               "portrait": {0: seed(8.0, 5.0), 1: seed(10.0, 10.0)},
               "faint": {0: seed(16.0, 5.0), 1: seed(5.0, 20.0)}}
    lines = also_report(results, ["naive", "portrait", "faint"], [0, 1]).splitlines()
    heads = [i for i, ln in enumerate(lines) if ln.startswith("The same with every photo weighing the same")]
    assert [lines[i].split("against ")[1] for i in heads] == ["naive):", "portrait):"]
    # faint against portrait, per seed the geometric mean of the two photos' ratios minus 1:
    # seed 0 sqrt(16/8 * 5/5) - 1 = +41.4 %, seed 1 sqrt(5/10 * 20/10) - 1 = +0.0 %
    row = lines[heads[1] + 1]
    assert row.strip().startswith("faint") and "seed 0:  +41.4%" in row and "seed 1:   +0.0%" in row
    assert not lines[heads[1] + 2].strip().startswith("portrait")  # only the later variants
    two = also_report({v: results[v] for v in ("naive", "portrait")}, ["naive", "portrait"], [0, 1])
    assert two.count("The same with every photo weighing the same") == 1


THREE = {  # RESULTS with a fold 0 photo (GT01), and a third variant
    "naive": {s: _run({"GT01": 5.0, "GT13": 10.0, "GT14": 20.0}) for s in (0, 1)},
    "portrait": {0: _run({"GT01": 5.0, "GT13": 8.0, "GT14": 21.0}), 1: _run({"GT01": 5.0, "GT13": 9.0, "GT14": 19.0})},
    "photofg": {0: _run({"GT01": 4.0, "GT13": 8.0, "GT14": 23.1}), 1: _run({"GT01": 6.0, "GT13": 9.9, "GT14": 17.1})},
}


def test_against_second_pairs_the_later_variants_with_the_second_in_sad_and_per_photo():
    lines = against_second(THREE, ["naive", "portrait", "photofg"], [0, 1])
    # SAD means: portrait (5 + 8 + 21) / 3 = 11.333 and (5 + 9 + 19) / 3 = 11; photofg 35.1 / 3 = 11.7
    # and 33 / 3 = 11: +3.2 % and 0 %
    assert "against portrait" in lines[0]
    assert lines[1].split()[:6] == ["photofg", "seed", "0:", "+3.2%", "seed", "1:"]
    assert lines[1].split()[6] == "+0.0%"
    # photo-weighted: seed 0 ratios 0.8, 1, 1.1; seed 1: 1.2, 1.1, 0.9
    want = [np.expm1(np.mean(np.log([0.8, 1.0, 1.1]))), np.expm1(np.mean(np.log([1.2, 1.1, 0.9])))]
    assert lines[3].split()[3] == f"{100 * want[0]:+.1f}%" and lines[3].split()[6] == f"{100 * want[1]:+.1f}%"
    assert against_second(RESULTS, ["naive", "portrait"], [0, 1]) == []   # two variants: nothing to add
    assert "against portrait" in report(THREE, ["naive", "portrait", "photofg"], [0, 1])


def test_per_fold_gives_each_folds_mean_sad_and_each_variants_change():
    folds = {"fold 0": ["GT01"], "fold 2": ["GT13", "GT14"]}
    lines = per_fold(THREE, ["naive", "portrait", "photofg"], [0, 1], folds)
    rows = {" ".join(line.split()[:2]): line.split()[2:] for line in lines[2:]}
    # fold 0: naive 5 on both seeds; portrait 5 (0 %, lower on none); photofg 4 and 6 (-20 %, +20 %)
    assert rows["fold 0"] == ["5.000", "+0.0%", "(0/2)", "+0.0%", "(1/2)"]
    # fold 2: naive 15 and 15; portrait 14.5 and 14 (-3.3 %, -6.7 %); photofg 15.55 and 13.5
    assert rows["fold 2"][:3] == ["15.000", "-5.0%", "(2/2)"]
    assert rows["fold 2"][3:] == [f"{100 * np.mean([15.55 / 15 - 1, 13.5 / 15 - 1]):+.1f}%", "(1/2)"]
    assert per_fold(THREE, ["naive", "photofg"], [0, 1], {"fold 2": ["GT13", "GT14"]}) == []  # one fold
    assert "Per fold" in report(THREE, ["naive", "portrait", "photofg"], [0, 1], folds=folds)
    assert "Per fold" not in report(THREE, ["naive", "portrait", "photofg"], [0, 1])
