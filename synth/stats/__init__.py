"""Dataset statistics: counts, integrity, diversity, alpha/trimap, colour and realism,
operations and leakage between splits, as JSON and as a self-contained HTML report.

    from synth.stats import collect_stats, StatsOptions, write_html
    st = collect_stats("out/demo", StatsOptions(sample=500))
    st.data["warnings"]; write_html("report.html", [st])
    with make_executor(4) as ex:  # synth.execution: Ray tasks, one per shard (default: serial)
        st = collect_stats("out/demo", executor=ex)

The command line is ``synth stats`` (:mod:`synth.stats_cli`).
"""
from __future__ import annotations

from .collect import DatasetStats, collect_stats
from .compare import compare_stats
from .diversity import gini, normalized_entropy, usage_summary
from .leakage import hamming64, near_duplicate_pairs, shared_items
from .measure import measure_sample, phash64
from .options import StatsOptions
from .report_html import render_html, write_html
from .shard_scan import select_positions

__all__ = [
    "DatasetStats",
    "StatsOptions",
    "collect_stats",
    "select_positions",
    "compare_stats",
    "gini",
    "normalized_entropy",
    "usage_summary",
    "hamming64",
    "near_duplicate_pairs",
    "shared_items",
    "measure_sample",
    "phash64",
    "render_html",
    "write_html",
]
