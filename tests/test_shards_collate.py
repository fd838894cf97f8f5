"""shards.collate: batches equal torch.stack of the samples."""
from __future__ import annotations

import cv2
import numpy as np


def test_collate_deinterleaves_like_torch_stack():
    import torch

    from shards.collate import collate_matting, to_tensor_sample

    rng = np.random.default_rng(0)
    samples = []
    for i in range(5):
        img = rng.integers(0, 256, (30, 34, 3), dtype=np.uint8)
        arrays = {"image": img[2:26, 3:31] if i % 2 else np.ascontiguousarray(img[:24, :28]),
                  "alpha": rng.random((24, 28), dtype=np.float32),
                  "trimap": rng.integers(0, 256, (30, 28), dtype=np.uint8)[3:27],
                  "fg": cv2.flip(img[:24, :28], 1)}
        sample = to_tensor_sample(arrays)
        sample.update(key=str(i), index=i)
        samples.append(sample)
    batch = collate_matting(samples)
    for name in ("image", "alpha", "trimap", "fg"):
        expect = torch.stack([s[name] for s in samples])
        assert torch.equal(batch[name], expect) and batch[name].is_contiguous(), name
    normed = [to_tensor_sample({"image": rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)}, normalize=True)
              for _ in range(3)]
    got = collate_matting(normed)["image"]
    assert got.dtype == torch.float32 and torch.equal(got, torch.stack([s["image"] for s in normed]))
