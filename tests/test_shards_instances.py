"""shards.instances and the loader's per-sample targets: instance alphas, guidance masks and
trimap-free targets, aligned with the image under the loader's crop, scale jitter and flips,
padded into batches, and drawn from (seed, epoch, sample)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from augment.guidance import apply_guidance, sample_guidance
from augment.trimap_free import semantic_lowres
from shard_fixtures import write_dataset
from shards import MattingDataset, MattingLoader
from shards.order import sample_seed

pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")

TARGETS = ("image", "alpha", "trimap", "guidance", "semantic", "detail", "instances", "amodal",
           "instance_id", "instance_depth", "instance_box")
AUGMENTS = [{"scale": (0.5, 2.0), "flip_p": 0.5}, {"scale": (1.0, 1.0), "flip_p": 1.0},
            {"scale": (1.3, 1.3), "trimap": "stored", "flip_p": 0.0}]


@pytest.fixture(scope="module")
def inst(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("inst")
    write_dataset(root, {"train": [5, 4]}, hw=(48, 40), fmt="png", layer_fmt="png", aligned=True, instances=True)
    return root


@pytest.mark.parametrize("augment", AUGMENTS)
def test_every_target_is_aligned_with_the_image_after_crop_scale_and_flip(inst, augment):
    """The aligned fixture's alpha is the image's red channel (/255) and its instances split
    the alpha into stripes: after the loader's geometry the instances must still sum to the
    alpha, the alpha still match the image, and every target be the one of that alpha."""
    for epoch in range(2):
        ds = MattingDataset(inst, crop=(20, 24), augment=augment, outputs=TARGETS, buffer_size=4, seed=3)
        ds.set_epoch(epoch)
        n = 0
        for s in ds:
            n += 1
            alpha, img = s["alpha"][0], s["image"]
            assert float((alpha * 255 - img[0].float()).abs().max()) <= 1.01
            vis, amodal = s["instances"], s["amodal"]
            k = 1 + s["index"] % 3
            assert vis.shape == (k, 20, 24) and amodal.shape == (k, 20, 24)
            assert float((vis.sum(0) - alpha).abs().max()) <= 2e-6 * k  # a linear resize of a partition
            assert bool((vis <= amodal + 1e-6).all())  # nothing visible beyond the instance's own alpha
            assert s["instance_id"].tolist() == list(range(k))
            assert s["instance_depth"].tolist() == [k - 1 - i for i in range(k)]
            for i in range(k):  # boxes: the cropped visible alphas' extents
                ys, xs = np.nonzero(vis[i].numpy())
                want = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] if ys.size else [0, 0, 0, 0]
                assert s["instance_box"][i].tolist() == [float(x) for x in want]
            tri = s["trimap"][0]
            assert torch.equal(s["detail"][0], (tri == 128).float())
            sem = s["semantic"][0]
            assert torch.equal(sem == 0, tri == 0) and torch.equal(sem == 2, tri == 255)
            seed = sample_seed(3, epoch, int(s["index"]))
            a = alpha.numpy()
            want = apply_guidance(sample_guidance(np.random.default_rng([*seed, 7]), a), a)
            assert np.array_equal(s["guidance"][0].numpy(), want)
        assert n == 9


def test_guidance_is_fresh_every_epoch_and_a_pure_function_of_seed_epoch_sample(inst):
    def masks(epoch, workers=0):
        ds = MattingDataset(inst, crop=None, outputs=("alpha", "guidance"), buffer_size=4, seed=1,
                            augment={"scale": (1.0, 1.0), "flip_p": 0.0,
                                     "guidance": {"lowres": [1], "box_p": 0.0, "morph": [-0.2, 0.2]}})
        loader = MattingLoader(ds, batch_size=1, num_workers=workers)
        loader.set_epoch(epoch)
        return {int(b["index"][0]): (b["alpha"][0, 0], b["guidance"][0, 0]) for b in loader}

    e0, e0_again, e0_workers, e1 = masks(0), masks(0), masks(0, workers=2), masks(1)
    assert sorted(e0) == list(range(9))
    for i in e0:
        assert torch.equal(e0[i][1], e0_again[i][1]) and torch.equal(e0[i][1], e0_workers[i][1])
    assert all(torch.equal(e0[i][0], e1[i][0]) for i in e0)  # full size, no jitter: the same alpha...
    assert sum(not torch.equal(e0[i][1], e1[i][1]) for i in e0) >= 8  # ... and another mask


def test_instance_lists_of_varying_length_are_padded_with_a_validity_mask(inst):
    ds = MattingDataset(inst, crop=(16, 16), outputs=("alpha", "instances", "instance_id", "instance_box"),
                        shuffle=False)
    batch = next(iter(MattingLoader(ds, batch_size=5, num_workers=2)))
    ks = [1 + int(i) % 3 for i in batch["index"]]
    assert batch["instances"].shape == (5, max(ks), 16, 16) and batch["instance_box"].shape == (5, max(ks), 4)
    assert batch["instance_valid"].tolist() == [[j < k for j in range(max(ks))] for k in ks]
    for b, k in enumerate(ks):
        assert batch["instance_id"][b].tolist() == list(range(k)) + [-1] * (max(ks) - k)
        assert float(batch["instances"][b, k:].abs().sum()) == 0.0
        assert float((batch["instances"][b, :k].sum(0) - batch["alpha"][b, 0]).abs().max()) < 1e-5


def test_old_shards_without_instance_members_still_load_and_refuse_instance_outputs(tmp_path):
    write_dataset(tmp_path, {"train": [3]}, hw=(24, 24))
    assert len(list(MattingDataset(tmp_path, crop=16, outputs=("alpha", "guidance", "semantic", "detail")))) == 3
    seen: list[Exception] = []
    got = list(MattingDataset(tmp_path, crop=16, outputs=("alpha", "instances"), handler=seen.append,
                              substitute=False))
    assert got == [] and len(seen) == 3 and "instances.json" in str(seen[0]) and "instance targets" in str(seen[0])


def test_semantic_lowres_form_and_bad_settings(inst):
    ds = MattingDataset(inst, crop=(32, 40), outputs=("alpha", "semantic"),
                        augment={"semantic": "lowres", "semantic_scale": 8, "scale": (1.0, 1.0)})
    for s in ds:
        assert s["semantic"].shape == (1, 4, 5) and s["semantic"].dtype == torch.float32
        assert torch.equal(s["semantic"][0], torch.from_numpy(semantic_lowres(s["alpha"][0].numpy(), 8)))
    for bad, field in [({"semantic": "blobs"}, "semantic"), ({"guidance": {"threshold": [0.9, 0.1]}}, "threshold"),
                       ({"guidance": {"colour": 1}}, "colour"), ({"semantic_scale": 0}, "semantic_scale")]:
        with pytest.raises(ValueError, match=field):
            MattingDataset(inst, augment=bad)
    with pytest.raises(ValueError, match="outputs"):
        MattingDataset(inst, outputs=("alpha", "instance_mask"))


def test_the_loader_reads_the_instances_the_build_renders(tmp_path):
    """The two sides of the member format meet: samples rendered by synth with instance
    targets (groups of up to 6), read back through the loader's crop and flips."""
    from shards.manifest import Manifest, ShardEntry, write_manifest
    from shards.tar_writer import write_shard
    from synth.build import prepare_inputs
    from synth.plan import make_plan
    from synth.recipe import load_recipe, recipe_sha256
    from synth.render import render_sample

    root = Path(__file__).resolve().parents[1]
    overrides = ["foregrounds.0.count=10", "foregrounds.0.size=[160, 120]", "backgrounds.0.count=6",
                 "backgrounds.0.size=[120, 160]", "canvas.height=128", "canvas.width=128",
                 "composition.multi_foreground.p=1.0", "composition.multi_foreground.max_count=6",
                 "composition.multi_foreground.layout=group", "output.targets=[instances]"]
    recipe = load_recipe(root / "recipes" / "demo.yaml", overrides)
    fgs, bgs, _ = prepare_inputs(recipe, tmp_path / "cache")
    plan = make_plan(recipe, recipe_sha256(recipe), fgs, bgs)
    samples = [render_sample(plan, "train", i) for i in range(6)]
    (tmp_path / "ds").mkdir()
    info = write_shard(tmp_path / "ds" / "train-000000.tar", [(s.key, s.members) for s in samples])
    write_manifest(tmp_path / "ds", Manifest(recipe=recipe.model_dump(mode="json"), recipe_sha256="x",
                                             splits={"train": 6}, shards=[ShardEntry(
                                                 path="train-000000.tar", split="train", samples=6,
                                                 bytes=info.bytes, sha256=info.sha256, first_index=0)]))
    counts = {s.key: len(s.meta["instances"]) for s in samples}
    assert max(counts.values()) >= 3
    ds = MattingDataset(tmp_path / "ds", crop=(64, 64), handler="raise",
                        outputs=("alpha", "instances", "amodal", "instance_depth", "guidance"))
    n = 0
    for s in ds:
        n += 1
        k = s["instances"].shape[0]
        assert k >= 1 and sorted(s["instance_depth"].tolist()) == list(range(k))
        assert float((s["instances"].sum(0) - s["alpha"][0]).abs().max()) <= 1e-5
        # the build quantises the visible alphas so that their levels sum exactly to alpha.png:
        # a visible level may exceed the instance's own by one level
        assert bool((s["instances"] <= s["amodal"] + 1 / 255 + 1e-6).all())
        assert counts[s["key"]] == k
    assert n == 6


def test_resume_and_ranks_hold_with_every_target(inst):
    """Targets ride on the samples: an interrupted epoch resumes to the same targets, and
    two ranks still read each sample exactly once, equally many."""
    outs = ("alpha", "guidance", "semantic", "detail", "instances", "instance_box")

    def loader(**kw):
        return MattingLoader(MattingDataset(inst, crop=(16, 16), outputs=outs, buffer_size=4, seed=2, **kw),
                             batch_size=2, num_workers=2)

    full = [b for b in loader()]
    it = iter(first := loader())
    head = [next(it), next(it)]
    state = first.state_dict()
    again = loader()
    again.load_state_dict(state)
    rest = list(again)
    assert len(head) + len(rest) == len(full)
    for a, b in zip(head + rest, full):
        assert a["key"] == b["key"]
        for name in ("guidance", "semantic", "detail", "instances", "instance_box", "instance_valid"):
            assert torch.equal(a[name], b[name]), name
    keys = [[k for b in MattingLoader(MattingDataset(inst, crop=16, outputs=outs, rank=r, world_size=2),
                                       batch_size=1) for k in b["key"]] for r in (0, 1)]
    assert len(keys[0]) == len(keys[1]) == 4 and not set(keys[0]) & set(keys[1])
