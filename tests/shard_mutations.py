"""Seeded shard mutations and the checks a read of a mutated shard must pass.

Shared by ``tests/test_shards_fuzz.py`` (a quick deterministic part) and
``benchmarks/fuzz_shards.py`` (the long run). A mutation is a pure function of
``(base shard bytes, its layout, rng)``; :func:`read_and_check` reads a dataset whose
first shard is the mutant in one of :data:`MODES` and returns what went wrong (nothing,
for a correct loader): a hang, an uncaught exception, a sample that neither came out
nor was counted, or an intact sample that vanished.
"""
from __future__ import annotations

import io
import os
import shutil
import signal
import struct
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import fsspec
import numpy as np

from shards import MattingDataset
from shards.manifest import read_manifest

__all__ = ["KINDS", "MODES", "Member", "layout", "mutate", "read_and_check", "Outcome", "Hang"]


@dataclass(frozen=True)
class Member:
    name: str
    header: int  # offset of its (first) header block
    data: int  # offset of its data
    size: int


def layout(blob: bytes) -> list[Member]:
    """Members of an intact uncompressed tar, with their offsets."""
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:") as t:
        return [Member(m.name, m.offset, m.offset_data, m.size) for m in t.getmembers()]


# ------------------------------------------------------------------ mutations
def _header(m: Member, **changes) -> bytes:
    info = tarfile.TarInfo(m.name)
    info.size = m.size
    for k, v in changes.items():
        setattr(info, k, v)
    return info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")


def _replace_header(blob: bytes, m: Member, **changes) -> bytes:
    return blob[:m.header] + _header(m, **changes) + blob[m.data:]


def _pick(rng: np.random.Generator, members: list[Member], suffix: str = "") -> Member:
    pool = [m for m in members if m.name.endswith(suffix)] or members
    return pool[int(rng.integers(len(pool)))]


def _flip(blob: bytes, rng: np.random.Generator, lo: int, hi: int, n: int) -> bytes:
    b = bytearray(blob)
    for p in rng.integers(lo, max(lo + 1, hi), n):
        b[int(p)] ^= int(rng.integers(1, 256))
    return bytes(b)


def _forge_image(data: bytes, rng: np.random.Generator) -> bytes:
    """The same member with a header declaring a huge frame (same length, valid PNG CRC)."""
    h, w = (int(x) for x in rng.choice([20000, 60000, 65535], 2))
    if data[:4] == b"\x89PNG":
        ihdr = data[12:16] + struct.pack(">II", w, h) + data[24:29]
        return data[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]
    i = next((i for i in range(2, len(data) - 9) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC1, 0xC2)), None)
    if i is None:
        return data
    return data[:i + 5] + struct.pack(">HH", h, w) + data[i + 9:]


def _with_data(blob: bytes, m: Member, data: bytes) -> bytes:
    """``blob`` with member ``m``'s data replaced by ``data`` (header size updated, padded)."""
    pad = -len(data) % 512
    end = m.data + m.size + (-m.size % 512)
    return blob[:m.header] + _header(m, size=len(data)) + data + bytes(pad) + blob[end:]


_PATHS = ["../evil.image.jpg", "/abs/x.image.jpg", "dir/{key}.image.jpg", "{key}", "{key}.", ".{key}.image.jpg",
          "{key}.image.jpg/..", "{key}." + "x" * 300 + ".jpg", "tr\u00e9in_1.image.jpg", "{key}.im age.jpg",
          "{key}.IMAGE.JPG", "{key}..jpg", "{key}.image.jpg\\..\\x"]


def _m_flip(blob, ms, rng):
    return _flip(blob, rng, 0, len(blob), int(rng.integers(1, 9)))


def _m_flip_header(blob, ms, rng):
    m = _pick(rng, ms)
    return _flip(blob, rng, m.header, m.header + 512, int(rng.integers(1, 4)))


def _m_truncate(blob, ms, rng):
    return blob[:int(rng.integers(0, len(blob)))]


def _m_truncate_header(blob, ms, rng):
    m = _pick(rng, ms)
    return blob[:m.header + int(rng.integers(1, 512))]


def _m_zero_block(blob, ms, rng):
    k = int(rng.integers(0, len(blob) // 512))
    return blob[:k * 512] + bytes(512) + blob[(k + 1) * 512:]


def _m_huge_size(blob, ms, rng):
    size = int(rng.choice([len(blob) + 1, 300 << 20, 8 << 30, 1 << 40, 1 << 62, 8 ** 11 - 1]))
    return _replace_header(blob, _pick(rng, ms), size=size)


def _m_small_size(blob, ms, rng):
    m = _pick(rng, [m for m in ms if m.size > 1] or ms)
    return _replace_header(blob, m, size=int(rng.integers(0, max(1, m.size))))


def _m_bomb(blob, ms, rng):
    m = _pick(rng, ms, rng.choice([".jpg", ".png"]))
    forged = _forge_image(blob[m.data:m.data + m.size], rng)
    return blob[:m.data] + forged + blob[m.data + m.size:]


def _m_path(blob, ms, rng):
    m = _pick(rng, ms)
    name = str(rng.choice(_PATHS)).format(key=m.name.partition(".")[0])
    return _replace_header(blob, m, name=name)


def _m_link(blob, ms, rng):
    typ = rng.choice([tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE,
                      tarfile.GNUTYPE_SPARSE, tarfile.CONTTYPE])
    m = _pick(rng, ms)
    size = m.size if typ in (tarfile.GNUTYPE_SPARSE, tarfile.CONTTYPE) else 0
    head = _header(m, type=bytes(typ), linkname=str(rng.choice(["/etc/passwd", "../../x", m.name])), size=size)
    if size:
        return blob[:m.header] + head + blob[m.data:]
    end = m.data + m.size + (-m.size % 512)
    return blob[:m.header] + head + blob[end:]


def _m_duplicate_member(blob, ms, rng):
    m = _pick(rng, ms)
    end = m.data + m.size + (-m.size % 512)
    return blob[:end] + blob[m.header:end] + blob[end:]


def _m_duplicate_sample(blob, ms, rng):
    key = _pick(rng, ms).name.partition(".")[0]
    own = [m for m in ms if m.name.startswith(key + ".")]
    start, end = own[0].header, own[-1].data + own[-1].size + (-own[-1].size % 512)
    last = ms[-1]
    tail = last.data + last.size + (-last.size % 512)
    return blob[:tail] + blob[start:end] + blob[tail:]


def _m_garbage_member(blob, ms, rng):
    m = _pick(rng, ms)
    junk = rng.integers(0, 256, int(rng.integers(0, 2 * m.size + 2)), dtype=np.uint8).tobytes()
    return _with_data(blob, m, junk)


def _m_swap(blob, ms, rng):
    a, b = _pick(rng, ms, ".png"), _pick(rng, ms, ".jpg")
    da, db = blob[a.data:a.data + a.size], blob[b.data:b.data + b.size]
    first, second = sorted([(a, db), (b, da)], key=lambda x: -x[0].header)
    out = _with_data(blob, *first)
    return _with_data(out, *second)


def _m_junk_tail(blob, ms, rng):
    return blob + rng.integers(0, 256, int(rng.integers(1, 3000)), dtype=np.uint8).tobytes()


def _m_not_tar(blob, ms, rng):
    choice = int(rng.integers(4))
    if choice == 0:
        return b""
    if choice == 1:
        return bytes(int(rng.integers(1, 4)) * 512)  # end-of-archive blocks only
    if choice == 2:
        return rng.integers(0, 256, int(rng.integers(1, 5000)), dtype=np.uint8).tobytes()
    return b"\x1f\x8b\x08" + rng.integers(0, 256, 600, dtype=np.uint8).tobytes()  # gzip magic, junk


def _m_special_header(blob, ms, rng):
    """A long-name, pax or global pax header declaring a huge size, before a member."""
    m = _pick(rng, ms)
    typ = rng.choice([tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGLINK])
    head = tarfile.TarInfo("././@LongLink")
    head.type, head.size = bytes(typ), int(rng.choice([1 << 62, 8 << 30, 600]))
    return blob[:m.header] + head.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape") + blob[m.header:]


MUTATORS: dict[str, Callable[[bytes, list[Member], np.random.Generator], bytes]] = {
    "flip": _m_flip, "flip_header": _m_flip_header, "truncate": _m_truncate, "truncate_header": _m_truncate_header,
    "zero_block": _m_zero_block, "huge_size": _m_huge_size, "small_size": _m_small_size, "bomb": _m_bomb,
    "path": _m_path, "link": _m_link, "duplicate_member": _m_duplicate_member,
    "duplicate_sample": _m_duplicate_sample, "garbage_member": _m_garbage_member, "swap": _m_swap,
    "junk_tail": _m_junk_tail, "not_tar": _m_not_tar, "special_header": _m_special_header,
}
KINDS = tuple(MUTATORS)


def mutate(blob: bytes, members: list[Member], seed: int) -> tuple[str, bytes]:
    """Mutant ``seed``: its kind (``KINDS[seed % len(KINDS)]``) and bytes, from ``rng(seed)``."""
    kind = KINDS[seed % len(KINDS)]
    rng = np.random.default_rng([seed, 0xF022])
    return kind, MUTATORS[kind](blob, members, rng)


# ------------------------------------------------------------------ reading
class Hang(BaseException):
    """A read went past its deadline (not an OSError, so no reader can take it for one)."""


#: (source, buffer, verify): how a mutant is read.
MODES = (("manifest", "offsets", False), ("manifest", "bytes", False), ("urls", "offsets", False),
         ("urls", "bytes", False), ("fsspec", "bytes", False), ("manifest", "offsets", True))


@dataclass
class Outcome:
    yielded: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    problem: str | None = None  # what went wrong; None for a correct read


def _deadline(seconds: float):
    def boom(*_):
        raise Hang(f"no result after {seconds} s")
    old = signal.signal(signal.SIGALRM, boom)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return old


def read_and_check(root: Path, mode: tuple[str, str, bool], expected: dict[str, int], intact: set[str],
                   mutated: bool, timeout: float = 20.0) -> Outcome:
    """Read split ``train`` of ``root`` (first shard: the mutant) in ``mode`` and check it.

    ``expected``: the manifest's samples per shard path; ``intact``: keys of the untouched
    shards, which must all come out; ``mutated``: the mutant differs from the original.
    """
    source, buffer, verify = mode
    out = Outcome()
    errors: list[Exception] = []
    old = _deadline(timeout)
    try:
        if source == "urls":
            src = [str(root / e.path) for e in read_manifest(root).shards_of("train")]
        elif source == "fsspec":
            src = f"memory://fuzz-{os.getpid()}"
            fs = fsspec.filesystem("memory")
            for p in root.iterdir():
                fs.pipe(f"/fuzz-{os.getpid()}/{p.name}", p.read_bytes())
        else:
            src = str(root)
        ds = MattingDataset(src, "train", crop=16, buffer_size=4, buffer=buffer, verify=verify,
                            handler=errors.append, substitute=False)
        keys = [s["key"] for s in ds]
        out.yielded = len(keys)
        out.counts = ds.error_counts()
    except Hang as e:
        out.problem = f"hang: {e}"
        return out
    except Exception as e:  # noqa: BLE001 - an uncaught exception is the finding
        out.problem = f"uncaught {type(e).__name__}: {str(e)[:200]}"
        return out
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if source == "fsspec":
            fsspec.filesystem("memory").rm(f"/fuzz-{os.getpid()}", recursive=True)
    c = out.counts
    reported = c.get("sample_errors", 0) + c.get("samples_lost", 0) + c.get("shard_errors", 0)
    if len(errors) != c.get("sample_errors", 0) + c.get("shard_errors", 0):
        out.problem = f"handler saw {len(errors)} errors, counters say {c}"
    elif missing := intact - set(keys):
        out.problem = f"{len(missing)} samples of intact shards vanished: {sorted(missing)[:3]}"
    elif source != "urls" and out.yielded + c.get("sample_errors", 0) + c.get("samples_lost", 0) != sum(
            expected.values()):
        out.problem = f"{out.yielded} yielded + errors {c} != {sum(expected.values())} in the manifest"
    elif source == "urls" and not reported and out.yielded < sum(expected.values()):
        out.problem = f"{sum(expected.values()) - out.yielded} samples vanished with no error counted"
    elif verify and mutated and not c.get("shard_errors"):
        out.problem = "verify=True read a changed shard without a shard error"
    return out


def make_case(base: Path, work: Path, blob: bytes) -> Path:
    """A copy of dataset ``base`` in ``work`` whose first train shard holds ``blob``."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(base, work)
    first = read_manifest(base).shards_of("train")[0].path
    (work / first).write_bytes(blob)
    return work
