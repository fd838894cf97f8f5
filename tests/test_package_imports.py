"""The tree's structure rules for synth/, augment/ and shards/ (CONVENTIONS.md): no import
cycle (module-level or hidden in a function), no private name imported from another module,
the dependency direction synth -> augment, shards; shards -> augment, and no module far over
400 lines."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("synth", "augment", "shards")


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def _imports(mods: dict[str, Path]) -> tuple[dict[str, set[str]], list[str]]:
    """Edges module -> imported project module (every import statement, at any depth), and
    the private names imported across modules."""
    edges: dict[str, set[str]] = {m: set() for m in mods}
    private = []
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] not in PACKAGES:
                    continue
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    edges[name].add(full if full in mods else target)
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        private.append(f"{name} imports {full}")
            elif isinstance(node, ast.Import):
                edges[name].update(a.name for a in node.names if a.name in mods)
    return edges, private


def test_no_cycles_no_private_imports_and_the_dependency_direction():
    mods = _modules()
    edges, private = _imports(mods)
    assert private == []
    allowed = {"synth": {"synth", "augment", "shards"}, "shards": {"shards", "augment"}, "augment": {"augment"}}
    wrong = [f"{m} -> {t}" for m, ts in edges.items() for t in ts if t.split(".")[0] not in allowed[m.split(".")[0]]]
    assert wrong == []
    assert not [m for m, ts in edges.items() if "synth.cli" in ts and m != "synth"]  # nothing imports the CLI

    cycles, state = [], {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = "open"
        for t in sorted(edges.get(m, ())):
            if t == m or t not in edges:
                continue
            if state.get(t) == "open":
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t, stack + [t])
        state[m] = "done"

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_no_module_far_over_400_lines():
    long = {m: n for m, p in _modules().items() if (n := len(p.read_text().splitlines())) > 450}
    assert long == {}
