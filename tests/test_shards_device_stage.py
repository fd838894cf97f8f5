"""The device path (``MattingDataset(device=...)``) against the CPU path, on CPU tensors.

Both paths draw the same choices from the same keyed streams, so batch for batch they
hold the same samples, cropped, scaled and flipped alike; the pixels may differ only by
resampling and the trimap's octagon (see shards.device_ops)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from shard_fixtures import write_dataset
from shards import MattingDataset, MattingLoader
from shards.device_prepare import GEO_FIELDS, prepare_device_sample
from shards.device_stage import collate_device
from shards.config import AugmentConfig
from shards.order import sample_seed

FULL = ("image", "alpha", "trimap", "fg", "bg")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("device")
    write_dataset(root, {"train": [7, 5]}, hw=(160, 224), restart_markers=True)
    return root


@pytest.fixture(scope="module")
def data16(tmp_path_factory):
    root = tmp_path_factory.mktemp("device16")
    write_dataset(root, {"train": [6]}, hw=(96, 128), alpha_bits=16, layer_fmt="png", fmt="png")
    return root


def _pair(root, workers=0, batch=4, **kw):
    kw.setdefault("crop", 64)
    kw.setdefault("buffer_size", 6)
    cpu = list(MattingLoader(MattingDataset(root, "train", **kw), batch_size=batch, num_workers=workers))
    dev = list(MattingLoader(MattingDataset(root, "train", device="cpu", **kw), batch_size=batch,
                             num_workers=workers))
    return cpu, dev


def _check_close(cpu, dev, outputs, shrink=False):
    """Without strong shrinks both resample bilinearly: pixels within one level (rounding);
    below half size the CPU's INTER_AREA (after DCT scaling) and the device's antialiased
    bilinear differ a little more."""
    assert [b["key"] for b in cpu] == [b["key"] for b in dev]
    for a, b in zip(cpu, dev):
        assert torch.equal(a["index"], b["index"])
        for name in outputs:
            x, y = a[name], b[name]
            assert x.shape == y.shape and x.dtype == y.dtype, name
            diff = (x.float() - y.float()).abs()
            if name in ("image", "fg", "bg"):
                assert (diff.mean() < 2.5 and diff.max() <= 16) if shrink else diff.max() <= 1, name
            elif name == "alpha":
                assert (diff.mean() < 0.002 and diff.max() < 0.06) if shrink else diff.max() < 1e-5, name
            elif name == "trimap":
                definite = (x != 128) & (y != 128)
                assert torch.equal(x[definite], y[definite])  # never 0 where the other says 255
                assert (x != y).float().mean() < 0.03  # the octagon against the chamfer disc


@pytest.mark.parametrize("workers", [0, 2])
def test_device_path_gives_the_cpu_paths_samples_and_geometry(data, workers):
    cpu, dev = _pair(data, workers=workers)
    assert sum(len(b["key"]) for b in dev) == 12
    _check_close(cpu, dev, FULL)



def test_two_sided_trimap_band_on_both_paths(data):
    """``band_outer`` draws the background side's reach apart: the device path follows the CPU
    path, and only the trimap changes (every other draw is its own stream)."""
    two = {"band_outer": (20, 40), "band": (1, 3)}
    cpu, dev = _pair(data, augment=two)
    _check_close(cpu, dev, FULL)
    plain, _ = _pair(data, augment={"band": (1, 3)})
    for a, b in zip(plain, cpu):
        for name in ("image", "alpha", "fg", "bg"):
            assert torch.equal(a[name], b[name]), name
    wider = [(b["trimap"] == 128) & (b["alpha"] == 0) for b in cpu]
    narrow = [(a["trimap"] == 128) & (a["alpha"] == 0) for a in plain]
    assert sum(int(w.sum()) for w in wider) > 3 * sum(int(n.sum()) for n in narrow) > 0
    inside = sum(int(((b["trimap"] == 128) & (b["alpha"] == 1)).sum()) for b in cpu)
    assert inside == sum(int(((a["trimap"] == 128) & (a["alpha"] == 1)).sum()) for a in plain)

def test_strong_shrinks_stay_close(data):
    cpu, dev = _pair(data, augment={"scale": (0.3, 0.5)})
    _check_close(cpu, dev, FULL, shrink=True)


def test_windowed_jpegs_are_cut_not_decoded_in_the_worker(data):
    ds = MattingDataset(data, "train", crop=48, device="cpu", augment={"scale": (2.0, 2.0)})
    sample = next(iter(ds))
    full = 224 * 160
    assert sample["src_image"].ndim == 1  # encoded bytes, not pixels
    top, left, h, w = sample["box_image"]
    assert h * w < full / 2 and 0 <= top < 64 and 0 <= left < 64  # a window, not the whole image


def test_sixteen_bit_alpha_and_png_layers(data16):
    cpu, dev = _pair(data16, crop=48)
    _check_close(cpu, dev, FULL)
    ds = MattingDataset(data16, "train", crop=48, device="cpu")
    s = next(iter(ds))
    assert s["src_fg"].ndim == 3 and s["alpha_src"].dtype == np.int32


def test_stored_trimap_equals_the_cpu_paths(data):
    cpu, dev = _pair(data, augment={"trimap": "stored", "scale": (0.6, 1.4)}, outputs=("alpha", "trimap"))
    for a, b in zip(cpu, dev):
        assert torch.equal(a["trimap"], b["trimap"])


def test_targets_made_from_the_alpha(data):
    outs = ("image", "alpha", "guidance", "semantic", "detail")
    cpu, dev = _pair(data, outputs=outs)
    for a, b in zip(cpu, dev):
        assert torch.equal(b["semantic"], ((b["semantic"] == 1).to(torch.uint8) + 2 * (b["semantic"] == 2)))
        assert (a["semantic"] != b["semantic"]).float().mean() < 0.03
        assert (a["detail"] != b["detail"]).float().mean() < 0.03
        assert (a["guidance"] != b["guidance"]).float().mean() < 0.05  # same draws, other rasteriser


def test_photometric_is_deterministic_and_changes_the_image_only(data):
    kw = dict(augment={"photometric": 1.0}, outputs=("image", "alpha", "fg"))
    one = list(MattingLoader(MattingDataset(data, "train", crop=64, device="cpu", **kw), batch_size=4))
    two = list(MattingLoader(MattingDataset(data, "train", crop=64, device="cpu", **kw), batch_size=4,
                             num_workers=2))
    plain = list(MattingLoader(MattingDataset(data, "train", crop=64, device="cpu", outputs=("image", "alpha", "fg")),
                               batch_size=4))
    def by_key(batches):  # 0 and 2 workers read the epoch in other orders; samples are the same
        return {k: {n: b[n][i] for n in ("image", "alpha", "fg")} for b in batches for i, k in enumerate(b["key"])}

    a_all, b_all, p_all = by_key(one), by_key(two), by_key(plain)
    assert sorted(a_all) == sorted(b_all) == sorted(p_all) and len(a_all) == 12
    changed = 0
    for key, a in a_all.items():
        for name in ("image", "alpha", "fg"):
            assert torch.equal(a[name], b_all[key][name]), name
        assert torch.equal(a["fg"], p_all[key]["fg"]) and torch.equal(a["alpha"], p_all[key]["alpha"])
        changed += int(not torch.equal(a["image"], p_all[key]["image"]))
    assert changed >= 8  # jitter fires with p 0.8, gamma with 0.5


def test_exact_resume_mid_epoch(data):
    def loader():
        return MattingLoader(MattingDataset(data, "train", crop=48, device="cpu", buffer_size=5), batch_size=2,
                             num_workers=2)
    full = list(loader())
    first = loader()
    it = iter(first)
    head = [next(it) for _ in range(2)]
    state = first.state_dict()
    del it
    again = loader()
    again.load_state_dict(state)
    rest = list(again)
    got = head + rest
    assert [b["key"] for b in got] == [b["key"] for b in full]
    for a, b in zip(got, full):
        for name in FULL:
            assert torch.equal(a[name], b[name])


def test_normalize_on_the_device(data):
    cpu, dev = _pair(data, normalize=True, outputs=("image",))
    for a, b in zip(cpu, dev):
        assert b["image"].dtype == torch.float32 and (a["image"] - b["image"]).abs().mean() < 0.03


def test_prepared_sample_carries_the_drawn_geometry(data):
    cfg = AugmentConfig()
    from shard_fixtures import synthetic_members
    members = synthetic_members("train", 3, hw=(160, 224), restart_markers=True)
    seed = sample_seed(0, 0, 3, 0)
    s = prepare_device_sample(members, seed, crop=(64, 64), config=cfg, outputs=frozenset(FULL))
    g = dict(zip(GEO_FIELDS, s["geo"].tolist()))
    assert g["band"] >= 1 and g["unit"] == pytest.approx(1 / 255)
    assert g["ky"] == pytest.approx(g["win_h"] / 64) and g["kx"] == pytest.approx(g["win_w"] / 64)
    h, w = s["alpha_src"].shape
    assert g["win_y"] + g["win_h"] <= h and g["win_x"] + g["win_w"] <= w
    batch = collate_device([s, s])
    assert batch["geo"].shape == (2, len(GEO_FIELDS)) and batch["src_image_shapes"].shape == (2, 3)
    assert batch["src_image"].numel() == 2 * s["src_image"].size


@pytest.mark.parametrize("kw, words", [
    ({"crop": None}, "needs crop"),
    ({"outputs": ("image", "instances")}, "not made by the device path"),
    ({"frames": 4}, "clips"),
    ({"augment": {"recomposite_p": 0.5}}, "re-composite"),
    ({"augment": {"semantic": "lowres"}, "outputs": ("semantic",)}, "classes"),
    ({"transform": lambda a, r: a}, "transform"),
    ({"device": ""}, "device must be"),
])
def test_what_the_device_path_cannot_do_is_a_clear_error(data, kw, words):
    kw = {"device": "cpu", **kw}
    with pytest.raises(ValueError, match=words):
        MattingDataset(data, "train", **kw)


def test_loader_refuses_a_custom_collate_with_device(data):
    ds = MattingDataset(data, "train", crop=32, device="cpu")
    with pytest.raises(ValueError, match="default collate"):
        MattingLoader(ds, batch_size=2, collate_fn=lambda x: x)
    with pytest.raises(ValueError, match="default collate"):
        MattingLoader(ds, batch_size=None)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (runs on a GPU machine)")
def test_cuda_gives_what_the_same_code_gives_on_the_cpu(data):
    """nvJPEG against libjpeg-turbo, CUDA kernels against CPU ones: same samples, same draws."""
    kw = dict(crop=64, buffer_size=6, outputs=FULL + ("guidance", "detail"), augment={"photometric": 0.5})
    cpu = list(MattingLoader(MattingDataset(data, "train", device="cpu", **kw), batch_size=4, num_workers=2))
    gpu = list(MattingLoader(MattingDataset(data, "train", device="cuda", **kw), batch_size=4, num_workers=2))
    assert [b["key"] for b in cpu] == [b["key"] for b in gpu]
    for a, b in zip(cpu, gpu):
        assert all(b[n].device.type == "cuda" for n in kw["outputs"])
        for name in ("image", "fg", "bg"):
            diff = (a[name].float() - b[name].cpu().float()).abs()
            assert diff.mean() < 0.5 and diff.max() <= 4, name
        assert (a["alpha"] - b["alpha"].cpu()).abs().max() < 1e-4
        for name in ("trimap", "guidance", "detail"):
            assert (a[name] != b[name].cpu()).float().mean() < 0.002, name


def test_a_samples_pixels_do_not_depend_on_its_batch(data):
    """Batches pad their samples to one size; no sample may feel it (any batch size, any workers)."""
    outs = FULL + ("guidance",)

    def by_key(batch_size, workers):
        ds = MattingDataset(data, "train", crop=48, device="cpu", outputs=outs, augment={"photometric": 0.5})
        return {k: {n: b[n][i] for n in outs} for b in MattingLoader(ds, batch_size=batch_size, num_workers=workers)
                for i, k in enumerate(b["key"])}

    a, b = by_key(2, 0), by_key(5, 2)
    assert sorted(a) == sorted(b) and len(a) == 12
    for key in a:
        for name in outs:
            assert torch.equal(a[key][name], b[key][name]), (key, name)


@pytest.mark.parametrize("decode", [(), ("image",), ("fg", "bg")])
def test_layers_decoded_in_the_worker_give_the_same_batches(data, decode):
    """device_decode: the workers decode the other layers' windows (bit-exact windows of the
    stored JPEG) and send pixels; on CPU tensors the batches equal the default's."""
    kw = dict(crop=64, buffer_size=6, outputs=FULL, device="cpu")
    default = list(MattingLoader(MattingDataset(data, "train", **kw), batch_size=4, num_workers=2))
    split = list(MattingLoader(MattingDataset(data, "train", device_decode=decode, **kw), batch_size=4,
                               num_workers=2))
    assert [b["key"] for b in default] == [b["key"] for b in split]
    for a, b in zip(default, split):
        for name in FULL:
            assert torch.equal(a[name], b[name]), name
    it = iter(MattingDataset(data, "train", device_decode=decode, **kw))
    s = next(it)
    for name in ("image", "fg", "bg"):
        assert s[f"src_{name}"].ndim == (1 if name in decode else 3), name  # JPEG bytes or pixels
        if name not in decode:
            h, w = s[f"box_{name}"][2:]
            assert s[f"src_{name}"].shape == (h, w, 3)


def test_device_decode_is_checked(data):
    for bad in (("image", "alpha"), "image", ("fg", "fg")):
        with pytest.raises(ValueError, match="device_decode"):
            MattingDataset(data, "train", crop=64, device="cpu", device_decode=bad)
    with pytest.raises(ValueError, match="needs device="):
        MattingDataset(data, "train", crop=64, device_decode=("image",))
    assert MattingDataset(data, "train", crop=64, device="cpu", device_decode=["bg", "image"]).config.device_decode \
        == ("image", "bg")


def test_band_outer_is_checked():
    with pytest.raises(ValueError, match="band_outer must satisfy"):
        AugmentConfig(band_outer=(5, 2))
    assert AugmentConfig(band_outer=(0, 9)).band_outer == (0, 9) and AugmentConfig().band_outer is None
