"""Split assignment and shard layout: disjoint by identity, balanced reuse, pure functions."""
from __future__ import annotations

import hashlib
from collections import Counter

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from synth.plan import assign_by_fraction, make_plan, sample_key
from synth.prepare import PreparedBg, PreparedFg
from synth.recipe import SplitSpec, parse_recipe


def _ids(n: int, salt: str = "") -> list[str]:
    return [hashlib.sha256(f"{salt}{i}".encode()).hexdigest() for i in range(n)]


def _splits(fracs: list[float]) -> list[SplitSpec]:
    return [SplitSpec(name=f"s{i}", fraction=f, samples=10) for i, f in enumerate(fracs)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 200), fracs=st.lists(st.floats(0.05, 0.5), min_size=1, max_size=4), seed=st.integers(0, 10))
def test_assignment_is_disjoint_and_covers_fractions(n, fracs, seed):
    assume(sum(fracs) <= 1.0)
    ids = _ids(n)
    out = assign_by_fraction(ids, _splits(fracs), seed, "fg")
    seen = [i for v in out.values() for i in v]
    assert len(seen) == len(set(seen))  # no id in two splits
    assert set(seen) <= set(ids)
    assert len(seen) <= n
    for (name, got), f in zip(out.items(), fracs):
        if n >= len(fracs) * 2:
            assert abs(len(got) - f * n) <= len(fracs) + 1


def test_assignment_independent_of_listing_order_and_seeded():
    ids = _ids(50)
    a = assign_by_fraction(ids, _splits([0.8, 0.2]), 0, "fg")
    b = assign_by_fraction(list(reversed(ids)), _splits([0.8, 0.2]), 0, "fg")
    c = assign_by_fraction(ids, _splits([0.8, 0.2]), 1, "fg")
    assert a == b and a != c
    assert len(a["s0"]) == 40 and len(a["s1"]) == 10


def test_small_pool_every_split_gets_one():
    out = assign_by_fraction(_ids(3), _splits([0.95, 0.05]), 0, "fg")
    assert len(out["s0"]) == 2 and len(out["s1"]) == 1


def _plan(n_fg=10, n_bg=6, samples=(25, 7), per_shard=4, disjoint=False, limit=None):
    recipe = parse_recipe({
        "foregrounds": [{"kind": "procedural"}], "backgrounds": [{"kind": "procedural"}],
        "splits": [{"name": "train", "fraction": 0.7, "samples": samples[0]},
                   {"name": "val", "fraction": 0.3, "samples": samples[1]}],
        "background_split": "disjoint" if disjoint else "shared",
        "output": {"samples_per_shard": per_shard},
        "composition": {"background_choice": {"mode": "random"}},
    })
    fgs = [PreparedFg(i, "p", "procedural", f"{k}", (8, 8), 8, "given", "", "") for k, i in enumerate(_ids(n_fg))]
    bgs = [PreparedBg(i, "p", f"{k}", "", (8, 8)) for k, i in enumerate(_ids(n_bg, "bg"))]
    return make_plan(recipe, "sha", fgs, bgs, limit=limit)


def test_shard_layout_covers_every_sample_once():
    plan = _plan()
    for split, n in plan.samples.items():
        covered = [i for s in plan.shards_of(split) for i in range(s.first, s.first + s.count)]
        assert covered == list(range(n))
        assert [s.index for s in plan.shards_of(split)] == list(range(len(plan.shards_of(split))))
    assert [s.filename for s in plan.shards_of("val")] == ["val-000000.tar", "val-000001.tar"]
    assert _plan(limit=5).samples == {"train": 5, "val": 5}


def test_foreground_reuse_is_balanced_and_split_disjoint():
    plan = _plan(samples=(70, 9))
    train = Counter(plan.foreground_for("train", i).id for i in range(70))
    assert set(train.values()) == {10}  # 7 foregrounds, each exactly 10 times
    val = {plan.foreground_for("val", i).id for i in range(9)}
    assert not (val & set(train))
    # Each cycle is a fresh permutation, and the choice is a pure function of the index.
    first = [plan.foreground_for("train", i).id for i in range(7)]
    second = [plan.foreground_for("train", i).id for i in range(7, 14)]
    assert sorted(first) == sorted(second) and first != second
    assert first == [_plan(samples=(70, 9)).foreground_for("train", i).id for i in range(7)]


def test_disjoint_backgrounds():
    plan = _plan(disjoint=True)
    assert not ({b.id for b in plan.backgrounds["train"]} & {b.id for b in plan.backgrounds["val"]})
    shared = _plan()
    assert plan.backgrounds["train"] != shared.backgrounds["train"]


def test_empty_split_is_an_error():
    with pytest.raises(ValueError, match="split 'val': no foregrounds"):
        _plan(n_fg=1)


def test_sample_key_has_no_dots():
    assert sample_key("train", 42) == "train_00000042" and "." not in sample_key("val", 10**7)
