"""shards.batch_pool: batches written into reused shared-memory blocks by DataLoader workers
are the same tensors as fresh ones, a block is reused only once every tensor of its batch
is gone, and a consumer holding batches never sees them overwritten; and only DataLoader
workers change their malloc settings (shards.allocator)."""
from __future__ import annotations

import gc
import os
import pickle
import types
from multiprocessing.reduction import ForkingPickler

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import shards.batch_pool as pool_mod
from shard_fixtures import make, write_dataset
from shards import MattingDataset, MattingLoader
from shards.batch_pool import PooledBatch, PooledCollate, batch_bytes
from shards.collate import collate_matting

pytestmark = [
    pytest.mark.filterwarnings("ignore:This DataLoader will create"),
    pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="needs os.memfd_create (Linux)"),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("pool")
    write_dataset(root, {"train": [5, 4, 6]}, hw=(40, 48), aligned=True, instances=True)
    return root


def _samples(seed: int, n: int = 3, k: tuple[int, ...] = (2, 0, 3)) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        ki = k[i % len(k)]
        out.append({
            "image": torch.from_numpy(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).permute(2, 0, 1),
            "alpha": torch.from_numpy(rng.random((1, 12, 10), dtype=np.float32)),
            "instances": torch.from_numpy(rng.random((ki, 12, 10), dtype=np.float32)),
            "instance_id": torch.arange(ki, dtype=torch.int64),
            "key": f"s{i}", "index": i, "_cursor": (0, i),
        })
    return out


def _in_worker(monkeypatch):
    monkeypatch.setattr(pool_mod, "get_worker_info", lambda: types.SimpleNamespace(id=0, num_workers=1))


def _state(collate: PooledCollate) -> list[int]:
    return [b.map[0] for b in collate._pool]


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in a)


def _sent(batch) -> dict:
    """What the main process gets: the batch through the DataLoader's pickler."""
    return pickle.loads(ForkingPickler.dumps(batch))


# ------------------------------------------------------------ blocks, in process
def test_a_block_is_leased_until_every_view_of_its_batch_is_gone_then_reused(monkeypatch):
    _in_worker(monkeypatch)
    collate = PooledCollate(blocks=2)
    samples = _samples(0)
    want = collate_matting(samples)
    sent = collate(samples)
    assert isinstance(sent, PooledBatch) and _state(collate) == [1]
    # every tensor of the batch lies in the block; only the keys travel as themselves
    assert set(sent._pooled) == {"image", "alpha", "instances", "instance_id", "instance_valid", "index"}
    assert set(sent._rest) == {"key"}
    got = _sent(sent)
    del sent
    assert type(got) is dict and _equal(got, want)
    assert got["instance_valid"].tolist() == [[True, True, False], [False] * 3, [True] * 3]
    view, arr = got["image"][1, 2], got["alpha"].numpy()
    del got
    gc.collect()
    assert _state(collate) == [1]  # a view and a numpy array still read the block
    del view
    gc.collect()
    assert _state(collate) == [1]
    arr[0, 0, 0, 0] = 0.5  # writable, as fresh batches are
    del arr
    gc.collect()
    assert _state(collate) == [0]
    again = _sent(collate(_samples(1)))  # the freed block is reused, not a new one
    assert len(collate._pool) == 1 and _equal(again, collate_matting(_samples(1)))


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")  # Python >= 3.12 on os.fork
def test_a_forked_child_dropping_a_batch_does_not_free_its_block(monkeypatch):
    _in_worker(monkeypatch)
    collate = PooledCollate(blocks=1)
    got = _sent(collate(_samples(0)))
    pid = os.fork()
    if pid == 0:  # the child: drop its copy of the batch (as a fork does to other threads' references)
        del got
        gc.collect()
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    assert _state(collate) == [1]  # the parent still holds the batch: its block stays leased
    del got
    gc.collect()
    assert _state(collate) == [0]


def test_the_main_process_maps_a_reused_block_once_and_forgets_a_replaced_one(monkeypatch):
    _in_worker(monkeypatch)
    collate = PooledCollate(blocks=1)
    got = _sent(collate(_samples(0)))
    token = collate._pool[0].token
    view = pool_mod._mappings().views[token]
    del got
    gc.collect()
    again = _sent(collate(_samples(1)))  # the same block: the same mapping, no new one
    assert pool_mod._mappings().views[token] is view and _equal(again, collate_matting(_samples(1)))
    del again
    gc.collect()
    big = _sent(collate(_samples(2, n=40)))  # too big: the block is replaced, and the main process told
    new = collate._pool[0].token
    assert new != token and token not in pool_mod._mappings().views and new in pool_mod._mappings().views
    assert _equal(big, collate_matting(_samples(2, n=40)))


def test_threads_unpickling_batches_of_one_block_at_once_share_one_mapping(monkeypatch):
    """Two loaders' pin-memory threads may rebuild batches at the same moment: the cache must
    map a block once, whichever thread comes first. A slow mmap holds the first thread inside
    the cache while the others arrive (without the lock, every thread maps it)."""
    import mmap
    import threading

    _in_worker(monkeypatch)
    collate = PooledCollate(blocks=1)
    batch = collate(_samples(0))
    sent = [ForkingPickler.dumps(batch) for _ in range(4)]  # one batch sent four times: one block, one token
    monkeypatch.setattr(pool_mod, "_MAPPINGS", pool_mod._Mappings())  # a fresh cache, as in a new process
    maps, real_mmap = [], mmap.mmap
    arrived = threading.Barrier(4)

    def slow_mmap(*args):
        maps.append(args)
        threading.Event().wait(0.2)  # the other threads reach the cache meanwhile
        return real_mmap(*args)

    monkeypatch.setattr(pool_mod.mmap, "mmap", slow_mmap)
    got: list = [None] * 4

    def rebuild(k: int) -> None:
        arrived.wait()
        got[k] = pickle.loads(sent[k])

    threads = [threading.Thread(target=rebuild, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(maps) == 1 and len(pool_mod._mappings().views) == 1
    want = collate_matting(_samples(0))
    assert all(_equal(g, want) for g in got)


def test_held_batches_get_new_blocks_then_fresh_memory_and_are_never_overwritten(monkeypatch):
    _in_worker(monkeypatch)
    collate = PooledCollate(blocks=2)
    held = [_sent(collate(_samples(s))) for s in range(4)]
    assert len(collate._pool) == 2 and _state(collate) == [1, 1] and collate.fallbacks == 2
    for s, got in enumerate(held):
        assert _equal(got, collate_matting(_samples(s)))
    del held
    gc.collect()
    assert _state(collate) == [0, 0]


def test_a_failed_collate_frees_its_block_and_a_small_block_is_replaced(monkeypatch):
    _in_worker(monkeypatch)
    collate = PooledCollate(blocks=1)
    bad = _samples(0)
    bad[1]["alpha"] = torch.zeros((1, 5, 5))
    with pytest.raises(ValueError, match="'alpha' tensors differ in shape"):
        collate(bad)
    assert _state(collate) == [0]
    small = collate._pool[0].size
    big = _samples(2, n=40)
    got = _sent(collate(big))
    assert len(collate._pool) == 1 and collate._pool[0].size > small and _equal(got, collate_matting(big))


def test_when_no_block_can_be_made_the_batch_goes_to_fresh_memory(monkeypatch):
    _in_worker(monkeypatch)

    def refuse(*_args):
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(pool_mod.os, "memfd_create", refuse)
    collate = PooledCollate(blocks=2)
    got = collate(_samples(0))
    assert type(got) is dict and _equal(got, collate_matting(_samples(0)))
    assert collate._pool == [] and collate.fallbacks == 1


def test_tensors_past_the_block_travel_as_plain_tensors():
    block = pool_mod._Block(4096, (os.getpid(), 0, 10**6))  # too small for the whole batch
    lease = pool_mod._Lease(block)
    block.map[0] = 1
    sent = lease.seal(collate_matting(_samples(0), alloc=lease.alloc), [])
    # what fits is pooled (in collate order), the instances (3 x 3 x 12 x 10 float32) do not
    assert set(sent._rest) == {"instances", "key"} and {"image", "alpha", "index"} <= set(sent._pooled)
    assert _equal(_sent(sent), collate_matting(_samples(0)))


def test_in_the_main_process_or_with_no_blocks_it_is_collate_matting(monkeypatch):
    assert type(PooledCollate(4)(_samples(0))) is dict  # not in a worker
    _in_worker(monkeypatch)
    off = PooledCollate(0)
    assert type(off(_samples(0))) is dict and off._pool == []
    for bad in (-1, 1.5, "2"):
        with pytest.raises(ValueError, match="blocks must be an integer >= 0"):
            PooledCollate(bad)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), k=st.lists(st.integers(0, 4), min_size=1, max_size=5), seed=st.integers(0, 9))
def test_batch_bytes_bounds_what_the_collate_allocates(n, k, seed):
    samples = _samples(seed, n=n, k=tuple(k))
    used = []

    def counting(shape, dtype):
        used.append(-(-int(np.prod(shape, dtype=np.int64)) * dtype.itemsize // 64) * 64)
        return torch.empty(tuple(shape), dtype=dtype)

    collate_matting(samples, alloc=counting)
    assert sum(used) <= batch_bytes(samples)


# ------------------------------------------------------------- a real DataLoader
OUTS = ("image", "alpha", "trimap", "fg", "bg", "instances", "instance_id")


def _epoch(data, pool: int, workers: int, hold=None, batch: int = 2, **kw):
    ds = MattingDataset(data, "train", crop=24, outputs=OUTS, buffer_size=6, **kw)
    return [hold(b) if hold else b for b in MattingLoader(ds, batch_size=batch, num_workers=workers, batch_pool=pool)]


def _by_key(batches) -> dict[str, tuple]:
    """Each sample's tensors as bytes, by key (padded instance lists cut to the sample's own)."""
    out = {}
    for b in batches:
        for i, key in enumerate(b["key"]):
            k = int(b["instance_valid"][i].sum())
            out[key] = tuple((v[i, :k] if name in ("instances", "instance_id") else v[i]).numpy().tobytes()
                             for name, v in b.items() if isinstance(v, torch.Tensor) and name != "instance_valid")
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_pooled_batches_equal_fresh_ones_through_real_workers(data, workers):
    fresh = _epoch(data, 0, workers)
    assert len(fresh) == 8 and sum(len(b["key"]) for b in fresh) == 15
    pooled = _epoch(data, 2, workers)
    assert len(pooled) == len(fresh) and all(_equal(p, f) for p, f in zip(pooled, fresh))
    # and every sample as in process (where the order differs: one stream, not `workers`)
    assert _by_key(pooled) == _by_key(_epoch(data, 2, 0))


def test_the_main_process_lets_go_of_the_blocks_of_exited_workers(data):
    def workers_mapped():
        return {t for t in pool_mod._mappings().views if t[0] != os.getpid()}

    assert len(_epoch(data, 2, 2)) == 8
    assert workers_mapped() == set()  # non-persistent workers: gone after the pass, and so their blocks
    # batches of one size (no instance lists to pad): no block is replaced between epochs
    ds = MattingDataset(data, "train", crop=24, outputs=("image", "alpha"), buffer_size=6)
    loader = MattingLoader(ds, batch_size=2, num_workers=1, batch_pool=2, persistent_workers=True)
    first = [b for b in loader]
    kept = workers_mapped()
    assert 1 <= len(kept) <= 2  # the live worker's blocks stay mapped ...
    second = [b for b in loader]
    assert workers_mapped() == kept and len(first) == len(second) == 8  # ... and carry the next epoch
    del loader, first, second
    gc.collect()
    pool_mod.prune_mappings()
    assert workers_mapped() == set()


def test_views_kept_past_their_batch_are_not_overwritten(data):
    fresh = _epoch(data, 0, 1)
    # keep only a view of the image and the alpha as numpy: the dicts die at once
    kept = _epoch(data, 1, 1, hold=lambda b: (b["image"][:, 1:], b["alpha"].numpy()))
    for (img, alpha), f in zip(kept, fresh):
        assert torch.equal(img, f["image"][:, 1:]) and np.array_equal(alpha, f["alpha"].numpy())


def test_a_spawned_worker_pools_its_own_blocks(data):
    ds = make(data, outputs=("image", "alpha"), crop=24)
    fresh = [b for b in MattingLoader(ds, batch_size=3, num_workers=1, batch_pool=0)]
    ds = make(data, outputs=("image", "alpha"), crop=24)
    spawned = [b for b in MattingLoader(ds, batch_size=3, num_workers=1, batch_pool=2,
                                        multiprocessing_context="spawn")]
    assert len(spawned) == 5 and all(_equal(s, f) for s, f in zip(spawned, fresh))


def test_the_loader_pools_as_many_blocks_as_a_worker_can_have_batches_alive(data):
    def blocks(**kw):
        return MattingLoader(make(data), batch_size=2, **kw).collate_fn.fn.blocks

    assert blocks(num_workers=1) == 4  # DataLoader's default prefetch_factor 2, + one in use + one dropped
    assert blocks(num_workers=2, prefetch_factor=6) == 8
    assert blocks(num_workers=1, batch_pool=0) == 0 and blocks(num_workers=1, batch_pool=3) == 3
    with pytest.raises(ValueError, match="blocks must be an integer >= 0"):
        MattingLoader(make(data), batch_size=2, batch_pool=-1)


def test_a_plain_dataloader_can_pool_its_batches(data):
    from torch.utils.data import DataLoader

    import shards

    def run(collate):
        return [b for b in DataLoader(make(data, outputs=("image", "alpha", "trimap"), crop=24), batch_size=4,
                                      num_workers=1, collate_fn=collate)]

    plain, pooled = run(collate_matting), run(shards.PooledCollate(2))
    assert len(pooled) == 4 and all(type(p) is dict and _equal(p, f) for p, f in zip(pooled, plain))


def test_only_dataloader_workers_change_their_malloc_settings(data, monkeypatch):
    import shards.dataset as dataset_mod
    from shard_fixtures import fake_worker

    calls = []
    monkeypatch.setattr(dataset_mod, "retain_freed_memory", lambda: calls.append(1) or True)
    assert len(list(make(data, outputs=("alpha",)))) == 15 and calls == []  # the training process: untouched
    fake_worker(monkeypatch, 0, 1)
    assert len(list(make(data, outputs=("alpha",)))) == 15 and calls == [1]


@pytest.mark.parametrize("seed", [0, 1])
def test_batches_kept_for_random_spans_are_intact_when_dropped(data, seed):
    """A consumer that keeps each batch for 0-4 more steps (blocks reused, some batches in
    fresh memory): every batch still equals the unpooled run when it is finally dropped."""
    fresh = [{k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in b.items()}
             for b in _epoch(data, 0, 1, batch=1)]
    rng = np.random.default_rng(seed)
    ds = MattingDataset(data, "train", crop=24, outputs=OUTS, buffer_size=6)
    held: list[tuple[int, int, dict]] = []  # (drop at step, batch number, batch)
    checked = 0
    for step, b in enumerate(MattingLoader(ds, batch_size=1, num_workers=1, batch_pool=2)):
        held.append((step + int(rng.integers(0, 5)), step, b))
        for item in [h for h in held if h[0] <= step]:
            assert _equal(item[2], fresh[item[1]])
            held.remove(item)
            checked += 1
        gc.collect()
    for _, i, b in held:
        assert _equal(b, fresh[i])
        checked += 1
    assert checked == len(fresh) == 15
