"""augment.instances: visible alphas in depth order, their exact quantisation against the union,
and the per-instance records (depth, box, frame cuts, visible fraction)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.compose import over
from augment.instances import instance_records, quantise_visible, visible_alphas


def _layers(seed: int, n: int, hw: tuple[int, int], soft: bool = True) -> list[np.ndarray]:
    """n alphas: random discs with soft rims and some exact 0 / 1 pixels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: hw[0], : hw[1]].astype(np.float32)
    out = []
    for _ in range(n):
        cy, cx = rng.uniform(-4, hw[0] + 4), rng.uniform(-4, hw[1] + 4)
        r = rng.uniform(1, max(hw) + 2)
        d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        a = np.clip((r - d) / (rng.uniform(0.5, 6) if soft else 0.5), 0, 1).astype(np.float32)
        a *= np.float32(rng.choice([1.0, rng.uniform(0.2, 1.0)]))  # some semi-transparent layers
        out.append(a)
    return out


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6), bits=st.sampled_from([8, 16]),
       h=st.integers(1, 24), w=st.integers(1, 24))
def test_quantised_visible_levels_sum_to_the_union_and_stay_within_a_level(seed, n, bits, h, w):
    alphas = _layers(seed, n, (h, w))
    scale = (1 << bits) - 1
    _, union = over([(np.zeros((h, w, 3), np.uint8), a) for a in alphas])  # as render makes alpha.png
    union_levels = np.rint(union.astype(np.float64) * scale).astype(np.int32)
    levels = quantise_visible(alphas, union_levels, bits)
    assert levels.shape == (n, h, w) and levels.dtype == np.int32
    assert (levels >= 0).all()
    np.testing.assert_array_equal(levels.sum(axis=0), union_levels)  # exactly, on every pixel
    vis = visible_alphas(alphas).astype(np.float64) * scale
    assert np.abs(levels - vis).max() <= 1.0 + 1e-3
    # never in front of its own occluders: v_d <= a_d * (1 - a_e) for every e in front of d
    for d in range(n):
        for e in range(d):
            bound = alphas[d].astype(np.float64) * (1.0 - alphas[e]) * scale
            assert (levels[d] <= bound + 1.0 + 1e-3).all()


def test_visible_alphas_values():
    a0 = np.array([[1.0, 0.5, 0.0]], np.float32)
    a1 = np.array([[1.0, 1.0, 0.25]], np.float32)
    v = visible_alphas([a0, a1])
    np.testing.assert_allclose(v[0], [[1.0, 0.5, 0.0]])
    np.testing.assert_allclose(v[1], [[0.0, 0.5, 0.25]])
    np.testing.assert_allclose(v.sum(axis=0), 1 - (1 - a0) * (1 - a1))


def test_quantise_rejects_bad_input():
    a = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match="bits"):
        quantise_visible([a], np.zeros((2, 2)), 12)
    with pytest.raises(ValueError, match="union_levels has shape"):
        quantise_visible([a], np.zeros((3, 2)), 8)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        quantise_visible([a + 2], np.zeros((2, 2)), 8)
    with pytest.raises(ValueError, match="at least one"):
        visible_alphas([])


def test_records_boxes_cuts_depths_and_fractions():
    own = np.zeros((2, 6, 8), np.int32)
    own[0, 1:4, 2:5] = 255  # inside the canvas
    own[1, 0:6, 4:8] = 100  # touches top, bottom and right
    vis = own.copy()
    vis[0, 1:4, 4] = 0  # the front one (id 1) hides column 4 of id 0
    recs = instance_records(vis, own, depths=[1, 0], foreground_ids=["a", "b"])
    r0, r1 = (r.to_dict() for r in recs)
    assert r0 == {"id": 0, "depth": 1, "box": [2, 1, 4, 4], "cut": [False, False, False, False],
                  "foreground_id": "a", "visible_fraction": round(6 / 9, 6)}
    assert r1["box"] == [4, 0, 8, 6] and r1["cut"] == [True, True, True, False] and r1["visible_fraction"] == 1.0
    empty = instance_records(np.zeros((1, 3, 3), np.int32), np.zeros((1, 3, 3), np.int32), [0], ["z"])[0]
    assert empty.box == (0, 0, 0, 0) and empty.visible_fraction == 0.0 and empty.cut == (False,) * 4
    with pytest.raises(ValueError, match="permutation"):
        instance_records(vis, own, depths=[0, 0], foreground_ids=["a", "b"])
