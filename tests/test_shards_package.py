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
