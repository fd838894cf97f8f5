"""Plots of statistics dicts (one or several datasets overlaid), as PNG bytes.

Only matplotlib's object-oriented API is used (``Figure`` + Agg canvas), so no global
backend is selected and nothing touches pyplot state. Every function takes
``datasets``: a list of ``(label, data)`` pairs where ``data`` is the dict of
:func:`synth.stats.summarize.summarize`, and returns PNG bytes, or ``None`` when
there is nothing to plot.
"""
from __future__ import annotations

import io
from typing import Any, Callable, Sequence

import numpy as np

__all__ = [
    "get_path",
    "plot_splits",
    "plot_usage",
    "plot_alpha",
    "plot_colour",
    "plot_realism",
    "plot_ops",
]

Datasets = Sequence[tuple[str, dict[str, Any]]]
_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def _figure(nrows: int, ncols: int, width: float = 11.0, height_per_row: float = 3.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height_per_row * nrows), dpi=96, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _png(fig) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _short(label: str, n: int = 28) -> str:
    """Legend text: long labels (paths) keep their end."""
    return label if len(label) <= n else "…" + label[-(n - 1):]


def _named(datasets: Datasets) -> list[tuple[str, dict[str, Any]]]:
    return [(_short(label), d) for label, d in datasets]


def _colour(i: int) -> str:
    return _COLOURS[i % len(_COLOURS)]


def get_path(d: dict[str, Any], path: str) -> Any:
    """`d[a][b]...` for a path "a/b/..." of a stats JSON dict; None where a key is missing."""
    for part in path.split("/"):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def _hist_line(ax, hist: dict[str, Any] | None, label: str, colour: str, linestyle: str = "-") -> bool:
    """Draw a fixed-bin histogram as a step line of shares (so datasets of any size compare)."""
    if not hist:
        return False
    counts = np.asarray(hist["counts"], dtype=np.float64)
    total = counts.sum() + hist.get("under", 0) + hist.get("over", 0)
    if total == 0:
        return False
    edges = np.linspace(hist["lo"], hist["hi"], hist["bins"] + 1)
    ax.stairs(counts / total, edges, label=label, color=colour, linestyle=linestyle, linewidth=1.6)
    return True


def _hist_panel(ax, datasets: Datasets, path: str, title: str, xlabel: str) -> bool:
    drawn = False
    for i, (label, data) in enumerate(datasets):
        summ = get_path(data, path)
        drawn |= _hist_line(ax, summ.get("hist") if summ else None, label, _colour(i))
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel("share of samples", fontsize=9)
    ax.tick_params(labelsize=8)
    if drawn:
        _trim_x(ax)
        if len(datasets) > 1:
            ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes, color="#888")
    return drawn


def _trim_x(ax) -> None:
    """Zoom the x axis onto the range where any line is non-zero."""
    lo, hi = np.inf, -np.inf
    for art in ax.patches:
        try:
            sd = art.get_data()
            vals, edges = sd.values, sd.edges
        except AttributeError:
            continue
        nz = np.flatnonzero(np.asarray(vals) > 0)
        if nz.size:
            lo, hi = min(lo, edges[nz[0]]), max(hi, edges[nz[-1] + 1])
    if np.isfinite(lo) and hi > lo:
        pad = 0.05 * (hi - lo)
        ax.set_xlim(lo - pad, hi + pad)


def plot_splits(datasets: Datasets) -> bytes | None:
    """Samples per split (bars, one group per split, one bar per dataset)."""
    datasets = _named(datasets)
    splits: list[str] = []
    for _, d in datasets:
        for s in d["counts"]["splits"]:
            if s not in splits:
                splits.append(s)
    if not splits:
        return None
    fig, axes = _figure(1, 1, width=4.8, height_per_row=2.6)
    ax = axes[0, 0]
    width = 0.8 / len(datasets)
    x = np.arange(len(splits))
    for i, (label, d) in enumerate(datasets):
        vals = [d["counts"]["splits"].get(s, 0) for s in splits]
        bars = ax.bar(x + i * width - 0.4 + width / 2, vals, width, label=label, color=_colour(i))
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(x, splits)
    ax.set_ylabel("samples", fontsize=9)
    ax.set_title("Samples per split", fontsize=10)
    if len(datasets) > 1:
        ax.legend(fontsize=8)
    return _png(fig)


def plot_usage(datasets: Datasets) -> bytes | None:
    """Reuse of foregrounds and backgrounds: uses per item, most used first, and Lorenz curves."""
    datasets = _named(datasets)
    fig, axes = _figure(2, 2, height_per_row=3.0)
    any_drawn = False
    for row, what in enumerate(("foreground", "background")):
        ax_rank, ax_lorenz = axes[row, 0], axes[row, 1]
        for i, (label, d) in enumerate(datasets):
            counts = np.array(sorted(get_path(d, f"diversity/{what}/counts").values(), reverse=True), dtype=float)
            if counts.size == 0:
                continue
            any_drawn = True
            x = (np.arange(counts.size) + 0.5) / counts.size
            ax_rank.step(x, counts, where="mid", color=_colour(i), label=f"{label} ({counts.size} items)")
            asc = np.sort(counts)
            lor = np.r_[0.0, np.cumsum(asc) / asc.sum()]
            g = get_path(d, f"diversity/{what}/all/gini")
            ax_lorenz.plot(np.linspace(0, 1, lor.size), lor, color=_colour(i),
                           label=f"{label} (Gini {g:.2f})" if g is not None else label)
        ax_rank.set_title(f"{what.capitalize()} uses, most used first", fontsize=10)
        ax_rank.set_xlabel("items (share, most used first)", fontsize=9)
        ax_rank.set_ylabel("samples using the item", fontsize=9)
        ax_rank.set_ylim(bottom=0)
        ax_lorenz.plot([0, 1], [0, 1], color="#aaa", linestyle=":", linewidth=1)
        ax_lorenz.set_title(f"{what.capitalize()} reuse: Lorenz curve (diagonal = perfectly even)", fontsize=10)
        ax_lorenz.set_xlabel("share of items (least used first)", fontsize=9)
        ax_lorenz.set_ylabel("share of samples", fontsize=9)
        for ax in (ax_rank, ax_lorenz):
            ax.tick_params(labelsize=8)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
    return _png(fig) if any_drawn else None


def plot_alpha(datasets: Datasets) -> bytes | None:
    """Alpha coverage, unknown share, transparency histogram and trimap band widths."""
    datasets = _named(datasets)
    fig, axes = _figure(2, 2)
    _hist_panel(axes[0, 0], datasets, "alpha/coverage", "Alpha coverage per sample (mean alpha)", "mean alpha")
    _hist_panel(axes[0, 1], datasets, "alpha/unknown_share", "Unknown pixels per sample (0 < alpha < 1)",
                "share of pixels")
    ax = axes[1, 0]
    drawn = False
    for i, (label, d) in enumerate(datasets):
        h = np.asarray(get_path(d, "alpha/histogram") or [], dtype=float)
        if h.size != 256 or h[1:255].sum() == 0:
            continue
        drawn = True
        share = h[1:255] / h[1:255].sum()
        ax.stairs(share, np.arange(1, 256) / 255.0, color=_colour(i), label=label, linewidth=1.4)
    ax.set_title("Transparency histogram of unknown pixels (alpha in (0, 1))", fontsize=10)
    ax.set_xlabel("alpha", fontsize=9)
    ax.set_ylabel("share of unknown pixels", fontsize=9)
    ax.tick_params(labelsize=8)
    if drawn and len(datasets) > 1:
        ax.legend(fontsize=8)
    _hist_panel(axes[1, 1], datasets, "trimap/band_px", "Trimap band width (meta.json band_px)", "pixels")
    return _png(fig)


def plot_colour(datasets: Datasets) -> bytes | None:
    """Foreground vs background luma, saturation and their difference, measured on the composite."""
    datasets = _named(datasets)
    fig, axes = _figure(1, 3, height_per_row=3.2)
    panels = (("luma", "Luma: foreground (solid) vs background (dashed)", "mean luma"),
              ("saturation", "Saturation: foreground (solid) vs background (dashed)", "mean HSV saturation"))
    for col, (key, title, xlabel) in enumerate(panels):
        ax = axes[0, col]
        for i, (label, d) in enumerate(datasets):
            for region, style in (("fg", "-"), ("bg", "--")):
                summ = get_path(d, f"colour/{region}_{key}")
                _hist_line(ax, summ.get("hist") if summ else None, f"{label} {region}", _colour(i), style)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_ylabel("share of samples", fontsize=9)
        ax.tick_params(labelsize=8)
        _trim_x(ax)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    _hist_panel(axes[0, 2], datasets, "colour/luma_diff", "Luma difference F - B per sample", "luma levels")
    return _png(fig)


REALISM_PANELS = (
    ("noise_log_ratio", "Noise mismatch ln(sigma_F / sigma_B)", "0 = same noise"),
    ("sharpness_log_ratio", "Sharpness mismatch ln(sharp_F / sharp_B)", "0 = same sharpness"),
    ("lab_mean_dist", "F-B colour distance near the edge (LAB dE76)", "dE"),
    ("luma_mean_diff", "Lightness difference L_F - L_B near the edge", "L"),
    ("chroma_mean_dist", "Chroma distance (a, b) near the edge", "ab distance"),
    ("lab_std_log_ratio", "Contrast mismatch ln(std_F / std_B) in LAB", "0 = same contrast"),
    ("spill_residual", "Colour spill: mixed pixels off the F-B line", "levels"),
    ("straight_cut", "Straight cut through the subject inside the picture", "share of the subject"),
)


def plot_realism(datasets: Datasets) -> bytes | None:
    """Realism mismatch measures between F and B near the alpha boundary."""
    datasets = _named(datasets)
    present = [p for p in REALISM_PANELS if any(get_path(d, f"realism/measures/{p[0]}") for _, d in datasets)]
    if not present:
        return None
    ncols = 3
    nrows = (len(present) + ncols - 1) // ncols
    fig, axes = _figure(nrows, ncols, height_per_row=3.0)
    for k, (key, title, xlabel) in enumerate(present):
        ax = axes[k // ncols, k % ncols]
        _hist_panel(ax, datasets, f"realism/measures/{key}", title, xlabel)
        if "log_ratio" in key:
            ax.axvline(0.0, color="#888", linestyle=":", linewidth=1)
    for k in range(len(present), nrows * ncols):
        axes[k // ncols, k % ncols].set_visible(False)
    return _png(fig)


def plot_ops(datasets: Datasets) -> bytes | None:
    """How often each recorded operation was applied (share of samples)."""
    datasets = _named(datasets)
    names: list[str] = []
    rates: list[dict[str, float]] = []
    for _, d in datasets:
        r = {}
        for op in d.get("ops", []):
            n = f"{op['op']} ({op['target']})" if op.get("target") else op["op"]
            if op["stage"] != "ops":
                n = f"{op['stage']}: {n}"
            r[n] = op["rate"] or 0.0
            if n not in names:
                names.append(n)
        rates.append(r)
    if not names:
        return None
    fig, axes = _figure(1, 1, width=9.0, height_per_row=0.45 * len(names) + 1.2)
    ax = axes[0, 0]
    height = 0.8 / len(datasets)
    y = np.arange(len(names))
    for i, ((label, _), r) in enumerate(zip(datasets, rates)):
        ax.barh(y + i * height - 0.4 + height / 2, [r.get(n, 0.0) for n in names], height, color=_colour(i),
                label=label)
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("share of samples with the operation", fontsize=9)
    ax.set_title("Recorded operations", fontsize=10)
    if len(datasets) > 1:
        ax.legend(fontsize=8)
    return _png(fig)


def plot_instances(datasets: Datasets) -> bytes | None:
    """Instances per sample, overlap share per sample and occlusion per instance; None when no
    dataset has instance members."""
    datasets = _named(datasets)
    if not any(get_path(d, "instances/samples") for _, d in datasets):
        return None
    fig, grid = _figure(1, 3, height_per_row=3.0)
    axes = grid[0]
    _hist_panel(axes[0], datasets, "instances/count", "Instances per sample", "instances")
    _hist_panel(axes[1], datasets, "instances/overlap_share",
                "Overlap share per sample (2+ own alphas > 0, of the union)", "share of union pixels")
    _hist_panel(axes[2], datasets, "instances/occlusion", "Occlusion per instance (1 - visible fraction)",
                "hidden share")
    axes[2].set_ylabel("share of instances", fontsize=9)
    return _png(fig)


def plot_guidance(datasets: Datasets) -> bytes | None:
    """IoU and boundary F-score of the guidance masks against the alpha; None without measures."""
    datasets = _named(datasets)
    if not any(get_path(d, "guidance/iou") for _, d in datasets):
        return None
    fig, grid = _figure(1, 2, height_per_row=3.0)
    _hist_panel(grid[0][0], datasets, "guidance/iou", "Guidance mask IoU with the alpha", "IoU")
    _hist_panel(grid[0][1], datasets, "guidance/boundary_f", "Guidance mask boundary F-score", "F")
    return _png(fig)


def all_plots(datasets: Datasets) -> dict[str, bytes | None]:
    """Every plot above, by name."""
    fns: dict[str, Callable[[Datasets], bytes | None]] = {
        "splits": plot_splits, "usage": plot_usage, "alpha": plot_alpha, "colour": plot_colour,
        "realism": plot_realism, "ops": plot_ops, "instances": plot_instances,
        "guidance": plot_guidance,
    }
    return {k: f(datasets) for k, f in fns.items()}
