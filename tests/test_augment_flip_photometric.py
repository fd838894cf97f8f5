"""augment.flip and augment.photometric, and the package surface."""
from __future__ import annotations

import json

import numpy as np
import pytest

import augment
from augment.flip import Flip, apply_flip, sample_flip
from augment.photometric import photometric_jitter


def test_sample_flip_probabilities_and_determinism():
    rng = np.random.default_rng(0)
    flips = [sample_flip(rng) for _ in range(1000)]
    assert 400 < sum(f.horizontal for f in flips) < 600
    assert not any(f.vertical for f in flips)
    always = sample_flip(rng, p_horizontal=1.0, p_vertical=1.0)
    assert always == Flip(horizontal=True, vertical=True)
    assert sample_flip(np.random.default_rng(9)) == sample_flip(np.random.default_rng(9))
    assert json.loads(json.dumps(always.to_dict())) == {"horizontal": True, "vertical": True}
    with pytest.raises(ValueError, match=r"p_vertical must be a probability in \[0, 1\], got 1.5"):
        sample_flip(rng, p_vertical=1.5)


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 1), (5, 7, 3), (5, 7, 6)])
def test_apply_flip_matches_numpy(shape):
    arr = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    np.testing.assert_array_equal(apply_flip(Flip(True, False), arr), arr[:, ::-1])
    np.testing.assert_array_equal(apply_flip(Flip(False, True), arr), arr[::-1])
    np.testing.assert_array_equal(apply_flip(Flip(True, True), arr), arr[::-1, ::-1])
    assert apply_flip(Flip(False, False), arr) is arr


def test_photometric_jitter():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    before = img.copy()
    assert photometric_jitter(img, np.random.default_rng(1), 0.0) is img
    outs = [photometric_jitter(img, np.random.default_rng(s), 1.0) for s in range(8)]
    for o in outs:
        assert o.dtype == np.uint8 and o.shape == img.shape
    np.testing.assert_array_equal(photometric_jitter(img, np.random.default_rng(3), 1.0), outs[3])
    changed = [np.abs(o.astype(int) - img).mean() for o in outs]
    assert max(changed) > 5  # strength 1 visibly changes some images
    weak = [np.abs(photometric_jitter(img, np.random.default_rng(s), 0.05).astype(int) - img).mean()
            for s in range(8)]
    assert max(weak) < max(changed)
    np.testing.assert_array_equal(img, before)  # input untouched
    with pytest.raises(ValueError, match=r"strength must be in \[0, 1\]"):
        photometric_jitter(img, rng, 1.5)
    with pytest.raises(ValueError, match="image must be uint8, got float32"):
        photometric_jitter(img.astype(np.float32), rng, 0.5)


def test_package_exports_and_no_forbidden_imports():
    for name in augment.__all__:
        assert hasattr(augment, name), name
    import subprocess
    import sys

    code = "import sys, augment; print(sorted(m for m in ('synth', 'shards') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
