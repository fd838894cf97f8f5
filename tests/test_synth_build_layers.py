"""`output.layers: false`: builds without the fg/bg members, and the loader reading them."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from conftest import procedural_recipe, video_recipe
from shard_fixtures import folder_bytes, read_dataset, simulate_killed_build
from shards import MattingDataset, MattingLoader
from synth.build import build
from synth.recipe import parse_recipe, recipe_sha256

# every realism step that reads or changes the layers, so that "made from the layers in memory"
# is tested where it matters (the noise compensation reads F and B after the composite)
REALISM = {"harmonization": {"p": 1.0},
           "realism": {"resolution_match": True, "defocus": {"p": 0.5}, "sharpness_match_p": 1.0,
                       "noise": {"p": 1.0, "compensate": True}, "jpeg": {"p": 0.5}, "backdrop": {"p": 0.5}}}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _recipe(**output) -> dict:
    data = procedural_recipe(seed=5, fg=(4, (110, 90)), bg=(5, (100, 130)), canvas=(96, 112), per_shard=5,
                             samples=(10, 0), name="layers_t")
    data["splits"] = [{"name": "train", "fraction": 1.0, "samples": 10}]
    data.update(json.loads(json.dumps(REALISM)))
    data["output"].update(image_format="png", **output)
    return data


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("layers")
    out = {}
    for name, output in (("png", {"layer_format": "png"}), ("none", {"layers": False})):
        build(parse_recipe(_recipe(**output)), root / name, cache_dir=root / "cache")
        out[name] = root / name
    return out


def test_a_build_without_layers_is_the_lossless_layered_build_less_its_layers(builds):
    """Lossless layers decode to the layers in memory, so both builds composite the same pixels:
    every member but fg/bg is the same, byte for byte (meta.json up to the recipe's hash)."""
    layered, bare = read_dataset(builds["png"]), read_dataset(builds["none"])
    assert layered.keys() == bare.keys() and len(bare) == 10
    for key in layered:
        assert set(layered[key]) - set(bare[key]) == {"fg.png", "bg.png"}
        assert set(bare[key]) == {"image.png", "alpha.png", "trimap.png", "meta.json"}
        for member in ("image.png", "alpha.png", "trimap.png"):
            assert _sha(bare[key][member]) == _sha(layered[key][member]), (key, member)
        meta_a, meta_b = json.loads(layered[key]["meta.json"]), json.loads(bare[key]["meta.json"])
        assert meta_a.pop("recipe_sha256") != meta_b.pop("recipe_sha256")
        assert meta_a == meta_b


def test_layers_true_keeps_every_recipe_hash():
    """The field joined recipes after they were first hashed: at its default it leaves the
    recipe's canonical JSON (and so every built byte) as it was."""
    data = _recipe()
    assert recipe_sha256(parse_recipe(data)) == recipe_sha256(parse_recipe(_recipe(layers=True)))
    assert recipe_sha256(parse_recipe(data)) != recipe_sha256(parse_recipe(_recipe(layers=False)))
    assert "layers" not in parse_recipe(data).to_json_dict()["output"]


def test_the_loader_reads_a_dataset_without_layers(builds):
    """By default it gives what the dataset has (no fg, no bg), through a real DataLoader with
    workers, the same tensors as the layered dataset gives for those outputs; asking for a
    layer or for re-compositing says why it cannot."""
    def batches(folder: Path, **kw) -> list[dict]:
        ds = MattingDataset(folder, "train", crop=64, seed=3, buffer_size=8, **kw)
        return list(MattingLoader(ds, batch_size=5, num_workers=2))

    bare = batches(builds["none"])
    layered = batches(builds["png"], outputs=("image", "alpha", "trimap"))
    assert sum(len(b["key"]) for b in bare) == 10
    for a, b in zip(bare, layered):
        assert set(a) == set(b) and "fg" not in a and "bg" not in a
        assert a["key"] == b["key"]
        for name in ("image", "alpha", "trimap"):
            assert torch.equal(a[name], b[name]), name
    with pytest.raises(ValueError, match=r"outputs \['bg', 'fg'\] need the fg/bg layers.*output.layers"):
        MattingDataset(builds["none"], "train", outputs=("image", "alpha", "fg", "bg"))
    with pytest.raises(ValueError, match="re-compositing needs the fg/bg layers"):
        MattingDataset(builds["none"], "train", augment={"recomposite_p": 0.5})
    # the layered dataset keeps its default outputs
    assert {"fg", "bg"} <= set(MattingDataset(builds["png"], "train").config.outputs)
    # without the manifest, the shards' members tell
    shards = {name: sorted(str(t) for t in builds[name].glob("*.tar")) for name in ("png", "none")}
    assert MattingDataset(shards["none"], "train").config.outputs == {"image", "alpha", "trimap"}
    assert {"fg", "bg"} <= set(MattingDataset(shards["png"], "train").config.outputs)
    with pytest.raises(ValueError, match="need the fg/bg layers"):
        MattingDataset(shards["none"], "train", outputs=("image", "fg"))


def test_clips_without_layers(tmp_path):
    """A video build writes no fg/bg frames either, and its clips load with the default outputs."""
    data = video_recipe(frames=4, samples=(2, 0), canvas=64, per_shard=2)
    data["splits"] = [{"name": "train", "fraction": 1.0, "samples": 2}]
    data["output"]["layers"] = False
    build(parse_recipe(data), tmp_path / "clips", cache_dir=tmp_path / "cache")
    samples = read_dataset(tmp_path / "clips")
    assert len(samples) == 2
    frames = [f"{t:03d}" for t in range(4)]
    want = {"clip.json", "meta.json"} | {f"{stem}_{t}.{ext}" for t in frames
                                         for stem, ext in (("image", "jpg"), ("alpha", "png"), ("trimap", "png"))}
    for members in samples.values():
        assert set(members) == want
    for source in (tmp_path / "clips", sorted(str(t) for t in (tmp_path / "clips").glob("*.tar"))):
        got = list(MattingDataset(source, "train", crop=48, frames=3, buffer_size=2))
        assert len(got) == 2 and "fg" not in got[0] and got[0]["image"].shape[0] == 3


def test_the_example_trains_on_a_dataset_without_layers(builds, tmp_path):
    """examples/train_tiny.py reads the default outputs, so without layers its loss is the
    alpha term alone (the composition term needs F and B), and it trains."""
    import importlib.util
    import sys

    root = Path(__file__).resolve().parents[1] / "examples"
    sys.path.insert(0, str(root))
    try:
        spec = importlib.util.spec_from_file_location("train_tiny_layers", root / "train_tiny.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        from tiny_matting_net import matting_loss
    finally:
        sys.path.remove(str(root))
    out = mod.main(["--data", str(builds["none"]), "--crop", "32", "--batch", "4", "--workers", "0",
                    "--buffer", "8", "--log-every", "100", "--out", str(tmp_path / "run"), "--steps", "3",
                    "--ckpt-every", "100"])
    assert out["step"] == 3 and len(out["keys"]) == 12
    trimap = torch.tensor([[[[128, 128], [0, 255]]]], dtype=torch.uint8)
    batch = {"trimap": trimap, "alpha": torch.tensor([[[[0.2, 0.9], [0.0, 1.0]]]])}
    pred = torch.tensor([[[[0.5, 0.5], [0.0, 1.0]]]])
    assert matting_loss(pred, batch).item() == pytest.approx((0.3 + 0.4) / 2)
    image = torch.full((1, 3, 2, 2), 100, dtype=torch.uint8)
    with_layers = {**batch, "image": image, "fg": image, "bg": image}  # a composition that is exact: no extra term
    assert matting_loss(pred, with_layers).item() == pytest.approx((0.3 + 0.4) / 2)


def test_without_layers_ray_and_resume_give_the_same_bytes(builds, ray_session, tmp_path):
    """The determinism contract holds without layers: Ray with two workers writes the serial
    build's bytes, and a killed build resumes to them."""
    from synth.execution import RayExecutor

    recipe = parse_recipe(_recipe(layers=False))
    reference = folder_bytes(builds["none"])
    out = tmp_path / "ray"
    with RayExecutor(workers=2) as ex:
        build(recipe, out, executor=ex, cache_dir=tmp_path / "cache")
    assert folder_bytes(out) == reference
    simulate_killed_build(out)
    report = build(recipe, out, resume=True, cache_dir=tmp_path / "cache")
    assert report.shards_built == 1 and report.shards_reused == 1
    assert folder_bytes(out) == reference
