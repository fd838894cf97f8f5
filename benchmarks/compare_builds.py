"""Are two builds byte-identical? Member by member, for a change that must not alter output.

    python benchmarks/compare_builds.py REF_ROOT NEW_ROOT

REF_ROOT is a built dataset, or a folder of them (e.g. portrait/, naive/, demo/ built by the
same commands from two checkouts), each of which must exist under NEW_ROOT with the same shard files, and every
tar member's bytes must be equal; manifest.json is compared without volatile fields
(timings, output paths). Prints what differs and IDENTICAL or DIFFERENT; exit status 1 when
anything differs.
"""
import hashlib, json, sys, tarfile
from pathlib import Path

VOLATILE = {"created", "created_at", "elapsed_s", "duration_s", "output", "cache_dir", "started", "finished", "timestamp", "host"}

def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in VOLATILE}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o

def members(p):
    with tarfile.open(p) as t:
        return {m.name: hashlib.sha256(t.extractfile(m).read()).hexdigest() for m in t.getmembers() if m.isfile()}

ref, new = Path(sys.argv[1]), Path(sys.argv[2])
# REF_ROOT may itself be one dataset (it holds manifest.json); else its subfolders are
pairs = ([(ref, new)] if (ref / "manifest.json").exists() else
         [(d, new / d.name) for d in sorted(ref.iterdir()) if (d / "manifest.json").exists()])
if not pairs or not all((nd / "manifest.json").exists() for _, nd in pairs):
    sys.exit(f"nothing to compare: {ref} must be a built dataset or hold some, each also built under {new}")
bad = 0
for ds, nd in pairs:
    rt = sorted(p.name for p in ds.glob("*.tar")); nt = sorted(p.name for p in nd.glob("*.tar"))
    if rt != nt:
        print(f"{ds.name}: shard lists differ {rt} vs {nt}"); bad += 1; continue
    n_members = 0; n_diff = 0
    for name in rt:
        a, b = members(ds / name), members(nd / name)
        if a.keys() != b.keys():
            print(f"{ds.name}/{name}: member names differ"); bad += 1
        for k in sorted(a.keys() & b.keys()):
            n_members += 1
            if a[k] != b[k]:
                n_diff += 1
                if n_diff <= 5: print(f"{ds.name}/{name}:{k} differs")
    ma = strip(json.loads((ds / "manifest.json").read_text())); mb = strip(json.loads((nd / "manifest.json").read_text()))
    same_manifest = ma == mb
    if not same_manifest:
        diff = [k for k in set(ma) | set(mb) if ma.get(k) != mb.get(k)]
        print(f"{ds.name}: manifest differs in {diff}")
    bad += n_diff + (not same_manifest)
    print(f"{ds.name}: {len(rt)} shards, {n_members} members compared, {n_diff} differ, manifest {'same' if same_manifest else 'DIFFERENT'}")
print("IDENTICAL" if bad == 0 else f"DIFFERENT ({bad})")
sys.exit(1 if bad else 0)
