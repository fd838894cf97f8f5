"""bench_realism's figures as JSON, and the before/after check of a byte-changing change.

Issue 18's rule for a change that alters a build's bytes: rerun ``bench_realism.py`` (600
samples, three seeds) and show that no realism ratio leaves its previous interval.
``bench_realism.py --json FILE`` saves one run's figures; ``--against FILE`` (a run of the
code before the change, same ``--limit``, ``--seed`` and data) prints each ratio before and
after and exits 1 when one has left the earlier run's 90 % interval.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["figures", "left_interval", "compare_figures", "read_figures", "write_figures"]


#: Settings of a run that do not change its figures (where it writes, what it compares with).
_NOT_FIGURES = frozenset({"out", "json", "against", "reuse"})


def _num(x: float) -> float | None:
    """JSON has no NaN: a ratio that cannot be formed is stored as null."""
    return float(x) if math.isfinite(x) else None


def figures(rows: Sequence[Any], intervals: Mapping[str, tuple[float, float]], candidate: str = "portrait",
            baseline: str = "naive") -> dict[str, dict[str, Any]]:
    """Per indicator: ``ratio`` W(candidate) / W(baseline), its 90 % ``interval`` [lo, hi], the
    ``distances`` W of every dataset to the real photos and whether the reference can
    ``measurable``-ly resolve it (:class:`synth.stats.realism_report` rows)."""
    return {r.indicator: {"ratio": _num(r.ratio(candidate, baseline)),
                          "interval": [_num(v) for v in intervals[r.indicator]],
                          "distances": {k: _num(v) for k, v in r.distances.items()},
                          "measurable": bool(r.measurable(baseline))}
            for r in rows}


def write_figures(path: Path, run: Mapping[str, Any], figs: Mapping[str, Any]) -> None:
    """``{"run": run, "indicators": figs}`` as JSON at ``path`` (``run``: the command's settings)."""
    path.write_text(json.dumps({"run": dict(run), "indicators": dict(figs)}, indent=1, sort_keys=True))


def read_figures(path: Path) -> dict[str, Any]:
    """A file of :func:`write_figures`; SystemExit naming the file when it is not one."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SystemExit(f"{path}: not a bench_realism --json file ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("indicators"), dict):
        raise SystemExit(f"{path}: not a bench_realism --json file (no 'indicators')")
    return data


def left_interval(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """True when ``after``'s ratio lies outside ``before``'s interval (a ratio that could be
    formed before and cannot now, or the reverse, has left it too)."""
    lo, hi = before["interval"]
    ratio = after["ratio"]
    if ratio is None or lo is None or hi is None:
        return (ratio is None) != (before["ratio"] is None)
    return not lo <= ratio <= hi


def _cell(fig: Mapping[str, Any]) -> str:
    lo, hi = fig["interval"]
    if fig["ratio"] is None:
        return "n/a"
    span = f" ({lo:.2f}-{hi:.2f})" if lo is not None and hi is not None else ""
    return f"{fig['ratio']:.2f}{span}"


def compare_figures(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(table lines, indicators whose ratio left the earlier interval) for two files of
    :func:`write_figures`; settings that differ between the runs are listed first."""
    lines = []
    b_run, a_run = before.get("run", {}), after.get("run", {})
    differ = sorted(k for k in set(b_run) | set(a_run) if k not in _NOT_FIGURES and b_run.get(k) != a_run.get(k))
    if differ:
        lines.append("WARNING: the runs differ in " + ", ".join(f"{k} ({b_run.get(k)} / {a_run.get(k)})" for k in differ))
    b_ind, a_ind = before["indicators"], after["indicators"]
    width = max([len(k) for k in b_ind] + [9])
    lines.append(f"{'indicator':<{width}} | {'before: ratio (90 % interval)':>30} | {'after':>18} | left it?")
    left = []
    for name in sorted(set(b_ind) | set(a_ind)):
        if name not in b_ind or name not in a_ind:
            lines.append(f"{name:<{width}} | only in the {'after' if name in a_ind else 'before'} run")
            continue
        moved = left_interval(b_ind[name], a_ind[name])
        if moved:
            left.append(name)
        lines.append(f"{name:<{width}} | {_cell(b_ind[name]):>30} | {_cell(a_ind[name]):>18} | {'YES' if moved else 'no'}")
    return lines, left
