"""A self-contained HTML report (one file: inline CSS, plots and thumbnails as base64 PNG/JPEG).

Sections: warnings first, then overview, contact sheet, diversity (with guided composition's
choices), alpha and trimap, colour and realism, operations, leakage, shards. With several
datasets (compare mode) tables get one column per dataset and plots overlay them.

The markup lives in Jinja2 templates (package data in ``synth/stats/templates/``:
``report.html.j2``, ``macros.html.j2``, one ``sections/<id>.html.j2`` per section, and
``report.css``). This module only turns the statistics into plain, already formatted
values (:func:`_context`); the templates escape every value (autoescape). The only values
marked safe are the ``data:`` URIs of plots and thumbnails, which :func:`_data_uri` builds
from bytes (base64 holds no markup). A new section is a template under ``sections/``,
included from ``report.html.j2``, plus the values it needs in :func:`_context` (row builders
of optional sections in :mod:`synth.stats.report_rows`).
"""
from __future__ import annotations

import base64
import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from markupsafe import Markup

from .collect import DatasetStats
from .plots import all_plots, get_path
from .report_rows import fmt as _fmt, guidance_rows, guided_rows, instance_rows, pct as _pct, temporal_rows

if TYPE_CHECKING:
    import jinja2

__all__ = ["render_html", "write_html"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
_FOLD_SHARDS_ABOVE = 12  # more shards than this: the shard table is folded in <details>


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """The report's Jinja2 environment (templates beside this module, strict, autoescaped)."""
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True)


class _MissingField(KeyError):
    """A field of the statistics that the report needs is absent; ``path`` is "a/b/c"."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class _Fields(dict):
    """A stats dict whose missing keys raise :class:`_MissingField` naming the full path."""

    def __init__(self, data: dict[str, Any], path: str) -> None:
        super().__init__((k, _strict(v, f"{path}{k}/")) for k, v in data.items())
        self._path = path

    def __missing__(self, key: str) -> Any:
        raise _MissingField(f"{self._path}{key}")


def _strict(x: Any, path: str = "") -> Any:
    if isinstance(x, dict):
        return _Fields(x, path)
    if isinstance(x, list):
        return [_strict(v, f"{path}{i}/") for i, v in enumerate(x)]
    return x


def _data_uri(data: bytes | None, mime: str = "image/png") -> Markup | None:
    """``data:`` URI of image bytes we produced (plots, thumbnails); safe: base64 has no markup."""
    if not data:
        return None
    return Markup(f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}")


def _by_split(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def _overview(d: dict[str, Any]) -> list[tuple[str, str]]:
    """(row label, value) of one dataset in the overview table (after the recipe row)."""
    def sizes(d: dict[str, Any]) -> str:
        items = list(d["sizes"]["all"].items())
        return ", ".join(f"{k} ({v})" for k, v in items[:3]) + (" …" if len(items) > 3 else "")

    def per_sample_bytes(d: dict[str, Any]) -> str:
        total = sum((m.get("mean") or 0.0) for m in d["member_bytes"].values())
        return f"{total / 1024:,.0f} KiB"

    def med(path: str, pct: bool = False) -> Callable[[dict[str, Any]], str]:
        def f(d: dict[str, Any]) -> str:
            s = get_path(d, path) or {}
            m, p50 = s.get("mean"), s.get("p50")
            if pct:
                return f"{_pct(m)} (median {_pct(p50)})"
            return f"{_fmt(m)} (median {_fmt(p50)})"
        return f

    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("samples", lambda d: _fmt(d["counts"]["samples"])),
        ("samples per split", lambda d: ", ".join(f"{k} {v:,}" for k, v in d["counts"]["splits"].items())),
        ("measured", lambda d: _fmt(d["counts"]["measured"]) + (" (sampled)" if d["counts"]["sampled"] else "")),
        ("shards verified", lambda d: f"{d['integrity']['ok']} ok of {d['integrity']['checked']} checked"
                                      f" ({d['counts']['shards']} in manifest)"),
        ("image sizes", sizes),
        ("stored bytes per sample", per_sample_bytes),
        ("distinct foregrounds / backgrounds", lambda d: f"{_fmt(get_path(d, 'diversity/foreground/all/distinct'))} / "
                                                         f"{_fmt(get_path(d, 'diversity/background/all/distinct'))}"),
        ("foreground uses: max / median, Gini", lambda d: _usage_cell(d, "foreground")),
        ("background uses: max / median, Gini", lambda d: _usage_cell(d, "background")),
        ("foregrounds in 2+ splits", lambda d: _fmt(get_path(d, "leakage/foreground/shared"))),
        ("near-duplicate pairs across splits", lambda d: _fmt(get_path(d, "leakage/near_duplicates/pairs"))),
        ("alpha coverage", med("alpha/coverage", pct=True)),
        ("unknown pixels (0<α<1)", med("alpha/unknown_share", pct=True)),
        ("trimap band (px)", med("trimap/band_px")),
        ("noise mismatch ln(σF/σB)", med("realism/measures/noise_log_ratio")),
        ("sharpness mismatch ln(sF/sB)", med("realism/measures/sharpness_log_ratio")),
        ("colour distance F–B (ΔE)", med("realism/measures/lab_mean_dist")),
        ("colour spill in mixed pixels (levels)", med("realism/measures/spill_residual")),
        ("straight cut inside the picture (share of subject)", med("realism/measures/straight_cut")),
        ("statistics time", lambda d: f"{d['timing']['seconds']:.1f} s"
                                      f" ({_fmt(d['timing']['samples_per_s'], 1)} samples/s)"),
    ]
    return [(label, f(d)) for label, f in rows]


def _alpha(d: dict[str, Any]) -> list[tuple[str, str]]:
    """(row label, value) of one dataset in the alpha and trimap table."""
    def trimap_check(d: dict[str, Any]) -> str:
        t = d["trimap"]
        if not t.get("checked_samples"):
            return "not checked (use --check-trimaps)"
        return (f"{t['checked_samples']:,} checked, {t['inconsistent_samples']:,} inconsistent; unknown band "
                f"{_pct(get_path(t, 'unknown_share/mean'))} of pixels")

    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("pixels: transparent / unknown / opaque",
         lambda d: " / ".join(_pct(d["alpha"]["pixel_shares"][k]) for k in ("transparent", "unknown", "opaque"))),
        ("alpha depth", lambda d: ", ".join(f"{k}-bit ({v})" for k, v in d["alpha_bits"].items()) or "–"),
        ("trimaps vs alpha", trimap_check),
    ]
    return [(label, f(d)) for label, f in rows]


def _columns(per_dataset: Sequence[list[tuple[str, str]]]) -> list[list[str]]:
    """Rows ``[label, value of each dataset...]`` from each dataset's (label, value) list."""
    return [[row[0][0], *(value for _, value in row)] for row in zip(*per_dataset)]


def _usage_cell(d: dict[str, Any], what: str) -> str:
    a = get_path(d, f"diversity/{what}/all") or {}
    if not a.get("distinct"):
        return "–"
    return f"{a['max']} / {_fmt(a['median'])}, Gini {_fmt(a['gini'], 2)}"


def _warnings(d: dict[str, Any]) -> dict[str, Any]:
    ws = d.get("warnings", [])
    return {"ok": not any(w["level"] in ("error", "warning") for w in ws),
            "items": [{"level": str(w["level"]), "message": str(w["message"])} for w in ws]}


def _thumbs(thumbs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"image": _data_uri(t.get("image"), "image/jpeg"), "alpha": _data_uri(t.get("alpha")),
             "trimap": _data_uri(t.get("trimap")), "key": str(t["key"]), "split": str(t["split"]),
             "fg": str(t.get("fg_file") or (t.get("fg") or "")[:12])} for t in thumbs]


def _usage(d: dict[str, Any], what: str) -> dict[str, Any]:
    a = get_path(d, f"diversity/{what}/all") or {}
    srcs = get_path(d, f"diversity/{what}/sources") or {}
    return {
        "top": [{"name": str(t["name"] or ""), "id": str(t["id"][:16]), "uses": _fmt(t["uses"])}
                for t in a.get("top", [])],
        "metrics": [[k, _fmt(a.get(k))] for k in ("distinct", "uses", "min", "median", "mean", "max",
                                                  "max_over_median", "gini", "entropy_norm", "effective_items")],
        "sources": [[str(k), _fmt(v["samples"]), _fmt(v.get("items")), _fmt(v.get("uses_per_item"), 2),
                     _by_split(v["by_split"])] for k, v in srcs.items()],
    }


def _param_text(p: dict[str, Any]) -> str:
    parts = []
    if "number" in p:
        n = p["number"]
        if n.get("min") == n.get("max"):
            parts.append(f"= {_fmt(n.get('min'))}")
        else:
            parts.append(f"{_fmt(n.get('min'))} … {_fmt(n.get('max'))} (mean {_fmt(n.get('mean'))})")
    if "bool" in p:
        parts.append(f"true {_pct(p['bool']['true_rate'])}")
    if "values" in p:
        vals = list(p["values"].items())
        parts.append(", ".join(f"{k}: {v}" for k, v in vals[:6]) + (" …" if len(vals) > 6 else ""))
    if "null" in p:
        parts.append(f"null ×{p['null']}")
    return "; ".join(parts)


def _ops(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"stage": str(op["stage"]), "op": str(op["op"]), "target": str(op["target"] or ""),
             "samples": _fmt(op["samples"]), "rate": _pct(op["rate"]),
             "params": [{"name": str(k), "text": _param_text(v)} for k, v in op["params"].items()]}
            for op in d.get("ops", [])]


def _leakage(d: dict[str, Any]) -> dict[str, Any]:
    lk = d["leakage"]
    nd, bg = lk["near_duplicates"], lk["background"]
    return {
        "foregrounds": [{"name": str(r.get("name") or ""), "id": str(r["id"][:16]), "uses": _by_split(r["splits"]),
                         "examples": [{"split": str(s), "keys": ", ".join(str(k) for k in ks)}
                                      for s, ks in r.get("examples", {}).items()]}
                        for r in lk["foreground"]["items"][:100]],
        "near_duplicates": [[str(p["a"]), str(p["a_split"]), str(p["b"]), str(p["b_split"]), _fmt(p["distance"])]
                            for p in nd["items"][:100]],
        "pairs": str(nd["pairs"]), "max_distance": str(nd["max_distance"]),
        "backgrounds_shared": str(bg["shared"]), "background_policy": str(bg["policy"]),
    }


def _shards(d: dict[str, Any]) -> list[list[str]]:
    ok = {True: "✔ ok", False: "✘ mismatch", None: "not checked"}
    return [[str(s["path"]), str(s["split"]), _fmt(s["samples"]), _fmt(s["samples_read"]), _fmt(s["bytes"]),
             ok[s["sha256_ok"]], str(s["error"] or "")] for s in d["shards"]]


def _dataset(s: DatasetStats, d: dict[str, Any]) -> dict[str, Any]:
    """The per-dataset values of the report (``d``: ``s.data`` made strict)."""
    return {
        "label": str(s.label), "path": str(d["dataset"]["path"]),
        "recipe": {"name": str(d["dataset"]["name"]), "sha256": str((d["dataset"]["recipe_sha256"] or "")[:12])},
        "warnings": _warnings(d), "thumbs": _thumbs(s.thumbs),
        "usage": {"foreground": _usage(d, "foreground"), "background": _usage(d, "background")},
        "ops": _ops(d),
        "meta_extra": [{"name": str(k), "text": _param_text(v)} for k, v in (d.get("meta_extra") or {}).items()],
        "leakage": _leakage(d), "shards": _shards(d),
    }


def _context(stats: Sequence[DatasetStats], title: str | None = None) -> dict[str, Any]:
    """Everything ``report.html.j2`` renders: plain strings, lists and dicts (and data URIs).

    Raises ``ValueError`` naming the dataset and the field ("a/b/c") when a statistics
    dict lacks one the report needs.
    """
    if not stats:
        raise ValueError("render_html: need at least one dataset")
    datasets, overview, alpha, instances, guidance, temporal, guided = [], [], [], [], [], [], []
    for s in stats:
        try:
            d = _strict(s.data)
            datasets.append(_dataset(s, d))
            overview.append(_overview(d))
            alpha.append(_alpha(d))
            instances.append(instance_rows(s.data))
            guidance.append(guidance_rows(s.data))
            temporal.append(temporal_rows(s.data))
            guided.append(guided_rows(s.data))
            if s is stats[0]:  # the realism measures' settings, as the first dataset records them
                realism = {k: str(d["realism"][k]) for k in ("implementation", "window", "analysis_side")}
        except _MissingField as e:
            raise ValueError(f"render_html: the statistics of {s.label!r} have no field {e.path!r} "
                             "(not the output of this version's `synth stats`?)") from None
    labels = [str(s.label) for s in stats]
    plots = all_plots([(s.label, s.data) for s in stats])
    return {
        "title": title or ("Dataset statistics: " + " vs ".join(labels)),
        "labels": labels, "compare": len(stats) > 1, "datasets": datasets,
        "overview_rows": _columns(overview), "alpha_rows": _columns(alpha), "realism": realism,
        "instance_rows": _columns(instances),
        "has_instances": any(s.data.get("instances", {}).get("samples") for s in stats),
        "guidance_rows": _columns(guidance),
        "has_guidance": any((s.data.get("guidance") or {}).get("iou") for s in stats),
        "temporal_rows": _columns(temporal),
        "guided_rows": _columns(guided),
        "has_guided": any((s.data.get("diversity") or {}).get("guided") for s in stats),
        "has_temporal": any(((s.data.get("temporal") or {}).get("measures") or {}).get("pairs") for s in stats),
        "plots": {k: _data_uri(v) for k, v in plots.items()},
        "fold_shards_above": _FOLD_SHARDS_ABOVE,
    }


def render_html(stats: Sequence[DatasetStats], title: str | None = None) -> str:
    """The report for one dataset, or several side by side, as one HTML string.

    Raises ``ValueError`` when ``stats`` is empty or a statistics dict lacks a field the
    report needs (the message names the dataset and the field).
    """
    return _environment().get_template("report.html.j2").render(_context(stats, title))


def write_html(path: str | os.PathLike, stats: Sequence[DatasetStats], title: str | None = None) -> Path:
    """Write :func:`render_html` to ``path`` (atomically) and return the path."""
    out = Path(path)
    tmp = out.with_name(f".{out.name}.partial")
    tmp.write_text(render_html(stats, title), encoding="utf-8")
    os.replace(tmp, out)
    return out
