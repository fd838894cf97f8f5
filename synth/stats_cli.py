"""`synth stats OUTDIR [OUTDIR_B] ...`: statistics of one dataset, or two side by side.

The lead registers :data:`stats` in :mod:`synth.cli` (``main.add_command(stats)``).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .execution import make_executor
from .stats import StatsOptions, collect_stats, compare_stats, write_html
from .stats.compare import unique_labels

__all__ = ["stats"]


#: Short names of the temporal indicators (synth.stats.temporal) for the summary line.
_TEMPORAL_SHORT = (("still_background", "still background"), ("noise_change_log_ratio", "noise change"),
                   ("blur_motion_gap", "blur vs motion"), ("colour_flicker", "colour flicker %"))


def _summary_lines(label: str, d: dict) -> list[str]:
    c = d["counts"]
    fg, bg = d["diversity"]["foreground"]["all"], d["diversity"]["background"]["all"]
    integ = d["integrity"]
    lines = [
        f"{label}: {c['samples']} samples ({', '.join(f'{k} {v}' for k, v in c['splits'].items())}) in "
        f"{c['shards']} shard(s); measured {c['measured']}, bad {c['bad']}; "
        f"shards verified {integ['ok']}/{integ['checked']}",
        f"  foregrounds {fg['distinct']} (uses max {fg['max']}, median {fg['median']}, Gini "
        f"{fg['gini'] if fg['gini'] is None else round(fg['gini'], 3)}), backgrounds {bg['distinct']} (uses max "
        f"{bg['max']}, median {bg['median']}, Gini {bg['gini'] if bg['gini'] is None else round(bg['gini'], 3)})",
        f"  leakage: {d['leakage']['foreground']['shared']} foreground(s) in 2+ splits, "
        f"{d['leakage']['near_duplicates']['pairs']} near-duplicate pair(s) across splits",
    ]
    g = d["diversity"].get("guided")
    if g:  # a guided build: what the detector's choices cost in diversity (synth.stats.diversity)
        ch, pl = g["chosen"], g["planned"]
        lines.append(f"  guided: effective backgrounds {ch['effective_backgrounds']:.1f} (the plan drew "
                     f"{pl['effective_backgrounds']:.1f}), placement scale std {ch['scale_std']:.3f} "
                     f"({pl['scale_std']:.3f}), centre std {ch['centre_std']:.3f} ({pl['centre_std']:.3f}), "
                     f"detector score {g['score_chosen']:.3f} ({g['score_planned']:.3f}), "
                     f"{g['pinned_share']:.0%} pinned")
        if (gd := g.get("difficulty_guard")) and gd["kept"]["contrast"] is not None:
            lines.append(f"  difficulty guard: ruled out the detector's pick on {gd['overruled_share']:.0%} of samples; "
                         f"kept contrast {gd['kept']['contrast']:.2f} ({gd['planned']['contrast']:.2f}), "
                         f"texture {gd['kept']['texture']:.3f} ({gd['planned']['texture']:.3f})")
    t = d.get("temporal", {}).get("measures") or {}
    if t:  # a clip dataset: the temporal indicators' means (synth.stats.temporal; 0 is a filmed clip)
        means = ", ".join(f"{label} " + ("not measured" if (m := (t.get(k) or {}).get("mean")) is None
                                         else f"{m:.3g}") for k, label in _TEMPORAL_SHORT)
        lines.append(f"  clips: {(t.get('pairs') or {}).get('n', 0)} measured; means: {means}")
    for w in d["warnings"]:
        lines.append(f"  {w['level'].upper()}: {w['message']}")
    return lines


@click.command("stats", short_help="Report what a dataset contains (HTML, JSON).", epilog="""\b
Examples:
  synth stats out/demo --html report.html
  synth stats out/portrait out/naive --html compare.html --json stats.json
  synth stats s3://bucket/p3m --sample 2000 --workers 0""")
@click.argument("datasets", nargs=-1, required=True, type=click.Path())
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              help="Write a self-contained HTML report here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help="Write every number as JSON here ('-' for stdout).")
@click.option("--sample", type=click.IntRange(min=1), default=None,
              help="Measure only N samples, spread uniformly (deterministic).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Parallel workers, one Ray task per shard, as for `synth build`: a local Ray instance with N "
                   "CPUs (default: all cores); with --address, at most N tasks in flight (default: the "
                   "cluster's CPUs); 0 runs serially in this process.")
@click.option("--address", default=None, metavar="ADDR",
              help="Join an existing Ray cluster: 'auto' or ray://host:port. Default: start a local Ray instance.")
@click.option("--ray", "use_ray", is_flag=True, hidden=True,
              help="No effect (kept for older command lines): workers other than 0 always run on Ray.")
@click.option("--contact", type=click.IntRange(0, 1000), default=StatsOptions.contact, show_default=True,
              help="Random samples in the contact sheet.")
@click.option("--seed", type=int, default=StatsOptions.seed, show_default=True,
              help="Seed of the contact-sheet choice.")
@click.option("--phash-distance", type=click.IntRange(0, 15), default=StatsOptions.phash_distance, show_default=True,
              help="Composites across splits whose perceptual hashes differ in at most this many bits are "
                   "reported as near-duplicates.")
@click.option("--overuse-factor", type=click.FloatRange(min=0, min_open=True), default=StatsOptions.overuse_factor,
              show_default=True,
              help="Warn when a foreground/background is used more than this times the median.")
@click.option("--overuse-min-uses", type=click.IntRange(min=1), default=StatsOptions.overuse_min_uses,
              show_default=True,
              help="...and at least this many times.")
@click.option("--check-trimaps", is_flag=True,
              help="Also decode every trimap: its unknown share and its consistency with the alpha (slower).")
@click.option("--no-verify", is_flag=True, help="Do not hash shards against the manifest.")
@click.option("--fail-on", type=click.Choice(["never", "error", "warning"]), default="never", show_default=True,
              help="Exit with status 1 when a warning of this level (or worse) is found.")
@click.option("--quiet", is_flag=True, help="No progress bar and no summary on stderr.")
def stats(datasets: tuple[str, ...], html_path: str | None, json_path: str | None, sample: int | None,
          workers: int | None, use_ray: bool, address: str | None, contact: int, seed: int, phash_distance: int,
          overuse_factor: float, overuse_min_uses: int, check_trimaps: bool, no_verify: bool, fail_on: str,
          quiet: bool) -> None:
    """Statistics of the dataset in DATASETS (a folder with manifest.json, or its URL).

    Give two datasets (`synth stats A B`) to compare them side by side. Reports counts,
    shard integrity, foreground/background reuse, alpha and trimap statistics, colour
    and realism indicators, recorded operations, leakage between splits, and warnings.
    """
    if len(datasets) > 2:
        raise click.UsageError(f"give one dataset, or two to compare; got {len(datasets)}")
    try:
        opts = StatsOptions(sample=sample, contact=contact, seed=seed, phash_distance=phash_distance,
                            overuse_factor=overuse_factor, overuse_min_uses=overuse_min_uses,
                            check_trimaps=check_trimaps, verify=not no_verify, progress=not quiet)
        if use_ray and workers == 0:
            raise ValueError("--ray runs Ray tasks; --workers 0 runs serially in this process: choose one")
        executor = make_executor(workers, address, log=None if quiet else (lambda s: click.echo(s, err=True)))
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    labels = unique_labels([d.rstrip("/") for d in datasets])
    results = []
    try:
        for d, label in zip(datasets, labels):
            results.append(collect_stats(d, opts, label=label, executor=executor))
    except (FileNotFoundError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    finally:
        executor.close()
    if len(results) == 1:
        payload = results[0].data
    else:
        payload = compare_stats(results)
    text = json.dumps(payload, indent=2, allow_nan=False) + "\n"
    if json_path == "-":
        click.echo(text, nl=False)
    elif json_path:
        Path(json_path).write_text(text, encoding="utf-8")
    if html_path:
        write_html(html_path, results)
    if not quiet:
        for r in results:
            for line in _summary_lines(r.label, r.data):
                click.echo(line, err=True)
        for p, what in ((json_path, "JSON"), (html_path, "HTML report")):
            if p and p != "-":
                click.echo(f"wrote {what} to {p}", err=True)
    levels = {"never": set(), "error": {"error"}, "warning": {"error", "warning"}}[fail_on]
    if any(w["level"] in levels for r in results for w in r.warnings):
        sys.exit(1)
