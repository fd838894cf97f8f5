"""The HTML report: self-contained, warnings first, contact sheet; renders in a real headless
browser (Debian's chromium) to a non-blank screenshot (skipped when no browser is installed)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

import numpy as np
import pytest
from PIL import Image

from synth.build import build
from synth.recipe import parse_recipe
from synth.stats import StatsOptions, collect_stats, render_html, write_html
from synth.stats.measure import REALISM_IMPL

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="module")
def stats(tmp_path_factory):
    root = tmp_path_factory.mktemp("stats_report")
    recipe = {
        "name": "report-t", "seed": 1,
        "foregrounds": [{"kind": "procedural", "count": 5, "size": [96, 80]}],
        "backgrounds": [{"kind": "procedural", "count": 5, "size": [96, 128]}],
        "splits": [{"name": "train", "fraction": 0.6, "samples": 8}, {"name": "val", "fraction": 0.4, "samples": 4}],
        "canvas": {"height": 96, "width": 96},
        "trimap": {"band": [2, 8]},
        "output": {"samples_per_shard": 6},
    }
    build(parse_recipe(recipe), root / "out", cache_dir=root / "cache")
    return collect_stats(root / "out", StatsOptions(contact=5), label="report-t")


def test_report_is_self_contained_with_warnings_first(stats, tmp_path):
    html = render_html([stats])
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    srcs = re.findall(r'src="([^"]*)"', html)
    assert srcs and all(s.startswith("data:image/") for s in srcs)
    assert "<script" not in html and "<link" not in html and "http://" not in html and "https://" not in html
    sections = re.findall(r'<section id="([a-z]+)"', html)
    assert sections[0] == "warnings" and {"overview", "contact", "diversity", "alpha", "realism", "ops",
                                          "leakage", "shards"} <= set(sections)
    assert html.count('class="card"') == 5 == len(stats.thumbs)
    assert "No problems found" in html and REALISM_IMPL in html
    out = write_html(tmp_path / "r.html", [stats])
    assert out.read_text(encoding="utf-8") == html and not list(tmp_path.glob(".*partial"))


def test_report_shows_errors_and_compare_mode(stats):
    bad = type(stats)("leaky", {**stats.data, "warnings": [
        {"level": "error", "kind": "foreground_leak", "message": "1 foreground(s) appear in more than one split: x"}]},
        stats.thumbs)
    html = render_html([stats, bad])
    assert '<div class="warn error"><span class="lvl">error</span><b>leaky</b>: 1 foreground(s) appear' in html
    assert html.count('class="sheet"') == 2
    assert "report-t</th><th>leaky</th>" in html  # one column per dataset
    with pytest.raises(ValueError, match="at least one"):
        render_html([])


def _browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_renders_in_headless_browser(stats, tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip(f"no headless browser installed (looked for {', '.join(BROWSERS)})")
    report = write_html(tmp_path / "report.html", [stats])
    shot = tmp_path / "shot.png"
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1200,2000",
           report.resolve().as_uri()]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path,
                              env={**os.environ, "HOME": str(tmp_path)})
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert shot.exists(), f"no screenshot; {browser} exited {proc.returncode}: {proc.stderr[-2000:]}"
    img = np.asarray(Image.open(shot).convert("RGB")).astype(np.float32)
    assert img.shape == (2000, 1200, 3)
    assert img.std() > 20  # not blank: text, plots and thumbnails
    header = img[2:12, 900:1180].reshape(-1, 3).mean(0)  # header padding, right of the title
    assert np.allclose(header, [29, 42, 68], atol=12), header  # the dark header band: CSS applied
    ok_green = np.all(np.abs(img - [232, 245, 233]) < 6, axis=-1).mean()
    assert ok_green > 0.002  # the "No problems found" box
