"""The `synth` command line: build, validate."""
from __future__ import annotations

import sys
from pathlib import Path

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


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "outdir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most N samples per split (a quick trial).")
@click.option("--overwrite", is_flag=True, help="Replace an existing dataset in the output folder.")
@click.option("--resume", is_flag=True, help="Finish an interrupted build: keep complete shards, redo the rest.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Cache for prepared foregrounds (default: recipe cache_dir, $SYNTH_CACHE_DIR or ~/.cache).")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="0 runs serially in this process.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@_set_option
def build(recipe: str, outdir: str, limit: int | None, overwrite: bool, resume: bool, cache_dir: str | None,
          workers: int, quiet: bool, overrides: tuple[str, ...]) -> None:
    """Build the dataset described by RECIPE into OUT."""
    from .build import BuildError
    from .build import build as run_build

    rec = _load(recipe, overrides)
    log = (lambda s: None) if quiet else (lambda s: click.echo(s, err=True))
    try:
        report = run_build(rec, outdir, overwrite=overwrite, resume=resume, limit=limit, cache_dir=cache_dir,
                           progress=not quiet, log=log)
    except (BuildError, RecipeError) as err:
        raise click.ClickException(str(err)) from None
    except KeyboardInterrupt:
        click.echo("interrupted: complete shards were kept; run again with --resume to finish", err=True)
        sys.exit(130)
    rate = report.total_samples and sum(report.samples.values()) / max(report.timings.get("render", 0), 1e-9)
    click.echo(f"built {report.total_samples} samples in {report.shards_built} new shard(s)"
               f" ({report.shards_reused} reused) into {Path(report.outdir)} in {report.seconds:.1f} s"
               f" ({rate:.1f} samples/s rendering)")
    for split, n in report.samples.items():
        click.echo(f"  {split}: {n} samples")
    if report.skipped:
        click.echo(f"  skipped {len(report.skipped)} input(s) (listed in manifest.json):")
        for s in report.skipped[:10]:
            click.echo(f"    {s.path}: {s.reason}")
        if len(report.skipped) > 10:
            click.echo(f"    ... and {len(report.skipped) - 10} more")


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None)
@click.option("--no-inputs", is_flag=True, help="Only check the recipe itself, not its sources.")
@_set_option
def validate(recipe: str, cache_dir: str | None, no_inputs: bool, overrides: tuple[str, ...]) -> None:
    """Check RECIPE and its sources without building."""
    from .albu import build_transform
    from .sources.imageio import InputError
    from .sources.scan import scan_backgrounds, scan_foregrounds

    rec = _load(recipe, overrides)
    try:
        build_transform(rec.foreground_augment.albumentations)
    except ValueError as err:
        raise click.ClickException(f"{recipe}: {err}") from None
    click.echo(f"{recipe}: recipe OK ({rec.name}, seed {rec.seed}, "
               + ", ".join(f"{s.name}={s.samples}" for s in rec.splits) + ")")
    if no_inputs:
        return
    try:
        fgs, skipped = scan_foregrounds(rec.foregrounds)
        bgs = scan_backgrounds(rec.backgrounds)
    except InputError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"  foregrounds: {len(fgs)} found, {len(skipped)} unpaired")
    for s in skipped[:10]:
        click.echo(f"    {s.path}: {s.reason}")
    click.echo(f"  backgrounds: {len(bgs)} found")
    if not fgs:
        raise click.ClickException(f"{recipe}: no foregrounds found")


if __name__ == "__main__":  # pragma: no cover
    main()
