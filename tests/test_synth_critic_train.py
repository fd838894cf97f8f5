"""synth/critic/train.py and model.py: training is deterministic for a seed and leaves torch's
global state alone; on procedural photographs a hard binary paste is detected and two sets
of real patches are not told apart."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from augment.degrade import jpeg_recompress
from synth.critic.evaluate import roc_auc
from synth.critic.patches import boundary_centres, cut_patches

torch = pytest.importorskip("torch")

from synth.critic.train import TrainConfig, score_patches, train_detector  # noqa: E402

SIZE, PATCH = 96, 16


def _field(rng: np.random.Generator, cells: int, amp: float) -> np.ndarray:
    low = rng.uniform(0, 1, (cells, cells, 3)).astype(np.float32)
    smooth = cv2.resize(low, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
    return np.clip(smooth * amp + rng.uniform(0, 1 - amp), 0, 1)


def _scene(rng: np.random.Generator, hard: bool) -> tuple[np.ndarray, np.ndarray]:
    """A photograph of a blob in front of a scene (camera blur, noise, JPEG), or the same
    layers pasted with the blob's alpha thresholded (the broken pipeline). (image, alpha)."""
    f, b = _field(rng, 3, 0.6), _field(rng, 5, 0.8)
    big = np.zeros((SIZE * 4, SIZE * 4), np.uint8)
    centre = tuple(int(v) for v in rng.integers(SIZE * 4 // 3, SIZE * 8 // 3, 2))
    axes = tuple(int(v) for v in rng.integers(SIZE // 2, SIZE, 2))
    cv2.ellipse(big, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    alpha = cv2.resize(big.astype(np.float32) / 255, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    camera = 1.2

    def shoot(img: np.ndarray) -> np.ndarray:
        img = cv2.GaussianBlur(img, (0, 0), camera)
        return np.clip(img + rng.normal(0, 0.01, img.shape), 0, 1).astype(np.float32)

    if hard:
        a = (alpha >= 0.5).astype(np.float32)[..., None]
        image = a * shoot(f) + (1 - a) * shoot(b)
    else:
        image = shoot(alpha[..., None] * f + (1 - alpha[..., None]) * b)
    return jpeg_recompress((image * 255).round().astype(np.uint8), 90), alpha


def _patches(seed: int, n_images: int, hard: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_images):
        image, alpha = _scene(rng, hard)
        out.append(cut_patches(image, boundary_centres(alpha, rng, 6, PATCH), PATCH))
    return np.concatenate(out)


def _dataset(seed: int, hard_positive: bool) -> tuple[np.ndarray, np.ndarray]:
    """Negatives: real scenes; positives: hard pastes, or other real scenes (real vs real)."""
    neg = _patches(seed, 60, hard=False)
    pos = _patches(seed + 1000, 60, hard=hard_positive)
    return np.concatenate([neg, pos]), np.repeat(np.array([0, 1], np.int8), [len(neg), len(pos)])


CONFIG = TrainConfig(epochs=10, batch_size=32, lr=4e-3)


def test_training_is_deterministic_for_a_seed_and_leaves_global_state_alone():
    x, y = _dataset(0, hard_positive=True)
    x, y = x[::3], y[::3]
    torch.manual_seed(123)
    before = torch.get_rng_state()
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    a = train_detector(x, y, seed=5, config=TrainConfig(epochs=2))
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.get_num_threads() == threads and torch.are_deterministic_algorithms_enabled() == det
    b = train_detector(x, y, seed=5, config=TrainConfig(epochs=2))
    c = train_detector(x, y, seed=6, config=TrainConfig(epochs=2))
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert np.array_equal(score_patches(a, x), score_patches(b, x))
    assert not np.array_equal(score_patches(a, x), score_patches(c, x))


def test_a_hard_binary_paste_is_detected():
    x_train, y_train = _dataset(1, hard_positive=True)
    x_test, y_test = _dataset(2, hard_positive=True)
    model = train_detector(x_train, y_train, seed=0, config=CONFIG)
    assert roc_auc(score_patches(model, x_test), y_test) >= 0.9


def test_real_against_real_is_not_told_apart():
    x_train, y_train = _dataset(3, hard_positive=False)
    x_test, y_test = _dataset(4, hard_positive=False)
    model = train_detector(x_train, y_train, seed=0, config=CONFIG)
    assert abs(roc_auc(score_patches(model, x_test), y_test) - 0.5) <= 0.1


def test_bad_inputs():
    x = np.zeros((4, PATCH, PATCH, 3), np.uint8)
    with pytest.raises(ValueError, match="both present"):
        train_detector(x, np.zeros(4, np.int8), seed=0)
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="uint8"):
        score_patches(train_detector(x, np.array([0, 1, 0, 1]), 0, TrainConfig(epochs=1)), x.astype(np.float32))
