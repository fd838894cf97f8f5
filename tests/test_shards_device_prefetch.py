"""Batches finished ahead in a background thread (shards.device_prefetch.staged), alone and
in MattingLoader's device path on CPU tensors."""
from __future__ import annotations

import threading
import time

import pytest
import torch

from shard_fixtures import write_dataset
from shards import MattingDataset, MattingLoader
from shards.device_prefetch import staged

FULL = ("image", "alpha", "trimap", "fg", "bg")


class Recorder:
    """A stage that logs which items it finished, in which thread, and fails on ``fail_at``."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.calls: list[int] = []
        self.threads: set[str] = set()
        self.fail_at = fail_at

    def __call__(self, item: int) -> dict:
        self.calls.append(item)
        self.threads.add(threading.current_thread().name)
        if item == self.fail_at:
            raise RuntimeError(f"stage failed on {item}")
        return {"x": torch.full((2,), item), "item": item}


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_every_item_once_in_order(depth):
    rec = Recorder()
    out = list(staged(range(10), rec, "cpu", depth))
    assert [i for i, _ in out] == list(range(10))
    assert [r["item"] for _, r in out] == list(range(10))
    assert all(torch.equal(r["x"], torch.full((2,), i)) for i, r in out)
    assert sorted(rec.calls) == list(range(10))
    main = threading.current_thread().name
    if depth == 0:
        assert rec.threads == {main}
    else:
        assert rec.threads and main not in rec.threads


@pytest.mark.parametrize("depth", [1, 2])
def test_items_are_staged_ahead(depth):
    rec = Recorder()
    it = staged(range(10), rec, "cpu", depth)
    first_item, _ = next(it)
    assert first_item == 0
    # while item 0 is in use, items 1..depth are finished in the background, no more
    deadline = time.monotonic() + 10.0
    while len(rec.calls) < depth + 1 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert rec.calls == list(range(depth + 1))
    it.close()


def test_a_stage_error_is_raised_at_its_item():
    rec = Recorder(fail_at=4)
    got = []
    with pytest.raises(RuntimeError, match="stage failed on 4"):
        for i, _ in staged(range(10), rec, "cpu", 2):
            got.append(i)
    assert got == [0, 1, 2, 3]


def test_closing_early_stops_the_thread():
    rec = Recorder()
    it = staged(range(100), rec, "cpu", 2)
    assert [next(it)[0] for _ in range(3)] == [0, 1, 2]
    it.close()  # waits for the running stage, cancels the queued ones
    n = len(rec.calls)
    assert n <= 3 + 2
    alive = [t for t in threading.enumerate() if t.name.startswith("matting-device-stage")]
    assert not alive
    assert len(rec.calls) == n


def test_depth_must_not_be_negative():
    with pytest.raises(ValueError, match="depth"):
        list(staged(range(3), Recorder(), "cpu", -1))


# ------------------------------------------------------------------ in the loader
@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("prefetch")
    write_dataset(root, {"train": [7, 6]}, hw=(96, 128), restart_markers=True)
    return root


def _loader(data, prefetch, workers=0):
    ds = MattingDataset(data, "train", crop=48, device="cpu", buffer_size=5)
    return MattingLoader(ds, batch_size=3, num_workers=workers, device_prefetch=prefetch)


@pytest.mark.parametrize("workers", [0, 2])
def test_prefetch_gives_the_same_batches(data, workers):
    plain = list(_loader(data, 0, workers))
    ahead = list(_loader(data, 2, workers))
    assert [b["key"] for b in plain] == [b["key"] for b in ahead]
    assert sum(len(b["key"]) for b in ahead) == 13
    for a, b in zip(plain, ahead):
        for name in FULL:
            assert torch.equal(a[name], b[name]), name


def test_resume_with_prefetch_reads_the_rest_exactly_once(data):
    full = list(_loader(data, 0, 2))
    first = _loader(data, 2, 2)
    it = iter(first)
    head = [next(it) for _ in range(2)]  # two more are being finished in the background
    state = first.state_dict()
    assert state["samples"] == 6
    del it
    again = _loader(data, 2, 2)
    again.load_state_dict(state)
    got = head + list(again)
    assert [b["key"] for b in got] == [b["key"] for b in full]
    for a, b in zip(got, full):
        for name in FULL:
            assert torch.equal(a[name], b[name]), name


def test_device_prefetch_must_be_a_count(data):
    ds = MattingDataset(data, "train", crop=48, device="cpu")
    assert MattingLoader(ds, batch_size=2).device_prefetch == 0  # default: 1 on CUDA only
    assert MattingLoader(ds, batch_size=2, device_prefetch=3).device_prefetch == 3
    for bad in (-1, 1.5):
        with pytest.raises(ValueError, match="device_prefetch"):
            MattingLoader(ds, batch_size=2, device_prefetch=bad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (runs on a GPU machine)")
def test_cuda_side_stream_gives_the_same_batches(data):
    def run(prefetch):
        ds = MattingDataset(data, "train", crop=48, device="cuda", buffer_size=5)
        return [{k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in b.items()}
                for b in MattingLoader(ds, batch_size=3, num_workers=2, device_prefetch=prefetch)]
    plain, ahead = run(0), run(2)
    assert [b["key"] for b in plain] == [b["key"] for b in ahead]
    for a, b in zip(plain, ahead):
        for name in FULL:
            assert torch.equal(a[name], b[name]), name
