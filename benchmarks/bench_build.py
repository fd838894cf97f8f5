"""Build throughput against the codec floor, and peak memory against dataset size.

    python benchmarks/bench_build.py [--samples 60] [--canvas 1024] [--real DIR]

Renders a fixed recipe at a 1024x1024 canvas in this process (serial, one core) and
measures, for the very same samples in the same run:

- the full per-sample cost of `render_sample` (F/alpha/background decode, augmentation,
  placement, cover crop, compositing, trimap, encoding of every member), and
- the *codec floor*: decoding that sample's inputs (the cached F and alpha PNGs and the
  background file) and encoding its outputs (image, alpha, trimap, fg, bg, meta), nothing else;
  and the floor plus decoding the stored fg and bg once more, whole: a second ratio. The
  build must decode them again too (the composite is made from the layers' decoded pixels,
  docs/format.md), B whole and F over the box where alpha > 0, so that is at most its share.

Four configurations: composition only, the recipe defaults' realism steps, portrait.yaml's
harmonisation, realism steps and framing, and the same without its backdrop contrast step and
noise compensation (what those two cost).
Instance targets (``output.targets: [instances]``) are priced on groups of 2-6 foregrounds
(``multi_foreground.layout: group``): the same samples rendered with and without them,
alternately, with the realism steps off and with the recipe defaults; the ratio with / without
is the cost per sample (target <= 1.15). ``--instances-only`` runs just that comparison.
``--layers`` prices ``output.layers: false`` (no fg/bg members) against the layered build,
per configuration, alternately (time and bytes per sample). ``--no-instances`` skips the
instance comparison; ``--configs off,defaults,portrait`` picks configurations;
``--profile N`` also prints each configuration's N costliest steps and native calls (cProfile);
``--split`` splits each configuration's time into decoding the stored layers again, the
composition steps every sample needs, the realism steps and the rest, as multiples of the
floor (each step's CPU time measured in place: what the ratio targets leave room for).
``--video`` prices clips (``video:`` section, docs/video.md) per frame against the same run's
still samples at the same canvas, from the same sources, rendered alternately (target <= 1.2:
a clip decodes and augments its sources once, then each frame warps, blurs, runs the realism
steps and encodes): moving subjects and camera with motion blur, and a static scene.
Times are this process's CPU time (cv2 threads 1), so other jobs on a shared machine do not
inflate them. It prints samples/s per core, the ratio full / floor (targets: composition only 1.3,
recipe defaults 1.8, portrait 2.5), and the peak RSS of
whole builds of two sizes run in fresh subprocesses (target: independent of the size).
Uses the real data in ../shared/data when present (photo + alpha foregrounds, real
backgrounds), else the procedural sources.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any
from pathlib import Path

import cv2

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from cost_split import BUILD_GROUPS, build_steps, print_split, timed_steps  # noqa: E402  (benchmarks/, the script's folder)
from shards.allocator import retain_freed_memory
from shards.codec import (
    decode_alpha,
    decode_alpha_stored,
    decode_rgb,
    encode_alpha_levels,
    encode_rgb,
    encode_trimap,
)
from synth.build import prepare_inputs
from synth.plan import make_plan
from synth.recipe import parse_recipe, recipe_sha256
from synth.render import render_sample
from synth.sources.imageio import decode_background, read_bytes
from synth.video.render_clip import render_clip


def _clock() -> float:
    """This process's CPU seconds: per-core cost that other jobs on a shared machine do not
    inflate (wall-clock time does: ratios of two wall-clock figures taken minutes apart drift)."""
    return time.process_time()


REALISM_OFF = {"harmonization": {"p": 0.0},
               "realism": {"resolution_match": False, "defocus": {"p": 0.0}, "sharpness_match_p": 0.0,
                           "noise": {"p": 0.0}, "jpeg": {"p": 0.0}}}


def _portrait_steps(calming: bool) -> dict:
    """portrait.yaml's harmonisation and realism sections and its framing; with ``calming=False``
    without the backdrop contrast step and the noise compensation (to price those two)."""
    import yaml

    portrait = yaml.safe_load((ROOT / "recipes" / "portrait.yaml").read_text())
    steps = {k: portrait[k] for k in ("harmonization", "realism")}
    steps["composition"] = {"fg_estimation": "blur_fusion", "framing": portrait["composition"]["framing"]}
    if not calming:
        realism = steps["realism"]
        steps["realism"] = {**realism, "backdrop": {"p": 0.0}, "noise": {**realism["noise"], "compensate": False}}
    return steps


def _recipe(canvas: int, samples: int, real: Path | None) -> dict:
    if real is not None:
        fgs = [{"kind": "image_alpha", "image_dir": str(real / "alphamatting" / "image"),
                "alpha_dir": str(real / "alphamatting" / "alpha")}]
        bgs = [{"kind": "folder", "path": str(real / "backgrounds")}]
    else:
        fgs = [{"kind": "procedural", "count": 16, "size": [800, 600]}]
        bgs = [{"kind": "procedural", "count": 24, "size": [768, 1024]}]
    return {
        "name": "bench", "seed": 0, "foregrounds": fgs, "backgrounds": bgs,
        "splits": [{"name": "train", "fraction": 1.0, "samples": samples}],
        "canvas": {"height": canvas, "width": canvas},
        "composition": {"fg_estimation": "blur_fusion"},
        "output": {"samples_per_shard": 32},
    }


GROUPS = {"p": 1.0, "min_count": 2, "max_count": 6, "layout": "group"}


def _plan(raw: dict, cache: Path):
    """The build plan of recipe dict ``raw`` (inputs prepared into ``cache``)."""
    recipe = parse_recipe(raw)
    fgs, bgs, _ = prepare_inputs(recipe, cache)
    return make_plan(recipe, recipe_sha256(recipe), fgs, bgs)


def _render_alternately(raws: list[dict], cache: Path, samples: int,
                        each: Callable[[int, Any], None] = lambda j, sample: None) -> list[float]:
    """Seconds to render samples 0..``samples``-1 of each recipe dict, alternately (so drifts in
    machine load hit all alike), after one warm-up each; ``each(j, sample)`` sees every sample
    of recipe ``j`` (untimed)."""
    plans = [_plan(raw, cache) for raw in raws]
    for plan in plans:
        render_sample(plan, "train", 0)  # warm-up (imports, first-call costs)
    times = [0.0] * len(plans)
    for i in range(samples):
        for j, plan in enumerate(plans):
            t0 = _clock()
            sample = render_sample(plan, "train", i)
            times[j] += _clock() - t0
            each(j, sample)
    return times


def _instance_cost(data: dict, cache: Path, samples: int) -> None:
    """Per-sample cost of instance targets against the same groups rendered image-only."""
    for label, extra in (("realism steps off", REALISM_OFF), ("recipe defaults' realism steps", {})):
        raws = [{**data, **extra, "composition": {**data["composition"], **extra.get("composition", {}),
                                                 "placement": {"scale": [0.4, 0.7]}, "multi_foreground": GROUPS},
                 "output": {**data["output"], "targets": targets}} for targets in ([], ["instances"])]
        counts: list[int] = []
        off, on = _render_alternately(raws, cache, samples, lambda j, s: counts.append(
            json.loads(s.members["instances.json"])["count"]) if j else None)
        print(f"groups of 2-6 ({label}), {sum(counts) / samples:.1f} instances per sample:")
        print(f"  image-only     : {1000 * off / samples:6.1f} ms/sample")
        print(f"  with instances : {1000 * on / samples:6.1f} ms/sample")
        print(f"  ratio with / without instance targets = {on / off:.3f}  (target <= 1.15)")


def _layers_cost(data: dict, cache: Path, samples: int, configs: list[str]) -> None:
    """Per-sample time and bytes of ``output.layers: false`` (no fg/bg members, the composite
    made from the layers in memory) against the same recipe writing its layers, rendered
    alternately."""
    for name in configs:
        label, make_extra = CONFIGS[name]
        extra = make_extra()
        raws = [{**data, **extra, "output": {**data["output"], "layers": layers}} for layers in (True, False)]
        sizes = [0, 0]

        def count(j: int, sample: Any) -> None:
            sizes[j] += sum(len(v) for v in sample.members.values())

        times = _render_alternately(raws, cache, samples, count)
        print(f"{label}, {samples} samples:")
        for title, t, b in (("with layers        ", times[0], sizes[0]), ("output.layers false", times[1], sizes[1])):
            print(f"  {title}: {1000 * t / samples:6.1f} ms/sample, {b / samples / 1024:6.0f} KiB/sample")
        print(f"  ratio without / with layers: time {times[1] / times[0]:.3f}, bytes {sizes[1] / sizes[0]:.3f}")


VIDEO = {"motion": {"max_speed": 0.02, "max_accel": 0.004, "enter_exit_p": 0.1, "still_p": 0.1},
         "camera": {"max_pan": 0.01, "shake_px": 1.0, "still_p": 0.2}, "motion_blur": {"shutter": [0.3, 0.5]}}
STATIC = {"motion": {"still_p": 1.0}, "camera": {"still_p": 1.0}}


def _video_cost(data: dict, cache: Path, clips: int, frames: int) -> None:
    """Per-frame cost of clips against per-sample cost of stills, same sources and canvas."""
    for label, extra in (("realism steps off", REALISM_OFF), ("recipe defaults' realism steps", {})):
        for scene, video in (("moving, motion blur", VIDEO), ("static scene", STATIC)):
            plans = [_plan({**data, **extra}, cache),
                     _plan({**data, **extra, "video": {**video, "frames": frames}}, cache)]
            render_sample(plans[0], "train", 0)  # warm-up
            render_clip(plans[1], "train", 0)
            t_still = t_clip = 0.0
            per_clip = max(1, frames)  # stills rendered per clip, alternately
            for i in range(clips):
                t0 = _clock()
                for k in range(per_clip):
                    render_sample(plans[0], "train", i * per_clip + k)
                t1 = _clock()
                render_clip(plans[1], "train", i)
                t2 = _clock()
                t_still, t_clip = t_still + t1 - t0, t_clip + t2 - t1
            ms_still, ms_frame = 1000 * t_still / (clips * per_clip), 1000 * t_clip / (clips * frames)
            print(f"video, {scene} ({label}), {clips} clips of {frames} frames:")
            print(f"  still samples : {ms_still:6.1f} ms/sample")
            print(f"  clip frames   : {ms_frame:6.1f} ms/frame")
            print(f"  ratio per frame / per still sample = {ms_frame / ms_still:.3f}  (target <= 1.2)")


CONFIGS = {
    "off": ("composition only (realism steps off)", lambda: REALISM_OFF),
    "defaults": ("full realistic pipeline (recipe defaults)", dict),
    "portrait-light": ("portrait.yaml's steps without backdrop contrast and noise compensation",
                       lambda: _portrait_steps(False)),
    "portrait": ("portrait.yaml's harmonisation, realism steps and framing", lambda: _portrait_steps(True)),
}
#: Issue 18's targets for the ratio pipeline / codec floor (portrait-light has none of its own).
TARGETS = {"off": 1.3, "defaults": 1.8, "portrait": 2.5}


def _codec_floor(plan, split: str, index: int, members: dict[str, bytes], canvas: int) -> tuple[float, float]:
    """Seconds to decode the sample's inputs and encode its outputs, nothing else; and seconds
    to decode its stored F and B layers once more, which the build must also do (docs/format.md:
    the composite is made from the layers' decoded pixels), for the ratio to both."""
    import numpy as np

    meta = json.loads(members["meta.json"])
    fg_item = next(f for f in plan.foregrounds[split] if f.id == meta["foreground"]["id"])
    bg_item = next(b for b in plan.backgrounds[split] if b.id == meta["background"]["id"])
    # Outputs at the canvas size, decoded outside the timed region.
    image = decode_rgb(members["image.jpg"])
    levels = decode_alpha_stored(members["alpha.png"])  # 8-bit levels, as synth build encodes them
    trimap = cv2.imdecode(np.frombuffer(members["trimap.png"], np.uint8), cv2.IMREAD_UNCHANGED)
    fg, bg = decode_rgb(members["fg.jpg"]), decode_rgb(members["bg.jpg"])
    t0 = _clock()
    decode_rgb(read_bytes(fg_item.fg_path))
    decode_alpha(read_bytes(fg_item.alpha_path))
    decode_background(read_bytes(bg_item.path), bg_item.path)
    encode_rgb(image, "jpg", 95, restart_markers=True)  # as synth build writes it
    encode_alpha_levels(levels)
    encode_trimap(trimap)
    encode_rgb(fg, "jpg", 95, restart_markers=True)
    encode_rgb(bg, "jpg", 95, restart_markers=True)
    json.dumps(meta, sort_keys=True).encode()
    t1 = _clock()
    for name in ("fg.jpg", "bg.jpg"):
        if name in members:
            decode_rgb(members[name])
    return t1 - t0, _clock() - t1


def _print_profile(plan, samples: int, top: int) -> None:
    """The ``top`` costliest functions of ``render_sample`` by time spent in them and in what they
    call (cProfile's cumulative time, which profiling inflates: read the shares, not the sums),
    ms per sample: the project's steps (augment/, synth/, shards/) and the native calls."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    for i in range(samples):
        render_sample(plan, "train", i)
    prof.disable()
    rows = pstats.Stats(prof).stats  # (file, line, name) -> (calls, primitive calls, tottime, cumtime, callers)
    ours = [(cum, f"{Path(f).relative_to(ROOT)}:{name}") for (f, _, name), (_, _, _, cum, _) in rows.items()
            if Path(f).is_relative_to(ROOT) and Path(f).parts[len(ROOT.parts)] in ("augment", "synth", "shards")]
    native = [(tot, name) for (f, _, name), (_, _, tot, _, _) in rows.items() if f == "~"]
    for title, entries in (("steps (cumulative)", ours), ("native calls (own time)", native)):
        print(f"  profile, {title}, ms/sample:")
        for t, name in sorted(entries, reverse=True)[:top]:
            print(f"    {1000 * t / samples:7.1f}  {name}")


def _peak_rss_of_build(recipe: dict, samples: int, cache: Path) -> float:
    """Peak RSS (MiB) of a whole serial build of `samples` samples, in a fresh process."""
    code = (
        "import json, resource, sys, tempfile\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from synth.build import build\nfrom synth.recipe import parse_recipe\n"
        f"r = json.loads({json.dumps(json.dumps(recipe))})\n"
        f"r['splits'][0]['samples'] = {samples}\n"
        "with tempfile.TemporaryDirectory() as d:\n"
        f"    build(parse_recipe(r), d + '/out', cache_dir={str(cache)!r})\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    retain_freed_memory()  # as synth build's workers do (shards.allocator)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=60)
    ap.add_argument("--canvas", type=int, default=1024)
    ap.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--procedural", action="store_true", help="ignore real data")
    ap.add_argument("--memory", action="store_true", help="also measure peak RSS for two build sizes")
    ap.add_argument("--instances-only", action="store_true", help="only price instance targets")
    ap.add_argument("--video", action="store_true", help="only price clips per frame against stills")
    ap.add_argument("--clips", type=int, default=4, help="--video: clips per configuration")
    ap.add_argument("--frames", type=int, default=16, help="--video: frames per clip")
    ap.add_argument("--layers", action="store_true",
                    help="only price output.layers: false against writing the layers, per configuration")
    ap.add_argument("--no-instances", action="store_true", help="skip the instance-target comparison")
    ap.add_argument("--configs", default="off,defaults,portrait-light,portrait",
                    help="comma-separated configurations to run: off, defaults, portrait-light, portrait")
    ap.add_argument("--split", action="store_true",
                    help="also split each configuration's time: decoding the layers again, the composition "
                         "steps, the realism steps and the rest, against the floor (cost_split.py)")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="also profile each configuration (cProfile): its N costliest steps, ms per sample")
    args = ap.parse_args()
    wanted = set(args.configs.split(","))
    unknown = wanted - set(CONFIGS)
    if unknown:
        ap.error(f"--configs: unknown {sorted(unknown)}; choose from {', '.join(CONFIGS)}")
    real = None if args.procedural or not (args.real / "alphamatting").is_dir() else args.real
    cv2.setNumThreads(1)  # one core: the per-core figure

    data = _recipe(args.canvas, args.samples, real)
    print(f"data: {'real (../shared/data)' if real else 'procedural'}; canvas {args.canvas}x{args.canvas}; "
          f"{args.samples} samples, serial, cv2 threads 1")
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(os.environ.get("SYNTH_BENCH_CACHE", tmp))
        if args.video:
            _video_cost(data, cache, args.clips, args.frames)
            return
        if args.layers:
            _layers_cost(data, cache, args.samples, [c for c in CONFIGS if c in wanted])
            return
        if not args.no_instances:
            _instance_cost(data, cache, args.samples)
        if args.instances_only:
            return
        for name, (label, make_extra) in CONFIGS.items():
            if name not in wanted:
                continue
            plan = _plan({**data, **make_extra()}, cache)
            render_sample(plan, "train", 0)  # warm-up (imports, first-call costs)
            full, floor, redecode = 0.0, 0.0, 0.0
            with timed_steps(build_steps() if args.split else {}) as steps:
                for i in range(args.samples):
                    t0 = _clock()
                    s = render_sample(plan, "train", i)
                    full += _clock() - t0
                    f, r = _codec_floor(plan, "train", i, s.members, args.canvas)
                    floor, redecode = floor + f, redecode + r
            n = args.samples
            print(f"{label}:")
            print(f"  pipeline    : {n / full:7.2f} samples/s per core ({1000 * full / n:6.1f} ms/sample)")
            print(f"  codec floor : {n / floor:7.2f} samples/s per core ({1000 * floor / n:6.1f} ms/sample)")
            target = f"  (target <= {TARGETS[name]})" if name in TARGETS else ""
            print(f"  ratio pipeline / codec floor = {full / floor:.2f}{target}")
            print(f"  + decoding the stored F and B again ({1000 * redecode / n:.1f} ms/sample): "
                  f"ratio pipeline / (floor + that) = {full / (floor + redecode):.2f}")
            if args.split:
                print("  where the pipeline's time goes (CPU time of each step, in place), against the floor:")
                print_split(full, steps, n, BUILD_GROUPS, floor)
            if args.profile:
                _print_profile(plan, n, args.profile)
        if args.memory:
            small, large = _peak_rss_of_build(data, 40, cache), _peak_rss_of_build(data, 160, cache)
            print(f"peak RSS of a whole build: 40 samples {small:.0f} MiB, 160 samples {large:.0f} MiB "
                  f"(ratio {large / small:.2f}, target ~1.0)")
        print(f"this process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
