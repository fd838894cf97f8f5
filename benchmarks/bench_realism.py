"""Composite realism: how far `naive` and `portrait` composites are from real photos.

    python benchmarks/bench_realism.py --out DIR [--limit 200] [--canvas 640] [--seed S] [--data ../shared/data]
                                       [--variant NAME=OVERRIDE[,OVERRIDE...]] [--reuse]
                                       [--reference IMAGE_DIR ALPHA_DIR]

Builds `recipes/naive.yaml` and `recipes/portrait.yaml` from the same sources (the real
photos with ground-truth alpha and the real backgrounds in `../shared/data`), with the same
seed, canvas and number of samples (one split), serially in this process, into `DIR/naive`
and `DIR/portrait` (preparation cache in `DIR/cache`). It then measures on every composite
the foreground/background mismatch near the alpha boundary (noise, sharpness, colour and
contrast; see `synth.stats.realism_report`) and the same indicators on the real photographs
themselves, whose foreground and background share one camera, light and lens: their
distribution is the reference (it is not zero: depth of field, subject vs scenery colours).

Per indicator it prints the medians, the 1-D Wasserstein distance of each dataset's
distribution to the real one, the ratio W(portrait, real) / W(naive, real) and its 90 %
bootstrap interval over the composites (`synth.stats.realism_report.ratio_interval`: where another
draw of as many composites, such as another seed, would put it; a pass whose interval
reaches above 0.5 is reported as not robust). Target: ratio <= 0.5 on every indicator.  With 18 reference photos the reference is itself
noisy: the last column, `W floor`, is the distance a dataset drawn from the real photos'
population would still show (`synth.stats.realism_report.sampling_floor`); a W near it means "as
close to real as this reference can tell", and `measurable` says whether half of naive's W
lies above it (where it does not, no dataset can be shown to meet the target, and a second
verdict covers the indicators that are measurable). The quantiles of every indicator (real
photos and each dataset) follow the table, to tell a shifted median from a wrong spread.

`--variant NAME=a.b=1,c.d=2` also builds portrait with those overrides into `DIR/NAME` and
adds its distances (ratio against naive) below the table: the ablations of the realism steps.
`--reuse` keeps a dataset already built in DIR with the same recipe (by its sha256).
`--reference IMAGE_DIR ALPHA_DIR` measures the reference on other real photos with ground-truth
alpha (files matched by stem: AIM-500, P3M-500, PPM-100...): a larger set lowers the floor.
`--json FILE` saves each indicator's ratio, interval and distances; `--against FILE` (such a
file from a run of the code before a byte-changing change, same settings) prints every ratio
before and after and exits 1 if one left the earlier 90 % interval (issue 18's check;
benchmarks/realism_compare.py).

    python benchmarks/bench_realism.py --video --out DIR [--seeds 0 1 2] [--limit 24] [--canvas 384]
                                       [--data ../shared/data | --procedural] [--reuse]

Realism in time (clips): builds `recipes/video_naive.yaml` (a still background, no motion
blur, live noise on the subject only, harmonisation drawn per frame) and
`recipes/video_demo.yaml` (the clip composition of docs/video.md) from the same sources, canvas,
motion and number of clips, once per seed, into `DIR/video_naive_sS` and `DIR/video_sS`.
Sources: the real photos with ground-truth alpha (animated by the recipes' motion) and the
real backgrounds of `--data` when present (real mattes have sharp edges, on which motion blur
is measurable), else the recipes' procedural ones (`--procedural` forces them). With real data
the same photos are also filmed whole by a simulated hand-held camera (`filmed`: one scene, one
camera, so no mismatch but the measurement's own floor). Every clip is
measured at full resolution by `synth.stats.temporal` (augment.temporal_mismatch, docs/video.md):
per indicator the mean distance to "no mismatch" (0) per dataset, and the ratio video / naive
on each seed. Target: ratio <= 0.5 on every indicator and seed.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from shards.manifest import read_manifest  # noqa: E402
from synth.build import build  # noqa: E402
from synth.recipe import load_recipe, recipe_sha256  # noqa: E402
from synth.stats.realism_report import (  # noqa: E402
    INDICATORS,
    compare,
    format_table,
    measure_dataset,
    measure_photos,
    quantile_table,
    ratio_interval,
)
from realism_compare import compare_figures, figures, read_figures, write_figures  # noqa: E402  (benchmarks/)
from variants import parse_variant  # noqa: E402  (benchmarks/, the script's folder)


def _common_overrides(data: Path, canvas: int, samples: int) -> list[str]:
    return [
        f"foregrounds.0.image_dir={data / 'alphamatting' / 'image'}",
        f"foregrounds.0.alpha_dir={data / 'alphamatting' / 'alpha'}",
        f"backgrounds.0.path={data / 'backgrounds'}",
        f"canvas.height={canvas}", f"canvas.width={canvas}",
        f"splits=[{{name: train, fraction: 1.0, samples: {samples}}}]",
        "background_split=shared",
    ]


def _build(name: str, recipe_path: Path, overrides: list[str], out: Path, reuse: bool) -> tuple[Path, float]:
    recipe = load_recipe(recipe_path, overrides)
    dest = out / name
    if reuse and (dest / "manifest.json").is_file():
        try:
            if read_manifest(dest).recipe_sha256 == recipe_sha256(recipe):
                print(f"  {name}: reusing {dest}", flush=True)
                return dest, 0.0
        except (ValueError, FileNotFoundError, AttributeError):
            pass
    t0 = time.perf_counter()
    build(recipe, dest, overwrite=True, cache_dir=out / "cache")
    dt = time.perf_counter() - t0
    print(f"  {name}: built in {dt:.1f} s", flush=True)
    return dest, dt


def _video_overrides(data: Path | None, canvas: int, clips: int, seed: int) -> list[str]:
    out = [f"canvas.height={canvas}", f"canvas.width={canvas}", f"seed={seed}",
           f"splits=[{{name: train, fraction: 1.0, samples: {clips}}}]", "background_split=shared"]
    if data is not None:
        out += [f"foregrounds=[{{kind: image_alpha, name: photos, image_dir: '{data / 'alphamatting' / 'image'}', "
                f"alpha_dir: '{data / 'alphamatting' / 'alpha'}'}}]",
                f"backgrounds=[{{kind: folder, name: photos, path: '{data / 'backgrounds'}'}}]"]
    return out


def _filmed_clips(data: Path, canvas: int, frames: int, seed: int) -> list[dict[str, float]]:
    """The real photos (with their mattes) filmed whole by a hand-held camera: a pan of 0.5-1.5 % of the canvas per
    frame in a random direction plus a 0.75-px shake, a 180-degree shutter (each frame smeared along
    the camera's motion over half a frame interval), fresh noise (sigma 2 levels) in every frame.
    One scene, one camera: subject and background share motion, blur, noise and light, as in a
    filmed clip of a still scene. Their indicators are the measurement's floor."""
    import cv2
    import numpy as np

    from augment.temporal_mismatch import temporal_mismatch
    from shards.codec import decode_alpha, decode_rgb
    from synth.stats.temporal import TEMPORAL_BAND_PX
    from synth.video.layers import line_kernel

    rng = np.random.default_rng([seed, 16])
    out = []
    for image_path in sorted((data / "alphamatting" / "image").glob("*.png")):
        photo = decode_rgb(image_path.read_bytes()).astype(np.float32)
        alpha = decode_alpha((data / "alphamatting" / "alpha" / image_path.name).read_bytes())
        room = math.ceil(0.015 * canvas * frames) + 8
        scale = (canvas + 2 * room) / min(photo.shape[:2])
        photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, (photo.shape[1], photo.shape[0]), interpolation=cv2.INTER_AREA)
        angle, speed = rng.uniform(0, 2 * math.pi), rng.uniform(0.005, 0.015) * canvas
        period, phases = rng.uniform(4, 8), rng.uniform(0, 2 * math.pi, 2)
        centre = np.array([photo.shape[1] / 2, photo.shape[0] / 2])

        def pos(t: float) -> np.ndarray:
            pan = speed * (t - frames / 2) * np.array([math.cos(angle), math.sin(angle)])
            return centre + pan + 0.75 * np.sin(2 * math.pi * t / period + phases)

        clip, mattes = [], []
        for t in range(frames):
            x, y = pos(t) - canvas / 2
            m = np.float32([[1, 0, x], [0, 1, y]])
            frame = cv2.warpAffine(photo, m, (canvas, canvas), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
            matte = cv2.warpAffine(alpha, m, (canvas, canvas), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
            k = line_kernel(*(pos(t + 0.25) - pos(t - 0.25)))
            if k is not None:
                frame, matte = cv2.filter2D(frame, -1, k), cv2.filter2D(matte, -1, k)
            frame += rng.normal(0.0, 2.0, frame.shape).astype(np.float32)
            clip.append(np.clip(np.rint(frame), 0, 255).astype(np.uint8))
            mattes.append(np.clip(matte, 0.0, 1.0))
        out.append(temporal_mismatch(np.stack(clip), np.stack(mattes), band_px=TEMPORAL_BAND_PX * canvas / 800))
    return out


def video_main(args: argparse.Namespace) -> int:
    """--video: the temporal indicators of naive and video clips, ratios per seed (module docstring)."""
    from synth.stats.temporal import mismatch_table, measure_clip_dataset

    data = None if args.procedural else args.data.resolve()
    if data is not None and not (data / "alphamatting" / "alpha").is_dir():
        print(f"real data not found at {data}: procedural sources", flush=True)
        data = None
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"bench_realism --video: {args.limit} clips per dataset and seed, canvas {args.canvas}^2, seeds "
          f"{args.seeds}, sources {data or 'procedural'}", flush=True)
    t0 = time.perf_counter()
    measures: dict[str, list] = {"naive": [], "video": []}
    if data is not None:
        measures["filmed"] = []
    for seed in args.seeds:
        if data is not None:
            t1 = time.perf_counter()
            measures["filmed"].append(_filmed_clips(data, args.canvas, 12, seed))
            print(f"  filmed seed {seed}: {len(measures['filmed'][-1])} real photos filmed whole and measured in "
                  f"{time.perf_counter() - t1:.1f} s", flush=True)
        overrides = _video_overrides(data, args.canvas, args.limit, seed)
        for name, recipe in (("naive", "video_naive.yaml"), ("video", "video_demo.yaml")):
            dest, _ = _build(f"{'video_naive' if name == 'naive' else 'video'}_s{seed}", ROOT / "recipes" / recipe,
                             overrides, args.out, args.reuse)
            t1 = time.perf_counter()
            measures[name].append(measure_clip_dataset(dest, analysis_side=args.canvas))
            print(f"  {name} seed {seed}: measured {len(measures[name][-1])} clips in {time.perf_counter() - t1:.1f} s",
                  flush=True)
    table, ratios = mismatch_table(measures, "naive")
    print()
    print("mean |indicator| over the clips (0: no mismatch); ratio = dataset / naive, per seed; pass: video's "
          "ratio <= 0.5 on every seed" + ("; filmed = the real photos filmed whole by a hand-held camera (one scene, "
                                           "one camera): the measurement's floor" if "filmed" in measures else ""))
    print(table)
    for key in ("fg_speed", "bg_speed", "fg_noise_change", "bg_noise_change", "fg_shutter", "fg_flicker",
                "bg_flicker"):
        cells = []
        for name, per_seed in measures.items():
            vals = [m[key] for clips in per_seed for m in clips if math.isfinite(m[key])]
            cells.append(f"{name} {sorted(vals)[len(vals) // 2]:.2f}" if vals else f"{name} nan")
        print(f"  raw {key} (median): " + ", ".join(cells))
    failing = [k for k, per in ratios.items() if not all(math.isfinite(r) and r <= 0.5 for r in per["video"])]
    print(f"\n{'PASS' if not failing else 'FAIL'}: video {'removes' if not failing else 'does not remove'} every "
          f"temporal mismatch of naive (ratio <= 0.5 on every seed){': ' + ', '.join(failing) if failing else ''} "
          f"({time.perf_counter() - t0:.0f} s)")
    if "filmed" in ratios[next(iter(ratios))]:
        # as for images: where half of naive's distance lies below what filmed clips read, the
        # target cannot be told apart from the measure's own floor
        floor_bound = [k for k, per in ratios.items() if not all(r < 0.5 for r in per["filmed"])]
        if floor_bound:
            resolvable = [k for k in ratios if k not in floor_bound]
            ok = all(k not in failing for k in resolvable)
            print(f"{'PASS' if ok else 'FAIL'} on the {len(resolvable)} indicators the measure resolves; for "
                  f"{', '.join(floor_bound)} the filmed clips themselves read >= 0.5 x naive on some seed (the "
                  "measure's floor): compare video with filmed there")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="folder for the datasets and the cache")
    ap.add_argument("--limit", type=int, default=None, help="samples per dataset (default 200; --video: 24 clips)")
    ap.add_argument("--canvas", type=int, default=None, help="square canvas side in px (default 640; --video: 384)")
    ap.add_argument("--seed", type=int, default=None, help="recipe seed for both datasets (default: the recipes')")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                    help="real data: alphamatting/{image,alpha}, backgrounds/ (default ../shared/data)")
    ap.add_argument("--variant", action="append", default=[], help="NAME=override[,override...] (portrait + overrides)")
    ap.add_argument("--reuse", action="store_true", help="reuse datasets already built with the same recipe")
    ap.add_argument("--reference", nargs=2, type=Path, metavar=("IMAGE_DIR", "ALPHA_DIR"), default=None,
                    help="real photos + alphas for the reference (default: the source photos in --data)")
    ap.add_argument("--json", type=Path, default=None, help="save the figures (ratios, intervals, distances) here")
    ap.add_argument("--against", type=Path, default=None,
                    help="a --json file of an earlier run: exit 1 if a ratio left its interval")
    ap.add_argument("--video", action="store_true", help="realism in time: naive vs video clips (module docstring)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="--video: recipe seeds (default 0 1 2)")
    ap.add_argument("--procedural", action="store_true", help="--video: the recipes' procedural sources, not --data")
    args = ap.parse_args(argv)
    args.limit = args.limit if args.limit is not None else (24 if args.video else 200)
    args.canvas = args.canvas if args.canvas is not None else (384 if args.video else 640)
    if args.limit < 1 or args.canvas < 32:
        raise SystemExit("--limit must be >= 1 and --canvas >= 32")
    if args.video:
        if args.json or args.against:
            raise SystemExit("--json and --against are for stills, not --video")
        return video_main(args)
    before = read_figures(args.against) if args.against else None  # a bad file fails before any build
    if not (args.data / "alphamatting" / "alpha").is_dir():
        print(f"real data not found at {args.data}", file=sys.stderr)
        return 2
    if args.limit < 1:
        raise SystemExit("--limit must be >= 1")
    args.out.mkdir(parents=True, exist_ok=True)
    common = _common_overrides(args.data.resolve(), args.canvas, args.limit)
    if args.seed is not None:
        common.append(f"seed={args.seed}")
    builds = {"naive": (ROOT / "recipes" / "naive.yaml", common),
              "portrait": (ROOT / "recipes" / "portrait.yaml", common)}
    for text in args.variant:
        name, extra = parse_variant(text)
        builds[name] = (ROOT / "recipes" / "portrait.yaml", common + extra)

    print(f"bench_realism: {args.limit} samples per dataset, canvas {args.canvas}^2, data {args.data}", flush=True)
    t0 = time.perf_counter()
    ref_images, ref_alphas = args.reference or (args.data / "alphamatting" / "image", args.data / "alphamatting" / "alpha")
    reference = measure_photos(ref_images, ref_alphas)
    measures = {}
    for name, (path, overrides) in builds.items():
        dest, _ = _build(name, path, overrides, args.out, args.reuse)
        t1 = time.perf_counter()
        measures[name] = measure_dataset(dest)
        print(f"  {name}: measured {len(measures[name])} composites in {time.perf_counter() - t1:.1f} s", flush=True)

    rows = compare(reference, measures, floor_draws=200)
    print()
    print(f"reference: {len(reference)} real photos with ground-truth alpha ({ref_images}); "
          "W = 1-D Wasserstein distance to the real distribution; ratio = W(portrait) / W(naive); "
          "pass: ratio <= 0.5;\nratio interval = 90 % bootstrap interval of the ratio over the composites "
          "(another draw of as many composites, e.g. another seed, lands there);\nW floor = the W a dataset distributed exactly like real photos would still "
          f"show against only {len(reference)} reference photos (smoothed bootstrap): below it, no difference is measurable")
    intervals = {r.indicator: ratio_interval(reference, measures["portrait"], measures["naive"], r.indicator)
                 for r in rows}
    print(format_table(rows, "naive", "portrait", intervals=intervals))
    dropped = {name: sum(r.dropped[name] for r in rows) for name in measures}
    ref_dropped = sum(r.reference_dropped for r in rows)
    print(f"nan values dropped (rings under 64 px): real {ref_dropped}, "
          + ", ".join(f"{k} {v}" for k, v in dropped.items()))
    raw = compare(reference, measures, ("fg_noise_sigma", "bg_noise_sigma", "fg_sharpness", "bg_sharpness"))
    print("raw ring measures (medians, for diagnosis only): "
          + "; ".join(f"{r.indicator} real {r.reference_median:.2f} "
                      + " ".join(f"{n} {r.medians[n]:.2f}" for n in measures) for r in raw))
    print()
    print(quantile_table(reference, measures))
    if len(builds) > 2:
        print()
        print("variants (W to real; ratio against naive):")
        names = [n for n in builds if n != "naive"]
        width = max(len(k) for k in INDICATORS)
        print(" " * width + " | " + " | ".join(f"{n:>22}" for n in names))
        for r in rows:
            cells = [f"{r.distances[n]:8.3f} ({r.ratio(n, 'naive'):5.2f})" for n in names]
            print(f"{r.indicator:<{width}} | " + " | ".join(f"{c:>22}" for c in cells))
    def passes(r) -> bool:
        return math.isfinite(r.ratio("portrait", "naive")) and r.ratio("portrait", "naive") <= 0.5

    ok = all(passes(r) for r in rows)
    print(f"\n{'PASS' if ok else 'FAIL'}: portrait {'is' if ok else 'is not'} at most half as far from real "
          f"photos as naive on every indicator ({time.perf_counter() - t0:.0f} s)")
    fragile = [r.indicator for r in rows if passes(r) and not intervals[r.indicator][1] <= 0.5]
    if fragile:
        print(f"not robust: {', '.join(fragile)} pass{'es' if len(fragile) == 1 else ''} on this draw, but the "
              "ratio's 90 % interval reaches above 0.5")
    unmeasurable = [r.indicator for r in rows if not r.measurable("naive")]
    if unmeasurable:
        ok_m = all(passes(r) for r in rows if r.measurable("naive"))
        print(f"{'PASS' if ok_m else 'FAIL'} on the {len(rows) - len(unmeasurable)} indicators this reference can "
              f"measure; half of naive's W is below the sampling floor for {', '.join(unmeasurable)}")
    run, figs = {k: str(v) for k, v in vars(args).items()}, figures(rows, intervals)
    if args.json:
        write_figures(args.json, run, figs)
    if before is None:
        return 0
    lines, left = compare_figures(before, {"run": run, "indicators": figs})
    print(f"\nagainst {args.against}:\n" + "\n".join(lines))
    if left:
        print(f"FAIL: ratios left their earlier interval: {', '.join(left)}")
        return 1
    print("PASS: every ratio within its earlier 90 % interval")
    return 0


if __name__ == "__main__":
    sys.exit(main())
