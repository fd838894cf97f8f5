"""synth/critic/: only model.py, train.py, score.py and weights.py import torch (the `loader`
extra), so cutting patches and scoring AUCs works without it and an unguided `synth build`
never pulls it in (only a guided recipe's samples import it, through synth.critic.score)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_patches_collect_and_evaluate_do_not_import_torch():
    code = ("import sys; import synth.critic, synth.critic.patches, synth.critic.collect, synth.critic.evaluate; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_only_model_train_score_and_weights_import_torch():
    def imports_torch(path: Path) -> bool:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "torch" for n in names):
                return True
        return False

    importing = sorted(p.name for p in (ROOT / "synth" / "critic").glob("*.py") if imports_torch(p))
    assert importing == ["model.py", "score.py", "train.py", "weights.py"]
    def imports_critic(path: Path) -> bool:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and "critic" in (node.module or "").split("."):
                return True
            if isinstance(node, ast.Import) and any("critic" in a.name.split(".") for a in node.names):
                return True
        return False

    users = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "synth").rglob("*.py")
                   if "critic" not in p.parts and imports_critic(p))
    assert users == ["synth/cli.py", "synth/render.py"]  # guided composition and `synth tune`


def test_an_unguided_build_does_not_import_torch(tmp_path):
    code = ("import sys, yaml; from synth.recipe import parse_recipe; from synth.build import build; "
            "from synth.execution import SerialExecutor; import synth.critic.guide, synth.critic.tune; "
            "d = yaml.safe_load(open('recipes/demo.yaml')); d['splits'] = [{'name': 'train', 'fraction': 1.0, "
            "'samples': 2}]; d['canvas'] = {'height': 96, 'width': 96}; "
            f"build(parse_recipe(d), {str(tmp_path / 'out')!r}, cache_dir={str(tmp_path / 'cache')!r}, "
            "executor=SerialExecutor()); assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
