"""Formatted values and the optional sections' rows of the HTML report (synth.stats.report_html).

Each ``*_rows`` function gives one dataset's (row label, value) pairs for a table with one
column per dataset; it reads the statistics with ``d.get``, so statistics of an earlier
version (without that section) give dashes, not errors.
"""
from __future__ import annotations

from typing import Any

from .plots import get_path

__all__ = ["fmt", "guidance_rows", "guided_rows", "instance_rows", "pct", "temporal_rows"]


def fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if x == 0:
            return "0"
        if abs(x) >= 1e6 or abs(x) < 1e-3:
            return f"{x:.{digits}g}"
        return f"{x:,.{digits}f}".rstrip("0").rstrip(".")
    return str(x)


def pct(x: Any) -> str:
    return "–" if x is None else f"{100.0 * x:.1f}%"


def instance_rows(d: dict[str, Any]) -> list[tuple[str, str]]:
    """(row label, value) of one dataset in the instances table (``d.get``: statistics of any version)."""
    inst = d.get("instances") or {}

    def stat(name: str, as_pct: bool = True) -> str:
        s = inst.get(name) or {}
        if not s.get("n"):
            return "–"
        if as_pct:
            return f"{pct(s.get('mean'))} (median {pct(s.get('p50'))})" if "p50" in s else pct(s.get("mean"))
        return f"{fmt(s.get('mean'))} (min {fmt(s.get('min'))}, max {fmt(s.get('max'))})"

    sides = ", ".join(f"{side} {pct((inst.get(f'cut_{side}') or {}).get('mean'))}"
                      for side in ("top", "right", "bottom", "left"))
    rows = [
        ("samples with / without instance members",
         f"{fmt(inst.get('samples', 0))} / {fmt(inst.get('samples_without', 0))}"),
        ("instances per sample", stat("count", as_pct=False)),
        ("instances measured", fmt((inst.get("occlusion") or {}).get("n", 0))),
        ("overlap share (2+ instances, of the union)", stat("overlap_share")),
        ("occlusion per instance (1 - visible fraction)", stat("occlusion")),
        ("instances cut by the frame", stat("cut")),
        ("cut by side", sides if inst.get("samples") else "–"),
    ]
    return rows


def guidance_rows(d: dict[str, Any]) -> list[tuple[str, str]]:
    """(row label, value) of one dataset in the guidance table (``d.get``: any version's statistics)."""
    g = d.get("guidance") or {}

    def stat(name: str) -> str:
        s = g.get(name) or {}
        return f"{fmt(s.get('mean'))} (median {fmt(s.get('p50'))})" if s.get("n") else "–"

    stored = (g.get("stored") or {}).get("mean")
    source = "–" if stored is None else ("stored guidance.png" if stored >= 1 else
                                         "the loader's (epoch 0, seed 0)" if stored <= 0 else f"{pct(stored)} stored")
    return [("masks measured", fmt((g.get("iou") or {}).get("n", 0))), ("source", source),
            ("IoU with the alpha", stat("iou")), ("boundary F-score", stat("boundary_f"))]


def temporal_rows(d: dict[str, Any]) -> list[tuple[str, str]]:
    """(row label, value) of one dataset in the realism-in-time table (clips; ``d.get``: any version's)."""
    m = (d.get("temporal") or {}).get("measures") or {}

    def stat(name: str) -> str:
        s = m.get(name) or {}
        if not s.get("n"):
            return "–"
        by = ", ".join(f"{k} {fmt(v.get('mean'))}" for k, v in (s.get("by_split") or {}).items() if v.get("n"))
        return f"{fmt(s.get('mean'))} (median {fmt(s.get('p50'))}; {by})"

    return [("clips measured", fmt((m.get("pairs") or {}).get("n", 0))),
            ("still background behind a moving subject (share of frames)", stat("still_background")),
            ("frame-to-frame noise ln((nF+0.25)/(nB+0.25))", stat("noise_change_log_ratio")),
            ("blur vs motion: 0.5 - subject's apparent shutter", stat("blur_motion_gap")),
            ("colour flicker F vs B (% per frame)", stat("colour_flicker")),
            ("speed F / B (px per frame, median)", f"{fmt(get_path(m, 'fg_speed/p50'))} / "
                                                   f"{fmt(get_path(m, 'bg_speed/p50'))}"),
            ("noise change F / B (levels, median)", f"{fmt(get_path(m, 'fg_noise_change/p50'))} / "
                                                    f"{fmt(get_path(m, 'bg_noise_change/p50'))}")]


def guided_rows(d: dict[str, Any]) -> list[tuple[str, str]]:
    """(row label, value) of one dataset in the guided-composition table: what the detector's
    choices cost in diversity (kept against what the plan drew) and the difficulty guard. The
    same rows for every dataset (dashes when not guided; "off" without the guard), so compare
    mode lines them up."""
    g = (d.get("diversity") or {}).get("guided") or {}
    ch, pl = g.get("chosen") or {}, g.get("planned") or {}
    gd = g.get("difficulty_guard") or {}
    kept, first = gd.get("kept") or {}, gd.get("planned") or {}
    guard = "–" if not g else "off" if not gd else None

    def pair(a: Any, b: Any) -> str:
        return f"{fmt(a)} (plan {fmt(b)})" if g else "–"

    return [
        ("guided samples (pinned background)",
         f"{fmt(g.get('samples'))} ({pct(g.get('pinned_share'))})" if g else "–"),
        ("effective backgrounds", pair(ch.get("effective_backgrounds"), pl.get("effective_backgrounds"))),
        ("placement scale std", pair(ch.get("scale_std"), pl.get("scale_std"))),
        ("subject centre std", pair(ch.get("centre_std"), pl.get("centre_std"))),
        ("detector score (lower: less detectable)", pair(g.get("score_chosen"), g.get("score_planned"))),
        ("kept candidate index", ", ".join(f"{k}: {v}" for k, v in (g.get("chosen_index") or {}).items()) or "–"),
        ("difficulty guard: detector's pick ruled out", guard or pct(gd.get("overruled_share"))),
        ("difficulty guard: boundary contrast / texture",
         guard or f"{fmt(kept.get('contrast'))} / {fmt(kept.get('texture'))} (plan {fmt(first.get('contrast'))} / "
                  f"{fmt(first.get('texture'))})"),
    ]
