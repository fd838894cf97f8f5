"""synth/critic/weights.py and score.py: the weights file is deterministic and checked, scoring a
composite is deterministic, leaves torch's thread count and determinism flag as they were, and
ranks a hard paste above a soft composite with the pinned detector."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from synth.critic.model import PatchCritic  # noqa: E402
from synth.critic.score import load_critic, score_composite  # noqa: E402
from synth.critic.weights import load_model, read_weights, save_weights  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PINNED = ROOT / "synth" / "critic" / "weights" / "portrait-gt01-12-sharp.critic"


def _state(seed: int, width: int = 4) -> dict[str, np.ndarray]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = PatchCritic(width)
    return {k: v.numpy() for k, v in model.state_dict().items()}


def test_weights_round_trip_and_same_weights_same_bytes(tmp_path):
    header = {"width": 4, "patch": 32, "canvas": 128, "training": {"photos": ["a.png"]}}
    sha1 = save_weights(_state(1), header, tmp_path / "a.critic")
    sha2 = save_weights(_state(1), header, tmp_path / "b.critic")
    assert sha1 == sha2 and (tmp_path / "a.critic").read_bytes() == (tmp_path / "b.critic").read_bytes()
    assert save_weights(_state(2), header, tmp_path / "c.critic") != sha1
    head, state = read_weights(tmp_path / "a.critic")
    assert head["training"] == {"photos": ["a.png"]} and head["width"] == 4
    for name, value in _state(1).items():
        if value.dtype.kind == "f":
            np.testing.assert_array_equal(state[name], value)
        else:
            assert name not in state  # integer counters are left out
    model, _ = load_model(tmp_path / "a.critic")
    assert not model.training
    x = torch.zeros(2, 3, 32, 32)
    ref = PatchCritic(4)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in _state(1).items()})
    ref.eval()
    with torch.no_grad():
        assert torch.equal(model(x), ref(x))


def test_bad_weights_files_are_refused_by_name(tmp_path):
    bad = tmp_path / "bad.critic"
    bad.write_bytes(b"not a critic")
    with pytest.raises(ValueError, match="bad.critic: not a critic weights file"):
        read_weights(bad)
    with pytest.raises(ValueError, match="header\\['width'\\]"):
        save_weights(_state(1), {"patch": 32, "canvas": 64}, tmp_path / "x.critic")
    save_weights(_state(1), {"width": 8, "patch": 32, "canvas": 64}, tmp_path / "wrong.critic")
    with pytest.raises(ValueError, match="do not fit PatchCritic"):
        load_model(tmp_path / "wrong.critic")
    good = tmp_path / "good.critic"
    save_weights(_state(1), {"width": 4, "patch": 32, "canvas": 64}, good)
    with pytest.raises(ValueError, match="weights changed"):
        load_critic(good, "0" * 64)


def _picture(hard: bool, seed: int = 0, size: int = 192) -> tuple[np.ndarray, np.ndarray]:
    """A smooth subject composited on a textured scene: soft (blurred alpha, camera blur on both)
    or pasted with a hard binary alpha and no blur."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((size, size), np.float32)
    cv2.ellipse(mask, (size // 2, size // 2), (size // 3, size // 4), 20.0, 0, 360, 1.0, -1)
    f = np.full((size, size, 3), (200, 170, 150), np.float32) + rng.normal(0, 4, (size, size, 3))
    b = cv2.resize(rng.uniform(20, 120, (12, 12, 3)).astype(np.float32), (size, size))
    if hard:
        a = mask
    else:
        a = cv2.GaussianBlur(mask, (0, 0), 1.5)
        f, b = cv2.GaussianBlur(f, (0, 0), 1.0), cv2.GaussianBlur(b, (0, 0), 3.0)
    image = a[..., None] * f + (1 - a[..., None]) * b
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), a.astype(np.float32)


def test_scoring_is_deterministic_and_restores_torch_state():
    critic = load_critic(PINNED)
    assert load_critic(PINNED) is critic  # cached per process
    image, alpha = _picture(False)
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        s1 = score_composite(critic, image, alpha, np.random.default_rng(5), 16)
        assert torch.get_num_threads() == 2 and not torch.are_deterministic_algorithms_enabled()
        s2 = score_composite(critic, image, alpha, np.random.default_rng(5), 16)
        torch.use_deterministic_algorithms(True)  # no op of the detector is nondeterministic
        try:
            s3 = score_composite(critic, image, alpha, np.random.default_rng(5), 16)
        finally:
            torch.use_deterministic_algorithms(False)
    finally:
        torch.set_num_threads(old)
    assert np.isfinite(s1) and s1 == s2 == s3
    assert np.isnan(score_composite(critic, image, np.zeros_like(alpha), np.random.default_rng(5), 16))


def test_pinned_detector_scores_pastes_above_the_real_photos(shared_data):
    """GT01-GT06 (photos the detector trained on, none that generalization.py evaluates on):
    the photo itself at its boundary scores below the photo pasted on a background (naive
    blend), which scores at most as high as the hard-alpha paste."""
    from synth.sources.imageio import decode_alpha, decode_rgb, read_bytes

    critic = load_critic(PINNED)
    bg = decode_rgb(read_bytes(shared_data / "backgrounds" / "bg001.jpg"), "bg001")
    real, soft, hard = [], [], []
    for i in range(1, 7):
        photo = decode_rgb(read_bytes(shared_data / "alphamatting" / "image" / f"GT{i:02d}.png"), "photo")
        a = decode_alpha(read_bytes(shared_data / "alphamatting" / "alpha" / f"GT{i:02d}.png"), "alpha")
        b = cv2.resize(bg, (a.shape[1], a.shape[0]))
        blend = np.clip(np.rint(a[..., None] * photo + (1 - a[..., None]) * b), 0, 255).astype(np.uint8)
        paste = np.where((a >= 0.5)[..., None], photo, b).astype(np.uint8)
        for out, picture in ((real, photo), (soft, blend), (hard, paste)):
            out.append(score_composite(critic, picture, a, np.random.default_rng(i), 64))
    assert np.mean(real) + 1.0 < np.mean(soft) <= np.mean(hard)
    assert sum(r < s for r, s in zip(real, soft)) >= 5


def test_boundary_patches_at_the_detector_canvas():
    """A composite twice the detector's canvas gives the patches the half-size composite gives
    at the same windows (up to resampling), every one straddling the boundary."""
    from synth.critic.patches import boundary_centres, cut_patches
    from synth.critic.score import boundary_patches

    critic = load_critic(PINNED)
    big, big_alpha = _picture(False, size=2 * critic.canvas)
    got = boundary_patches(critic, big, big_alpha, np.random.default_rng(3), 12)
    assert got.shape == (12, critic.patch, critic.patch, 3) and got.dtype == np.uint8
    small = cv2.resize(big, (critic.canvas, critic.canvas), interpolation=cv2.INTER_AREA)
    small_alpha = cv2.resize(big_alpha, (critic.canvas, critic.canvas), interpolation=cv2.INTER_LINEAR)
    ref = cut_patches(small, boundary_centres(small_alpha, np.random.default_rng(3), 12, critic.patch), critic.patch)
    assert np.abs(got.astype(int) - ref.astype(int)).mean() < 1.0
    # at or below the canvas: the picture's own patches
    image, alpha = _picture(False, size=200)
    np.testing.assert_array_equal(boundary_patches(critic, image, alpha, np.random.default_rng(1), 5),
                                  cut_patches(image, boundary_centres(alpha, np.random.default_rng(1), 5, 32), 32))
