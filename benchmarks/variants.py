"""The ``NAME=path.to.field=value[,...]`` variant form shared by the realism, detectability and
generalisation benchmarks: a named recipe variant given as overrides on the command line."""
from __future__ import annotations


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``"NAME=a.b=1,c.d=[0.1, 0.5]"`` -> ``("NAME", ["a.b=1", "c.d=[0.1, 0.5]"])``.

    A value may itself hold commas (a list): pieces without ``=`` are glued back onto the
    override before them. Raises SystemExit naming the text when NAME or overrides are missing.
    """
    name, sep, rest = text.partition("=")
    if not sep or not name or not rest:
        raise SystemExit(f"--variant must be NAME=path.to.field=value[,...], got {text!r}")
    overrides: list[str] = []
    for part in rest.split(","):
        if "=" in part or not overrides:
            overrides.append(part)
        else:
            overrides[-1] += "," + part
    return name, overrides
