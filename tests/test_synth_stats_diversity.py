"""synth.stats.diversity: Gini, entropy, usage summaries."""
from __future__ import annotations

import math

import numpy as np
import pytest

from synth.stats import gini, normalized_entropy, usage_summary


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


# ------------------------------------------------------------------ a guided build's diversity cost

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from synth.stats.diversity import GuidedAcc, guided_summary  # noqa: E402


def _guided_meta(chosen_bg: str, planned_bg: str, scale: float, top: int, score: float, first: float,
                 chosen: int, pinned: bool = False) -> tuple[dict, str, list]:
    record = {"weights_sha256": "ab" * 32, "candidates": 2, "chosen": chosen, "score": score,
              "scores": [first, score] if chosen else [score, 9.0], "pinned": pinned,
              "planned": {"background": planned_bg, "place": {"scale": 0.5, "centre": [0.5, 0.5]}}}
    ops = [{"op": "place", "target": "foreground", "scale": scale, "size_hw": [20, 20], "canvas_hw": [100, 100],
            "top": top, "left": 40}]
    return record, chosen_bg, ops


def test_guided_summary_compares_the_choices_with_the_plan():
    acc = GuidedAcc()
    acc.add(*_guided_meta("a", "a", 0.5, 40, -1.0, -1.0, 0))
    acc.add(*_guided_meta("a", "b", 0.7, 0, -2.0, 0.0, 1, pinned=True))
    acc.add(None, "c", [])  # an unguided sample is not counted
    g = guided_summary(acc)
    assert g["samples"] == 2 and g["pinned_share"] == 0.5 and g["chosen_index"] == {"0": 1, "1": 1}
    assert g["chosen"]["distinct"] == 1 and g["chosen"]["effective_backgrounds"] == 1.0
    assert g["planned"]["distinct"] == 2 and math.isclose(g["planned"]["effective_backgrounds"], 2.0)
    assert g["planned"]["entropy_norm"] == 1.0 and g["effective_backgrounds_ratio"] == 0.5
    assert math.isclose(g["chosen"]["scale_mean"], 0.6) and math.isclose(g["chosen"]["scale_std"], 0.1)
    assert math.isclose(g["chosen"]["centre_std"], 0.2)  # centre y 0.5 and 0.1, x 0.5 both
    assert g["planned"]["scale_std"] == 0.0 and g["planned"]["centre_std"] == 0.0
    assert g["score_chosen"] == -1.5 and g["score_planned"] == -0.5
    assert guided_summary(GuidedAcc()) is None


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("abcd"), st.floats(0.3, 1.0),
                          st.integers(0, 80), st.floats(-5, 5), st.floats(-5, 5), st.integers(0, 1)),
                min_size=1, max_size=20), st.integers(0, 20))
def test_guided_acc_merge_equals_one_pass(rows, cut):
    whole, left, right = GuidedAcc(), GuidedAcc(), GuidedAcc()
    for i, row in enumerate(rows):
        whole.add(*_guided_meta(*row))
        (left if i < cut else right).add(*_guided_meta(*row))
    left.merge(right)
    a, b = guided_summary(whole), guided_summary(left)
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], float):
            assert math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-9)
        elif isinstance(a[k], dict) and k in ("chosen", "planned"):
            for kk, v in a[k].items():
                assert v == b[k][kk] or math.isclose(v, b[k][kk], rel_tol=1e-9, abs_tol=1e-6), (k, kk)
        else:
            assert a[k] == b[k], k


def test_guided_summary_reports_the_difficulty_guard():
    """Records with ``eligible``: how often the lowest score was ruled out, the eligible share of
    candidates 1+, and the mean difficulty kept against candidate 0's; none without the guard."""
    acc = GuidedAcc()
    record, bg, ops = _guided_meta("a", "a", 0.5, 40, -1.0, -1.0, 0)
    acc.add(record, bg, ops)
    assert guided_summary(acc)["difficulty_guard"] is None
    ruled_out = {**_guided_meta("a", "a", 0.5, 40, 1.0, 1.0, 0)[0], "scores": [1.0, -3.0, 2.0],
                 "eligible": [True, False, True], "difficulty": [[10.0, 1.0], [30.0, 0.2], [8.0, 2.0]]}
    kept_1 = {**_guided_meta("b", "b", 0.5, 40, -2.0, 0.0, 1)[0], "scores": [0.0, -2.0, None],
              "eligible": [True, True, False], "difficulty": [[20.0, 3.0], [12.0, 5.0], [None, None]]}
    acc.add(ruled_out, "a", ops)
    acc.add(kept_1, "b", ops)
    gd = guided_summary(acc)["difficulty_guard"]
    assert gd["samples"] == 2 and gd["overruled_share"] == 0.5 and gd["eligible_share"] == 0.5
    assert gd["kept"] == {"contrast": 11.0, "texture": 3.0}  # (10 + 12) / 2, (1 + 5) / 2
    assert gd["planned"] == {"contrast": 15.0, "texture": 2.0}


def test_guided_rows_have_the_same_labels_for_every_dataset():
    """Compare mode zips the datasets' rows: an unguided dataset (or one without the guard) gives
    the same row labels as a guided one, with dashes ("off" for the guard)."""
    from synth.stats.report_rows import guided_rows

    acc = GuidedAcc()
    acc.add(*_guided_meta("a", "b", 0.5, 40, -1.0, 0.0, 1))
    guided = guided_rows({"diversity": {"guided": guided_summary(acc)}})
    plain = guided_rows({"diversity": {"guided": None}})
    assert [label for label, _ in plain] == [label for label, _ in guided]
    assert {value for _, value in plain} == {"–"}
    assert dict(guided)["difficulty guard: detector's pick ruled out"] == "off"
    assert dict(guided)["guided samples (pinned background)"] == "1 (0.0%)"
