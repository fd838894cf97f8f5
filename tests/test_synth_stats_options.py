"""synth.stats.options: StatsOptions validation."""
from __future__ import annotations

import pytest

from synth.stats import StatsOptions


def test_options_validation():
    with pytest.raises(ValueError, match="phash_distance"):
        StatsOptions(phash_distance=20)
    with pytest.raises(ValueError, match="sample"):
        StatsOptions(sample=0)
