"""Detectability: can a small network tell our composites from real photographs?

    python benchmarks/bench_detectability.py --out DIR [--seeds 0 1 2] [--samples 200] [--canvas 384]
                                             [--patch 32] [--epochs 12] [--data ../shared/data]
                                             [--variant NAME=OVERRIDE[,OVERRIDE...]] [--reuse]
                                             [--only NAME ...] [--guided [WEIGHTS]]

For every seed it builds, from the same sources in ``--data`` (the alphamatting photos
with ground-truth alpha, the real backgrounds), with that recipe seed, ``--samples``
samples split half/half into two splits that share no subject and no background
(``background_split: disjoint``):

- ``naive`` (recipes/naive.yaml) and ``portrait`` (recipes/portrait.yaml);
- the one-step-off ablations of portrait: ``noharm`` (harmonization.p=0), ``nodefocus``
  (realism.defocus.p=0), ``nonoise`` (realism.noise.p=0), ``nobackdrop``
  (realism.backdrop.p=0), ``noestimate`` (composition.fg_estimation=photo: the photo as F,
  its old background at the hair), plus any ``--variant``;
- the controls: ``broken`` (naive's layers pasted with the alpha thresholded at 0.5, no
  blending; must be detected) and ``real-vs-real`` (portrait's real patches, each picture
  labelled composite or real at random; must stay near 0.5).

``--match-sharpness BINS`` matches composite and real patches on edge sharpness as well as
contrast (synth.critic.collect.matched), so that a sharp subject edge against soft, defocused
scene edges is no cue (the defocus control of docs/critic.md).
``--guided`` adds ``portrait-guided`` (portrait with ``realism.guided`` on the pinned detector,
or WEIGHTS) and prints its AUC against portrait's per seed; ``--only`` keeps just the named
variants (naive, portrait and the controls always run), e.g. ``--only --guided`` for the
guided comparison without the ablations.

For each dataset and seed it cuts the patches (``synth.critic.collect``: composite
boundaries against real edges of the same pictures and the subjects' own photos at the same
scale and JPEG history, matched for edge contrast), trains the detector on one split
(``synth.critic.train``, seeded) and measures the ROC AUC on the other, with a 90 % bootstrap
interval over the test split's subjects (whole subjects resampled, with every picture made
from them: patches of one subject are not independent). It prints the AUC per dataset and seed, the AUC against each kind
of real patch, the margin ratio (portrait's AUC - 0.5 over naive's, per seed; target <= 0.5
on every seed), which ablation raises the AUC most, and writes to DIR the contact sheets of
the test patches the detector is surest about (``sheet_<dataset>_seed<S>.png``: top row
most composite-like, bottom row most real-like; red frame = composite, green = real) and
``detectability.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from bench_realism import _build, _common_overrides  # noqa: E402
from variants import parse_variant  # noqa: E402
from shards.codec import encode_rgb  # noqa: E402
from synth.critic.collect import PatchSet, check_disjoint, collect_patches, matched, relabel_real  # noqa: E402
from synth.critic.evaluate import bootstrap_auc, contact_sheet, roc_auc  # noqa: E402
from synth.critic.train import TrainConfig, score_patches, train_detector  # noqa: E402

ABLATIONS = {"noharm": ["harmonization.p=0"], "nodefocus": ["realism.defocus.p=0"], "nonoise": ["realism.noise.p=0"],
             "nobackdrop": ["realism.backdrop.p=0"], "noestimate": ["composition.fg_estimation=photo"]}


def _overrides(data: Path, canvas: int, samples: int, seed: int) -> list[str]:
    common = _common_overrides(data, canvas, samples)
    half = samples // 2
    common = [o for o in common if not o.startswith(("splits=", "background_split="))]
    return common + [f"splits=[{{name: train, fraction: 0.5, samples: {half}}}, "
                     f"{{name: test, fraction: 0.5, samples: {samples - half}}}]",
                     "background_split=disjoint", f"seed={seed}"]


def _evaluate(ps: PatchSet, seed: int, config: TrainConfig, sharpness_bins: int = 0) -> dict:
    """Match, train on 'train', score 'test'; AUC overall and per real kind, interval, sheet."""
    m = matched(ps, np.random.default_rng([seed, 1]), sharpness_bins=sharpness_bins)
    train, test = m.take(m.split == "train"), m.take(m.split == "test")
    check_disjoint(train, test)
    t0 = time.perf_counter()
    model = train_detector(train.patches, train.label, seed, config)
    scores = score_patches(model, test.patches)
    out = {"n_train": len(train), "n_test": len(test), "train_s": time.perf_counter() - t0,
           "auc": roc_auc(scores, test.label),
           "interval": bootstrap_auc(scores, test.label, test.subject, np.random.default_rng([seed, 2]), draws=500)}
    for kind in ("real_scene", "real_subject"):
        sel = (test.label == 1) | (test.kind == kind)
        ok = (test.label[sel] == 0).any() and (test.label[sel] == 1).any() and (test.kind == kind).any()
        out[f"auc_vs_{kind}"] = roc_auc(scores[sel], test.label[sel]) if ok else float("nan")
    out["sheet"] = contact_sheet(test.patches, scores, test.label)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="folder for datasets, cache, sheets and JSON")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="recipe and detector seeds (default 0 1 2)")
    ap.add_argument("--samples", type=int, default=200, help="samples per dataset, half per split (default 200)")
    ap.add_argument("--canvas", type=int, default=384, help="square canvas side in px (default 384)")
    ap.add_argument("--patch", type=int, default=32, help="patch side in px (default 32)")
    ap.add_argument("--per-sample", type=int, default=6, help="patches of each kind per sample (default 6)")
    ap.add_argument("--epochs", type=int, default=12, help="training epochs (default 12)")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                    help="real data: alphamatting/{image,alpha}, backgrounds/ (default ../shared/data)")
    ap.add_argument("--variant", action="append", default=[], help="NAME=override[,override...] (portrait + overrides)")
    ap.add_argument("--reuse", action="store_true", help="reuse datasets already built with the same recipe")
    ap.add_argument("--match-sharpness", type=int, default=0, metavar="BINS",
                    help="also match the two sides on edge sharpness (BINS quantile bins; 0: contrast only)")
    ap.add_argument("--only", nargs="*", default=None, help="keep only these variants (default: all)")
    pinned = ROOT / "synth" / "critic" / "weights" / "portrait-gt01-12-sharp.critic"
    ap.add_argument("--guided", nargs="?", const=str(pinned), default=None,
                    help="add portrait-guided (realism.guided with these weights; default: the pinned detector)")
    args = ap.parse_args(argv)
    if not (args.data / "alphamatting" / "alpha").is_dir():
        print(f"real data not found at {args.data}", file=sys.stderr)
        return 2
    if args.samples < 8:
        raise SystemExit("--samples must be >= 8")
    data = args.data.resolve()
    images, alphas = data / "alphamatting" / "image", data / "alphamatting" / "alpha"
    variants = dict(ABLATIONS)
    for text in args.variant:
        name, extra = parse_variant(text)
        variants[name] = extra
    if args.guided:
        variants["portrait-guided"] = [f"realism.guided.weights={Path(args.guided).resolve()}"]
    if args.only is not None:
        variants = {n: v for n, v in variants.items() if n in args.only or (n == "portrait-guided" and args.guided)}
    config = TrainConfig(epochs=args.epochs)
    print(f"bench_detectability: seeds {args.seeds}, {args.samples} samples per dataset (half train, half test: "
          f"disjoint subjects and backgrounds), canvas {args.canvas}^2, {args.patch}-px patches, "
          f"{args.per_sample} per kind and sample, detector {config.to_dict()}"
          + (f", matched on sharpness too ({args.match_sharpness} bins)" if args.match_sharpness else ""), flush=True)
    t_start = time.perf_counter()
    results: dict[str, dict[int, dict]] = {}
    for seed in args.seeds:
        out = args.out / f"seed{seed}"
        out.mkdir(parents=True, exist_ok=True)
        common = _overrides(data, args.canvas, args.samples, seed)
        builds = {"naive": ("naive.yaml", common), "portrait": ("portrait.yaml", common)}
        builds.update({n: ("portrait.yaml", common + extra) for n, extra in variants.items()})
        for name, (recipe, overrides) in builds.items():
            dest, _ = _build(name, ROOT / "recipes" / recipe, overrides, out, args.reuse)
            todo = [(name, False)] + ([("broken", True)] if name == "naive" else [])
            for label, hard in todo:
                ps = collect_patches(dest, images, alphas, seed=seed, size=args.patch,
                                     per_sample=args.per_sample, hard=hard)
                results.setdefault(label, {})[seed] = _evaluate(ps, seed, config, args.match_sharpness)
                if name == "portrait":
                    results.setdefault("real-vs-real", {})[seed] = _evaluate(
                        relabel_real(ps, np.random.default_rng([seed, 3])), seed, config, args.match_sharpness)
                r = results[label][seed]
                print(f"  seed {seed} {label}: AUC {r['auc']:.3f} ({r['interval'][0]:.3f}-{r['interval'][1]:.3f}), "
                      f"{r['n_train']} train / {r['n_test']} test patches, trained in {r['train_s']:.1f} s", flush=True)

    order = ["broken", "naive", "portrait", *variants, "real-vs-real"]
    print()
    print("held-out ROC AUC per dataset and seed (90 % bootstrap interval over test subjects); "
          "0.5 = indistinguishable from real; vs scene / vs subject: against each kind of real patch only (mean over seeds)")
    for name in order:
        cells = [f"{results[name][s]['auc']:.3f} ({results[name][s]['interval'][0]:.2f}-{results[name][s]['interval'][1]:.2f})"
                 for s in args.seeds]
        mean = np.mean([results[name][s]["auc"] for s in args.seeds])
        vs = " ".join(f"{np.nanmean([results[name][s][f'auc_vs_{k}'] for s in args.seeds]):.3f}"
                      for k in ("real_scene", "real_subject"))
        print(f"{name:>13} | " + " | ".join(cells) + f" | mean {mean:.3f} | vs scene / subject {vs}")
    ratios = {s: (results["portrait"][s]["auc"] - 0.5) / (results["naive"][s]["auc"] - 0.5)
              if results["naive"][s]["auc"] != 0.5 else float("nan") for s in args.seeds}
    print("\nmargin ratio (portrait AUC - 0.5) / (naive AUC - 0.5) per seed: "
          + ", ".join(f"seed {s}: {r:.2f}" for s, r in ratios.items()))
    ok = all(np.isfinite(r) and r <= 0.5 for r in ratios.values())
    print(f"{'PASS' if ok else 'FAIL'}: portrait's margin above chance {'is' if ok else 'is not'} at most half "
          "of naive's on every seed")
    deltas = {n: [results[n][s]["auc"] - results["portrait"][s]["auc"] for s in args.seeds] for n in variants
              if n != "portrait-guided"}
    if deltas:
        print("ablations, AUC minus portrait's per seed (positive: removing the step makes composites easier to "
              "detect): " + "; ".join(f"{n} " + " ".join(f"{d:+.3f}" for d in ds) for n, ds in deltas.items()))
    if deltas:
        top = max(deltas, key=lambda n: float(np.mean(deltas[n])))
        up = sum(d > 0 for d in deltas[top])
        spread = np.ptp([results["portrait"][s]["auc"] for s in args.seeds])
        print(f"the ablation that raises the AUC most: {top} (mean {np.mean(deltas[top]):+.3f}, higher on {up} of "
              f"{len(args.seeds)} seeds; for scale, portrait's AUC spans {spread:.3f} across the seeds)")
    if "portrait-guided" in results:
        print("guided vs portrait, AUC per seed: " + "; ".join(
            f"seed {s}: {results['portrait-guided'][s]['auc']:.3f} vs {results['portrait'][s]['auc']:.3f} "
            f"({results['portrait-guided'][s]['auc'] - results['portrait'][s]['auc']:+.3f})" for s in args.seeds))
    broken = min(results["broken"][s]["auc"] for s in args.seeds)
    rvr = max(abs(results["real-vs-real"][s]["auc"] - 0.5) for s in args.seeds)
    print(f"controls: broken AUC >= {broken:.3f} (should be high), real-vs-real within 0.5 +- {rvr:.3f} "
          f"(should be near 0.5)")
    summary = {name: {str(s): {k: v for k, v in results[name][s].items() if k != "sheet"} for s in args.seeds}
               for name in order}
    for name in order:
        for s in args.seeds:
            (args.out / f"sheet_{name}_seed{s}.png").write_bytes(encode_rgb(results[name][s]["sheet"], "png"))
    (args.out / "detectability.json").write_text(json.dumps(
        {"args": {k: str(v) for k, v in vars(args).items()}, "ratios": ratios, "results": summary}, indent=1))
    print(f"sheets and detectability.json in {args.out} ({time.perf_counter() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
