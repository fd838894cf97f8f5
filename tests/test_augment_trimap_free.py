"""augment.trimap_free: semantic and detail targets against their definitions and OpenCV."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from augment.trimap import make_trimap
from augment.trimap_free import detail_band, semantic_classes, semantic_lowres


@settings(max_examples=40, deadline=None)
@given(a=arrays(np.float32, st.tuples(st.integers(2, 40), st.integers(2, 40)), elements=st.floats(0, 1, width=32)),
       band=st.integers(0, 6))
def test_classes_and_band_follow_the_trimap(a, band):
    tri = make_trimap(a, band)
    cls, det = semantic_classes(tri), detail_band(tri)
    assert cls.dtype == np.uint8 and det.dtype == np.float32
    assert np.array_equal(cls == 0, tri == 0) and np.array_equal(cls == 2, tri == 255)
    assert np.array_equal(cls == 1, tri == 128) and np.array_equal(det == 1, tri == 128)


def test_lowres_is_area_down_then_blur():
    rng = np.random.default_rng(0)
    a = rng.random((64, 48), dtype=np.float32)
    ref = cv2.GaussianBlur(cv2.resize(a, (3, 4), interpolation=cv2.INTER_AREA), (0, 0), 1.0,
                           borderType=cv2.BORDER_REPLICATE)
    assert np.allclose(semantic_lowres(a, 16), ref, atol=1e-6)
    assert semantic_lowres(a, 16).shape == (4, 3) and semantic_lowres(a[:50, :40], 16).shape == (4, 3)
    assert np.array_equal(semantic_lowres(a, 1, sigma=0), a)
    with pytest.raises(ValueError, match="scale"):
        semantic_lowres(a, 0)
    with pytest.raises(ValueError, match="trimap"):
        semantic_classes(a)
