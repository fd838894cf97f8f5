"""shards.atomic: whole-or-nothing local writes whose files get the umask's mode."""
from __future__ import annotations

import os
import stat

import pytest

from shards.atomic import atomic_write_bytes, current_umask, temp_beside


@pytest.fixture
def umask():
    """Set a umask for the test (process-wide), restore the caller's after."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield lambda mask: os.umask(mask)
    os.umask(saved)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_files_get_the_mode_of_any_new_file(tmp_path, umask, mask):
    umask(mask)
    assert current_umask() == mask
    atomic_write_bytes(tmp_path / "sub" / "a.bin", b"abc")
    assert (tmp_path / "sub" / "a.bin").read_bytes() == b"abc"
    assert stat.S_IMODE((tmp_path / "sub" / "a.bin").stat().st_mode) == 0o666 & ~mask
    fd, tmp = temp_beside(tmp_path / "b.tar")
    os.close(fd)
    assert os.path.basename(tmp).startswith(".b.tar.") and tmp.endswith(".partial")
    assert stat.S_IMODE(os.stat(tmp).st_mode) == 0o666 & ~mask


def test_a_failed_write_leaves_the_old_file_and_no_partial(tmp_path):
    target = tmp_path / "m.json"
    atomic_write_bytes(target, b"old")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]
