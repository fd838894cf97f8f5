"""examples/train_tiny.py: trains, checkpoints with the loader state, resumes exactly."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from shard_fixtures import write_dataset

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_tiny.py"
pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")


def _load():
    spec = importlib.util.spec_from_file_location("train_tiny", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def test_train_checkpoint_and_resume(tmp_path):
    data = tmp_path / "data"
    write_dataset(data, {"train": [7, 6, 9]}, hw=(40, 48))
    mod = _load()
    common = ["--data", str(data), "--crop", "32", "--batch", "4", "--workers", "2", "--buffer", "8",
              "--log-every", "100"]
    full = mod.main(common + ["--out", str(tmp_path / "a"), "--steps", "9", "--ckpt-every", "100"])
    first = mod.main(common + ["--out", str(tmp_path / "b"), "--steps", "4", "--ckpt-every", "2"])
    assert (tmp_path / "b" / "checkpoint.pt").exists()
    second = mod.main(common + ["--out", str(tmp_path / "b"), "--steps", "9", "--resume"])
    assert second["step"] == 9
    assert first["keys"] + second["keys"] == full["keys"]
