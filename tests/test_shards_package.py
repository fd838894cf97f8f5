"""shards/__init__.py: the loader names are imported lazily (format modules do not import torch)."""
from __future__ import annotations

import pytest


# ------------------------------------------------------------ lazy imports
def test_format_modules_do_not_import_torch():
    """`import shards.codec` (the build, `synth stats`) must not pay for torch (PEP 562 lazy names)."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, shards.codec, shards.manifest, shards.tar_writer, shards.reader, shards; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "from shards import MattingDataset, MattingLoader, collate_matting, AugmentConfig; "
            "assert 'torch' in sys.modules; "
            "import shards.dataset; assert shards.MattingDataset is shards.dataset.MattingDataset; "
            "assert 'MattingLoader' in dir(shards); "
            "ns = {}; exec('from shards import *', ns); assert 'collate_matting' in ns")
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
    with pytest.raises(AttributeError):
        import shards
        shards.no_such_name  # noqa: B018


def test_without_torch_the_build_works_and_the_loader_says_what_to_install(tmp_path):
    """torch is the `loader` extra: a build runs without it, and asking for the loader names
    the install command instead of a bare ModuleNotFoundError."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = f"""
import importlib.abc, sys
class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, NoTorch())
from synth.cli import main
try:
    main(["build", "recipes/demo.yaml", "-o", {str(tmp_path / "out")!r}, "--workers", "0", "--limit", "2",
          "--quiet", "--cache-dir", {str(tmp_path / "cache")!r}])
except SystemExit as e:
    assert e.code in (0, None), e.code
assert "torch" not in sys.modules
import shards
try:
    shards.MattingDataset
except ModuleNotFoundError as err:
    print("MESSAGE", err)
"""
    out = subprocess.run([sys.executable, "-c", code], check=True, cwd=root, capture_output=True, text=True)
    assert (tmp_path / "out" / "manifest.json").is_file()
    assert "MESSAGE shards.MattingDataset needs PyTorch" in out.stdout
    assert "pip install 'matting-synth[loader]'" in out.stdout
