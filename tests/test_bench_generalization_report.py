"""The report of benchmarks/generalization.py (benchmarks/generalization_report.py): paired
changes, their interval, and the per-photo table, on hand-made results."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from generalization_report import paired_interval, per_photo, report  # noqa: E402


def _run(sads: dict[str, float]) -> dict:
    per = {p: {"sad": v, "mse": 10 * v, "grad": v / 10} for p, v in sads.items()}
    mean = {k: float(np.mean([e[k] for e in per.values()])) for k in ("sad", "mse", "grad")}
    return {"real": {**mean, "per_image": per}, "comp": {"sad": 1.0, "mse": 10.0, "grad": 0.1}}


RESULTS = {
    "naive": {0: _run({"GT13": 10.0, "GT14": 20.0}), 1: _run({"GT13": 10.0, "GT14": 20.0})},
    "portrait": {0: _run({"GT13": 8.0, "GT14": 21.0}), 1: _run({"GT13": 9.0, "GT14": 19.0})},
}


def test_per_photo_gives_each_photos_mean_change_and_how_often_it_is_lower():
    lines = per_photo(RESULTS, ["naive", "portrait"], [0, 1])
    assert "GT13" in lines[1] and "GT14" in lines[1]
    assert lines[2].split()[1:] == ["10.000", "20.000"]  # naive's own SAD per photo
    # GT13: -20 % and -10 % -> -15 %, lower on both; GT14: +5 % and -5 % -> 0 %, lower on one
    assert lines[3].split()[1:] == ["-15.0%", "(2/2)", "+0.0%", "(1/2)"]


def test_per_photo_is_left_out_for_runs_without_per_photo_errors():
    old = {v: {s: {"real": {k: r["real"][k] for k in ("sad", "mse", "grad")}, "comp": r["comp"]}
               for s, r in runs.items()} for v, runs in RESULTS.items()}
    assert per_photo(old, ["naive", "portrait"], [0, 1]) == []
    assert "per photo" not in report(old, ["naive", "portrait"], [0, 1])
    assert "per photo" in report(RESULTS, ["naive", "portrait"], [0, 1])


def test_report_paired_changes_and_interval():
    text = report(RESULTS, ["naive", "portrait"], [0, 1])
    # seed 0: 14.5 vs 15 -> -3.3 %; seed 1: 14 vs 15 -> -6.7 %
    assert "seed 0:   -3.3%" in text and "seed 1:   -6.7%" in text and "mean   -5.0%" in text
    lo, hi = paired_interval([-1 / 30, -1 / 15])
    half = 12.706 * np.std([-1 / 30, -1 / 15], ddof=1) / np.sqrt(2)
    assert lo == pytest.approx(-0.05 - half) and hi == pytest.approx(-0.05 + half)
    assert paired_interval([0.1]) == (0.1, 0.1)
