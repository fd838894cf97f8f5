"""The HTML report: self-contained, warnings first, contact sheet; renders in a real headless
browser (Debian's chromium) to a non-blank screenshot (skipped when no browser is installed).
Its Jinja2 templates: values escaped by autoescape, every section present, strict about
missing fields, shipped as package data and found from any working directory."""
from __future__ import annotations

import base64
import copy
import fnmatch
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import numpy as np
import pytest
from PIL import Image

from synth.build import build
from synth.recipe import parse_recipe
from synth.stats import StatsOptions, collect_stats, render_html, report_html, write_html
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


# --- the Jinja2 templates: escaping, sections, strictness, package data ---------------------

HOSTILE = "<script>alert(\"x\")</script> & 'y'"
SECTIONS = [("warnings", "Warnings"), ("overview", "Overview"),
            ("contact", "Contact sheet: random samples (composite | alpha | trimap)"),
            ("diversity", "Diversity: foreground and background reuse"), ("alpha", "Alpha and trimap"), ("instances", "Instances"),
            ("guidance", "Guidance masks"),
            ("realism", "Colour and realism"), ("ops", "Operations (from meta.json)"),
            ("leakage", "Leakage between splits"), ("shards", "Shards")]


class _Text(HTMLParser):
    """Tags (name, attrs) and the decoded text inside elements of a given class."""

    def __init__(self, cls: str) -> None:
        super().__init__(convert_charrefs=True)
        self.cls, self.depth, self.texts, self.tags = cls, 0, [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if self.depth or self.cls in (dict(attrs).get("class") or "").split():
            if not self.depth:
                self.texts.append("")
            self.depth += tag not in ("img", "br")

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.texts[-1] += data


def _parse(html: str, cls: str) -> _Text:
    p = _Text(cls)
    p.feed(html)
    p.close()
    return p


@pytest.fixture(scope="module")
def report(stats):
    """(the template context, the report) of the one-dataset fixture, rendered once (plots are slow)."""
    ctx = report_html._context([stats])
    return ctx, report_html._environment().get_template("report.html.j2").render(ctx)


def _hostile(stats):
    s = copy.deepcopy(stats)
    s.label = "lab" + HOSTILE
    d = s.data
    d["warnings"] = [{"level": "error", "kind": "k", "message": "msg" + HOSTILE}]
    d["shards"][0]["path"] = "shard" + HOSTILE + ".tar"
    d["alpha_bits"] = {"8" + HOSTILE: 3}
    for t in s.thumbs:
        t["fg_file"] = "fg" + HOSTILE + ".png"
    return s


def test_values_with_markup_are_escaped_and_read_back_unchanged(stats):
    bad = _hostile(stats)
    html = render_html([bad, stats], title="t" + HOSTILE)
    assert "<script" not in html and "alert(\"x\")" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;y&#39;" in html
    assert _parse(html, "warn").texts[0] == "error" + "lab" + HOSTILE + ": msg" + HOSTILE
    caps = _parse(html, "cap").texts
    assert len(caps) == len(bad.thumbs) + len(stats.thumbs)
    assert all(c.endswith("fg fg" + HOSTILE + ".png") for c in caps[:len(bad.thumbs)])
    assert unescape(re.search(r"<title>(.*?)</title>", html).group(1)) == "t" + HOSTILE
    assert _parse(html, "sub").texts[0].startswith("lab" + HOSTILE + ": ")
    # alpha depth keys were inserted unescaped before the templates; now escaped like the rest
    assert "<td>8&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;y&#39;-bit (3)</td>" in html


def test_every_section_in_order_with_its_heading(report):
    html = report[1]
    found = re.findall(r'<section id="([a-z]+)"><h2>([^<]*)</h2>', html)
    assert found == SECTIONS
    assert html.count("<section") == html.count("</section>") == len(SECTIONS)
    assert html.endswith("</html>\n")


def test_images_are_data_uris_of_the_thumbnail_bytes(stats, report):
    html = report[1]
    imgs = [a for t, a in _parse(html, "-").tags if t == "img"]
    composites = [a["src"] for a in imgs if a.get("alt") == "composite"]
    assert [base64.b64decode(u.split(",", 1)[1]) for u in composites] == [t["image"] for t in stats.thumbs]
    assert all(u.startswith("data:image/jpeg;base64,") for u in composites)
    assert all(a["src"].startswith("data:image/png;base64,") for a in imgs if a.get("class") == "plot")


@pytest.mark.parametrize("drop, field", [(("timing",), "timing"),
                                         (("leakage", "near_duplicates"), "leakage/near_duplicates"),
                                         (("shards", 0, "split"), "shards/0/split")])
def test_a_missing_stats_field_is_named(stats, drop, field):
    s = copy.deepcopy(stats)
    s.label = "broken"
    parent = s.data
    for k in drop[:-1]:
        parent = parent[k]
    del parent[drop[-1]]
    with pytest.raises(ValueError, match=re.escape(f"'broken' have no field '{field}'")):
        render_html([stats, s])


def test_templates_are_strict_about_missing_values(report):
    env = report_html._environment()
    assert env is report_html._environment() and env.autoescape and env.undefined is jinja2.StrictUndefined
    ctx = report[0]
    with pytest.raises(jinja2.UndefinedError, match="realism"):
        env.get_template("report.html.j2").render({k: v for k, v in ctx.items() if k != "realism"})
    ds = {k: v for k, v in ctx["datasets"][0].items() if k != "leakage"}
    with pytest.raises(jinja2.UndefinedError, match="leakage"):
        env.get_template("report.html.j2").render({**ctx, "datasets": [ds]})


def test_every_template_is_package_data():
    tomllib = pytest.importorskip("tomllib")
    root = Path(report_html.TEMPLATES)
    files = sorted(p.relative_to(root.parent).as_posix() for p in root.rglob("*") if p.is_file())
    assert {"templates/report.html.j2", "templates/macros.html.j2", "templates/report.css",
            "templates/sections/shards.html.j2"} <= set(files)
    with open(Path(__file__).resolve().parents[1] / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)
    globs = project["tool"]["setuptools"]["package-data"]["synth.stats"]
    assert [p for p in files if not any(fnmatch.fnmatchcase(p, g) for g in globs)] == []
    assert any(d.startswith("jinja2") for d in project["project"]["dependencies"])


def test_templates_are_found_from_another_cwd(report, tmp_path):
    (tmp_path / "ctx.pkl").write_bytes(pickle.dumps(report[0]))
    code = ("import pickle, sys; from synth.stats.report_html import _environment; "
            "sys.stdout.write(_environment().get_template('report.html.j2').render(pickle.load(open('ctx.pkl', 'rb'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    assert out.stdout.decode("utf-8") == report[1]


def test_render_html_is_the_template_rendered(stats, report):
    assert render_html([stats]) == report[1]
