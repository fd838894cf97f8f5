"""synth/critic/evaluate.py: ROC AUC against a brute force over pairs, known cases, the
picture-level bootstrap interval and the contact sheet."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.critic.evaluate import bootstrap_auc, contact_sheet, rank_agreement, roc_auc


def _brute_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 1)), min_size=2, max_size=40))
def test_auc_equals_brute_force_over_pairs_with_ties(rows):
    scores = np.array([r[0] for r in rows], dtype=np.float64) / 3.0  # small ints: many ties
    labels = np.array([r[1] for r in rows])
    if labels.min() == labels.max():
        with pytest.raises(ValueError, match="both labels"):
            roc_auc(scores, labels)
        return
    assert roc_auc(scores, labels) == pytest.approx(_brute_auc(scores, labels), abs=1e-12)


def test_known_cases():
    labels = np.array([0, 0, 0, 1, 1])
    assert roc_auc(np.array([0.1, 0.2, 0.3, 0.8, 0.9]), labels) == 1.0
    assert roc_auc(np.array([0.9, 0.8, 0.7, 0.2, 0.1]), labels) == 0.0
    assert roc_auc(np.full(5, 0.4), labels) == 0.5
    # one swapped pair out of 6: 5/6
    assert roc_auc(np.array([0.1, 0.2, 0.85, 0.8, 0.9]), labels) == pytest.approx(5 / 6)
    rng = np.random.default_rng(0)
    s, y = rng.normal(size=4000), rng.integers(0, 2, 4000)
    assert abs(roc_auc(s, y) - 0.5) < 0.03


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        roc_auc(np.array([0.1, 0.2]), np.array([0, 2]))
    with pytest.raises(ValueError, match="3 scores but 2 labels"):
        roc_auc(np.zeros(3), np.array([0, 1]))
    with pytest.raises(ValueError, match="finite"):
        roc_auc(np.array([np.nan, 1.0]), np.array([0, 1]))


def test_bootstrap_interval_brackets_the_auc_and_resamples_whole_pictures():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 200)
    pictures = np.arange(400) // 20  # 20 patches per picture, one label per picture
    s = rng.normal(size=400) + 0.8 * y + 1.5 * rng.normal(size=20)[pictures]  # patches of a picture move together
    auc = roc_auc(s, y)
    lo, hi = bootstrap_auc(s, y, pictures, np.random.default_rng(2), draws=400)
    assert lo < auc < hi
    assert (lo, hi) == bootstrap_auc(s, y, pictures, np.random.default_rng(2), draws=400)
    # treating every patch as its own picture ignores that dependence: a falsely narrow interval
    lo1, hi1 = bootstrap_auc(s, y, np.arange(400), np.random.default_rng(2), draws=400)
    assert lo1 < auc < hi1 and hi1 - lo1 < 0.6 * (hi - lo)
    # one picture holding both labels: every draw is that picture, so the interval is the point
    assert bootstrap_auc(s, y, np.zeros(400), np.random.default_rng(3), draws=20) == pytest.approx((auc, auc))


def test_contact_sheet_shows_the_surest_patches_framed_by_their_truth():
    patches = np.stack([np.full((4, 4, 3), v, np.uint8) for v in range(0, 250, 25)])  # 10 patches
    scores = np.arange(10, dtype=np.float64)
    labels = np.array([0] * 5 + [1] * 5)
    sheet = contact_sheet(patches, scores, labels, k=3, zoom=2, border=1)
    tile = 4 * 2 + 2
    assert sheet.shape == (2 * tile, 3 * tile, 3) and sheet.dtype == np.uint8
    # top row: highest scores first (225, 200, 175), composites framed red
    assert [int(sheet[tile // 2, c * tile + tile // 2, 0]) for c in range(3)] == [225, 200, 175]
    assert tuple(sheet[0, 0]) == (220, 40, 40)
    # bottom row: lowest scores first (0, 25, 50), real patches framed green
    assert [int(sheet[tile + tile // 2, c * tile + tile // 2, 0]) for c in range(3)] == [0, 25, 50]
    assert tuple(sheet[tile, 0]) == (40, 180, 60)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=3, max_size=8))
def test_rank_agreement_is_spearmans_rho_with_ties(pairs):
    from scipy.stats import spearmanr

    auc = {f"v{i}": float(a) for i, (a, _) in enumerate(pairs)}
    sad = {f"v{i}": float(b) for i, (_, b) in enumerate(pairs)}
    rho, by_auc, by_sad = rank_agreement(auc, sad)
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    if len(set(a)) == 1 or len(set(b)) == 1:
        assert np.isnan(rho)
    else:
        assert rho == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    assert sorted(by_auc) == sorted(by_sad) == sorted(auc)
    assert [auc[n] for n in by_auc] == sorted(a)


def test_rank_agreement_orders_and_only_shared_variants():
    auc = {"naive": 0.74, "portrait": 0.70, "guided": 0.64, "only_here": 0.5}
    rho, by_auc, by_sad = rank_agreement(auc, {"naive": 14.0, "portrait": 13.0, "guided": 12.0})
    assert rho == pytest.approx(1.0) and by_auc == by_sad == ["guided", "portrait", "naive"]
    rho, _, by_sad = rank_agreement(auc, {"naive": 12.0, "portrait": 13.0, "guided": 14.0})
    assert rho == pytest.approx(-1.0) and by_sad == ["naive", "portrait", "guided"]
    assert np.isnan(rank_agreement(auc, {"naive": 1.0, "portrait": 2.0})[0])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=3, max_size=6))
def test_rank_agreement_p_is_the_exact_permutation_p_value(pairs):
    """Against every pairing scored by scipy's spearmanr (for these distinct-value cases scipy's
    own ``permutation_test(..., permutation_type="pairings")`` gives the same, e.g. 0.0583 for
    ranks 0-5 against 1 0 3 2 5 4, but took 88 s for that one case)."""
    import itertools

    from scipy.stats import spearmanr

    from synth.critic.evaluate import rank_agreement_p

    auc = {f"v{i}": float(a) for i, (a, _) in enumerate(pairs)}
    sad = {f"v{i}": float(b) for i, (_, b) in enumerate(pairs)}
    p = rank_agreement_p(auc, sad)
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    if len(set(a)) == 1 or len(set(b)) == 1:
        assert np.isnan(p)
        return
    rho = spearmanr(a, b).statistic
    perms = list(itertools.permutations(b))
    ref = sum(abs(spearmanr(a, q).statistic) >= abs(rho) - 1e-12 for q in perms) / len(perms)
    assert p == pytest.approx(ref, abs=1e-12)
    assert 0.0 < p <= 1.0


def test_rank_agreement_p_of_five_variants_in_the_same_order_is_one_in_sixty():
    from synth.critic.evaluate import rank_agreement_p

    auc = {f"v{i}": 0.6 + 0.01 * i for i in range(5)}
    sad = {f"v{i}": 10.0 + i for i in range(5)}
    assert rank_agreement_p(auc, sad) == pytest.approx(2 / 120)  # the same order or its reverse
