"""augment.kernels: compiled loops that work where numba cannot cache them on disk."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_kernels_compile_without_a_writable_cache_folder():
    """numba refuses ``cache=True`` when no cache folder is writable (a read-only install and
    home); the kernels then compile in each process and give the same values."""
    code = (
        "import numpy as np\n"
        "from numba.core import caching\n"
        "impl = getattr(caching, 'CacheImpl', None) or caching._CacheImpl\n"
        "for cls in impl._locator_classes:  # every cache folder unusable\n"
        "    cls.from_function = classmethod(lambda cls, f, p: None)\n"
        "from augment.colour import _linear_to_srgb_exact, linear_to_srgb\n"
        "x = np.linspace(-0.1, 1.1, 10001, dtype=np.float32)\n"
        "assert np.array_equal(linear_to_srgb(x), _linear_to_srgb_exact(x))\n"
        "import augment.kernels as k\n"
        "assert not k.srgb_levels._cache_hits and type(k.srgb_levels._cache).__name__ == 'NullCache'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
