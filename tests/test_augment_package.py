"""The augment package as a whole: its place in the dependency direction."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_augment_modules_do_not_import_synth_or_shards():
    paths = sorted((ROOT / "augment").rglob("*.py"))
    assert len(paths) > 20
    for path in paths:
        name = str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                mods = [node.module]
            assert not any(m.split(".")[0] in ("synth", "shards") for m in mods), (name, mods)

