"""Hostile shards: >= 200 seeded mutants of a real shard (flips, truncations inside headers,
zero blocks, huge declared sizes, decoder bombs, path tricks, links, duplicates, special
headers...), each read in every mode (manifest or URL list or fsspec; offsets or bytes;
with verify). No read may hang, raise, lose a sample without counting it, or lose a
sample of an intact shard; memory stays bounded. The long run: benchmarks/fuzz_shards.py."""
from __future__ import annotations

import resource
from collections import Counter
from pathlib import Path

import pytest

from shard_fixtures import write_dataset
from shard_mutations import KINDS, MODES, layout, make_case, mutate, read_and_check
from shards.manifest import read_manifest

N_MUTANTS = 204  # 12 of each of the 17 kinds

pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz_base")
    write_dataset(root, {"train": [3, 2]}, hw=(20, 24))
    return root


def test_mutants_never_hang_raise_or_lose_samples_silently(base, tmp_path):
    shards = read_manifest(base).shards_of("train")
    expected = {e.path: e.samples for e in shards}
    original = (base / shards[0].path).read_bytes()
    members = layout(original)
    intact = {f"train_{i:08d}" for i in range(shards[1].first_index, shards[1].first_index + shards[1].samples)}
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    problems: list[str] = []
    kinds: Counter[str] = Counter()
    changed = 0
    for seed in range(N_MUTANTS):
        kind, blob = mutate(original, members, seed)
        kinds[kind] += 1
        changed += blob != original
        root = make_case(base, tmp_path / "case", blob)
        for mode in MODES:
            out = read_and_check(root, mode, expected, intact, mutated=blob != original, timeout=20.0)
            if out.problem:
                problems.append(f"seed {seed} ({kind}), mode {mode}: {out.problem}")
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    assert problems == []
    assert set(kinds) == set(KINDS) and changed >= N_MUTANTS - 5
    assert grown_mib < 1024, f"peak memory grew by {grown_mib:.0f} MiB reading mutants"
