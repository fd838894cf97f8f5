"""shards.dataset (MattingDataset): order invariants, augmentation, errors and substitution, sources, settings."""
from __future__ import annotations

import pickle
import warnings
from collections import Counter
from pathlib import Path

import fsspec
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from shard_fixtures import (
    N,
    SIZES,
    copy_dataset,
    corrupt_two,
    data,
    fake_worker,
    keys_of,
    make,
    run_loader,
    sample_key,
    synthetic_members,
    write_dataset,
)
from shards import (
    MattingDataset,
    MattingLoader,
    SampleError,
    ShardError,
    collate_matting,
    write_shard,
)
from shards.manifest import read_manifest, shard_filename


pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")


# ------------------------------------------------------------------ order
@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("workers", [0, 1, 2, 3])
def test_each_sample_once_per_epoch_equal_counts(data, monkeypatch, world, workers):
    """Every rank x worker stream through the real __iter__ (workers simulated in-process)."""
    seen: Counter[str] = Counter()
    per_rank = []
    for rank in range(world):
        ds = make(data, rank=rank, world_size=world, outputs=("alpha",))
        ds.set_epoch(2)
        n = 0
        for w in range(max(workers, 1)):
            fake_worker(monkeypatch, w if workers else None, workers)
            for s in ds:
                seen[s["key"]] += 1
                n += 1
        per_rank.append(n)
        assert n == len(ds)
    assert per_rank == [N // world] * world
    assert max(seen.values()) == 1 and len(seen) == N - N % world


def test_pad_policy_through_the_dataset(data):
    seen: Counter[str] = Counter()
    for rank in range(4):
        ds = make(data, rank=rank, world_size=4, balance="pad", outputs=("alpha",))
        ks = [s["key"] for s in ds]
        assert len(ks) == 8
        seen.update(ks)
    assert len(seen) == N and sum(seen.values()) == 32


def test_a_padded_repeat_is_augmented_afresh_and_the_first_occurrence_unchanged(data):
    drop = {s["key"]: s["image"] for rank in range(4)
            for s in make(data, rank=rank, world_size=4, outputs=("image",))}
    seen: dict[str, list] = {}
    for rank in range(4):
        for s in make(data, rank=rank, world_size=4, balance="pad", outputs=("image",)):
            seen.setdefault(s["key"], []).append(s["image"])
    repeats = {k: v for k, v in seen.items() if len(v) == 2}
    assert len(repeats) == 32 - N  # 3 samples are read twice in the epoch
    for key, (first, again) in repeats.items():
        assert not torch.equal(first, again), key  # not a copy of the same augmented crop
    # every first occurrence is augmented as without padding (lap 0 keeps the seed)
    for key, images in seen.items():
        if key in drop:
            assert torch.equal(images[0], drop[key]), key


def test_order_repeats_for_seed_and_changes_with_epoch(data):
    def run(seed, epoch):
        ds = make(data, seed=seed)
        ds.set_epoch(epoch)
        return [(s["key"], s["image"]) for s in ds]

    a, b = run(0, 0), run(0, 0)
    assert [k for k, _ in a] == [k for k, _ in b]
    assert all(torch.equal(x, y) for (_, x), (_, y) in zip(a, b))
    assert sorted(k for k, _ in a) == sorted(sample_key("train", i) for i in range(N))
    assert [k for k, _ in run(0, 1)] != [k for k, _ in a]
    assert [k for k, _ in run(1, 0)] != [k for k, _ in a]


def test_augmentation_depends_on_sample_not_on_worker_or_rank(data, monkeypatch):
    ref = {s["key"]: s for s in make(data)}
    for world, workers in [(2, 2), (3, 1)]:
        for rank in range(world):
            ds = make(data, rank=rank, world_size=world)
            for w in range(workers):
                fake_worker(monkeypatch, w, workers)
                for s in ds:
                    for name in ("image", "alpha", "trimap", "fg", "bg"):
                        assert torch.equal(s[name], ref[s["key"]][name]), (s["key"], name)


def test_interleaving_mixes_shards(tmp_path):
    # 8 shards of 16 samples; one foreground per shard (index // 16), the worst case.
    write_dataset(tmp_path, {"train": [16] * 8}, hw=(8, 8))
    ds = MattingDataset(tmp_path, "train", crop=None, buffer_size=32, interleave=4, outputs=("alpha",))
    idx = [s["index"] for s in ds]
    shard = [i // 16 for i in idx]
    first = shard[:32]
    assert len(set(first)) >= 4  # four shards read at once, from the first samples on
    same_neighbour = np.mean([a == b for a, b in zip(shard, shard[1:])])
    assert same_neighbour < 0.4
    assert sorted(idx) == list(range(128))


def test_unshuffled_order_is_manifest_order(data):
    ds = make(data, shuffle=False, outputs=("alpha",))
    assert [s["index"] for s in ds] == list(range(N))


def test_plain_dataloader_with_persistent_workers_follows_set_epoch(data):
    ds = make(data, outputs=("alpha", "trimap"))
    loader = DataLoader(ds, batch_size=4, num_workers=2, persistent_workers=True, collate_fn=collate_matting,
                        pin_memory=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e0 = keys_of(loader)
        ds.set_epoch(1)
        e1 = keys_of(loader)
    assert sorted(e0) == sorted(e1) == sorted(sample_key("train", i) for i in range(N))
    assert e0 != e1
    fresh = DataLoader(make(data, outputs=("alpha",)), batch_size=4, num_workers=2, collate_fn=collate_matting)
    assert keys_of(fresh) == e0


def test_dataset_state_resumes_a_plain_dataloader(data):
    loader = run_loader(data, 2, 2)
    it = iter(loader)
    head = keys_of([next(it), next(it), next(it)])
    state = loader.state_dict()
    ds = make(data)
    ds.load_state_dict(state)
    assert ds.state_dict()["consumed"] == state["consumed"]
    plain = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate_matting)
    assert head + keys_of(plain) == keys_of(run_loader(data, 2, 2))


def test_distributed_defaults(data, monkeypatch):
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 1)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 3)
    ds = make(data)
    assert (ds.rank, ds.world_size, len(ds)) == (1, 3, N // 3)
    assert make(data, rank=0, world_size=1).world_size == 1


# ------------------------------------------------------------------ outputs, augmentation
def test_outputs_shapes_and_dtypes(data):
    loader = MattingLoader(make(data, normalize=True), batch_size=4, num_workers=0)
    b = next(iter(loader))
    assert b["image"].shape == (4, 3, 16, 16) and b["image"].dtype == torch.float32
    assert b["alpha"].shape == (4, 1, 16, 16) and b["alpha"].dtype == torch.float32
    assert 0 <= float(b["alpha"].min()) and float(b["alpha"].max()) <= 1
    assert b["trimap"].dtype == torch.uint8 and set(b["trimap"].unique().tolist()) <= {0, 128, 255}
    assert b["fg"].shape == b["bg"].shape == (4, 3, 16, 16) and b["fg"].dtype == torch.uint8
    assert len(b["key"]) == 4 and b["index"].dtype == torch.int64
    assert not any(k.startswith("_") for k in b)
    full = next(iter(make(data, crop=None, augment=False)))
    assert full["image"].shape == (3, 24, 32)


@pytest.fixture(scope="module")
def aligned(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("aligned")
    write_dataset(root, {"train": [6, 6]}, hw=(48, 40), fmt="png", layer_fmt="png", aligned=True)
    return root


@pytest.mark.parametrize("augment", [
    {"scale": (0.5, 2.0), "trimap": "fresh"},
    {"scale": (1.0, 1.0), "trimap": "stored", "flip_p": 0.5},
    {"scale": (1.5, 1.5), "trimap": "stored", "flip_p": 1.0},
])
def test_targets_are_cropped_identically(aligned, augment):
    for epoch in range(2):
        ds = MattingDataset(aligned, "train", crop=(20, 24), augment=augment, buffer_size=4)
        ds.set_epoch(epoch)
        for s in ds:
            img, fg, bg = s["image"], s["fg"], s["bg"]
            assert torch.equal(img, fg) and torch.equal(img, bg)
            a255 = s["alpha"][0] * 255
            assert float((a255 - img[0].float()).abs().max()) <= 1.01, s["key"]
            tri = s["trimap"][0]
            if augment["trimap"] == "fresh" or augment["scale"] == (1.0, 1.0):
                assert bool((s["alpha"][0][tri == 255] == 1).all()) and bool((s["alpha"][0][tri == 0] == 0).all())
            if augment["trimap"] == "stored" and augment["scale"] == (1.0, 1.0):
                expect = torch.full_like(tri, 128)
                expect[img[0] == 0] = 0
                expect[img[0] == 255] = 255
                assert torch.equal(tri, expect)


def test_fresh_trimap_changes_between_epochs(data):
    def trimaps(epoch):
        ds = make(data, crop=None, augment={"flip_p": 0.0, "scale": (1.0, 1.0), "band": (1, 120)})
        ds.set_epoch(epoch)
        return {s["key"]: s["trimap"] for s in ds}

    t0, t1 = trimaps(0), trimaps(1)
    assert sum(not torch.equal(t0[k], t1[k]) for k in t0) > N // 2


def test_photometric_touches_the_image_only(data):
    plain = {s["key"]: s for s in make(data)}
    jitter = {s["key"]: s for s in make(data, augment={"photometric": 1.0})}
    assert any(not torch.equal(plain[k]["image"], jitter[k]["image"]) for k in plain)
    for k in plain:
        for name in ("alpha", "trimap", "fg", "bg"):
            assert torch.equal(plain[k][name], jitter[k][name])


def test_recompositing_uses_another_background(aligned, data):
    ds = make(data, augment={"recomposite_p": 1.0})
    plain = {s["key"]: s for s in make(data)}
    changed = 0
    for s in ds:
        if torch.equal(s["bg"], plain[s["key"]]["bg"]):
            continue  # no partner yet: the stored composite
        changed += 1
        a = s["alpha"].float()
        expect = a * s["fg"].float() + (1 - a) * s["bg"].float()
        assert float((expect - s["image"].float()).abs().max()) <= 0.51
        assert torch.equal(s["fg"], plain[s["key"]]["fg"]) and torch.equal(s["alpha"], plain[s["key"]]["alpha"])
    assert changed >= N - 2  # the first sample of a stream has no partner


# ------------------------------------------------------------------ errors and safety
@pytest.mark.parametrize("buffer", ["bytes", "offsets"])
def test_truncated_shard_is_counted_and_skipped(data, tmp_path, buffer):
    root = copy_dataset(data, tmp_path)
    p = root / shard_filename("train", 2)  # 7 samples
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    ds = make(root, outputs=("alpha",), buffer=buffer, substitute=False)
    ks = [s["key"] for s in ds]
    errors = ds.error_counts()
    assert errors["shard_errors"] == 1 and 0 < errors["samples_lost"] <= 7
    assert len(ks) == N - errors["samples_lost"] and len(set(ks)) == len(ks)
    ds = make(root, outputs=("alpha",), buffer=buffer)  # default: repeats stand in for the lost
    ks = [s["key"] for s in ds]
    lost = ds.error_counts()["samples_lost"]
    assert len(ks) == N and len(set(ks)) == N - lost and ds.error_counts()["samples_substituted"] == lost
    with pytest.raises(ShardError, match="train-000002.tar"):
        list(make(root, handler="raise", outputs=("alpha",), buffer=buffer))


def test_offsets_buffer_gives_the_same_stream_as_bytes(data):
    """buffer='offsets' (the default for local .tar) changes memory, never the samples."""
    for epoch in (0, 1):
        streams = []
        for buffer in ("bytes", "offsets"):
            ds = make(data, buffer=buffer, augment={"recomposite_p": 0.5})
            ds.set_epoch(epoch)
            streams.append(list(MattingLoader(ds, batch_size=3, num_workers=2)))
        assert make(data).buffer == "offsets"
        assert keys_of(streams[0]) == keys_of(streams[1])
        for a, b in zip(*streams):
            for name in ("image", "alpha", "trimap", "fg", "bg"):
                assert torch.equal(a[name], b[name]), name
    held = next(iter(make(data, buffer="offsets").read_segments(make(data).plan(0, 1)[0], 0)))
    assert all(type(v).__name__ == "Span" for v in held[2].values())  # the buffer holds no bytes


def test_shard_shrunk_after_buffering_is_a_sample_error(data, tmp_path):
    """A member read back by offset from a shard that changed since is counted, not returned."""
    root = copy_dataset(data, tmp_path)
    ds = make(root, outputs=("alpha",), buffer="offsets", buffer_size=N, buffer_initial=N)
    it = iter(ds)
    first = next(it)  # the whole split is buffered now
    for i in range(len(SIZES)):
        p = root / shard_filename("train", i)
        p.write_bytes(p.read_bytes()[:512])  # the first header only: no member data left
    rest = list(it)
    assert first["key"] and rest == []
    assert ds.error_counts()["sample_errors"] == N - 1


def test_truncated_shard_with_workers_does_not_hang(data, tmp_path):
    root = copy_dataset(data, tmp_path)
    p = root / shard_filename("train", 4)
    p.write_bytes(p.read_bytes()[:3000])
    ds = make(root, outputs=("alpha",))
    loader = MattingLoader(ds, batch_size=2, num_workers=2, timeout=60)
    ks = keys_of(loader)
    errors = ds.error_counts()  # counted in the workers, visible here
    assert errors["shard_errors"] == 1 and errors["samples_lost"] > 0
    assert len(ks) == N and len(set(ks)) == N - errors["samples_lost"] == N - errors["samples_substituted"]


def test_corrupt_member_and_bad_names(tmp_path):
    good = [(sample_key("train", i), synthetic_members("train", i, hw=(24, 32))) for i in range(4)]
    good[1][1]["image.jpg"] = b"\xff\xd8\xff\xe0 not really a jpeg"
    write_shard(tmp_path / "a.tar", good)
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in [("k1.alpha.png", good[0][1]["alpha.png"]), ("k1.../evil", b"x"),
                           ("k2.alpha.png", good[2][1]["alpha.png"])]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (tmp_path / "b.tar").write_bytes(buf.getvalue())
    seen = []
    ds = MattingDataset([str(tmp_path / "a.tar"), str(tmp_path / "b.tar")], crop=16, buffer_size=4,
                        handler=seen.append, substitute=False)
    ks = sorted(s["key"] for s in ds)
    assert ks == [sample_key("train", i) for i in (0, 2, 3)]  # b.tar: k1 bad name, k2 has no image
    assert ds.error_counts()["sample_errors"] == 3
    assert all(isinstance(e, SampleError) for e in seen)
    assert {e.key for e in seen} == {sample_key("train", 1), "k1", "k2"}
    with pytest.raises(SampleError):
        list(MattingDataset([str(tmp_path / "a.tar")], crop=16, handler="raise"))


def test_never_unpickles(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    members = synthetic_members("train", 0, hw=(24, 32))
    members["state.pyd"] = pickle.dumps(Evil())
    members["weights.pth"] = pickle.dumps(Evil())
    write_shard(tmp_path / "s.tar", [("train_00000000", members)])
    out = list(MattingDataset([str(tmp_path / "s.tar")], crop=16))
    assert len(out) == 1 and not marker.exists()


def test_verify_sha256(data, tmp_path):
    root = copy_dataset(data, tmp_path)
    p = root / shard_filename("train", 0)
    raw = bytearray(p.read_bytes())
    raw[700] ^= 0xFF  # inside the first member's data: still a valid tar
    p.write_bytes(bytes(raw))
    ds = make(root, verify=True, outputs=("alpha",), substitute=False)
    ks = [s["key"] for s in ds]
    assert ds.error_counts()["shard_errors"] == 1 and len(ks) == N - 5
    with pytest.raises(ShardError, match="sha256 mismatch"):
        list(make(root, verify=True, handler="raise"))
    with pytest.raises(ValueError, match="manifest"):
        MattingDataset([str(p)], verify=True)


def test_missing_shard(data, tmp_path):
    root = copy_dataset(data, tmp_path)
    (root / shard_filename("train", 1)).unlink()
    ds = make(root, outputs=("alpha",), substitute=False)
    assert len(list(ds)) == N - 3
    assert ds.error_counts() == {"sample_errors": 0, "shard_errors": 1, "samples_lost": 3, "samples_substituted": 0}


@pytest.mark.parametrize("world", [2, 3])
def test_errors_keep_every_rank_at_the_same_count(data, tmp_path, world):
    """Lost and undecodable samples are stood in for by repeats: DDP ranks stay in step."""
    root = corrupt_two(data, tmp_path)
    counts = []
    for rank in range(world):
        ds = make(root, rank=rank, world_size=world)
        keys = keys_of(MattingLoader(ds, batch_size=2, num_workers=2))
        counts.append(len(keys))
        assert len(keys) == len(ds)
    assert len(set(counts)) == 1


# ------------------------------------------------------------------ sources
def test_reads_over_an_fsspec_url(data):
    fs = fsspec.filesystem("memory")
    for p in Path(data).iterdir():
        fs.pipe(f"/ds-url/{p.name}", p.read_bytes())
    remote = MattingDataset("memory://ds-url", "train", crop=16, buffer_size=8)
    local = make(data)
    a = [(s["key"], s["image"]) for s in remote]
    b = [(s["key"], s["image"]) for s in local]
    assert [k for k, _ in a] == [k for k, _ in b] and all(torch.equal(x, y) for (_, x), (_, y) in zip(a, b))
    assert remote.fingerprint == local.fingerprint


def test_list_of_shard_urls(data):
    m = read_manifest(data)
    urls = [str(Path(data) / e.path) for e in m.shards_of("train")]
    ds = MattingDataset(urls, crop=16, buffer_size=8, outputs=("alpha",))
    assert ds.sizes == SIZES and len(ds) == N
    assert sorted(s["index"] for s in ds) == list(range(N))


def test_constructor_validation(data):
    with pytest.raises(ValueError, match="split 'nope'"):
        MattingDataset(data, "nope")
    with pytest.raises(FileNotFoundError, match="manifest"):
        MattingDataset(Path(data) / "missing")
    with pytest.raises(ValueError, match="outputs"):
        make(data, outputs=("image", "depth"))
    with pytest.raises(ValueError, match="handler"):
        make(data, handler="ignore")
    with pytest.raises(ValueError, match="buffer must be"):
        make(data, buffer="disk")
    fsspec.filesystem("memory").pipe("/offsets/train-000000.tar",
                                     (Path(data) / shard_filename("train", 0)).read_bytes())
    with pytest.raises(ValueError, match="local uncompressed .tar"):
        MattingDataset(["memory://offsets/train-000000.tar"], buffer="offsets")
    assert MattingDataset(["memory://offsets/train-000000.tar"]).buffer == "bytes"  # auto
    with pytest.raises(ValueError, match="crop"):
        make(data, crop=0)
    with pytest.raises(ValueError, match="extra"):
        make(data, augment={"zoom": 2})


def _darken_by_chance(arrays: dict, rng: np.random.Generator) -> dict:
    """A user's per-sample step: scales the image by a random factor (module level: picklable)."""
    arrays["image"] = (arrays["image"] * rng.uniform(0.2, 0.8)).astype(np.uint8)
    return arrays


def _reject(arrays: dict, rng: np.random.Generator) -> dict:
    raise ValueError("not for this model")


def test_user_transform_runs_per_sample_deterministically_in_workers(data):
    """transform(arrays, rng) runs after the online augmentation with a generator from
    (seed, epoch, sample): the same tensors whatever the workers, fresh draws per epoch, and
    its ValueErrors count as bad samples."""
    plain = {s["key"]: s for s in make(data)}
    ref = {s["key"]: s for s in make(data, transform=_darken_by_chance)}
    assert ref.keys() == plain.keys()
    factors = set()
    for key, s in ref.items():
        assert torch.equal(s["alpha"], plain[key]["alpha"]) and torch.equal(s["trimap"], plain[key]["trimap"])
        bright = plain[key]["image"].float()
        assert (s["image"].float() <= bright * 0.8 + 1).all() and (s["image"].float() >= bright * 0.2 - 1).all()
        mask = bright > 50
        factors.add(round(float((s["image"].float()[mask] / bright[mask]).median()), 2))
    assert len(factors) > len(ref) // 2  # a draw per sample
    loader = run_loader(data, 2, 4, transform=_darken_by_chance)
    seen = {k: img for b in loader for k, img in zip(b["key"], b["image"])}
    assert all(torch.equal(seen[k], ref[k]["image"]) for k in ref)
    ds = make(data, transform=_darken_by_chance)
    ds.set_epoch(1)
    assert any(not torch.equal(s["image"], ref[s["key"]]["image"]) for s in ds)
    bad = make(data, transform=_reject, substitute=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert list(bad) == []
    with pytest.raises(ValueError, match="transform must be a callable"):
        make(data, transform="darken")
