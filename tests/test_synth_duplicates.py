"""Inputs with the same content: used once, every other copy recorded in the manifest's
skipped list (and shown by `synth validate`), in scan order."""
from __future__ import annotations

import io
import json
import shutil

import numpy as np
import yaml
from click.testing import CliRunner
from PIL import Image

from shards.manifest import read_manifest
from synth.build import build
from synth.cli import main
from synth.duplicates import drop_duplicates
from synth.recipe import parse_recipe
from synth.sources.scan import Skipped


def test_drop_duplicates_keeps_the_first_and_names_it():
    items = [("a", 1), ("b", 2), ("c", 1), ("d", 1), ("e", 3)]
    kept, dups = drop_duplicates(items, key=lambda x: str(x[1]), name=lambda x: x[0])
    assert kept == [("a", 1), ("b", 2), ("e", 3)]
    assert dups == [Skipped("c", "duplicate of a (same content)"), Skipped("d", "duplicate of a (same content)")]


def _png(arr: np.ndarray) -> bytes:
    b = io.BytesIO()
    Image.fromarray(arr).save(b, "PNG")
    return b.getvalue()


def _sources(tmp_path) -> dict:
    rng = np.random.default_rng(0)
    for d in ("fg", "bg"):
        (tmp_path / d).mkdir()
    for i in range(5):
        rgba = rng.integers(0, 256, (64, 64, 4), dtype=np.uint8)
        rgba[..., 3] = 0
        rgba[12:52, 12:52, 3] = 128
        rgba[18:46, 18:46, 3] = 255
        (tmp_path / "fg" / f"f{i}.png").write_bytes(_png(rgba))
    shutil.copy(tmp_path / "fg" / "f3.png", tmp_path / "fg" / "f1.png")  # f1 and f3: same bytes
    for i in range(3):
        (tmp_path / "bg" / f"b{i}.png").write_bytes(_png(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)))
    shutil.copy(tmp_path / "bg" / "b2.png", tmp_path / "bg" / "b0.png")
    return {"foregrounds": [{"kind": "rgba", "path": str(tmp_path / "fg")}],
            "backgrounds": [{"kind": "folder", "path": str(tmp_path / "bg")}],
            "splits": [{"name": "train", "fraction": 1.0, "samples": 6}], "canvas": {"height": 48, "width": 48}}


def test_a_duplicate_is_recorded_with_the_file_it_duplicates(tmp_path):
    data = _sources(tmp_path)
    report = build(parse_recipe(data), tmp_path / "out", cache_dir=tmp_path / "cache")
    m = read_manifest(tmp_path / "out")
    assert [(s.path, s.reason) for s in m.skipped] == [
        (str(tmp_path / "fg" / "f3.png"), f"duplicate of {tmp_path / 'fg' / 'f1.png'} (same content)"),
        (str(tmp_path / "bg" / "b2.png"), f"duplicate of {tmp_path / 'bg' / 'b0.png'} (same content)"),
    ]
    assert m.extra["foregrounds"] == {"train": 4} and m.extra["backgrounds"] == {"train": 2}
    assert report.total_samples == 6
    names = set()
    for s in m.shards:
        import tarfile

        with tarfile.open(tmp_path / "out" / s.path) as tar:
            for member in tar.getmembers():
                if member.name.endswith("meta.json"):
                    names.add(json.loads(tar.extractfile(member).read())["foreground"]["file"])
    assert "f3.png" not in names  # the first copy (in scan order) is the one used
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(data))
    res = CliRunner().invoke(main, ["validate", str(tmp_path / "r.yaml")])
    assert res.exit_code == 0, res.output
    assert "  duplicates: 2 input(s) with the content of another" in res.output
    assert f"    {tmp_path / 'fg' / 'f3.png'}: duplicate of {tmp_path / 'fg' / 'f1.png'} (same content)" in res.output
