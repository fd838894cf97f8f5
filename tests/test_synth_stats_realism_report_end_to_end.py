"""End to end on real data: portrait.yaml's composites sit closer to real photos than naive.yaml's.

A small version of `benchmarks/bench_realism.py` (60 samples per recipe at 320², the same
sources and seed for both): it guards the realistic pipeline as a whole, so a step that stops
working (or starts hurting) shows up as a distance ratio, not only in a unit test of its own.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from synth.build import build
from synth.stats.realism_report import compare, measure_dataset, measure_photos
from synth.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.realdata


def _dataset(name: str, data: Path, out: Path, cache: Path) -> list[dict[str, float]]:
    overrides = [
        f"foregrounds.0.image_dir={data / 'alphamatting' / 'image'}",
        f"foregrounds.0.alpha_dir={data / 'alphamatting' / 'alpha'}",
        f"backgrounds.0.path={data / 'backgrounds'}",
        "canvas.height=320", "canvas.width=320",
        "splits=[{name: train, fraction: 1.0, samples: 60}]",
        "background_split=shared", "seed=0",
    ]
    build(load_recipe(ROOT / "recipes" / f"{name}.yaml", overrides), out / name, cache_dir=cache)
    return measure_dataset(out / name)


def test_portrait_is_at_most_half_as_far_from_real_photos_as_naive(shared_data, tmp_path):
    reference = measure_photos(shared_data / "alphamatting" / "image", shared_data / "alphamatting" / "alpha")
    measures = {name: _dataset(name, shared_data, tmp_path, tmp_path / "cache") for name in ("naive", "portrait")}
    assert all(len(m) == 60 for m in measures.values())
    rows = {r.indicator: r for r in compare(reference, measures)}
    # W(portrait) / W(naive) on the indicators where naive is measurably off. Measured with
    # bench_realism.py at this size: noise 0.18, sharpness 0.20, contrast 0.29 (0.44 without
    # the backdrop step), spill 0.17 (~1 with the photo as F): the target is 0.5, and
    # contrast must also keep what the backdrop step brings
    bounds = {"noise_log_ratio": 0.5, "sharpness_log_ratio": 0.5, "lab_std_log_ratio": 0.37, "spill_residual": 0.5}
    for indicator, bound in bounds.items():
        ratio = rows[indicator].ratio("portrait", "naive")
        assert ratio < bound, (indicator, ratio, rows[indicator].distances)
