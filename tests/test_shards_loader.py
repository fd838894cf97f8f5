"""shards.loader (MattingLoader): exact mid-epoch resume, epochs, state checks, misuse."""
from __future__ import annotations

import json
import warnings

import pytest
import torch

from shard_fixtures import N, corrupt_two, data, keys_of, make, run_loader, sample_key
from shards import MattingDataset, MattingLoader


pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")


# ------------------------------------------------------------------ loader + resume
@pytest.mark.parametrize("nw, bs, pw", [(0, 3, False), (2, 3, True), (3, 4, False), (2, 1, False)])
def test_exact_resume(data, nw, bs, pw):
    full = [(b["key"], b["image"], b["trimap"]) for b in run_loader(data, nw, bs, pw)]
    assert sorted(k for b in full for k in b[0]) == sorted(sample_key("train", i) for i in range(N))
    for k in (1, 4):
        loader = run_loader(data, nw, bs, pw)
        it = iter(loader)
        head = [(b["key"], b["image"], b["trimap"]) for b in (next(it) for _ in range(k))]
        state = json.loads(json.dumps(loader.state_dict()))
        assert state["batches"] == k and state["samples"] == sum(len(b[0]) for b in head)
        resumed = run_loader(data, nw, bs, pw)
        resumed.load_state_dict(state)
        tail = [(b["key"], b["image"], b["trimap"]) for b in resumed]
        got = head + tail
        assert [g[0] for g in got] == [f[0] for f in full]
        assert all(torch.equal(g[1], f[1]) and torch.equal(g[2], f[2]) for g, f in zip(got, full))


def test_break_and_iterate_again_continues(data):
    full = keys_of(run_loader(data, 2, 2))
    loader = run_loader(data, 2, 2)
    got = []
    for i, b in enumerate(loader):
        got += b["key"]
        if i == 2:
            break
    got += keys_of(loader)
    assert got == full
    assert loader.epoch == 1


def test_epochs_advance_and_set_epoch(data):
    loader = run_loader(data, 0, 4)
    e0, e1 = keys_of(loader), keys_of(loader)
    assert loader.epoch == 2 and e0 != e1 and sorted(e0) == sorted(e1)
    loader.set_epoch(0)
    assert keys_of(loader) == e0
    state = loader.state_dict()
    assert state["epoch"] == 1 and state["batches"] == 0


def test_len_counts_batches(data):
    for nw, bs, drop in [(0, 4, False), (3, 4, False), (3, 4, True), (2, 1, False)]:
        loader = MattingLoader(make(data, outputs=("alpha",)), batch_size=bs, num_workers=nw, drop_last=drop)
        assert len(loader) == sum(1 for _ in loader)
    assert len(make(data, world_size=3, rank=1)) == N // 3


def test_resume_with_another_batch_size_and_worker_count_reads_the_rest_once(data):
    loader = run_loader(data, 2, 3)
    it = iter(loader)
    head = keys_of([next(it), next(it)])
    state = loader.state_dict()
    # another batch size, same workers: each stream continues exactly, but the workers'
    # batches interleave differently, so the order differs: warned
    full = keys_of(run_loader(data, 2, 3))
    other = run_loader(data, 2, 5)
    with pytest.warns(UserWarning, match="batch_size=3 .* has 5: .* another order"):
        other.load_state_dict(state)
    rest = keys_of(other)
    assert sorted(head + rest) == sorted(sample_key("train", i) for i in range(N))
    assert head + rest != full and len(head + rest) == len(full)
    # another worker count: warned, still exactly once
    elastic = run_loader(data, 3, 3)
    with pytest.warns(UserWarning, match="exactly once"):
        elastic.load_state_dict(state)
    rest = keys_of(elastic)
    assert sorted(head + rest) == sorted(sample_key("train", i) for i in range(N))
    assert elastic.epoch == 1


def test_resume_with_one_worker_and_another_batch_size_is_exact_and_silent(data):
    full = keys_of(run_loader(data, 1, 3))
    loader = run_loader(data, 1, 3)
    it = iter(loader)
    head = keys_of([next(it), next(it)])
    other = run_loader(data, 1, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        other.load_state_dict(loader.state_dict())
    assert head + keys_of(other) == full


def test_state_mismatch_is_refused(data):
    state = run_loader(data, 0, 2).state_dict()
    for kw, field in [({"seed": 5}, "seed"), ({"world_size": 2, "rank": 0}, "world_size"), ({"buffer_size": 9}, "buffer_size")]:
        with pytest.raises(ValueError, match=field):
            run_loader(data, 0, 2, **kw).load_state_dict(state)
    with pytest.raises(ValueError, match="fingerprint"):
        MattingLoader(MattingDataset(data, "val", crop=16, buffer_size=8)).load_state_dict(state)
    with pytest.raises(ValueError, match="version"):
        run_loader(data, 0, 2).load_state_dict({"epoch": 0})


def test_loader_refuses_misuse(data):
    with pytest.raises(ValueError, match="MattingDataset"):
        MattingLoader([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="in_order"):
        MattingLoader(make(data), num_workers=2, in_order=False)
    with pytest.raises(ValueError, match="shuffle"):
        MattingLoader(make(data), shuffle=True)


@pytest.mark.parametrize("nw, bs", [(0, 3), (2, 2)])
def test_exact_resume_across_errors(data, tmp_path, nw, bs):
    root = corrupt_two(data, tmp_path)
    full = [(b["key"], b["image"]) for b in run_loader(root, nw, bs)]
    assert sum(len(b[0]) for b in full) == N
    for k in (1, 3, 5):
        loader = run_loader(root, nw, bs)
        it = iter(loader)
        head = [(b["key"], b["image"]) for b in (next(it) for _ in range(k))]
        resumed = run_loader(root, nw, bs)
        resumed.load_state_dict(json.loads(json.dumps(loader.state_dict())))
        got = head + [(b["key"], b["image"]) for b in resumed]
        assert [g[0] for g in got] == [f[0] for f in full]
        assert all(torch.equal(g[1], f[1]) for g, f in zip(got, full))


def test_forkserver_workers_give_the_fork_workers_batches_and_resume_exactly(data):
    """Python 3.14's default start method on Linux (and the safe one when the training process
    runs threads): the dataset is pickled to each worker instead of inherited, and nothing
    changes: the same batches, pixel for pixel, the epoch's order, and an exact resume."""
    def loader():
        return MattingLoader(make(data), batch_size=3, num_workers=2, multiprocessing_context="forkserver")

    forked = [(b["key"], b["image"], b["trimap"]) for b in run_loader(data, 2, 3)]
    served = [(b["key"], b["image"], b["trimap"]) for b in loader()]
    assert [s[0] for s in served] == [f[0] for f in forked]
    assert all(torch.equal(s[1], f[1]) and torch.equal(s[2], f[2]) for s, f in zip(served, forked))
    first = loader()
    it = iter(first)
    head = keys_of([next(it), next(it)])
    resumed = loader()
    resumed.load_state_dict(json.loads(json.dumps(first.state_dict())))
    assert head + keys_of(resumed) == [k for f in forked for k in f[0]]
