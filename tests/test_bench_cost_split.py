"""benchmarks/cost_split.py: steps timed in place count each call once (the outermost wrapped
call), put the functions back, and split a real render without changing what it makes."""
from __future__ import annotations

import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from cost_split import build_steps, loader_steps, print_split, timed_steps  # noqa: E402


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def _module() -> types.ModuleType:
    m = types.ModuleType("fake_pipeline")

    def inner() -> str:
        _spin(0.02)
        return "inner"

    def outer() -> str:
        _spin(0.02)
        return m.inner() + "+outer"  # looked up by name, as the pipeline does

    m.inner, m.outer = inner, outer
    return m


def test_nested_calls_count_for_the_outer_step_only_and_functions_come_back():
    m = _module()
    inner, outer = m.inner, m.outer
    with timed_steps({"outer": [(m, "outer")], "inner": [(m, "inner")]}) as totals:
        assert m.outer() == "inner+outer"  # same result through the wrappers
        assert totals["inner"] == 0.0  # called inside outer: counted there
        assert 0.035 <= totals["outer"] < 0.2
        assert m.inner() == "inner"  # on its own it counts for itself
        assert 0.015 <= totals["inner"] < 0.1
    assert m.inner is inner and m.outer is outer


def test_functions_come_back_after_an_error():
    m = _module()
    outer = m.outer
    try:
        with timed_steps({"outer": [(m, "outer")]}):
            raise KeyError("boom")
    except KeyError:
        pass
    assert m.outer is outer


def test_print_split_adds_up_to_the_total(capsys):
    totals = {"a": 1.0, "b": 2.0, "c": 0.5}
    print_split(10.0, totals, 100, [("first", ["a", "b"]), ("second", ["c"])], floor_s=4.0)
    out = capsys.readouterr().out
    assert "running 1.75x" in out and "running 1.88x" in out  # (4 + 3) / 4, (4 + 3.5) / 4
    assert "25.0 ms" in out and "(total 2.50x)" in out  # the rest: 10 - 7.5 s over 100 samples
    print_split(10.0, totals, 100, [("first", ["a", "b"])])
    out = capsys.readouterr().out
    assert "30.0 %" in out and "70.0 %" in out


def test_the_steps_exist_where_the_pipelines_call_them():
    for step, targets in {**build_steps(), **loader_steps()}.items():
        for module, attr in targets:
            assert callable(getattr(module, attr)), (step, module.__name__, attr)
