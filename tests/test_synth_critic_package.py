"""synth/critic/: only model.py and train.py import torch (the `loader` extra), so cutting
patches and scoring AUCs works without it and `synth build` never pulls it in."""
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


def test_only_model_and_train_import_torch():
    def imports_torch(path: Path) -> bool:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "torch" for n in names):
                return True
        return False

    importing = sorted(p.name for p in (ROOT / "synth" / "critic").glob("*.py") if imports_torch(p))
    assert importing == ["model.py", "train.py"]
    assert not [p for p in (ROOT / "synth").rglob("*.py")
                if "critic" not in p.parts and "synth.critic" in p.read_text()]  # nothing else uses it yet
