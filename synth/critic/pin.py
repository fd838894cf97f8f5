"""Train the pinned detector of guided builds and `synth tune`, reproducibly, and write its weights.

    python -m synth.critic.pin --data ../shared/data --out synth/critic/weights/portrait-gt01-12-sharp.critic
                               --match-sharpness 4
                               [--work DIR] [--seed 0] [--samples 240] [--canvas 384] [--epochs 12]

It never sees the photos `benchmarks/generalization.py` evaluates on: the foregrounds are the
alphamatting photos GT01-GT12 only (GT13-GT18 are left out) and the backgrounds bg001-bg050
only (bg051-bg070 are generalization.py's validation backgrounds), as symlinked subsets.
From them it builds `naive` and `portrait` (recipes/naive.yaml, recipes/portrait.yaml at a
``--canvas`` square, ``--samples`` samples each, two splits with disjoint subjects and
backgrounds), cuts the detector's patches (synth.critic.collect, contrast-matched), trains on
the `train` split of both (synth.critic.train, deterministic for ``--seed``) and reports the
held-out AUC on the `test` split per dataset. The header of the written file lists every photo
and background used, the recipes' hashes, the seed, the training configuration and the AUCs.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from synth.build import build
from synth.execution import SerialExecutor
from synth.recipe import load_recipe, recipe_sha256

from .collect import PatchSet, check_disjoint, collect_patches, matched
from .evaluate import roc_auc
from .weights import save_weights

__all__ = ["PIN_FOREGROUNDS", "PIN_BACKGROUNDS", "HELD_OUT", "main"]

ROOT = Path(__file__).resolve().parents[2]
PIN_FOREGROUNDS = [f"GT{i:02d}" for i in range(1, 13)]
HELD_OUT = [f"GT{i:02d}" for i in range(13, 19)]  # benchmarks/generalization.py's real test photos
PIN_BACKGROUNDS = [f"bg{i:03d}" for i in range(1, 51)]


def _link(src: Path, dst: Path, stems: list[str]) -> list[str]:
    dst.mkdir(parents=True, exist_ok=True)
    names = []
    for p in sorted(src.iterdir()):
        if p.stem in stems:
            link = dst / p.name
            if not link.exists():
                link.symlink_to(p.resolve())
            names.append(p.name)
    missing = sorted(set(stems) - {Path(n).stem for n in names})
    if missing:
        raise SystemExit(f"{src}: missing {', '.join(missing[:5])}")
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, required=True, help="weights file to write")
    ap.add_argument("--work", type=Path, default=Path("/tmp/synth-critic-pin"), help="builds and cache")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--samples", type=int, default=240)
    ap.add_argument("--canvas", type=int, default=384)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--match-sharpness", type=int, default=0, metavar="BINS",
                    help="match the two sides on edge sharpness too (collect.matched's sharpness_bins; "
                         "0: contrast only)")
    args = ap.parse_args(argv)
    from .train import TrainConfig, score_patches, train_detector

    data = args.data.resolve()
    src = args.work / "src"
    photos = _link(data / "alphamatting" / "image", src / "image", PIN_FOREGROUNDS)
    _link(data / "alphamatting" / "alpha", src / "alpha", PIN_FOREGROUNDS)
    bgs = _link(data / "backgrounds", src / "bg", PIN_BACKGROUNDS)
    half = args.samples // 2
    overrides = [f"foregrounds.0.image_dir={src / 'image'}", f"foregrounds.0.alpha_dir={src / 'alpha'}",
                 f"backgrounds.0.path={src / 'bg'}", f"canvas.height={args.canvas}", f"canvas.width={args.canvas}",
                 f"splits=[{{name: train, fraction: 0.5, samples: {half}}}, "
                 f"{{name: test, fraction: 0.5, samples: {args.samples - half}}}]",
                 "background_split=disjoint", f"seed={args.seed}"]
    parts, recipes = [], {}
    t0 = time.perf_counter()
    for name in ("naive", "portrait"):
        recipe = load_recipe(ROOT / "recipes" / f"{name}.yaml", overrides)
        recipes[name] = recipe_sha256(recipe)
        dest = args.work / name
        build(recipe, dest, overwrite=True, cache_dir=args.work / "cache", executor=SerialExecutor())
        ps = collect_patches(dest, src / "image", src / "alpha", seed=args.seed, size=32, per_sample=6)
        parts.append(matched(ps, np.random.default_rng([args.seed, 1]), sharpness_bins=args.match_sharpness))
        print(f"  {name}: built and cut {len(parts[-1])} matched patches ({time.perf_counter() - t0:.0f} s)",
              flush=True)
    allp = PatchSet.concat(parts, 32)
    train, test = allp.take(allp.split == "train"), allp.take(allp.split == "test")
    check_disjoint(train, test)
    config = TrainConfig(epochs=args.epochs, width=args.width)
    model = train_detector(train.patches, train.label, args.seed, config)
    scores = score_patches(model, test.patches)
    n_naive = len(parts[0].take(parts[0].split == "test"))
    aucs = {"naive": roc_auc(scores[:n_naive], test.label[:n_naive]),
            "portrait": roc_auc(scores[n_naive:], test.label[n_naive:])}
    header = {
        "width": args.width, "patch": 32, "canvas": args.canvas,
        "training": {
            "command": "python -m synth.critic.pin " + " ".join(
                f"--{k} {v}" for k, v in (("seed", args.seed), ("samples", args.samples), ("canvas", args.canvas),
                                         ("epochs", args.epochs), ("width", args.width))),
            "photos": photos, "held_out_photos": HELD_OUT, "backgrounds": bgs,
            "recipes": recipes, "seed": args.seed, "config": config.to_dict(),
            "patches": {"train": len(train), "test": len(test)},
            "held_out_auc": {k: round(v, 4) for k, v in aucs.items()},
        },
    }
    if args.match_sharpness:  # (left out at 0: the default command writes the same bytes as before)
        header["training"]["sharpness_bins"] = args.match_sharpness
        header["training"]["command"] += f" --match-sharpness {args.match_sharpness}"
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sha = save_weights(state, header, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, sha256 {sha}); held-out AUC "
          + ", ".join(f"{k} {v:.3f}" for k, v in aucs.items()) + f" ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
