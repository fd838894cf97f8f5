"""The build state: a build that stopped before its first shard blocks neither the next
build nor --resume; a folder with shards still refuses both without the right state."""
from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

import synth.build as build_module
from shards.manifest import read_manifest
from synth.build import BuildError, build
from synth.cli import main
from synth.output import OutputFolder
from synth.recipe import parse_recipe
from synth.resume import STATE_NAME, existing_outputs

from conftest import procedural_recipe


def _raw(seed: int = 1) -> dict:
    return procedural_recipe(seed=seed, fg=(3, (48, 48)), bg=(2, (48, 48)), canvas=(32, 32), per_shard=4,
                             samples=(4, 2))


def _recipe(seed: int = 1):
    return parse_recipe(_raw(seed))


def _fail_before_first_shard(tmp_path, monkeypatch):
    def broken(plan, split, index):
        raise RuntimeError("boom")

    with monkeypatch.context() as m:
        m.setattr(build_module, "render_sample", broken)
        with pytest.raises(BuildError, match="boom"):
            build(_recipe(), tmp_path / "out", cache_dir=tmp_path / "cache")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [STATE_NAME]


@pytest.mark.parametrize("flags", [[], ["--resume"]])
def test_a_build_that_failed_before_any_shard_does_not_block_the_next(tmp_path, monkeypatch, flags):
    _fail_before_first_shard(tmp_path, monkeypatch)
    assert existing_outputs(OutputFolder(tmp_path / "out")) == []
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(_raw(seed=2)))  # another recipe even: nothing is kept
    res = CliRunner().invoke(main, ["build", str(tmp_path / "r.yaml"), "-o", str(tmp_path / "out"), "--workers", "0",
                                    "--quiet", "--limit", "2", "--cache-dir", str(tmp_path / "cache"), *flags])
    assert res.exit_code == 0, res.output
    assert read_manifest(tmp_path / "out").splits == {"train": 2, "val": 2}


def test_shards_without_state_or_with_another_state_still_refuse(tmp_path):
    build(_recipe(), tmp_path / "out", cache_dir=tmp_path / "cache")
    with pytest.raises(BuildError, match="already contains a dataset"):
        build(_recipe(), tmp_path / "out", cache_dir=tmp_path / "cache")
    (tmp_path / "out" / "manifest.json").unlink()
    with pytest.raises(BuildError, match="recipe or its inputs changed"):
        build(_recipe(seed=2), tmp_path / "out", cache_dir=tmp_path / "cache", resume=True)
    (tmp_path / "out" / STATE_NAME).unlink()
    with pytest.raises(BuildError, match="no build state found"):
        build(_recipe(), tmp_path / "out", cache_dir=tmp_path / "cache", resume=True)
