"""synth/critic/collect.py: patch sets from a dataset built on the real sample data (skipped
without it): train and test share no picture, subject or background; every kind is cut at the
same size; the subject's photo is seen at its composite's scale and JPEG history; contrast
matching and the real-vs-real relabelling; the hard paste."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from augment.degrade import jpeg_recompress
from synth.build import build
from synth.critic.collect import (
    PatchSet,
    check_disjoint,
    collect_patches,
    hard_paste,
    matched,
    real_subject_view,
    relabel_real,
)
from synth.critic.patches import edge_contrast
from synth.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[1]
PATCH = 24


@pytest.fixture(scope="module")
def naive_dataset(shared_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("critic")
    recipe = load_recipe(ROOT / "recipes" / "naive.yaml", [
        f"foregrounds.0.image_dir={shared_data / 'alphamatting' / 'image'}",
        f"foregrounds.0.alpha_dir={shared_data / 'alphamatting' / 'alpha'}",
        f"backgrounds.0.path={shared_data / 'backgrounds'}",
        "canvas.height=256", "canvas.width=256", "seed=3",
        "splits=[{name: train, fraction: 0.5, samples: 8}, {name: test, fraction: 0.5, samples: 8}]",
        "background_split=disjoint"])
    build(recipe, out / "naive", overwrite=True, cache_dir=out / "cache")
    return out / "naive"


@pytest.fixture(scope="module")
def patch_set(naive_dataset, shared_data) -> PatchSet:
    am = shared_data / "alphamatting"
    return collect_patches(naive_dataset, am / "image", am / "alpha", seed=0, size=PATCH, per_sample=4)


def test_every_kind_same_size_labelled_and_deterministic(patch_set, naive_dataset, shared_data):
    ps = patch_set
    assert ps.patches.shape[1:] == (PATCH, PATCH, 3) and ps.patches.dtype == np.uint8
    assert set(ps.kind.tolist()) == {"composite", "real_scene", "real_subject"}
    assert np.array_equal(ps.label, (ps.kind == "composite").astype(np.int8))
    assert set(ps.split.tolist()) == {"train", "test"}
    am = shared_data / "alphamatting"
    again = collect_patches(naive_dataset, am / "image", am / "alpha", seed=0, size=PATCH, per_sample=4)
    assert np.array_equal(again.patches, ps.patches) and np.array_equal(again.group, ps.group)


def test_train_and_test_share_no_picture_subject_or_background(patch_set):
    train, test = patch_set.take(patch_set.split == "train"), patch_set.take(patch_set.split == "test")
    check_disjoint(train, test)
    for field in ("group", "subject", "background"):
        assert not set(getattr(train, field).tolist()) & set(getattr(test, field).tolist())
    leaky = PatchSet(test.patches, test.label, test.kind, test.group, np.full(len(test), train.subject[0]),
                     test.background, test.split)
    with pytest.raises(ValueError, match="share 1 subject"):
        check_disjoint(train, leaky)


def test_matching_balances_labels_per_split_and_equalises_contrast(patch_set):
    m = matched(patch_set, np.random.default_rng(0))
    for split in ("train", "test"):
        lab = m.label[m.split == split]
        assert (lab == 1).sum() == (lab == 0).sum() > 0
    c = edge_contrast(m.patches)
    assert abs(np.median(c[m.label == 1]) - np.median(c[m.label == 0])) < 0.25 * np.median(c)


def test_real_vs_real_relabels_whole_pictures_of_real_patches_only(patch_set):
    r = relabel_real(patch_set, np.random.default_rng(1))
    assert set(r.kind.tolist()) <= {"real_scene", "real_subject"} and len(r) == int((patch_set.label == 0).sum())
    for split in ("train", "test"):
        assert set(r.label[r.split == split].tolist()) == {0, 1}
    for g in set(r.group.tolist()):
        assert len(set(r.label[r.group == g].tolist())) == 1


def test_the_subject_photo_is_seen_at_its_composite_scale_and_jpeg_history(naive_dataset):
    import tarfile
    with tarfile.open(next(naive_dataset.glob("train-*.tar"))) as tar:
        meta = json.loads(tar.extractfile(next(m for m in tar.getmembers() if m.name.endswith(".meta.json"))).read())
    place = next(op for op in meta["ops"] if op["op"] == "place")
    h, w = place["src_hw"]
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    alpha = rng.uniform(0, 1, (h, w)).astype(np.float32)
    image, small_alpha = real_subject_view(photo, alpha, meta, None)
    assert image.shape[:2] == tuple(place["size_hw"]) == small_alpha.shape
    jpeg_meta = {**meta, "post_composite": [{"op": "jpeg", "quality": 70}]}
    image70, _ = real_subject_view(photo, alpha, jpeg_meta, None)
    assert np.array_equal(image70, jpeg_recompress(image, 70))
    stored, _ = real_subject_view(photo, alpha, meta, 95)
    assert not np.array_equal(stored, image) and np.abs(stored.astype(int) - image).mean() < 12


def test_hard_paste_takes_f_or_b_by_the_thresholded_alpha():
    fg = np.full((4, 4, 3), 200, np.uint8)
    bg = np.full((4, 4, 3), 10, np.uint8)
    alpha = np.array([[0.0, 0.49, 0.5, 1.0]] * 4, np.float32)
    out = hard_paste(fg, alpha, bg)
    assert out[0, :, 0].tolist() == [10, 10, 200, 200]
    with pytest.raises(ValueError, match="must align"):
        hard_paste(fg, alpha[:2], bg)


def test_sharpness_matching_balances_labels_and_narrows_the_sharpness_gap(patch_set):
    from synth.critic.patches import edge_sharpness

    m = matched(patch_set, np.random.default_rng(0), sharpness_bins=4)
    plain = matched(patch_set, np.random.default_rng(0))
    for split in ("train", "test"):
        sel = m.split == split
        assert (m.label[sel] == 1).sum() == (m.label[sel] == 0).sum() > 0

    def gap(ps):
        s = edge_sharpness(ps.patches)
        return abs(np.median(s[ps.label == 1]) - np.median(s[ps.label == 0]))
    assert gap(m) <= gap(plain) + 1e-6
