"""What guided composition costs: the detector's CPU inference against a sample's cost.

    python benchmarks/bench_guided.py [--samples 12] [--canvas 1024] [--data ../shared/data] [--keep-difficulty]

Renders the same samples, in this process on one core, with recipes/portrait.yaml and with
recipes/portrait_guided.yaml (its 4 candidates), from the real data's GT01-GT12 and
bg001-bg050 when present (else the procedural demo sources), and times, in the same run:

- an unguided sample (``render_sample`` of portrait, everything from decoding to encoding);
- a guided sample (all its candidates composed, scored, the kept one encoded);
- the detector's inference alone inside the guided samples (``score_composite``: shrinking the
  composite to the detector's canvas, cutting the boundary patches, the network on one
  thread), summed over the candidates of a sample.

It prints the inference per sample as a share of an unguided sample's cost (target <= 20 %),
and the guided sample's cost over the unguided one's (the candidates' composition). With
``--keep-difficulty`` the guided recipe has the difficulty guard on, and the guard's measure
(``synth.critic.difficulty.boundary_difficulty``, every candidate) is timed and printed too.
Times are this process's CPU time (OpenCV and torch on one thread), which other jobs on a
shared machine disturb far less than wall time.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import synth.critic.guide as guide_module  # noqa: E402
import synth.critic.score as score_module  # noqa: E402
from shards.allocator import retain_freed_memory  # noqa: E402
from synth.build import prepare_inputs  # noqa: E402
from synth.critic.pin import PIN_BACKGROUNDS, PIN_FOREGROUNDS  # noqa: E402
from synth.plan import make_plan  # noqa: E402
from synth.recipe import load_recipe, recipe_sha256  # noqa: E402
from synth.render import render_sample  # noqa: E402


def _link(src: Path, dst: Path, stems: list[str]) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for p in sorted(src.iterdir()):
        if p.stem in stems and not (dst / p.name).exists():
            (dst / p.name).symlink_to(p.resolve())
    return dst


def main() -> int:
    retain_freed_memory()  # as synth build's workers do (shards.allocator)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=12)
    ap.add_argument("--canvas", type=int, default=1024)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--keep-difficulty", action="store_true", help="guided recipe with the difficulty guard on")
    args = ap.parse_args()
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="bench-guided-"))
    common = [f"canvas.height={args.canvas}", f"canvas.width={args.canvas}",
              f"splits=[{{name: train, fraction: 1.0, samples: {args.samples}}}]", "background_split=shared"]
    if (args.data / "alphamatting" / "alpha").is_dir():
        am = args.data / "alphamatting"
        common += [f"foregrounds.0.image_dir={_link(am / 'image', work / 'image', PIN_FOREGROUNDS)}",
                   f"foregrounds.0.alpha_dir={_link(am / 'alpha', work / 'alpha', PIN_FOREGROUNDS)}",
                   f"backgrounds.0.path={_link(args.data / 'backgrounds', work / 'bg', PIN_BACKGROUNDS)}"]
        source = "real data (GT01-GT12, bg001-bg050)"
    else:
        demo = load_recipe(ROOT / "recipes" / "demo.yaml")
        common += [f"foregrounds={[demo.foregrounds[0].model_dump()]}".replace("'", '"'),
                   f"backgrounds={[demo.backgrounds[0].model_dump()]}".replace("'", '"')]
        source = "procedural demo sources"
    plans = {}
    guard = ["realism.guided.keep_difficulty=true"] if args.keep_difficulty else []
    for name in ("portrait", "portrait_guided"):
        recipe = load_recipe(ROOT / "recipes" / f"{name}.yaml", common + (guard if name == "portrait_guided" else []))
        fgs, bgs, _ = prepare_inputs(recipe, work / "cache")
        plans[name] = make_plan(recipe, recipe_sha256(recipe), fgs, bgs)
    spent = {"inference": 0.0, "guard": 0.0}

    def timed(fn, key):
        def wrapper(*a, **k):
            t = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                spent[key] += time.process_time() - t
        return wrapper

    score_module.score_composite = timed(score_module.score_composite, "inference")
    guide_module.boundary_difficulty = timed(guide_module.boundary_difficulty, "guard")
    render_sample(plans["portrait_guided"], "train", 0)  # warm-up: torch import, weights load
    spent.update(inference=0.0, guard=0.0)
    times = {"portrait": 0.0, "portrait_guided": 0.0}
    for i in range(args.samples):  # alternately, so that load drifts hit both alike
        for name in times:
            t = time.process_time()
            render_sample(plans[name], "train", i)
            times[name] += time.process_time() - t
    n = args.samples
    k = plans["portrait_guided"].recipe.realism.guided.candidates
    unguided, guided, infer = times["portrait"] / n, times["portrait_guided"] / n, spent["inference"] / n
    print(f"bench_guided: {n} samples at {args.canvas}^2 from {source}, {k} candidates, one core")
    print(f"  unguided sample {unguided * 1000:.0f} ms, guided sample {guided * 1000:.0f} ms "
          f"({guided / unguided:.2f}x), detector inference {infer * 1000:.1f} ms per guided sample "
          f"({infer / k * 1000:.1f} ms per candidate)")
    if args.keep_difficulty:
        g = spent["guard"] / n
        print(f"  difficulty guard {g * 1000:.1f} ms per guided sample ({g / k * 1000:.1f} ms per candidate, "
              f"{g / unguided:.1%} of an unguided sample)")
    ratio = infer / unguided
    print(f"{'PASS' if ratio <= 0.2 else 'FAIL'}: inference per sample is {ratio:.1%} of an unguided sample's "
          "cost (target <= 20 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
