"""Recipe validation: typed models, unknown keys, ranges, overrides, error messages."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from synth.recipe import RecipeError, apply_overrides, load_recipe, recipe_sha256
from synth.recipe.realism import GUIDED_CHOICES

ROOT = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, data: dict, name: str = "r.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return p


def _minimal() -> dict:
    return {
        "foregrounds": [{"kind": "procedural", "count": 4}],
        "backgrounds": [{"kind": "procedural", "count": 4}],
        "splits": [{"name": "train", "fraction": 1.0, "samples": 8}],
    }


def test_repo_recipes_validate():
    for name in ("demo.yaml", "portrait.yaml", "naive.yaml", "instances.yaml"):
        r = load_recipe(ROOT / "recipes" / name)
        assert r.splits[0].name == "train"


def test_unknown_key_names_file_and_path(tmp_path):
    data = _minimal()
    data["canvas"] = {"height": 256, "widht": 256}
    p = _write(tmp_path, data)
    with pytest.raises(RecipeError) as e:
        load_recipe(p)
    msg = str(e.value)
    assert str(p) in msg and "canvas.widht" in msg and "Extra inputs are not permitted" in msg


def test_range_error_names_value(tmp_path):
    data = _minimal()
    data["composition"] = {"placement": {"scale": [0.9, 0.2]}}
    with pytest.raises(RecipeError, match=r"composition\.placement\.scale.*\[0\.9, 0\.2\]"):
        load_recipe(_write(tmp_path, data))
    data = _minimal()
    data["canvas"] = {"height": 5}
    with pytest.raises(RecipeError, match=r"canvas\.height.*got 5"):
        load_recipe(_write(tmp_path, data))


def test_unknown_source_kind(tmp_path):
    data = _minimal()
    data["foregrounds"] = [{"kind": "magic"}]
    with pytest.raises(RecipeError, match=r"foregrounds\.0"):
        load_recipe(_write(tmp_path, data))


def test_split_fractions_and_names(tmp_path):
    data = _minimal()
    data["splits"] = [{"name": "a", "fraction": 0.7, "samples": 1}, {"name": "b", "fraction": 0.7, "samples": 1}]
    with pytest.raises(RecipeError, match="sum to at most 1"):
        load_recipe(_write(tmp_path, data))
    data["splits"] = [{"name": "a.b", "fraction": 0.5, "samples": 1}]
    with pytest.raises(RecipeError, match=r"splits\.0\.name"):
        load_recipe(_write(tmp_path, data))


def test_overrides_set_nested_and_list_fields(tmp_path):
    p = _write(tmp_path, _minimal())
    r = load_recipe(p, ["splits.0.samples=3", "canvas.height=128", "composition.placement.scale=[0.2, 0.4]",
                        "foregrounds.0.count=7"])
    assert r.splits[0].samples == 3 and r.canvas.height == 128
    assert r.composition.placement.scale == (0.2, 0.4) and r.foregrounds[0].count == 7
    with pytest.raises(RecipeError, match="not of the form"):
        load_recipe(p, ["canvas.height"])
    with pytest.raises(RecipeError, match=r"splits\.5: no list item"):
        load_recipe(p, ["splits.5.samples=1"])
    with pytest.raises(RecipeError, match=r"canvas\.height"):
        load_recipe(p, ["canvas.height=abc"])


def test_apply_overrides_does_not_mutate():
    data = _minimal()
    out = apply_overrides(data, ["seed=5"])
    assert out["seed"] == 5 and "seed" not in data


def test_relative_paths_resolve_against_recipe_folder(tmp_path):
    data = _minimal()
    data["backgrounds"] = [{"kind": "folder", "path": "bgs"}]
    r = load_recipe(_write(tmp_path, data))
    assert r.backgrounds[0].path == str((tmp_path / "bgs").resolve())


def test_recipe_hash_ignores_locations_but_not_settings(tmp_path):
    data = _minimal()
    data["backgrounds"] = [{"kind": "folder", "path": "/a/bgs"}]
    a = load_recipe(_write(tmp_path, data, "a.yaml"))
    data["backgrounds"] = [{"kind": "folder", "path": "/b/elsewhere"}]
    b = load_recipe(_write(tmp_path, data, "b.yaml"))
    assert recipe_sha256(a) == recipe_sha256(b)
    data["seed"] = 1
    c = load_recipe(_write(tmp_path, data, "c.yaml"))
    assert recipe_sha256(c) != recipe_sha256(a)


def test_empty_and_non_mapping_files(tmp_path):
    p = tmp_path / "empty.yaml"
    p.write_text("")
    with pytest.raises(RecipeError, match="empty"):
        load_recipe(p)
    p.write_text("- 1\n- 2\n")
    with pytest.raises(RecipeError, match="mapping"):
        load_recipe(p)
    with pytest.raises(RecipeError, match="cannot read"):
        load_recipe(tmp_path / "missing.yaml")


def test_non_utf8_recipe_is_a_one_line_error_naming_the_file(tmp_path):
    p = tmp_path / "latin1.yaml"
    p.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(RecipeError) as info:
        load_recipe(p)
    msg = str(info.value)
    assert msg.startswith(f"{p}: not a UTF-8 text file") and "0xe9 at offset 9" in msg and "\n" not in msg


def test_instance_recipe_validates_and_added_fields_keep_old_hashes(tmp_path):
    r = load_recipe(ROOT / "recipes" / "instances.yaml")
    mf = r.composition.multi_foreground
    assert r.output.targets == ("instances",) and mf.layout == "group" and (mf.min_count, mf.max_count) == (2, 6)
    plain = load_recipe(_write(tmp_path, _minimal()))
    data = plain.to_json_dict()  # fields added later stay out of the canonical JSON at their default
    assert "targets" not in data["output"] and set(data["composition"]["multi_foreground"]) == {
        "p", "max_count", "scale", "behind_p"}
    same = load_recipe(_write(tmp_path, _minimal()), ["output.targets=[]", "composition.multi_foreground.min_count=2",
                                                      "composition.multi_foreground.layout=independent"])
    assert recipe_sha256(same) == recipe_sha256(plain)
    for override in ("composition.multi_foreground.layout=group", "composition.multi_foreground.group.border=2",
                     "composition.multi_foreground.min_count=3"):
        changed = load_recipe(_write(tmp_path, _minimal()), ["composition.multi_foreground.max_count=4", override])
        assert recipe_sha256(changed) != recipe_sha256(load_recipe(
            _write(tmp_path, _minimal()), ["composition.multi_foreground.max_count=4"])), override


@pytest.mark.parametrize("overrides, expect", [
    (["output.targets=[instances, guidanse]", "composition.multi_foreground.p=0.5"],
     "output.targets: unknown target 'guidanse' (known: instances, guidance, semantic, detail)"),
    (["output.targets=[instances]"],
     "output.targets: 'instances' needs multi-foreground composites, but composition.multi_foreground.p is 0"),
    (["output.targets=[instances, instances]", "composition.multi_foreground.p=1"],
     "output.targets: a target is listed twice in ['instances', 'instances']"),
])
def test_target_errors_are_one_line_naming_field_and_value(tmp_path, overrides, expect):
    p = _write(tmp_path, _minimal())
    with pytest.raises(RecipeError) as info:
        load_recipe(p, overrides)
    msg = str(info.value)
    assert msg.startswith(f"{p}: {expect}") and "\n" not in msg
    from click.testing import CliRunner

    from synth.cli import main

    res = CliRunner().invoke(main, ["validate", str(p), "--no-inputs", *[f"--set={o}" for o in overrides]])
    assert res.exit_code != 0 and expect in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("override, field", [
    ("composition.multi_foreground.max_count=7", "composition.multi_foreground.max_count"),
    ("composition.multi_foreground.min_count=5", "min_count must be <= max_count, got min_count=5, max_count=2"),
    ("composition.multi_foreground.layout=crowd", "composition.multi_foreground.layout"),
    ("composition.multi_foreground.group={side: 0, behind: 0, border: 0}", "must not all be 0, got [0.0, 0.0, 0.0]"),
    ("composition.multi_foreground.group.depth_scale=[0.9, 0.5]", "depth_scale must satisfy"),
])
def test_group_fields_are_validated(tmp_path, override, field):
    with pytest.raises(RecipeError, match=re.escape(field)):
        load_recipe(_write(tmp_path, _minimal()), [override])


# ------------------------------------------------------------------ realism.guided (issue 17 part 3)

WEIGHTS = ROOT / "synth" / "critic" / "weights" / "portrait-gt01-12-sharp.critic"


def test_guided_absent_keeps_every_repo_recipe_hash_and_fills_the_weights_sha(tmp_path):
    import hashlib

    for name in ("demo.yaml", "portrait.yaml", "naive.yaml", "instances.yaml"):
        plain = load_recipe(ROOT / "recipes" / name)
        assert "guided" not in plain.to_json_dict()["realism"]
    base = _write(tmp_path, _minimal())
    plain = load_recipe(base)
    guided = load_recipe(base, [f"realism.guided.weights={WEIGHTS}"])
    sha = hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()
    assert guided.realism.guided.sha256 == sha and guided.realism.guided.candidates == 4
    assert guided.to_json_dict()["realism"]["guided"]["sha256"] == sha
    assert recipe_sha256(plain) != recipe_sha256(guided)
    # the weights are identified by content: a copy elsewhere gives the same hash
    copy = tmp_path / "elsewhere" / "w.critic"
    copy.parent.mkdir()
    copy.write_bytes(WEIGHTS.read_bytes())
    assert recipe_sha256(load_recipe(base, [f"realism.guided.weights={copy}"])) == recipe_sha256(guided)


def test_guided_weights_path_resolves_against_the_recipe_and_errors_name_the_field(tmp_path):
    (tmp_path / "w.critic").write_bytes(WEIGHTS.read_bytes())
    rec = load_recipe(_write(tmp_path, {**_minimal(), "realism": {"guided": {"weights": "w.critic"}}}))
    assert rec.realism.guided.weights == str((tmp_path / "w.critic").resolve())
    with pytest.raises(RecipeError, match=r"realism\.guided.*cannot read"):
        load_recipe(_write(tmp_path, {**_minimal(), "realism": {"guided": {"weights": "missing.critic"}}}))
    with pytest.raises(RecipeError, match=r"realism\.guided.*sha256 says"):
        load_recipe(_write(tmp_path, {**_minimal(), "realism": {"guided": {"weights": "w.critic", "sha256": "0" * 64}}}))
    with pytest.raises(RecipeError, match=r"realism\.guided\.candidates"):
        load_recipe(_write(tmp_path, {**_minimal(), "realism": {"guided": {"weights": "w.critic", "candidates": 0}}}))
    with pytest.raises(RecipeError, match=r"min_share"):
        load_recipe(_write(tmp_path, {**_minimal(), "realism": {"guided": {"weights": "w.critic",
                                                                           "diversity": {"min_share": 1.5}}}}))


def test_guided_redraw_names_choices_and_keeps_the_default_out_of_the_hash(tmp_path):
    base = _write(tmp_path, _minimal())
    default = load_recipe(base, [f"realism.guided.weights={WEIGHTS}"])
    assert "redraw" not in default.to_json_dict()["realism"]["guided"]
    every = load_recipe(base, [f"realism.guided.weights={WEIGHTS}", "realism.guided.redraw=[noise, backdrop, "
                               "defocus, harmonize, placement, background]"])
    assert recipe_sha256(every) == recipe_sha256(default)  # the same set in another order is the default
    some = load_recipe(base, [f"realism.guided.weights={WEIGHTS}", "realism.guided.redraw=[noise, harmonize]"])
    assert some.realism.guided.redraw == ("harmonize", "noise")
    assert some.to_json_dict()["realism"]["guided"]["redraw"] == ["harmonize", "noise"]
    assert recipe_sha256(some) != recipe_sha256(default)
    assert "keep_difficulty" not in default.to_json_dict()["realism"]["guided"]  # off: the old hash
    guarded = load_recipe(base, [f"realism.guided.weights={WEIGHTS}", "realism.guided.keep_difficulty=true"])
    assert guarded.to_json_dict()["realism"]["guided"]["keep_difficulty"] is True
    assert recipe_sha256(guarded) != recipe_sha256(default)
    from synth.critic.guide import CHOICE_STEPS

    assert tuple(CHOICE_STEPS) == GUIDED_CHOICES  # every recipe choice has its generator steps
    for bad, words in (("[blur]", "redraw.0"), ("[]", "at least one"), ("[noise, noise]", "twice")):
        with pytest.raises(RecipeError, match=words):
            load_recipe(base, [f"realism.guided.weights={WEIGHTS}", f"realism.guided.redraw={bad}"])


def test_guided_video_recipe_is_a_one_line_error():
    with pytest.raises(RecipeError, match=r"video_demo\.yaml: video: realism\.guided is for still images only"):
        load_recipe(ROOT / "recipes" / "video_demo.yaml", [f"realism.guided.weights={WEIGHTS}"])


def test_portrait_guided_is_portrait_plus_the_guided_section():
    guided = load_recipe(ROOT / "recipes" / "portrait_guided.yaml").to_json_dict()
    plain = load_recipe(ROOT / "recipes" / "portrait.yaml").to_json_dict()
    section = guided["realism"].pop("guided")
    assert section["candidates"] == 4 and section["diversity"] == {"min_share": 0.5}
    assert section["weights"] == str(WEIGHTS.resolve())
    assert {**guided, "name": plain["name"]} == plain


def test_guided_without_pytorch_is_a_clear_error_before_building(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(ValueError, match="PyTorch, which is not installed"):
        load_recipe(ROOT / "recipes" / "demo.yaml", [f"realism.guided.weights={WEIGHTS}"])
