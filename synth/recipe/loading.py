"""Reading recipes: YAML -> overrides -> paths resolved -> validated :class:`Recipe`; its hash."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .base import RecipeError
from .model import Recipe

__all__ = ["apply_overrides", "load_recipe", "parse_recipe", "recipe_sha256"]


_LOCATION_FIELDS = {"fg_dir", "alpha_dir", "image_dir", "path"}


def recipe_sha256(recipe: Recipe) -> str:
    """sha256 of the recipe's canonical JSON (sorted keys), locations left out.

    Data paths and the cache folder say *where* inputs are, not what is built (inputs are
    identified by content hash in every sample's meta), so moving the data or cloning the
    project elsewhere does not change the hash or the shards.
    """
    data = recipe.to_json_dict()
    data.pop("cache_dir", None)
    for section in ("foregrounds", "backgrounds"):
        data[section] = [{k: v for k, v in item.items() if k not in _LOCATION_FIELDS} for item in data[section]]
    guided = data.get("realism", {}).get("guided")
    if isinstance(guided, dict):  # the detector is identified by its sha256, not by where it lies
        guided.pop("weights", None)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _format_validation_error(source: str, err: ValidationError) -> str:
    lines = [f"{source}: invalid recipe ({err.error_count()} problem(s))"]
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "<root>"
        value = e.get("input")
        shown = json.dumps(value, default=str) if not isinstance(value, dict) else "{...}"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        lines.append(f"  {path}: {e['msg']} (got {shown})")
    return "\n".join(lines)


def _parse_scalar(text: str) -> Any:
    """Parse an override value as YAML (so `3`, `0.5`, `[1, 2]`, `true`, `null` work)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str], source: str = "--set") -> dict[str, Any]:
    """Apply `path.to.field=value` overrides to a raw recipe dict (list items by index).

    Values are parsed as YAML. Returns a new dict; raises RecipeError on a malformed override
    or a path that walks through a non-container.
    """
    data = json.loads(json.dumps(data))  # deep copy of plain data
    for item in overrides:
        if "=" not in item:
            raise RecipeError(f"{source}: override {item!r} is not of the form path.to.field=value")
        path, raw = item.split("=", 1)
        keys = [k for k in path.strip().split(".") if k]
        if not keys:
            raise RecipeError(f"{source}: override {item!r} has an empty field path")
        node: Any = data
        for depth, key in enumerate(keys):
            last = depth == len(keys) - 1
            where = ".".join(keys[: depth + 1])
            if isinstance(node, list):
                if not key.isdigit() or int(key) >= len(node):
                    raise RecipeError(f"{source}: {where}: no list item {key!r} (list has {len(node)})")
                idx = int(key)
                if last:
                    node[idx] = _parse_scalar(raw)
                else:
                    node = node[idx]
            elif isinstance(node, dict):
                if last:
                    node[key] = _parse_scalar(raw)
                else:
                    node = node.setdefault(key, {})
            else:
                raise RecipeError(f"{source}: {where}: cannot set a field inside a {type(node).__name__}")
    return data


def parse_recipe(data: Any, source: str = "<recipe>") -> Recipe:
    """Validate a raw recipe dict; errors name `source`, each bad field path and value."""
    if not isinstance(data, dict):
        raise RecipeError(f"{source}: a recipe must be a mapping at the top level, got {type(data).__name__}")
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as err:
        raise RecipeError(_format_validation_error(source, err)) from None
    errors = recipe.cross_field_errors()
    if errors:
        raise RecipeError("\n".join(f"{source}: {e}" for e in errors))
    return recipe


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read, override and validate a YAML recipe. Relative data paths resolve against its folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise RecipeError(f"{path}: cannot read recipe ({err.strerror or err})") from None
    except UnicodeDecodeError as err:
        raise RecipeError(f"{path}: not a UTF-8 text file (byte {err.object[err.start]:#04x} at offset {err.start} "
                          "cannot be decoded); a recipe is YAML saved as UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise RecipeError(f"{path}: not valid YAML: {err}") from None
    if data is None:
        raise RecipeError(f"{path}: recipe is empty")
    if overrides:
        data = apply_overrides(data, overrides)
    data = _resolve_paths(data, path.resolve().parent)
    return parse_recipe(data, str(path))


def _resolve_paths(data: Any, base: Path) -> Any:
    """Make relative source paths absolute against the recipe's folder (URLs untouched)."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for section in ("foregrounds", "backgrounds"):
        items = out.get(section)
        if not isinstance(items, list):
            continue
        resolved = []
        for item in items:
            if isinstance(item, dict):
                item = dict(item)
                for key in _LOCATION_FIELDS & item.keys():
                    value = item[key]
                    if isinstance(value, str) and "://" not in value and not Path(value).expanduser().is_absolute():
                        item[key] = str((base / value).resolve())
                    elif isinstance(value, str) and "://" not in value:
                        item[key] = str(Path(value).expanduser())
            resolved.append(item)
        out[section] = resolved
    realism = out.get("realism")
    guided = realism.get("guided") if isinstance(realism, dict) else None
    if isinstance(guided, dict) and isinstance(guided.get("weights"), str):  # the detector's weights file
        value = guided["weights"]
        path = Path(value).expanduser()
        out["realism"] = {**realism, "guided": {**guided, "weights": str(path if path.is_absolute() else
                                                                           (base / value).resolve())}}
    return out
