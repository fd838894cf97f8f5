"""`synth tune`: search a recipe's realism parameters for the least detectable composites.

Coordinate search on a small budget: the baseline recipe is built once (``samples`` samples at
the detector's canvas, one split, serially) and scored with the pinned detector (mean logit of
boundary patches per sample, synth.critic.score); then, round by round, each parameter in
:data:`PARAMS` tries a few moves (a probability up or down; a range shifted down or up, widened
or narrowed), each evaluated by a build with the same seed (same subjects, backgrounds and
placements: only the parameter differs), and a move is kept when it lowers the score by more
than ``tol``. Step sizes halve every round. Stops when ``budget`` builds are spent.

The diversity guard: probabilities stay in [0.1, 0.95] (or the recipe's own value, if outside),
ranges stay inside their field's bounds and keep at least half their original width, and a
trial whose effective number of backgrounds falls below ``min_effective`` of the baseline's
is refused. The tuner never sees the photos the detector holds out (``held_out_photos`` in the
weights' header, the photos ``benchmarks/generalization.py`` evaluates on): a recipe whose
foregrounds include one is refused before anything is built.
"""
from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from synth.recipe import Recipe, apply_overrides, parse_recipe

__all__ = ["PARAMS", "Param", "TuneResult", "held_out_in", "param_moves", "tune", "write_tuned"]


@dataclass(frozen=True)
class Param:
    """A tunable recipe field: a probability (``kind == "p"``) or a (low, high) range within
    [lo, hi]."""

    path: str
    kind: str
    lo: float = 0.0
    hi: float = 1.0


PARAMS = (
    Param("harmonization.strength", "range", 0.0, 1.0),
    Param("realism.defocus.p", "p"),
    Param("realism.defocus.radius", "range", 0.0, 64.0),
    Param("realism.backdrop.p", "p"),
    Param("realism.noise.sigma", "range", 0.0, 50.0),
    Param("realism.jpeg.p", "p"),
)


@dataclass
class TuneResult:
    """The best overrides found, the baseline's and best scores, and every trial."""

    overrides: dict[str, Any]
    baseline: dict[str, Any]
    best: dict[str, Any]
    trials: list[dict[str, Any]]


def _get(recipe: Recipe, path: str) -> Any:
    value: Any = recipe
    for name in path.split("."):
        value = getattr(value, name)
    return list(value) if isinstance(value, tuple) else value


def param_moves(param: Param, value: Any, original: Any, step: float) -> list[Any]:
    """Candidate values for one parameter at ``value`` (the recipe had ``original``), inside the
    diversity guard: a probability ± ``step``, within [min(0.1, original), max(0.95, original)];
    a range shifted by ± ``step`` of its original width, widened by half or narrowed by a
    quarter, within [param.lo, param.hi] and at least half its original width."""
    if param.kind == "p":
        lo, hi = min(0.1, original), max(0.95, original)
        out = [min(hi, max(lo, round(value + d, 4))) for d in (-step, step)]
    else:
        a, b = value
        w0 = original[1] - original[0]
        w, centre = b - a, (a + b) / 2
        out = []
        narrow = max(w0 / 4, w * 3 / 8)
        for na, nb in ((a - step * w0, b - step * w0), (a + step * w0, b + step * w0),
                       (centre - 0.75 * w, centre + 0.75 * w), (centre - narrow, centre + narrow)):
            na, nb = max(param.lo, round(na, 4)), min(param.hi, round(nb, 4))
            if nb - na >= 0.5 * w0 - 1e-4:
                out.append([na, nb])
    return [v for v in out if v != value]


def held_out_in(recipe: Recipe, held_out: list[str]) -> list[str]:
    """Foreground files of ``recipe`` whose stem is one of ``held_out`` (the detector's held-out photos)."""
    if not held_out:
        return []
    from synth.sources.scan import scan_foregrounds

    fgs, _ = scan_foregrounds(recipe.foregrounds)
    stems = set(held_out)
    return sorted({p for f in fgs for p in f.paths if Path(p).stem in stems})


def _evaluate(recipe: Recipe, critic: Any, out: Path, cache: Path, seed: int) -> dict[str, Any]:
    from shards.codec import decode_alpha, decode_rgb
    from shards.manifest import read_manifest, shard_url
    from shards.reader import iter_shard_samples
    from synth.build import build
    from synth.execution import SerialExecutor

    from .score import score_composite

    build(recipe, out, overwrite=True, cache_dir=cache, executor=SerialExecutor())
    scores, uses = [], Counter()
    for entry in read_manifest(out).shards:
        for _, (key, members, error) in iter_shard_samples(shard_url(out, entry)):
            if error is not None:
                raise ValueError(f"{out}: sample {key}: {error}")
            meta = json.loads(members["meta.json"])
            uses[meta["background"]["id"]] += 1
            image = decode_rgb(members[next(m for m in sorted(members) if m.startswith("image."))])
            s = score_composite(critic, image, decode_alpha(members["alpha.png"]),
                                np.random.default_rng([seed, int(meta["index"])]), 16)
            if math.isfinite(s):
                scores.append(s)
    p = np.array(list(uses.values()), dtype=np.float64) / max(sum(uses.values()), 1)
    return {"score": float(np.mean(scores)) if scores else float("nan"), "scored": len(scores),
            "effective_backgrounds": float(math.exp(-(p * np.log(p)).sum())) if p.size else 0.0}


def tune(recipe: Recipe, weights: str | os.PathLike, work: str | os.PathLike, *, budget: int = 12,
         samples: int = 24, canvas: int | None = None, rounds: int = 3, tol: float = 0.01,
         min_effective: float = 0.9, params: tuple[Param, ...] = PARAMS,
         log: Callable[[str], None] = lambda s: None) -> TuneResult:
    """Coordinate search (module docstring) over ``params`` with at most ``budget`` builds of
    ``samples`` samples at ``canvas`` (default: the detector's) in ``work``."""
    from .score import load_critic

    if budget < 1 or samples < 1:
        raise ValueError(f"tune: budget and samples must be >= 1, got {budget}, {samples}")
    critic = load_critic(weights)
    seen = held_out_in(recipe, list(critic.header.get("training", {}).get("held_out_photos", [])))
    if seen:
        raise ValueError(f"tune: the recipe's foregrounds include photos the detector holds out (the "
                         f"generalization benchmark's test photos), e.g. {seen[0]}; point it at a subset without them")
    side = canvas or critic.canvas
    base = recipe.to_json_dict()
    trial_fixed = [f"splits=[{{name: tune, fraction: 1.0, samples: {samples}}}]", f"canvas.height={side}",
                   f"canvas.width={side}", f"output.samples_per_shard={samples}"]
    work = Path(work)
    trials: list[dict[str, Any]] = []

    def run(overrides: dict[str, Any]) -> dict[str, Any]:
        items = trial_fixed + [f"{k}={json.dumps(v)}" for k, v in overrides.items()]
        trial = parse_recipe(apply_overrides(base, items), "synth tune trial")
        res = _evaluate(trial, critic, work / f"trial{len(trials):03d}", work / "cache", recipe.seed)
        rec = {"overrides": dict(overrides), **res}
        trials.append(rec)
        log(f"  trial {len(trials) - 1}: score {res['score']:.4f}, effective backgrounds "
            f"{res['effective_backgrounds']:.1f}  {overrides or '(the recipe as it is)'}")
        return rec

    original = {p.path: _get(recipe, p.path) for p in params}
    current: dict[str, Any] = {}
    baseline = best = run(current)
    step = 0.5
    for _ in range(rounds):
        for param in params:
            value = current.get(param.path, original[param.path])
            for move in param_moves(param, value, original[param.path], step if param.kind == "range" else step / 2.5):
                if len(trials) >= budget:
                    break
                rec = run({**current, param.path: move})
                ok = rec["effective_backgrounds"] >= min_effective * baseline["effective_backgrounds"]
                rec["guard_ok"] = ok
                if ok and math.isfinite(rec["score"]) and rec["score"] < best["score"] - tol:
                    best, current = rec, dict(rec["overrides"])
        step /= 2
    return TuneResult(current, baseline, best, trials)


def write_tuned(recipe: Recipe, result: TuneResult, out: str | os.PathLike, source: str,
                weights_sha256: str) -> Path:
    """Write the tuned recipe (``out``, YAML, with a comment header of what was measured) and
    every trial (``out`` with suffix ``.tune.json``). Returns the JSON's path."""
    import yaml

    data = apply_overrides(recipe.to_json_dict(), [f"{k}={json.dumps(v)}" for k, v in result.overrides.items()])
    parse_recipe(data, str(out))  # the tuned recipe is valid
    b, t = result.baseline, result.best
    header = [f"# Tuned by `synth tune {source}` against the detector {weights_sha256[:16]}... "
              f"({len(result.trials)} builds).",
              f"# Mean detector logit at the subject's boundary: {b['score']:.4f} as given, {t['score']:.4f} tuned "
              f"(lower: less detectable); effective backgrounds {b['effective_backgrounds']:.1f} -> "
              f"{t['effective_backgrounds']:.1f}.",
              "# Changed: " + (", ".join(f"{k}: {v}" for k, v in result.overrides.items()) or "nothing"),
              f"# Every trial: {Path(out).name}.tune.json"]
    path = Path(out)
    path.write_text("\n".join(header) + "\n" + yaml.safe_dump(data, sort_keys=False))
    side = path.with_name(path.name + ".tune.json")
    side.write_text(json.dumps({"source": source, "weights_sha256": weights_sha256, "overrides": result.overrides,
                                "baseline": b, "best": t, "trials": result.trials}, indent=1))
    return side
