"""synth.instances: the encoded instance members. After decoding, the visible alphas sum to the
decoded union alpha on every pixel (hypothesis over placements, flips, rotations and crops, 8
and 16 bit), no instance shows in front of its occluders, and instances.json's depth, box, cut
and visible fraction agree with the decoded alphas."""
from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.compose import over
from augment.crop import Crop, apply_crop
from augment.flip import Flip, apply_flip
from augment.placement import apply_placement, sample_placement
from augment.rotate_crop import Rotation, apply_rotation
from shards.codec import decode_alpha_stored, encode_alpha
from shards.tar_writer import validate_member_name
from synth.instances import instance_member_names, instance_members

CANVAS = (48, 64)


def _blob(rng: np.random.Generator, hw: tuple[int, int]) -> np.ndarray:
    """A soft ellipse with a semi-transparent part, float32 (H, W)."""
    yy, xx = np.mgrid[: hw[0], : hw[1]].astype(np.float32)
    cy, cx = rng.uniform(0.3, 0.7) * hw[0], rng.uniform(0.3, 0.7) * hw[1]
    ry, rx = rng.uniform(0.3, 0.6) * hw[0], rng.uniform(0.3, 0.6) * hw[1]
    d = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
    a = np.clip((1.0 - d) * rng.uniform(2, 12), 0, 1)
    a[: hw[0] // 3] *= np.float32(rng.uniform(0.3, 1.0))
    return a.astype(np.float32)


def _scene(seed: int, n: int, flips: list[bool], angles: list[float], crop: bool) -> list[np.ndarray]:
    """n own alphas on the canvas: each flipped, rotated and placed (overlapping, some cut by
    the frame); with ``crop``, all cut to the same window afterwards, as a loader would."""
    rng = np.random.default_rng(seed)
    own = []
    for k in range(n):
        a = _blob(rng, (int(rng.integers(16, 40)), int(rng.integers(12, 32))))
        a = apply_flip(Flip(horizontal=flips[k], vertical=False), a)
        if angles[k]:
            a = apply_rotation(Rotation(angle_deg=angles[k]), a, "alpha")
        p = sample_placement(rng, a.shape, CANVAS, scale=(0.3, 0.9), max_outside=0.4)
        own.append(np.clip(apply_placement(p, a, CANVAS, "alpha"), 0, 1))
    if crop:
        c = Crop(top=int(rng.integers(0, 12)), left=int(rng.integers(0, 16)), h=36, w=48)
        own = [np.ascontiguousarray(apply_crop(c, a)) for a in own]
    return own


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6), bits=st.sampled_from([8, 16]),
       flips=st.lists(st.booleans(), min_size=6, max_size=6),
       angles=st.lists(st.sampled_from([0.0, 7.5, -20.0, 90.0, 33.0]), min_size=6, max_size=6),
       crop=st.booleans(), data=st.data())
def test_decoded_visible_alphas_sum_to_decoded_union(seed, n, bits, flips, angles, crop, data):
    own = _scene(seed, n, flips, angles, crop)
    depths = data.draw(st.permutations(list(range(n))))
    front_first = sorted(range(n), key=lambda k: depths[k])
    _, union = over([(np.zeros(own[0].shape + (3,), np.uint8), own[k]) for k in front_first])
    scale = (1 << bits) - 1
    if bits == 8:  # as render.py rounds the union before compositing
        union = np.rint(union * 255.0).astype(np.float32) / 255.0
    members, records = instance_members(own, depths, [f"fg{k}" for k in range(n)], union, bits)

    assert sorted(members) == sorted(instance_member_names(n))
    for name in members:
        assert validate_member_name("train_00000000", name) == name
    stored_union = decode_alpha_stored(encode_alpha(union, bits)).astype(np.int64)
    vis = np.stack([decode_alpha_stored(members[f"inst_{k}.png"]) for k in range(n)]).astype(np.int64)
    amodal = np.stack([decode_alpha_stored(members[f"amodal_{k}.png"]) for k in range(n)]).astype(np.int64)
    assert vis.dtype == amodal.dtype and decode_alpha_stored(members["inst_0.png"]).dtype == (
        np.uint8 if bits == 8 else np.uint16)
    assert np.abs(vis.sum(axis=0) - stored_union).max() <= 1  # one level (the build gives exactly 0)
    np.testing.assert_array_equal(amodal, np.rint(np.stack(own).astype(np.float64) * scale))
    # never drawn in front of an occluder: visible_k <= a_k (1 - a_j) for each j in front of k
    for k in range(n):
        for j in range(n):
            if depths[j] < depths[k]:
                bound = own[k].astype(np.float64) * (1.0 - own[j]) * scale
                assert (vis[k] <= bound + 1.0 + 1e-6).all()

    doc = json.loads(members["instances.json"])
    assert doc["count"] == n and [r["id"] for r in doc["instances"]] == list(range(n))
    assert doc["instances"] == [r.to_dict() for r in records]
    for k, rec in enumerate(doc["instances"]):
        assert rec["depth"] == depths[k] and rec["foreground_id"] == f"fg{k}"
        ys, xs = np.nonzero(vis[k])
        box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1] if ys.size else [0, 0, 0, 0]
        assert rec["box"] == box
        a = amodal[k]
        assert rec["cut"] == [bool(a[0].any()), bool(a[:, -1].any()), bool(a[-1].any()), bool(a[:, 0].any())]
        expect = min(1.0, vis[k].sum() / a.sum()) if a.sum() else 0.0
        assert abs(rec["visible_fraction"] - expect) <= 1e-6


def test_single_instance_is_the_alpha_itself():
    a = _scene(3, 1, [False], [0.0], False)
    members, records = instance_members(a, [0], ["x"], a[0], 16)
    assert members["inst_0.png"] == members["amodal_0.png"]
    np.testing.assert_array_equal(decode_alpha_stored(members["inst_0.png"]),
                                  decode_alpha_stored(encode_alpha(a[0], 16)))
    assert records[0].depth == 0 and records[0].visible_fraction == 1.0
