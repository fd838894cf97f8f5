"""synth.rng: every derivation keeps the key it has always had (so builds keep their bytes)."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from synth.rng import (
    TAG_FG_CYCLE,
    cycle_rng,
    keyed_rank,
    name_code,
    procedural_rng,
    seeded_rng,
    step_rng,
)


def _sha4(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def _same(a: np.random.Generator, b: np.random.Generator) -> bool:
    return a.bit_generator.state == b.bit_generator.state


def test_name_code_is_sha256_prefix_little_endian():
    assert name_code("train") == _sha4("train") and 0 <= name_code("val") < 2**32
    assert name_code("a") != name_code("b")


def test_generators_have_their_documented_keys():
    assert _same(step_rng(3, "train", 7, "background"),
                 np.random.default_rng([3, _sha4("train"), 7, _sha4("background")]))
    assert _same(cycle_rng(3, "val", 2), np.random.default_rng([3, _sha4("val"), 2, 0xF6]))
    assert TAG_FG_CYCLE == 0xF6
    assert _same(procedural_rng(1, 4, "fg"), np.random.default_rng([1, 4, 0x4647]))
    assert _same(procedural_rng(1, 4, "bg"), np.random.default_rng([1, 4, 0x4247]))
    assert _same(seeded_rng(9), np.random.default_rng(9))
    with pytest.raises(ValueError, match="kind must be"):
        procedural_rng(1, 4, "x")


def test_steps_are_independent_and_reproducible():
    a = step_rng(0, "train", 0, "foreground_flip").random(4)
    assert np.array_equal(a, step_rng(0, "train", 0, "foreground_flip").random(4))
    assert not np.array_equal(a, step_rng(0, "train", 0, "foreground_rotation").random(4))
    assert not np.array_equal(a, step_rng(0, "train", 1, "foreground_flip").random(4))


def test_keyed_rank_is_salted_sha256():
    assert keyed_rank("fg", 3, "abc") == hashlib.sha256(b"fg:3:abc").hexdigest()
    ids = [f"id{i}" for i in range(20)]
    assert sorted(ids, key=lambda i: keyed_rank("fg", 0, i)) == sorted(ids[::-1], key=lambda i: keyed_rank("fg", 0, i))
