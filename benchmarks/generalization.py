"""Generalisation benchmark: does our data make a matting model better on *real* photos?

    python benchmarks/generalization.py --out /tmp/gen [--scale 1] [--seeds 0 1 2]
                                        [--real DIR] [--variants naive portrait ...] [--folds 0 1 2]

End to end, with fixed seeds:

1. From the same sources (the alphamatting photos GT01-GT12 as photo + alpha foregrounds,
   backgrounds bg001-bg050 of ../shared/data) build one training set per variant:
   `naive` (recipes/naive.yaml: photo as F, random stretched backgrounds, no harmonisation or
   realism matching) and `portrait` (recipes/portrait.yaml, the realistic pipeline); and
   from held-out foregrounds (GT13-GT18) and backgrounds (bg051-bg070) a composited
   validation set with each variant's own pipeline.
2. Train the same small trimap-based network (examples/tiny_matting_net.py, 488k
   parameters at widths 16-32-64-128) on each, paired: same seed, same initialisation, same loader
   order and augmentation seeds; only the data differs.
3. Evaluate on the real photographs GT13-GT18 with their hand-made trimaps (`--real DIR`
   points at any folder of image/ alpha/ trimap/ with the same stems, e.g. AIM-500,
   P3M-500, PPM-100) and on each variant's composited validation set: SAD, MSE and
   gradient error in the unknown region. Prints per-seed paired differences, mean ± std,
   the composite-vs-real gap, the change with every photo weighing the same, and each real
   photo's SAD change against the first variant (benchmarks/generalization_report.py), the
   third and later variants paired with the second as well, and each test set's SAD with a
   constant alpha in the unknown region: the floor a model must beat.

`--folds 0 1 2` cross-validates over all 18 photos: fold k trains on twelve photos and tests
on GT{6k+1}-GT{6k+6} (fold 2, the default, is the split above), each with its own datasets;
every photo is then predicted by the one model per seed that never saw it, and the report
adds each fold's mean SAD and each variant's change on it. Variants that
learnt from GT01-GT12 (the guided one, recipe files such as tuned recipes) and `--real` are
refused with other folds.

`--redraw` trains seed s on a training set drawn with recipe seed s (every variant alike)
instead of the one seed-0 draw of each, so the paired interval also covers how much one
realisation of a pipeline's random choices moves the result (in this regime as much as most
single steps; docs/results.md): use it before calling a difference real. Runs on
draw d > 0 are saved with `-dataD` in their names; seed 0 trains on draw 0 in both modes and
shares its runs.

`--also-real DIR ...` evaluates every model, of every fold, on more photos that no step ever
sees (a folder of image/ alpha/ trimap/, or pymatting's STEM.png + STEM_alpha.png +
STEM_trimap.png); by default the lemur of ../shared/data, the one everyday outdoor photo with a
ground-truth alpha there (the alphamatting photos are objects before a picture set up behind
them). A seed's errors on such a set are the mean over its fold models; the report pairs them
per seed against the first variant (and, with three or more, the later ones against the second)
and counts the models that are lower.

Finished runs are saved under OUT/runs, with the model's weights beside them (`.pt`), and
reused while their training set's bytes (its shards' sha256) and the environment (library
versions, torch threads; recorded with each run) are unchanged. Datasets under
OUT/data are reused as built: after changing the pipeline, delete OUT/data (or pass a fresh
--out) to rebuild them, and the runs on them retrain. A saved run missing an `--also-real` set
is evaluated from its weights, or retrained where it has none (runs from before weights were
kept: training repeats itself for a seed, and a warning says so where it did not).

`--variants` also accepts ablations of the portrait pipeline, e.g. `portrait-noharm`,
`portrait-nonoise`, `portrait-nodefocus`, `portrait-photoF`, `portrait-random-bg`,
`portrait-nobackdrop`, `portrait-nocomp`, `portrait-cutanywhere` (see ABLATIONS), trained and evaluated the same way;
`portrait-guided` (recipes/portrait_guided.yaml: composition guided by the pinned detector);
`NAME=RECIPE` for any recipe file, e.g. `portrait-tuned=out/tune/portrait.tuned.yaml`
(what `synth tune` writes); and `NAME=path.to.field=value[,...]` for portrait.yaml with those
overrides, e.g. `portrait-colourbg=composition.background_choice.weights.colour=1.0`. The
report gives each variant's paired change against the first with a 95 % confidence interval
over seeds (paired t).

A ranking holds for the training length it was measured at: the small network's order of the
variants moves with `--steps` (docs/results.md, "800 steps on all three folds"). Compare
variants at two lengths before calling one better.

`--test-trimaps IN:OUT ...` tests every model once more on its held-out photos with trimaps
made from the true alpha (`augment.trimap.make_trimap(alpha, IN, OUT)`: the unknown band reaching
IN px into the subject and OUT px into the background) in place of the hand-drawn ones, one report
section per shape: how a model's ranking depends on the trimaps it is given (a model trained with
`--band-outer` against one trained on a symmetric band, say). Saved runs gain the shapes from their
weights, without retraining.

`--guide mask` trains and tests a mask-guided model instead of a trimap-based one: the same
network reads a coarse mask of the subject as one more channel (the loader's `guidance` output,
a new imperfect mask every epoch: augment/guidance.py) and predicts the alpha within 16 px of the
mask's edge, keeping the mask elsewhere (`generalization_eval.mask_trimap`: no hand-made trimap);
it is tested on whole photos with the true alpha thresholded at 1/8 of their resolution as the
mask (`generalization_eval.TEST_GUIDANCE`), SAD over every pixel, beside the SAD of that mask alone.

`--photometric S` trains with the loader's colour jitter of the image (brightness, contrast,
saturation, hue, gamma at strength S in [0, 1]; `AugmentConfig.photometric`), as most training
recipes do. The default is 1 since 2026-12-07: without it the benchmark measured, in part, how
brittle each dataset leaves a model to the photos' exposure (docs/results.md, "training with
colour jitter"); `--photometric 0` trains as before and reuses the runs saved without it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

from shards import MattingDataset, MattingLoader  # noqa: E402
from tiny_matting_net import TinyMattingNet, matting_loss  # noqa: E402

from generalization_eval import (MASK_BAND, TEST_GUIDANCE, composite_val_set, evaluate,  # noqa: E402  (benchmarks/)
                                 mask_trimaps, real_test_set, trimap_spec, trivial_sad, with_guidance, with_trimaps)
from generalization_report import also_report, detector_ranking, merge_folds, report, trimap_report  # noqa: E402
from generalization_data import (DEFAULT_FOLD, FOLDS, RECIPES, build_variant, dataset_digest,  # noqa: E402
                                 fold_photos, prepare_sources, variant_form, variant_name)
from generalization_runs import (GUIDES, TrainConfig, environment, finished_run, new_model, run_key,  # noqa: E402
                                 unrecorded_runs)

# --------------------------------------------------------------------------- training


def train(folder: Path, seed: int, cfg: TrainConfig) -> TinyMattingNet:
    """Train from `seed`: same initialisation and same loader order for every dataset."""
    torch.manual_seed(seed)
    model = new_model(cfg)
    # the default outputs: image, alpha, trimap, fg and bg (without fg and bg for a variant built
    # with output.layers: false; matting_loss then drops its composition term)
    options = {"crop": cfg.crop, "seed": seed, "buffer_size": 256,
               "augment": {"photometric": cfg.photometric, "band_outer": cfg.band_outer}}
    dataset = MattingDataset(folder, "train", **options)
    if cfg.guide == "mask":  # the guidance mask, drawn afresh every epoch (augment/guidance.py), for the trimap
        outputs = (*(o for o in dataset.config.outputs if o != "trimap"), "guidance")
        dataset = MattingDataset(folder, "train", outputs=outputs, **options)
    loader = MattingLoader(dataset, batch_size=cfg.batch, num_workers=cfg.workers,
                           persistent_workers=cfg.workers > 0, drop_last=True)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.15)
    model.train()
    step = 0
    while step < cfg.steps:
        for batch in loader:
            if cfg.guide == "mask":  # the model works near the mask's edge and keeps the mask elsewhere
                batch = {**batch, "trimap": mask_trimaps(batch["guidance"])}
            loss = matting_loss(model(batch["image"], batch["trimap"], batch.get("guidance")), batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step >= cfg.steps:
                break
    return model


def also_real_dirs(given: list[Path] | None, shared: Path) -> list[Path]:
    """The ``--also-real`` folders: as given, else the lemur of the shared data when it is there.
    Their names key the results, so they must differ and must not be a training source."""
    dirs = given if given is not None else [d for d in [shared / "lemur"] if d.is_dir()]
    names = [d.name for d in dirs]
    if len(set(names)) != len(names):
        raise SystemExit(f"--also-real: folder names must differ (they name the results), got {names}")
    trained_on = {(shared / "alphamatting").resolve(), (shared / "backgrounds").resolve()}
    seen = [str(d) for d in dirs if d.resolve() in trained_on]
    if seen:
        raise SystemExit(f"--also-real {seen}: the training sets are drawn from there; give photos no step sees")
    return dirs


def check_folds(folds: list[int], variants: list[str], real: Path | None) -> None:
    """Refuse fold settings that would test on photos a step of a variant has seen: the pinned
    detector and `synth tune` learnt from GT01-GT12, so the guided and recipe-file variants are
    tested on GT13-GT18 only; ``--real`` replaces the folds' test photos."""
    if len(set(folds)) != len(folds):
        raise SystemExit(f"--folds {folds}: each fold once")
    if folds == [DEFAULT_FOLD]:
        return
    if real is not None:
        raise SystemExit("--real tests on its own photos: use it with the default fold only")
    seen = [v for v in variants if variant_form(v) == "file" or v in RECIPES]
    if seen:
        raise SystemExit(f"variants {seen} use the pinned detector or a tuned recipe, which learnt from "
                         f"GT01-GT12: they can only be tested on the default fold ({DEFAULT_FOLD}, GT13-GT18)")


def _trimap_arg(text: str) -> str:
    try:
        return trimap_spec(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def arg_parser() -> argparse.ArgumentParser:
    """The command line (its defaults are the benchmark's instrument: see the module doc)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="work folder (datasets, cache, results.json)")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--real", type=Path, default=None,
                    help="folder with image/ alpha/ trimap/ (default: GT13-GT18 of the shared alphamatting set)")
    ap.add_argument("--also-real", type=Path, nargs="*", default=None, metavar="DIR",
                    help="folders of photos every model is also evaluated on, with any fold (photos no step "
                         "sees); default: SHARED/lemur, an everyday outdoor photo; none with an empty list")
    ap.add_argument("--variants", nargs="+", default=["naive", "portrait"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies samples and steps (use >1 on a GPU box)")
    ap.add_argument("--steps", type=int, default=200,
                    help="training steps per run (default 200: minutes on a CPU; rankings move with it, "
                         "so confirm at a longer one)")
    ap.add_argument("--samples", type=int, default=1600,
                    help="training samples per dataset (default 1600: at 200 steps of 8 each is seen about once; "
                         "480, the default before 2026-12-06, gave intervals about 1.7x as wide, docs/results.md)")
    ap.add_argument("--val-samples", type=int, default=36)
    ap.add_argument("--canvas", type=int, default=640)
    ap.add_argument("--crop", type=int, default=160)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64, 128],
                    help="channels per U-Net level (488k parameters by default)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--workers", type=int, default=1, help="DataLoader workers")
    ap.add_argument("--photometric", type=float, default=1.0,
                    help="the loader's colour jitter of the training image, strength in [0, 1] "
                         "(brightness, contrast, saturation, hue, gamma: augment/photometric.py; default 1; "
                         "0: no jitter, the default before 2026-12-07)")
    ap.add_argument("--band-outer", type=int, nargs=2, default=None, metavar=("LO", "HI"),
                    help="train with the trimap band's background side drawn apart from its subject side "
                         "(AugmentConfig.band_outer, px at 640); default: one band both sides")
    ap.add_argument("--test-trimaps", type=_trimap_arg, nargs="+", default=[], metavar="IN:OUT",
                    help="also test every model on its held-out photos with trimaps made from the true alpha, "
                         "the unknown band reaching IN px into the subject and OUT px into the background "
                         "(W: W:W); e.g. 10:10 5:25 25:5")
    ap.add_argument("--guide", choices=GUIDES, default="trimap",
                    help="the network's second input: the trimap (default), or a coarse mask of the subject "
                         "(the loader's guidance output, a new mask every epoch), the alpha predicted near the "
                         "mask's edge and the mask kept elsewhere; tested on whole photos with the true alpha "
                         "at 1/8 resolution as the mask (generalization_eval.TEST_GUIDANCE)")
    ap.add_argument("--folds", type=int, nargs="+", default=[DEFAULT_FOLD], choices=range(FOLDS),
                    help="cross-validation folds: fold k tests on GT{6k+1}-GT{6k+6} and trains on the other "
                         "twelve; '0 1 2' tests on all 18 photos (default: 2, GT13-GT18)")
    ap.add_argument("--redraw", action="store_true",
                    help="seed s trains on a training set drawn with recipe seed s (realisation in the interval)")
    ap.add_argument("--detectability", type=Path, nargs="*", default=[],
                    help="detectability.json files of bench_detectability.py: does their AUC rank the variants "
                         "as the real-photo SAD does?")
    return ap


def main() -> None:
    args = arg_parser().parse_args()

    check_folds(args.folds, args.variants, args.real)
    if args.guide == "mask" and args.test_trimaps:
        raise SystemExit("--test-trimaps tests trimap-based models: a mask-guided one (--guide mask) takes no trimap")
    also_dirs = also_real_dirs(args.also_real, args.shared)
    if not (args.shared / "alphamatting").is_dir():
        raise SystemExit(f"{args.shared}: the shared sample data is needed (alphamatting/, backgrounds/)")
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - args.workers + 1))
    cv2.setNumThreads(1)
    work = args.out
    work.mkdir(parents=True, exist_ok=True)
    samples = int(round(args.samples * args.scale))
    cfg = TrainConfig(int(round(args.steps * args.scale)), args.batch, args.crop, tuple(args.widths), args.lr,
                      args.workers, args.photometric, None if args.band_outer is None else tuple(args.band_outer),
                      args.guide)
    # a mask-guided model is tested on the whole image with a coarse mask of the true alpha
    test_set = with_guidance if cfg.guide == "mask" else list

    t0 = time.perf_counter()
    names = [variant_name(v) for v in args.variants]
    results: dict = {v: {s: [] for s in args.seeds} for v in names}
    n_params = sum(p.numel() for p in new_model(cfg).parameters())
    key = run_key(cfg, samples, args.canvas, args.val_samples, args.real)
    env = environment()
    extras = f", photometric jitter {cfg.photometric}" if cfg.photometric else ""
    if cfg.band_outer is not None:
        extras += f", trimap band outside {cfg.band_outer[0]}-{cfg.band_outer[1]} px drawn apart"
    if cfg.guide == "mask":
        extras += (f", mask-guided (a coarse mask in place of the trimap, the alpha within {MASK_BAND} px of its edge; "
                   f"tested on whole photos with their alpha at 1/{TEST_GUIDANCE.lowres} resolution as the mask)")
    print(f"model: TinyMattingNet(widths={cfg.widths}), {n_params} parameters; {cfg.steps} steps of "
          f"{cfg.batch}x{cfg.crop}² per run{extras}\nenvironment: {', '.join(f'{k} {v}' for k, v in env.items())}",
          flush=True)
    data_seed = {seed: seed if args.redraw else 0 for seed in args.seeds}  # the draw each seed trains on
    also = {d.name: test_set(real_test_set(d, None)) for d in also_dirs}
    tested: dict[str, tuple] = {}  # every fold's real test photos, by name
    held_out: dict[str, list[str]] = {}  # each fold's real test photos' names, by fold label
    for fold in args.folds:
        t1 = time.perf_counter()
        src = prepare_sources(args.shared, work, fold)
        folders = {(variant_name(v), d): build_variant(v, src, work, samples, args.val_samples, args.canvas, fold, d)
                   for d in sorted(set(data_seed.values())) for v in args.variants}
        test = fold_photos(fold)[1]
        print(f"fold {fold} (real test photos {test[0]}-{test[-1]}): datasets built in "
              f"{time.perf_counter() - t1:.0f} s ({samples} training samples each)", flush=True)
        real = test_set(real_test_set(args.real or args.shared / "alphamatting", None if args.real else test))
        tested.update({item[0]: item for item in real})
        reshaped = {spec: with_trimaps(real, spec) for spec in args.test_trimaps}
        held_out[f"fold {fold} ({test[0]}-{test[-1]})"] = [item[0] for item in real]
        train_data = {key: dataset_digest(train_dir) for key, (train_dir, _) in folders.items()}
        val_dirs = {v: val_dir for (v, _), (_, val_dir) in folders.items()}  # one per variant, whatever the draw
        comp = {v: test_set(composite_val_set(val_dir, args.val_samples)) for v, val_dir in val_dirs.items()}
        for seed in args.seeds:
            d = data_seed[seed]
            # runs on draw 0 keep the names they had before --redraw, so either mode reuses them
            tag = ("" if fold == DEFAULT_FOLD else f"-fold{fold}") + ("" if d == 0 else f"-data{d}")
            for v in names:
                t1 = time.perf_counter()
                done = work / "runs" / f"{v}{tag}-seed{seed}-{key}.json"
                run = finished_run(done, train_data[v, d], cfg, also, trimaps=reshaped,
                                   env=env, fit=lambda: train(folders[v, d][0], seed, cfg),
                                   measure=lambda m: {"real": evaluate(m, real, per_image=True),
                                                      "comp": evaluate(m, comp[v])})
                results[v][seed].append(run)
                print(f"fold {fold} seed {seed} {v:22s} real SAD {run['real']['sad']:.3f}  "
                      f"comp SAD {run['comp']['sad']:.3f}  ({time.perf_counter() - t1:.0f} s)", flush=True)
    unrecorded = unrecorded_runs(results)
    results = {v: {s: merge_folds(runs) for s, runs in per_seed.items()} for v, per_seed in results.items()}
    if len(args.folds) > 1:
        print(f"\nfolds {args.folds}: each photo is predicted by the model of the fold that held it out")
    text = (report(results, names, args.seeds, trivial_sad(list(tested.values())), held_out)
            + trimap_report(results, names, args.seeds, args.test_trimaps)
            + also_report(results, names, args.seeds, {n: trivial_sad(items) for n, items in also.items()}))
    if args.detectability:
        text += "\n" + detector_ranking(results, names, args.seeds, args.detectability)
    text += "".join(unrecorded)
    print(text)
    (work / "results.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                   "parameters": n_params, "environment": env, "results": results},
                                                  indent=2))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s; results in {work / 'results.json'}")


if __name__ == "__main__":
    main()
