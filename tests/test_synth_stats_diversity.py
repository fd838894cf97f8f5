"""synth.stats.diversity: Gini, entropy, usage summaries."""
from __future__ import annotations

import math

import numpy as np
import pytest

from synth.stats import gini, normalized_entropy, usage_summary


def test_gini_and_entropy_reference_values():
    assert gini([5, 5, 5, 5]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 10]) == pytest.approx(0.75)  # (n-1)/n for one item taking all
    assert gini([1, 2, 3, 4]) == pytest.approx(0.25)
    assert gini([]) is None
    assert normalized_entropy([3, 3, 3]) == pytest.approx(1.0)
    assert normalized_entropy([1]) is None
    p = np.array([1, 3]) / 4
    assert normalized_entropy([1, 3]) == pytest.approx(-(p * np.log(p)).sum() / math.log(2))
    with pytest.raises(ValueError, match=">= 0"):
        gini([1, -1])


def test_usage_summary_flags_overuse():
    counts = {f"id{i}": 2 for i in range(9)} | {"hot": 30}
    s = usage_summary(counts, overuse_factor=3.0, names={"hot": "hot.png"})
    assert s["distinct"] == 10 and s["uses"] == 48 and s["max"] == 30 and s["median"] == 2
    assert s["max_over_median"] == 15 and s["top"][0] == {"id": "hot", "name": "hot.png", "uses": 30}
    assert [o["id"] for o in s["overused"]] == ["hot"]
    assert s["reuse_histogram"] == {"2": 9, "30": 1}
    with pytest.raises(ValueError, match="overuse_factor"):
        usage_summary(counts, overuse_factor=0)
