"""A self-contained HTML report (one file: inline CSS, plots and thumbnails as base64 PNG/JPEG).

Sections: warnings first, then overview, contact sheet, diversity, alpha and trimap,
colour and realism, operations, leakage, shards. With several datasets (compare mode)
tables get one column per dataset and plots overlay them.
"""
from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from typing import Any, Callable, Sequence

from .collect import DatasetStats
from .plots import all_plots, get_path

__all__ = ["render_html", "write_html"]

_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2a44;color:#fff;padding:18px 32px}
header h1{margin:0 0 4px;font-size:22px;font-weight:600}
header .sub{color:#c5cde0;font-size:13px}
main{padding:8px 32px 40px;max-width:1280px}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:14px 20px;margin:16px 0}
h2{font-size:17px;margin:4px 0 12px;color:#1d2a44}
h3{font-size:14px;margin:14px 0 6px;color:#333}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{padding:4px 10px;border-bottom:1px solid #e3e6ec;text-align:left;vertical-align:top}
th{background:#f0f2f6;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.warn{border-left:5px solid;padding:8px 12px;margin:6px 0;border-radius:4px;font-size:14px}
.warn.error{border-color:#c62828;background:#fdecea}
.warn.warning{border-color:#ef8f00;background:#fff4e0}
.warn.info{border-color:#5c7cba;background:#eef2fa}
.warn .lvl{font-weight:700;text-transform:uppercase;font-size:11px;margin-right:8px}
.ok{border-left:5px solid #2e7d32;background:#e8f5e9;padding:8px 12px;border-radius:4px;font-size:14px}
img.plot{max-width:100%;display:block;margin:6px 0}
.sheet{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fafbfc;border:1px solid #e3e6ec;border-radius:6px;padding:6px}
.card .imgs{display:flex;gap:3px}
.card img{height:110px;display:block;background:#888}
.card .cap{font-size:11px;color:#555;margin-top:4px;max-width:340px;overflow-wrap:anywhere}
code{font-size:12px;background:#f0f2f6;padding:1px 4px;border-radius:3px}
header code{background:#2f3d5c;color:#fff}
.row{display:flex;gap:28px;flex-wrap:wrap;align-items:flex-start}
details summary{cursor:pointer;color:#1d2a44;font-size:13px;margin:6px 0}
.muted{color:#777;font-size:12px}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt(x: Any, digits: int = 3) -> str:
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
    return _e(x)


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100.0 * x:.1f}%"


def _img(png: bytes | None, alt: str, cls: str = "plot", mime: str = "image/png") -> str:
    if not png:
        return f'<p class="muted">{_e(alt)}: nothing to plot</p>'
    return f'<img class="{cls}" alt="{_e(alt)}" src="data:{mime};base64,{base64.b64encode(png).decode()}">'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], num_cols: set[int] | None = None) -> str:
    num_cols = num_cols or set()
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for r in rows:
        cells = "".join(f'<td class="num">{c}</td>' if i in num_cols else f"<td>{c}</td>" for i, c in enumerate(r))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _metric_rows(stats: Sequence[DatasetStats]) -> list[list[str]]:
    def row(label: str, f: Callable[[dict[str, Any]], str]) -> list[str]:
        return [_e(label)] + [f(s.data) for s in stats]

    def sizes(d: dict[str, Any]) -> str:
        items = list(d["sizes"]["all"].items())
        return ", ".join(f"{_e(k)} ({v})" for k, v in items[:3]) + (" …" if len(items) > 3 else "")

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

    return [
        row("recipe", lambda d: f"{_e(d['dataset']['name'])} "
                                f"<code>{_e((d['dataset']['recipe_sha256'] or '')[:12])}</code>"),
        row("samples", lambda d: _fmt(d["counts"]["samples"])),
        row("samples per split", lambda d: ", ".join(f"{_e(k)} {v:,}" for k, v in d["counts"]["splits"].items())),
        row("measured", lambda d: _fmt(d["counts"]["measured"]) + (" (sampled)" if d["counts"]["sampled"] else "")),
        row("shards verified", lambda d: f"{d['integrity']['ok']} ok of {d['integrity']['checked']} checked"
                                         f" ({d['counts']['shards']} in manifest)"),
        row("image sizes", sizes),
        row("stored bytes per sample", per_sample_bytes),
        row("distinct foregrounds / backgrounds", lambda d: f"{_fmt(get_path(d, 'diversity/foreground/all/distinct'))} / "
                                                            f"{_fmt(get_path(d, 'diversity/background/all/distinct'))}"),
        row("foreground uses: max / median, Gini", lambda d: _usage_cell(d, "foreground")),
        row("background uses: max / median, Gini", lambda d: _usage_cell(d, "background")),
        row("foregrounds in 2+ splits", lambda d: _fmt(get_path(d, "leakage/foreground/shared"))),
        row("near-duplicate pairs across splits", lambda d: _fmt(get_path(d, "leakage/near_duplicates/pairs"))),
        row("alpha coverage", med("alpha/coverage", pct=True)),
        row("unknown pixels (0<α<1)", med("alpha/unknown_share", pct=True)),
        row("trimap band (px)", med("trimap/band_px")),
        row("noise mismatch ln(σF/σB)", med("realism/measures/noise_log_ratio")),
        row("sharpness mismatch ln(sF/sB)", med("realism/measures/sharpness_log_ratio")),
        row("colour distance F–B (ΔE)", med("realism/measures/lab_mean_dist")),
        row("colour spill in mixed pixels (levels)", med("realism/measures/spill_residual")),
        row("straight cut inside the picture (share of subject)", med("realism/measures/straight_cut")),
        row("statistics time", lambda d: f"{d['timing']['seconds']:.1f} s"
                                         f" ({_fmt(d['timing']['samples_per_s'], 1)} samples/s)"),
    ]


def _alpha_rows(stats: Sequence[DatasetStats]) -> list[list[str]]:
    def row(label: str, f: Callable[[dict[str, Any]], str]) -> list[str]:
        return [_e(label)] + [f(s.data) for s in stats]

    def trimap_check(d: dict[str, Any]) -> str:
        t = d["trimap"]
        if not t.get("checked_samples"):
            return "not checked (use --check-trimaps)"
        return (f"{t['checked_samples']:,} checked, {t['inconsistent_samples']:,} inconsistent; unknown band "
                f"{_pct(get_path(t, 'unknown_share/mean'))} of pixels")

    return [
        row("pixels: transparent / unknown / opaque",
            lambda d: " / ".join(_pct(d["alpha"]["pixel_shares"][k]) for k in ("transparent", "unknown", "opaque"))),
        row("alpha depth", lambda d: ", ".join(f"{k}-bit ({v})" for k, v in d["alpha_bits"].items()) or "–"),
        row("trimaps vs alpha", trimap_check),
    ]


def _usage_cell(d: dict[str, Any], what: str) -> str:
    a = get_path(d, f"diversity/{what}/all") or {}
    if not a.get("distinct"):
        return "–"
    return f"{a['max']} / {_fmt(a['median'])}, Gini {_fmt(a['gini'], 2)}"


def _warnings_html(stats: Sequence[DatasetStats]) -> str:
    parts = []
    for s in stats:
        prefix = f"<b>{_e(s.label)}</b>: " if len(stats) > 1 else ""
        ws = s.warnings
        if not any(w["level"] in ("error", "warning") for w in ws):
            parts.append(f'<div class="ok">{prefix}No problems found: shards match the manifest, no leakage '
                         f'between splits, no overused foreground or background.</div>')
        for w in ws:
            parts.append(f'<div class="warn {_e(w["level"])}"><span class="lvl">{_e(w["level"])}</span>'
                         f'{prefix}{_e(w["message"])}</div>')
    return "".join(parts)


def _contact_sheet(s: DatasetStats) -> str:
    if not s.thumbs:
        return '<p class="muted">no samples</p>'
    cards = []
    for t in s.thumbs:
        imgs = _img(t.get("image"), "composite", "", "image/jpeg") + _img(t.get("alpha"), "alpha", "")
        if t.get("trimap"):
            imgs += _img(t["trimap"], "trimap", "")
        cap = f"{_e(t['key'])} · {_e(t['split'])} · fg {_e(t.get('fg_file') or (t.get('fg') or '')[:12])}"
        cards.append(f'<div class="card"><div class="imgs">{imgs}</div><div class="cap">{cap}</div></div>')
    return f'<div class="sheet">{"".join(cards)}</div>'


def _top_table(d: dict[str, Any], what: str) -> str:
    a = get_path(d, f"diversity/{what}/all") or {}
    rows = [[_e(t["name"] or ""), f"<code>{_e(t['id'][:16])}</code>", _fmt(t["uses"])] for t in a.get("top", [])]
    if not rows:
        return '<p class="muted">none</p>'
    srcs = get_path(d, f"diversity/{what}/sources") or {}
    src_rows = [[_e(k), _fmt(v["samples"]), _fmt(v.get("items")), _fmt(v.get("uses_per_item"), 2),
                 ", ".join(f"{_e(s)} {n}" for s, n in v["by_split"].items())] for k, v in srcs.items()]
    metrics = [[_e(k), _fmt(a.get(k))] for k in ("distinct", "uses", "min", "median", "mean", "max",
                                                   "max_over_median", "gini", "entropy_norm", "effective_items")]
    return ("<div style='display:flex;gap:28px;flex-wrap:wrap'>"
            f"<div><h3>Most used</h3>{_table(['name', 'id', 'uses'], rows, {2})}</div>"
            f"<div><h3>Metrics</h3>{_table(['metric', 'value'], metrics, {1})}</div>"
            "<div><h3>Sources</h3>"
            f"{_table(['source', 'samples', 'items', 'uses/item', 'by split'], src_rows, {1, 2, 3})}</div></div>")


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
        parts.append(", ".join(f"{_e(k)}: {v}" for k, v in vals[:6]) + (" …" if len(vals) > 6 else ""))
    if "null" in p:
        parts.append(f"null ×{p['null']}")
    return "; ".join(parts)


def _ops_table(d: dict[str, Any]) -> str:
    rows = []
    for op in d.get("ops", []):
        params = "<br>".join(f"<code>{_e(k)}</code> {_param_text(v)}" for k, v in op["params"].items())
        rows.append([_e(op["stage"]), _e(op["op"]), _e(op["target"] or ""), _fmt(op["samples"]), _pct(op["rate"]),
                     params or "–"])
    if not rows:
        return '<p class="muted">no operations recorded</p>'
    extra = d.get("meta_extra") or {}
    out = _table(["stage", "op", "target", "samples", "rate", "parameters (range over samples)"], rows, {3, 4})
    if extra:
        out += "<h3>Other meta.json fields</h3>" + _table(
            ["field", "values"], [[f"<code>{_e(k)}</code>", _param_text(v)] for k, v in extra.items()])
    return out


def _leakage_html(d: dict[str, Any]) -> str:
    lk = d["leakage"]
    out = []
    fg = lk["foreground"]["items"]
    if fg:
        rows = [[_e(r.get("name") or ""), f"<code>{_e(r['id'][:16])}</code>",
                 ", ".join(f"{_e(s)} {n}" for s, n in r["splits"].items()),
                 "<br>".join(f"{_e(s)}: {', '.join(_e(k) for k in ks)}" for s, ks in r.get("examples", {}).items())]
                for r in fg[:100]]
        out.append("<h3>Foregrounds in more than one split</h3>" + _table(["name", "id", "uses", "example keys"], rows))
    else:
        out.append("<p>No foreground (by content hash) appears in two splits.</p>")
    nd = lk["near_duplicates"]
    if nd["items"]:
        rows = [[_e(p["a"]), _e(p["a_split"]), _e(p["b"]), _e(p["b_split"]), _fmt(p["distance"])]
                for p in nd["items"][:100]]
        out.append(f"<h3>Near-duplicate composites across splits ({nd['pairs']} pairs, perceptual hash within "
                   f"{nd['max_distance']} bits)</h3>" + _table(["key", "split", "key", "split", "bits"], rows, {4}))
    else:
        out.append("<p>No near-duplicate composites across splits (perceptual hash within "
                   f"{nd['max_distance']} bits).</p>")
    bg = lk["background"]
    out.append(f"<p>Backgrounds in more than one split: {bg['shared']} (recipe background_split: "
               f"<code>{_e(bg['policy'])}</code>).</p>")
    return "".join(out)


def _shards_html(d: dict[str, Any]) -> str:
    rows = []
    for s in d["shards"]:
        ok = {True: "✔ ok", False: "✘ mismatch", None: "not checked"}[s["sha256_ok"]]
        rows.append([_e(s["path"]), _e(s["split"]), _fmt(s["samples"]), _fmt(s["samples_read"]),
                     _fmt(s["bytes"]), ok, _e(s["error"] or "")])
    table = _table(["shard", "split", "samples", "read", "bytes", "sha256", "error"], rows, {2, 3, 4})
    if len(rows) > 12:
        return f"<details><summary>{len(rows)} shards</summary>{table}</details>"
    return table


def _section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>{body}</section>'


def render_html(stats: Sequence[DatasetStats], title: str | None = None) -> str:
    """The report for one dataset, or several side by side, as one HTML string."""
    if not stats:
        raise ValueError("render_html: need at least one dataset")
    datasets = [(s.label, s.data) for s in stats]
    plots = all_plots(datasets)
    labels = [s.label for s in stats]
    title = title or ("Dataset statistics: " + " vs ".join(labels))
    per = len(stats) > 1

    def each(f: Callable[[DatasetStats], str]) -> str:
        if not per:
            return f(stats[0])
        return "".join(f"<h3>{_e(s.label)}</h3>{f(s)}" for s in stats)

    overview = (f"<div class='row'><div>{_table(['', *labels], _metric_rows(stats))}</div>"
                f"<div>{_img(plots['splits'], 'samples per split')}</div></div>")
    realism = stats[0].data["realism"]
    body = [
        _section("Warnings", _warnings_html(stats), "warnings"),
        _section("Overview", overview, "overview"),
        _section("Contact sheet: random samples (composite | alpha | trimap)",
                 each(_contact_sheet), "contact"),
        _section("Diversity: foreground and background reuse",
                 _img(plots["usage"], "usage")
                 + "<h3>Foregrounds</h3>" + each(lambda s: _top_table(s.data, "foreground"))
                 + "<h3>Backgrounds</h3>" + each(lambda s: _top_table(s.data, "background")), "diversity"),
        _section("Alpha and trimap", _table(["", *labels], _alpha_rows(stats)) + _img(plots["alpha"], "alpha"),
                 "alpha"),
        _section("Colour and realism",
                 "<p class='muted'>Foreground/background statistics are measured on the composite where "
                 "α ≥ 0.95 and α ≤ 0.05. Realism mismatches (noise, sharpness, colour between F and B near the "
                 f"boundary) come from <code>{_e(realism['implementation'])}</code> on a {realism['window']}-px "
                 f"window straddling the boundary, at analysis resolution (long side ≥ {realism['analysis_side']} "
                 "px). Real photos are not at zero either: compare distributions.</p>"
                 + _img(plots["colour"], "colour") + _img(plots["realism"], "realism"), "realism"),
        _section("Operations (from meta.json)", _img(plots["ops"], "operations") + each(lambda s: _ops_table(s.data)),
                 "ops"),
        _section("Leakage between splits", each(lambda s: _leakage_html(s.data)), "leakage"),
        _section("Shards", each(lambda s: _shards_html(s.data)), "shards"),
    ]
    sub = " · ".join(f"{_e(s.label)}: <code>{_e(s.data['dataset']['path'])}</code>" for s in stats)
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width'><title>{_e(title)}</title>"
            f"<style>{_CSS}</style></head><body><header><h1>{_e(title)}</h1><div class='sub'>{sub} · "
            "generated by <code>synth stats</code>; every number is also in the JSON output</div></header>"
            f"<main>{''.join(body)}</main></body></html>\n")


def write_html(path: str | os.PathLike, stats: Sequence[DatasetStats], title: str | None = None) -> Path:
    """Write :func:`render_html` to ``path`` (atomically) and return the path."""
    out = Path(path)
    tmp = out.with_name(f".{out.name}.partial")
    tmp.write_text(render_html(stats, title), encoding="utf-8")
    os.replace(tmp, out)
    return out
