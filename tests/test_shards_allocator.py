"""shards.allocator: freed large arrays are reused, not handed back to the kernel."""
from __future__ import annotations

import subprocess
import sys

import pytest

from shards.allocator import retain_freed_memory

_PROBE = """
import resource, sys
import numpy as np
if sys.argv[1] == "1":
    from shards.allocator import retain_freed_memory
    assert retain_freed_memory()
def sample():  # a few 12 MiB temporaries alive at once, then all freed, as in a render
    live = [np.ones((1024, 1024, 3), np.float32) for _ in range(4)]
    return sum(float(a[0, 0, 0]) for a in live)
for _ in range(3):  # warm-up: the heap grows once
    sample()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    sample()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults(retain: bool) -> int:
    out = subprocess.run([sys.executable, "-c", _PROBE, "1" if retain else "0"], capture_output=True,
                         text=True, check=True)
    return int(out.stdout.strip())


def test_retain_freed_memory_is_idempotent():
    first = retain_freed_memory()
    assert retain_freed_memory() is first
    assert isinstance(first, bool)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_large_temporaries_stop_faulting_in_fresh_pages():
    if not retain_freed_memory():
        pytest.skip("not glibc")
    # without it the freed top of the heap is trimmed and every round faults its pages in
    # again (thousands of zero-filled pages per round); with it the second round on reuses them
    assert _page_faults(False) > 20 * 1000
    assert _page_faults(True) < 20 * 50
