"""Epoch order: a pure function of (seed, epoch), split across ranks and streams."""
from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shards.order import plan_streams, rank_span, segments_for_span, shard_permutation, split_span

SIZES = [5, 3, 7, 0, 4, 9, 1]  # uneven, one empty shard
N = sum(SIZES)
FIRST = [sum(SIZES[:i]) for i in range(len(SIZES))]


def _indices(segments):
    return [FIRST[s.shard] + i for s in segments for i in range(s.start, s.stop)]


def _epoch(world, streams, *, seed=0, epoch=0, batch=None, balance="drop", sizes=SIZES):
    """{rank: [[indices of stream 0], [stream 1], ...]}."""
    return {r: [_indices(seg) for seg in plan_streams(sizes, seed=seed, epoch=epoch, world_size=world, rank=r,
                                                     num_streams=streams, batch=batch, balance=balance)]
            for r in range(world)}


@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("workers", [0, 1, 2, 3])
@pytest.mark.parametrize("batch", [None, 2])
def test_every_sample_at_most_once_and_equal_counts(world, workers, batch):
    plan = _epoch(world, max(workers, 1), batch=batch)
    per_rank = [sum(len(s) for s in streams) for streams in plan.values()]
    assert len(set(per_rank)) == 1 and per_rank[0] == N // world
    seen = Counter(i for streams in plan.values() for s in streams for i in s)
    assert max(seen.values()) == 1
    assert len(seen) == N - N % world
    assert set(seen) <= set(range(N))


@pytest.mark.parametrize("world", [2, 3, 4])
def test_pad_policy_repeats_the_fewest_samples(world):
    plan = _epoch(world, 2, balance="pad")
    per_rank = [sum(len(s) for s in streams) for streams in plan.values()]
    assert per_rank == [-(-N // world)] * world
    seen = Counter(i for streams in plan.values() for s in streams for i in s)
    assert set(seen) == set(range(N))
    assert sum(seen.values()) - N == (-N) % world
    # the repeats, and only they, are marked as the sequence's second lap
    laps = Counter((FIRST[seg.shard] + i, seg.lap)
                   for r in range(world)
                   for streams in [plan_streams(SIZES, seed=0, epoch=0, world_size=world, rank=r, num_streams=2,
                                                balance="pad")]
                   for segs in streams for seg in segs for i in range(seg.start, seg.stop))
    assert sorted(i for i, lap in laps if lap == 1) == sorted(i for i, n in seen.items() if n == 2)
    assert {lap for _, lap in laps} <= {0, 1} and max(laps.values()) == 1


def test_dropped_samples_change_with_the_epoch():
    dropped = []
    for epoch in range(6):
        plan = _epoch(4, 1, epoch=epoch)
        kept = {i for streams in plan.values() for s in streams for i in s}
        dropped.append(frozenset(set(range(N)) - kept))
    assert len(set(dropped)) > 1


def test_order_is_pure_and_changes_between_epochs():
    a = _epoch(2, 2, seed=3, epoch=1)
    assert a == _epoch(2, 2, seed=3, epoch=1)
    assert a != _epoch(2, 2, seed=3, epoch=2)
    assert a != _epoch(2, 2, seed=4, epoch=1)
    assert list(shard_permutation(5, 0, 0, shuffle=False)) == [0, 1, 2, 3, 4]


def test_batch_aligned_split_leaves_one_partial_batch():
    sizes = split_span(23, 3, batch=4)
    assert sum(sizes) == 23
    assert sizes == [8, 8, 7]  # 5 full batches: 2, 2, 1 -> stream 2 is next and takes the 3 left
    assert sum(-(-n // 4) for n in sizes) == -(-23 // 4)
    assert split_span(23, 3) == [8, 8, 7]
    assert split_span(2, 4) == [1, 1, 0, 0]
    with pytest.raises(ValueError, match="parts"):
        split_span(3, 0)


def test_rank_span_validation():
    assert rank_span(10, 3, 2) == (6, 9)
    assert rank_span(10, 3, 2, "pad") == (8, 12)
    with pytest.raises(ValueError, match="rank"):
        rank_span(10, 2, 2)
    with pytest.raises(ValueError, match="balance"):
        rank_span(10, 2, 0, "wrap")  # type: ignore[arg-type]


def test_segments_wrap_and_merge():
    segs = segments_for_span([3, 2], [1, 0], 1, 7)
    assert [(s.shard, s.start, s.stop) for s in segs] == [(1, 1, 2), (0, 0, 3), (1, 0, 2)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=1, max_size=9), st.integers(1, 4), st.integers(1, 4),
       st.integers(0, 3), st.sampled_from([None, 1, 3]))
def test_partition_property(sizes, world, streams, epoch, batch):
    total = sum(sizes)
    first = [sum(sizes[:i]) for i in range(len(sizes))]
    seen = Counter()
    for r in range(world):
        plan = plan_streams(sizes, seed=7, epoch=epoch, world_size=world, rank=r, num_streams=streams, batch=batch)
        assert len(plan) == streams
        n = 0
        for segs in plan:
            for s in segs:
                assert 0 <= s.start < s.stop <= sizes[s.shard]
                seen.update(first[s.shard] + i for i in range(s.start, s.stop))
                n += len(s)
        assert n == total // world
    assert all(v == 1 for v in seen.values()) and len(seen) == total - total % world
