"""`synth stats` command line: JSON, HTML, --fail-on."""
from __future__ import annotations

import json

from click.testing import CliRunner

from synth.stats_cli import stats as stats_cmd

from stats_samples import clean_dataset, make_sample, write_dataset, item_id


def test_cli_json_html_and_fail_on(tmp_path):
    root = clean_dataset(tmp_path / "cli")
    out_json, out_html = tmp_path / "s.json", tmp_path / "r.html"
    r = CliRunner().invoke(stats_cmd, [str(root), "--json", str(out_json), "--html", str(out_html), "--quiet",
                                       "--contact", "3", "--fail-on", "warning", "--workers", "0"])
    assert r.exit_code == 0, r.output
    d = json.loads(out_json.read_text())
    assert d["counts"]["samples"] == 9 and out_html.read_text().startswith("<!DOCTYPE html>")
    leak = write_dataset(tmp_path / "leak", [
        ("train-000000.tar", "train", [make_sample("train_00000000", "train", item_id(1), item_id(2), 1)]),
        ("val-000000.tar", "val", [make_sample("val_00000000", "val", item_id(1), item_id(2), 1)])])
    r = CliRunner().invoke(stats_cmd, [str(leak), "--fail-on", "error", "--contact", "0", "--workers", "0"])
    assert r.exit_code == 1
    assert "ERROR: 1 foreground(s) appear in more than one split" in r.output
    r = CliRunner().invoke(stats_cmd, [str(root), str(leak), "--json", "-", "--quiet", "--contact", "0",
                                       "--workers", "0"])
    assert r.exit_code == 0, r.output
    cmp = json.loads(r.output)
    assert set(cmp["datasets"]) == {str(root), str(leak)}
    assert cmp["comparison"]["foregrounds in 2+ splits"] == {str(root): 0, str(leak): 1}
    r = CliRunner().invoke(stats_cmd, [str(tmp_path / "nothing"), "--workers", "0"])
    assert r.exit_code != 0 and "manifest not found" in r.output
    r = CliRunner().invoke(stats_cmd, [str(root), str(root), str(root)])
    assert r.exit_code == 2 and "one dataset, or two" in r.output
