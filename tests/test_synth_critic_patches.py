"""synth/critic/patches.py: patches straddle the boundary (checked on the alpha's values),
real-edge patches sit on edges away from the subject, contrast matching gives equal
histograms."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from synth.critic.patches import boundary_centres, cut_patches, edge_centres, edge_contrast, match_contrast


def _soft_disc(h: int = 120, w: int = 160, r: float = 35.0, soft: float = 4.0) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    d = np.hypot(yy - h / 2, xx - w / 2)
    return np.clip((r - d) / soft + 0.5, 0, 1).astype(np.float32)


@pytest.mark.parametrize("soft", [4.0, 1e-3])  # a soft edge and a hard binary step
@pytest.mark.parametrize("size", [16, 21])
def test_boundary_patches_straddle_the_alpha_boundary(soft, size):
    alpha = _soft_disc(soft=soft)
    centres = boundary_centres(alpha, np.random.default_rng(0), 40, size)
    assert centres.shape == (40, 2) and centres.dtype == np.int64
    assert len({tuple(c) for c in centres.tolist()}) == 40
    windows = cut_patches(np.repeat((alpha * 255).astype(np.uint8)[..., None], 3, axis=2), centres, size)
    for (y, x), win in zip(centres, windows):
        a = alpha[y - size // 2:y - size // 2 + size, x - size // 2:x - size // 2 + size]
        assert a.shape == (size, size)
        assert a.min() <= 0.1 and a.max() >= 0.9  # both sides in the patch
        ring = alpha[y - 1:y + 2, x - 1:x + 2]
        assert 0.1 < alpha[y, x] < 0.9 or (ring.min() <= 0.1 and ring.max() >= 0.9)  # centre on the boundary
        assert abs(np.hypot(y - 60, x - 80) - 35) <= 3  # on the disc's outline
        assert np.array_equal(win[..., 0], (a * 255).astype(np.uint8))
    assert np.array_equal(centres, boundary_centres(alpha, np.random.default_rng(0), 40, size))


def test_no_boundary_no_patches_and_bad_sizes():
    flat = np.zeros((64, 64), np.float32)
    assert boundary_centres(flat, np.random.default_rng(0), 10, 16).shape == (0, 2)
    # a boundary too close to the picture's border for a whole patch is not used
    edge = np.zeros((64, 64), np.float32)
    edge[:, 62:] = 1
    assert boundary_centres(edge, np.random.default_rng(0), 10, 16).shape == (0, 2)
    with pytest.raises(ValueError, match="smaller than the patch"):
        boundary_centres(flat[:8], np.random.default_rng(0), 1, 16)
    with pytest.raises(ValueError, match="patch size"):
        boundary_centres(flat, np.random.default_rng(0), 1, 2)
    with pytest.raises(ValueError, match="outside"):
        cut_patches(np.zeros((64, 64, 3), np.uint8), np.array([[2, 30]]), 16)


def test_edge_patches_sit_on_real_edges_away_from_the_subject():
    rng = np.random.default_rng(1)
    image = np.full((128, 192, 3), 60, np.uint8)
    image[:, 96:] = 190  # one vertical edge at x = 95.5
    image = cv2.GaussianBlur(image, (0, 0), 1.0)
    image = np.clip(image + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)
    avoid = np.zeros((128, 192), np.float32)
    avoid[:50, 70:130] = 0.5  # a subject over the top of the edge
    size = 16
    centres = edge_centres(image, np.random.default_rng(0), 30, size, avoid=avoid)
    assert 5 <= len(centres) <= 30
    assert np.all(np.abs(centres[:, 1] - 95.5) <= 1.5)  # on the edge
    reach = int(np.ceil(size * 1.42))
    assert np.all(centres[:, 0] > 49 + reach)  # the patch diagonal away from the subject
    patches = cut_patches(image, centres, size)
    assert np.all(edge_contrast(patches) > 100)  # both sides of the edge inside


def test_edge_contrast_values():
    flat = np.full((1, 8, 8, 3), 77, np.uint8)
    step = np.zeros((1, 8, 8, 3), np.uint8)
    step[:, :, 4:] = 255
    assert edge_contrast(flat)[0] == 0.0
    assert edge_contrast(step)[0] == pytest.approx(255.0, abs=0.01)
    assert edge_contrast(np.zeros((0, 8, 8, 3), np.uint8)).shape == (0,)


def test_contrast_matching_gives_equal_histograms():
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 100, 500)  # composite side: flat
    b = rng.gamma(2.0, 20.0, 900)  # real side: skewed, more of them
    ka, kb = match_contrast(a, b, np.random.default_rng(3), bins=8)
    assert len(ka) == len(kb) > 200
    assert len(set(ka.tolist())) == len(ka) and len(set(kb.tolist())) == len(kb)
    edges = np.quantile(np.concatenate([a, b]), np.linspace(0, 1, 9))
    ha, _ = np.histogram(a[ka], edges)
    hb, _ = np.histogram(b[kb], edges)
    assert np.array_equal(ha, hb)
    assert abs(np.median(a[ka]) - np.median(b[kb])) < 3
    empty = match_contrast(a, np.zeros(0), np.random.default_rng(0))
    assert empty[0].size == 0 and empty[1].size == 0


# ------------------------------------------------------------------ sharpness: the defocus control

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from synth.critic.patches import edge_sharpness, match_joint  # noqa: E402


def _step(sigma: float, contrast: float, size: int = 32) -> np.ndarray:
    x = np.zeros((size, size), np.float32)
    x[:, size // 2:] = contrast
    if sigma > 0:
        x = cv2.GaussianBlur(x, (0, 0), sigma)
    return np.repeat((x + 60)[..., None], 3, axis=2).clip(0, 255).astype(np.uint8)


def test_edge_sharpness_falls_with_blur_and_ignores_contrast():
    sharp = edge_sharpness(np.stack([_step(s, 120) for s in (0, 1, 2, 4)]))
    assert np.all(np.diff(sharp) < 0)
    assert sharp[0] == pytest.approx(0.5, abs=0.01) and sharp[3] == pytest.approx(0.1, abs=0.02)
    assert np.allclose(edge_sharpness(np.stack([_step(2, c) for c in (30, 60, 120)])), sharp[2], atol=0.01)
    assert edge_sharpness(np.zeros((0, 8, 8, 3), np.uint8)).shape == (0,)
    with pytest.raises(ValueError, match="edge_sharpness"):
        edge_sharpness(np.zeros((2, 8, 8), np.uint8))


@settings(max_examples=30, deadline=None)
@given(na=st.integers(0, 60), nb=st.integers(0, 60), seed=st.integers(0, 2**32), bins=st.integers(1, 4))
def test_joint_matching_gives_equal_joint_histograms(na, nb, seed, bins):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0, 1, (na, 2)), rng.uniform(0, 1, (nb, 2)) ** 2
    ka, kb = match_joint(a, b, np.random.default_rng(seed), (3, bins))
    assert len(ka) == len(kb) and len(set(ka.tolist())) == len(ka) and len(set(kb.tolist())) == len(kb)
    if len(ka):
        pooled = np.concatenate([a, b])
        cells = []
        for x in (a[ka], b[kb]):
            c = np.zeros(len(x), np.int64)
            for d, n in enumerate((3, bins)):
                edges = np.unique(np.quantile(pooled[:, d], np.linspace(0, 1, n + 1)))
                c = c * n + np.clip(np.searchsorted(edges, x[:, d], side="right") - 1, 0, max(len(edges) - 2, 0))
            cells.append(sorted(c.tolist()))
        assert cells[0] == cells[1]
    with pytest.raises(ValueError, match="match_joint"):
        match_joint(a, b, np.random.default_rng(0), (3,))


def test_sharp_composites_are_matched_to_sharp_real_edges():
    """Blurred real edges against sharp composite edges: contrast matching keeps the gap,
    joint matching keeps only the overlap."""
    comp = np.stack([_step(s, c) for s in (0, 0.5, 1, 1.5) for c in (40, 80, 120)] * 3)
    real = np.stack([_step(s, c) for s in (0.5, 1, 2, 3, 4, 5) for c in (40, 80, 120)] * 3)
    stats_c = np.stack([edge_contrast(comp), edge_sharpness(comp)], 1)
    stats_r = np.stack([edge_contrast(real), edge_sharpness(real)], 1)
    ka, kb = match_joint(stats_c, stats_r, np.random.default_rng(0), (4, 4))
    kc, kr = match_contrast(stats_c[:, 0], stats_r[:, 0], np.random.default_rng(0), bins=4)
    gap_joint = abs(stats_c[ka, 1].mean() - stats_r[kb, 1].mean())
    gap_contrast = abs(stats_c[kc, 1].mean() - stats_r[kr, 1].mean())
    assert len(ka) > 0 and gap_joint < 0.5 * gap_contrast
