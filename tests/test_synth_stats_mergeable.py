"""synth.stats.mergeable: moments and histograms merge to the one-pass values."""
from __future__ import annotations

import numpy as np
import pytest

from synth.stats.mergeable import Histogram, Moments, scalar_acc


def test_moments_and_histogram_merge_equal_one_pass():
    rng = np.random.default_rng(0)
    x = rng.normal(0.5, 0.3, 1000)
    one, a, b = scalar_acc("alpha.coverage"), scalar_acc("alpha.coverage"), scalar_acc("alpha.coverage")
    one.add_array(x)
    a.add_array(x[:300])
    b.add_array(np.r_[x[300:], np.nan])
    a.merge(b)
    sa, so = a.summary(), one.summary()
    assert sa["n"] == so["n"] == 1000 and sa["nonfinite"] == 1
    assert sa["mean"] == pytest.approx(x.mean()) and sa["std"] == pytest.approx(x.std())
    assert sa["min"] == x.min() and sa["max"] == x.max()
    assert sa["hist"]["counts"] == so["hist"]["counts"]
    h = a.hist
    assert h.under == np.count_nonzero(x < 0) and h.over == np.count_nonzero(x > 1)
    assert sum(h.counts) + h.under + h.over == 1000
    assert abs(h.quantile(0.5) - np.median(x)) < 0.03  # bins are 0.02 wide


def test_histogram_rejects_mismatched_merge_and_bad_bins():
    with pytest.raises(ValueError, match="hi > lo"):
        Histogram(1.0, 0.0, 10)
    with pytest.raises(ValueError, match="bins differ"):
        Histogram(0, 1, 10).merge(Histogram(0, 1, 20))
    assert Moments().summary()["mean"] is None
