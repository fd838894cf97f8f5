"""The `synth` command line: build, validate, tune (stats is registered from synth.stats_cli)."""
from __future__ import annotations

import sys

import click

from .recipe import RecipeError, load_recipe


def _load(recipe_path: str, overrides: tuple[str, ...]):
    try:
        return load_recipe(recipe_path, list(overrides))
    except RecipeError as err:
        raise click.ClickException(str(err)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="matting-synth")
def main() -> None:
    """Build context-realistic image-matting training data as WebDataset shards."""


_set_option = click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
                           help="Override a recipe field, e.g. --set splits.0.samples=100 (repeatable).")


@main.command(short_help="Build a dataset from a recipe.", epilog="""\b
Examples:
  synth build recipes/demo.yaml -o out/demo            # procedural data, no downloads
  synth build recipes/portrait.yaml -o s3://bucket/p3m \\
    --set foregrounds.0.image_dir=/data/P3M/train/image \\
    --set foregrounds.0.alpha_dir=/data/P3M/train/mask \\
    --set backgrounds.0.path=/data/BG-20k/train --limit 100
  synth build recipes/portrait.yaml -o out/p --resume  # finish an interrupted build""")
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "outdir", required=True, metavar="OUT",
              help="Output folder or fsspec URL (s3://bucket/data, gs://…).")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most N samples per split (a quick trial).")
@click.option("--overwrite", is_flag=True, help="Replace an existing dataset in the output folder.")
@click.option("--resume", is_flag=True, help="Finish an interrupted build: keep complete shards, redo the rest.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Cache for prepared foregrounds (default: recipe cache_dir, $SYNTH_CACHE_DIR or ~/.cache).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Parallel workers: a local Ray instance with N CPUs (default: all cores); with --address, "
                   "at most N tasks in flight (default: the cluster's CPUs); 0 runs serially in this process.")
@click.option("--address", default=None, metavar="ADDR",
              help="Join an existing Ray cluster: 'auto' (started with `ray start` on this machine or "
                   "RAY_ADDRESS) or ray://host:port. Default: start a local Ray instance.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--verbose", is_flag=True, help="Show Ray's own logs (and workers' output).")
@_set_option
def build(recipe: str, outdir: str, limit: int | None, overwrite: bool, resume: bool, cache_dir: str | None,
          workers: int | None, address: str | None, quiet: bool, verbose: bool, overrides: tuple[str, ...]) -> None:
    """Build the dataset described by RECIPE into OUT (a folder or an fsspec URL)."""
    from .build import BuildError
    from .build import build as run_build
    from .execution import make_executor

    rec = _load(recipe, overrides)
    log = (lambda s: None) if quiet else (lambda s: click.echo(s, err=True))
    try:
        executor = make_executor(workers, address, quiet=not verbose, log=log)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    try:
        report = run_build(rec, outdir, overwrite=overwrite, resume=resume, limit=limit, cache_dir=cache_dir,
                           executor=executor, progress=not quiet, log=log)
    except (BuildError, RecipeError) as err:
        raise click.ClickException(str(err)) from None
    except KeyboardInterrupt:
        click.echo("\ninterrupted: complete shards were kept and no partial shard is left; "
                   "run the same command with --resume to finish", err=True)
        sys.exit(130)
    finally:
        try:
            executor.close()
        except KeyboardInterrupt:  # a second Ctrl-C while shutting down
            pass
    rate = report.total_samples and sum(report.samples.values()) / max(report.timings.get("render", 0), 1e-9)
    how = "serially" if report.executor == "serial" else f"on {report.executor}"
    click.echo(f"built {report.total_samples} samples in {report.shards_built} new shard(s)"
               f" ({report.shards_reused} reused) into {report.outdir} in {report.seconds:.1f} s"
               f" ({rate:.1f} samples/s rendering, {how})")
    if report.failures:
        click.echo(f"  {report.failures} task attempt(s) lost to a dead worker were retried")
    video = report.manifest.extra.get("video") if report.manifest is not None else None
    for split, n in report.samples.items():
        frames = f" (clips of {video['frames_per_clip']} frames: {video['frames'][split]} frames)" if video else ""
        click.echo(f"  {split}: {n} samples{frames}")
    if report.skipped:
        click.echo(f"  skipped {len(report.skipped)} input(s) (listed in manifest.json):")
        for s in report.skipped[:10]:
            click.echo(f"    {s.path}: {s.reason}")
        if len(report.skipped) > 10:
            click.echo(f"    ... and {len(report.skipped) - 10} more")


@main.command(short_help="Check a recipe and its inputs without building.", epilog="""\b
Examples:
  synth validate recipes/demo.yaml
  synth validate recipes/portrait.yaml --set foregrounds.0.image_dir=/data/P3M/train/image""")
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None)
@click.option("--no-inputs", is_flag=True, help="Only check the recipe itself, not its sources.")
@_set_option
def validate(recipe: str, cache_dir: str | None, no_inputs: bool, overrides: tuple[str, ...]) -> None:
    """Check RECIPE and its sources without building."""
    from .sources.imageio import InputError, SizeLimits
    from .sources.scan import BgInput, FgInput

    rec = _load(recipe, overrides)
    try:
        if rec.foreground_augment.albumentations:  # (importing albumentations takes seconds)
            from .albu import check_transforms

            check_transforms(rec.foreground_augment.albumentations)
    except ValueError as err:
        raise click.ClickException(f"{recipe}: {err}") from None
    click.echo(f"{recipe}: recipe OK ({rec.name}, seed {rec.seed}, "
               + ", ".join(f"{s.name}={s.samples}" for s in rec.splits) + ")")
    if no_inputs:
        return
    from .input_check import check_inputs
    from .plan import split_counts
    from .video.sources import scan_video_backgrounds, scan_video_foregrounds

    try:
        fgs, skipped = scan_video_foregrounds(rec)  # without clip sources: scan_foregrounds
        bgs, bg_skipped = scan_video_backgrounds(rec)
        skipped += bg_skipped
    except InputError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"  foregrounds: {len(fgs)} found, {len(skipped)} unpaired")
    for s in skipped[:10]:
        click.echo(f"    {s.path}: {s.reason}")
    click.echo(f"  backgrounds: {len(bgs)} found")
    if not fgs:
        raise click.ClickException(f"{recipe}: no foregrounds found")
    fg_counts = split_counts(len(fgs), rec.splits)
    bg_counts = split_counts(len(bgs), rec.splits) if rec.background_split == "disjoint" else [len(bgs)] * len(rec.splits)
    for spec, n_fg, n_bg in zip(rec.splits, fg_counts, bg_counts):
        reuse = f", each foreground used ~{spec.samples / n_fg:.0f}x" if n_fg else ""
        click.echo(f"  {spec.name}: {n_fg} foregrounds, {n_bg} backgrounds ({rec.background_split}), "
                   f"{spec.samples} samples{reuse}")
    check = check_inputs([f for f in fgs if isinstance(f, FgInput)], [b for b in bgs if isinstance(b, BgInput)],
                         SizeLimits(rec.inputs.max_pixels, rec.inputs.min_side))
    click.echo(f"  headers: {check.files - len(check.bad)} of {check.files} input files readable")
    for err in check.bad[:10]:
        click.echo(f"    {err}")
    if check.bad:
        action = "would be skipped (on_error: skip)" if rec.on_error == "skip" else "would stop the build"
        click.echo(f"  {len(check.bad)} unreadable input(s) {action}")
    if check.duplicates:
        click.echo(f"  duplicates: {len(check.duplicates)} input(s) with the content of another "
                   "(each used once; the others are listed as skipped in the manifest)")
        for s in check.duplicates[:10]:
            click.echo(f"    {s.path}: {s.reason}")


@main.command(short_help="Tune a recipe's realism parameters against the composite detector.", epilog="""\b
Examples:
  synth tune recipes/portrait.yaml -o tuned.yaml --budget 12 --samples 24 \\
    --set foregrounds.0.image_dir=/data/train/image --set foregrounds.0.alpha_dir=/data/train/alpha""")
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Tuned recipe (YAML) to write.")
@click.option("--weights", default=None, type=click.Path(dir_okay=False),
              help="Detector weights (default: the recipe's realism.guided.weights, else the pinned detector).")
@click.option("--budget", type=click.IntRange(min=1), default=12, show_default=True, help="Builds to evaluate.")
@click.option("--samples", type=click.IntRange(min=1), default=24, show_default=True, help="Samples per build.")
@click.option("--canvas", type=click.IntRange(min=32), default=None, help="Canvas side (default: the detector's).")
@click.option("--work", type=click.Path(file_okay=False), default=None, help="Folder for the trial builds.")
@_set_option
def tune(recipe: str, out: str, weights: str | None, budget: int, samples: int, canvas: int | None,
         work: str | None, overrides: tuple[str, ...]) -> None:
    """Search RECIPE's realism parameters for the least detectable composites; write the tuned
    recipe to OUT (and every trial to OUT.tune.json)."""
    import tempfile
    from pathlib import Path

    from .critic.tune import tune as run_tune
    from .critic.tune import write_tuned
    from .critic.weights import file_sha256

    rec = _load(recipe, overrides)
    default = Path(__file__).resolve().parent / "critic" / "weights" / "portrait-gt01-12-sharp.critic"
    path = weights or (rec.realism.guided.weights if rec.realism.guided else str(default))
    with tempfile.TemporaryDirectory(prefix="synth-tune-") as tmp:
        try:
            result = run_tune(rec, path, work or tmp, budget=budget, samples=samples, canvas=canvas,
                              log=lambda s: click.echo(s, err=True))
        except ValueError as err:
            raise click.ClickException(str(err)) from None
    side = write_tuned(rec, result, out, recipe, file_sha256(path))
    click.echo(f"tuned: score {result.baseline['score']:.4f} -> {result.best['score']:.4f} in "
               f"{len(result.trials)} builds; wrote {out} and {side}")


def _register_stats() -> None:
    from .stats_cli import stats

    main.add_command(stats)


_register_stats()


if __name__ == "__main__":  # pragma: no cover
    main()
