"""synth.stats.shard_scan: which samples of which shard are measured."""
from __future__ import annotations

from synth.stats import select_positions


def test_select_positions_is_uniform_and_deterministic():
    assert select_positions([3, 4], None) == [None, None]
    assert select_positions([3, 4], 7) == [None, None]
    sel = select_positions([10, 10, 10], 6)
    assert sel == [(2, 7), (2, 7), (2, 7)]
    assert sum(len(s) for s in select_positions([5, 0, 9, 1], 4)) == 4
