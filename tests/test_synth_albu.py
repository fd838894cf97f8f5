"""Albumentations steps in a recipe: checked at validate and at build start, one-line errors
naming the recipe field."""
from __future__ import annotations


import pytest
import yaml
from click.testing import CliRunner

from synth.albu import build_transform, check_transforms
from synth.build import BuildError, build
from synth.cli import main
from synth.recipe import AlbumentationsStep, parse_recipe

from conftest import procedural_recipe

FIELD = "foreground_augment.albumentations"


def _steps(*steps: tuple[str, dict]) -> list[AlbumentationsStep]:
    return [AlbumentationsStep(name=n, params=p) for n, p in steps]


@pytest.mark.parametrize("steps, message", [
    ([("HorizontalFlip", {}), ("Foo", {})], f"{FIELD}.1.name: unknown transform 'Foo' (not an albumentations transform)"),
    ([("Compose", {})], f"{FIELD}.0.name: unknown transform 'Compose' (not an albumentations transform)"),
    ([("HorizontalFlip", {}), ("HorizontalFlip", {}), ("GaussNoise", {"std_range": [5, -1]})],
     f"{FIELD}.2.params: bad parameters for GaussNoise: std_range: All values in (5.0, -1.0) must be >= 0 and <= 1"),
    ([("RandomCrop", {"height": 10})], f"{FIELD}.0.params: bad parameters for RandomCrop: width: Field required"),
    ([("Affine", {"scale": "x"})],
     f"{FIELD}.0.params: bad parameters for Affine: scale.tuple[float, float]: Input should be a valid tuple "
     "(and 2 more problem(s))"),
    ([("GaussNoise", {"stdd": 3})],
     f"{FIELD}.0.params: bad parameters for GaussNoise: Argument(s) 'stdd' are not valid for transform GaussNoise"),
])
def test_bad_steps_are_one_line_errors_naming_the_field(steps, message):
    with pytest.raises(ValueError) as info:
        check_transforms(_steps(*steps))
    assert str(info.value) == message


def test_good_steps_build():
    check_transforms([])
    t = build_transform(_steps(("HorizontalFlip", {"p": 0.5}), ("GaussNoise", {"std_range": [0.01, 0.05]})))
    assert [type(x).__name__ for x in t.transforms] == ["HorizontalFlip", "GaussNoise"]


def _recipe(albu: list[dict]) -> dict:
    d = procedural_recipe(seed=1, fg=(3, (48, 48)), bg=(2, (48, 48)), canvas=(32, 32), per_shard=4, samples=(4, 2))
    d["foreground_augment"]["albumentations"] = albu
    return d


def test_build_checks_steps_before_reading_inputs_and_validate_too(tmp_path):
    bad = _recipe([{"name": "HorizontalFlip"}, {"name": "GaussNoise", "params": {"std_range": [5, -1]}}])
    with pytest.raises(BuildError, match=rf"^{FIELD}\.1\.params: bad parameters for GaussNoise: std_range: "):
        build(parse_recipe(bad), tmp_path / "out", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(bad))
    for args in (["validate", str(path), "--no-inputs"], ["build", str(path), "-o", str(tmp_path / "o"), "--workers", "0"]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 1
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and f"{FIELD}.1.params: bad parameters for GaussNoise: std_range:" in lines[0], args
        assert len(lines[0]) < 250 and "pydantic" not in lines[0]
    assert not (tmp_path / "o").exists()
    # the corrected recipe builds into the same folder
    good = _recipe([{"name": "HorizontalFlip"}, {"name": "GaussNoise", "params": {"std_range": [0.01, 0.05]}}])
    assert build(parse_recipe(good), tmp_path / "o", cache_dir=tmp_path / "cache").total_samples == 6
