"""Generic statistics of the recorded operations (``meta.json`` ``ops`` / ``post_composite``).

Operations are treated generically: each entry is a JSON object with an ``op`` name,
an optional ``target`` and any parameters. Parameters are flattened to dotted paths
(``canvas_hw[0]``, ``transforms[].name``) and summarised by type: numbers (moments),
booleans (true/false counts), strings (value counts, capped), nulls. New operations
and parameters show up without code changes. A top-level ``seed`` (a per-sample random
seed, not a parameter) is left out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from .mergeable import Moments, ValueCounts

__all__ = ["ParamAcc", "OpsAcc", "flatten_params"]

_MAX_DEPTH = 4
#: Keys that are not parameters: the op's name and target, and per-sample random seeds.
_SKIP = frozenset({"op", "target", "seed"})
_SHORT_LIST = 8


def flatten_params(value: Any, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Yield ``(path, scalar)`` for every leaf of a JSON value.

    Dicts recurse (``a.b``); short lists of scalars are indexed (``a[0]``); other
    lists aggregate their elements under ``a[]``. Leaves deeper than 4 levels are
    reported as their JSON type name.
    """
    if depth > _MAX_DEPTH:
        yield prefix, f"<{type(value).__name__}>"
        return
    if isinstance(value, dict):
        for k in value:
            yield from flatten_params(value[k], f"{prefix}.{k}" if prefix else str(k), depth + 1)
    elif isinstance(value, (list, tuple)):
        scalars = all(v is None or isinstance(v, (bool, int, float, str)) for v in value)
        if scalars and len(value) <= _SHORT_LIST:
            for i, v in enumerate(value):
                yield f"{prefix}[{i}]", v
        else:
            for v in value:
                yield from flatten_params(v, f"{prefix}[]", depth + 1)
    else:
        yield prefix, value


@dataclass
class ParamAcc:
    """Summary of one parameter's values over all occurrences."""

    numeric: Moments = field(default_factory=Moments)
    true: int = 0
    false: int = 0
    null: int = 0
    strings: ValueCounts = field(default_factory=lambda: ValueCounts(cap=20))
    _pending: list[float] = field(default_factory=list, repr=False)

    def add(self, v: Any) -> None:
        if isinstance(v, bool):
            if v:
                self.true += 1
            else:
                self.false += 1
        elif isinstance(v, (int, float)):
            self._pending.append(float(v))
        elif v is None:
            self.null += 1
        else:
            self.strings.add(str(v))

    def flush(self) -> None:
        if self._pending:
            self.numeric.add_array(np.asarray(self._pending))
            self._pending = []

    def merge(self, other: "ParamAcc") -> None:
        self.flush()
        other.flush()
        self.numeric.merge(other.numeric)
        self.true += other.true
        self.false += other.false
        self.null += other.null
        self.strings.merge(other.strings)

    def summary(self) -> dict[str, Any]:
        self.flush()
        out: dict[str, Any] = {}
        if self.numeric.n or self.numeric.nonfinite:
            out["number"] = self.numeric.summary()
        if self.true or self.false:
            out["bool"] = {"true": self.true, "false": self.false,
                           "true_rate": self.true / (self.true + self.false)}
        if self.strings.counts or self.strings.other:
            out["values"] = dict(sorted(self.strings.counts.items(), key=lambda kv: (-kv[1], kv[0])))
            if self.strings.other:
                out["values_other"] = self.strings.other
        if self.null:
            out["null"] = self.null
        return out


@dataclass
class _OpAcc:
    count: int = 0
    samples: int = 0
    params: dict[str, ParamAcc] = field(default_factory=dict)

    def merge(self, other: "_OpAcc") -> None:
        self.count += other.count
        self.samples += other.samples
        for k, p in other.params.items():
            if k in self.params:
                self.params[k].merge(p)
            else:
                self.params[k] = p


@dataclass
class OpsAcc:
    """Occurrences and parameters of operations, keyed by ``(stage, op, target)`` in first-seen order."""

    ops: dict[tuple[str, str, str], _OpAcc] = field(default_factory=dict)
    malformed: int = 0

    def add_sample(self, stage: str, entries: Any) -> None:
        """Add one sample's list of operations for ``stage`` (``"ops"`` or ``"post_composite"``)."""
        if entries is None:
            return
        if not isinstance(entries, list):
            self.malformed += 1
            return
        seen: set[tuple[str, str, str]] = set()
        for e in entries:
            if not isinstance(e, dict):
                self.malformed += 1
                continue
            op = str(e.get("op", "?"))
            target = str(e.get("target", ""))
            k = (stage, op, target)
            acc = self.ops.get(k)
            if acc is None:
                acc = self.ops[k] = _OpAcc()
            acc.count += 1
            if k not in seen:
                acc.samples += 1
                seen.add(k)
            params = acc.params
            for name, v in e.items():
                if name in _SKIP:
                    continue
                if v is None or isinstance(v, (bool, int, float, str)):  # fast path: a scalar
                    p = params.get(name)
                    if p is None:
                        p = params[name] = ParamAcc()
                    p.add(v)
                    continue
                for path, leaf in flatten_params(v, name, 1):
                    p = params.get(path)
                    if p is None:
                        p = params[path] = ParamAcc()
                    p.add(leaf)

    def flush(self) -> None:
        for acc in self.ops.values():
            for p in acc.params.values():
                p.flush()

    def merge(self, other: "OpsAcc") -> None:
        self.malformed += other.malformed
        for k, acc in other.ops.items():
            if k in self.ops:
                self.ops[k].merge(acc)
            else:
                self.ops[k] = acc

    def summary(self, samples: int) -> list[dict[str, Any]]:
        """One entry per ``(stage, op, target)``; ``rate`` = share of samples with the op."""
        out = []
        for (stage, op, target), acc in self.ops.items():
            out.append({
                "stage": stage, "op": op, "target": target or None,
                "count": acc.count, "samples": acc.samples,
                "rate": acc.samples / samples if samples else None,
                "params": {k: p.summary() for k, p in acc.params.items()},
            })
        return out
