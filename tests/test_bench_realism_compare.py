"""benchmarks/realism_compare.py and bench_realism.py --json / --against: the before/after
check of a byte-changing change (no realism ratio may leave its earlier 90 % interval)."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_realism  # noqa: E402
from realism_compare import compare_figures, figures, left_interval, read_figures, write_figures  # noqa: E402
from synth.stats.realism_report import INDICATORS, compare, ratio_interval  # noqa: E402


def _measures(rng: np.random.Generator, n: int, shift: float) -> list[dict[str, float]]:
    return [{k: float(rng.normal(shift, 1.0)) for k in INDICATORS} for _ in range(n)]


def test_figures_hold_each_ratio_its_interval_and_distances_and_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    reference = _measures(rng, 18, 0.0)
    measures = {"naive": _measures(rng, 60, 2.0), "portrait": _measures(rng, 60, 0.5)}
    rows = compare(reference, measures)
    intervals = {r.indicator: ratio_interval(reference, measures["portrait"], measures["naive"], r.indicator, draws=50)
                 for r in rows}
    figs = figures(rows, intervals)
    assert set(figs) == set(INDICATORS)
    for r in rows:
        f = figs[r.indicator]
        assert f["ratio"] == pytest.approx(r.distances["portrait"] / r.distances["naive"])
        assert f["interval"] == list(intervals[r.indicator])
        assert f["distances"] == {k: pytest.approx(v) for k, v in r.distances.items()}
        assert f["measurable"] is True  # no sampling floor computed: every indicator counts
    write_figures(tmp_path / "f.json", {"seed": "0", "limit": "60"}, figs)
    again = read_figures(tmp_path / "f.json")
    assert again["indicators"] == figs and again["run"] == {"seed": "0", "limit": "60"}
    lines, left = compare_figures(again, again)
    assert left == [] and len(lines) == 1 + len(INDICATORS)


def test_a_ratio_outside_the_earlier_interval_is_flagged_and_nan_is_null(tmp_path):
    before = {"run": {"seed": "0"}, "indicators": {
        "noise": {"ratio": 0.48, "interval": [0.40, 0.56]},
        "sharpness": {"ratio": 0.20, "interval": [0.18, 0.22]},
        "spill": {"ratio": None, "interval": [None, None]},
    }}
    after = {"run": {"seed": "1"}, "indicators": {
        "noise": {"ratio": 0.56, "interval": [0.49, 0.63]},  # on the edge: inside
        "sharpness": {"ratio": 0.23, "interval": [0.21, 0.25]},  # above 0.22: left
        "spill": {"ratio": 0.3, "interval": [0.2, 0.4]},  # could not be formed before
    }}
    lines, left = compare_figures(before, after)
    assert left == ["sharpness", "spill"]
    assert lines[0].startswith("WARNING: the runs differ in seed (0 / 1)")
    assert any(line.startswith("noise") and line.endswith("| no") for line in lines)
    assert not left_interval(before["indicators"]["spill"], {"ratio": None, "interval": [None, None]})

    class Row:  # a comparison whose ratio cannot be formed (naive at distance 0)
        indicator = "noise"
        distances = {"naive": 0.0, "portrait": 0.0}

        def ratio(self, a, b):
            return math.nan

        def measurable(self, baseline):
            return False

    figs = figures([Row()], {"noise": (math.nan, math.nan)})
    assert figs == {"noise": {"ratio": None, "interval": [None, None], "distances": {"naive": 0.0, "portrait": 0.0},
                              "measurable": False}}
    write_figures(tmp_path / "nan.json", {}, figs)
    assert "NaN" not in (tmp_path / "nan.json").read_text()


def test_against_a_file_that_is_not_a_figures_file_stops_before_any_build(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"rows": []}))
    with pytest.raises(SystemExit, match=r"bad\.json: not a bench_realism --json file"):
        bench_realism.main(["--out", str(tmp_path / "out"), "--against", str(tmp_path / "bad.json")])
    with pytest.raises(SystemExit, match=r"missing\.json: not a bench_realism --json file"):
        bench_realism.main(["--out", str(tmp_path / "out"), "--against", str(tmp_path / "missing.json")])
    assert not (tmp_path / "out").exists()
