"""shards.stages on plain lists: interleave, the shuffle buffer, substitution."""
from __future__ import annotations

import numpy as np
import pytest

from shards.stages import interleave, shuffle_buffer, substitute


def test_interleave_takes_one_from_each_open_source_in_turn():
    sources = iter([iter("abc"), iter("de"), iter("f"), iter("gh")])
    assert "".join(interleave(sources, 2)) == "adbecfgh"
    assert "".join(interleave(iter([iter("ab"), iter("cd")]), 1)) == "abcd"


@pytest.mark.parametrize("size, initial", [(1, 1), (4, 2), (50, 10)])
def test_shuffle_buffer_is_a_permutation_and_pure(size, initial):
    items = list(range(37))
    a = list(shuffle_buffer(items, np.random.default_rng(5), size, initial))
    b = list(shuffle_buffer(items, np.random.default_rng(5), size, initial))
    assert sorted(a) == items and a == b
    if size == 1:
        assert a == items  # a buffer of one cannot reorder


def test_substitute_fills_failed_and_missing_slots():
    results = [(2, "a"), (3, None), (4, "b"), (5, None)]
    lost: list[int] = []
    out = list(substitute(iter(results), consumed=2, planned=8, fallback=lambda: "z", unfilled=lost.append))
    assert out == [(2, "a", False), (3, "b", True), (4, "b", False), (5, "z", True), (6, "z", True),
                   (7, "z", True)]
    assert lost == []


def test_substitute_reports_unfilled_slots():
    lost: list[int] = []
    out = list(substitute(iter([(0, None)]), consumed=0, planned=3, fallback=lambda: None, unfilled=lost.append))
    assert out == [] and lost == [3]
    assert list(substitute(iter([]), consumed=3, planned=3, fallback=lambda: 1 / 0, unfilled=lost.append)) == []
