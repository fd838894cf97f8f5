"""Albumentations transforms named in a recipe, built and checked up front.

`check_transforms` runs at `synth validate` and at the start of a build, so that a wrong
name or parameter is a one-line error naming the recipe field, not a failure at the first
rendered sample.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

from augment.aligned import import_albumentations

from .recipe import AlbumentationsStep

__all__ = ["FIELD", "build_transform", "check_transforms"]

FIELD = "foreground_augment.albumentations"
_MAX_REASON = 200
_PYDANTIC_HEAD = re.compile(r"^(\d+) validation errors? for \w+$")


def _short_reason(err: Exception) -> str:
    """The first problem of an albumentations/pydantic error, on one line (pydantic's dump
    lists every error over several lines with links)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    head = _PYDANTIC_HEAD.match(lines[0]) if lines else None
    if head and len(lines) >= 3:
        msg = re.sub(r"\s*\[type=.*$", "", lines[2])
        msg = re.sub(r"^(Value|Assertion) error, ", "", msg)
        more = int(head.group(1)) - 1
        reason = f"{lines[1]}: {msg}" + (f" (and {more} more problem(s))" if more else "")
    else:
        reason = lines[0] if lines else type(err).__name__
    return reason if len(reason) <= _MAX_REASON else reason[:_MAX_REASON - 3] + "..."


def build_transform(steps: Sequence[AlbumentationsStep], where: str = FIELD) -> Any:
    """`A.Compose` of the named transforms.

    Raises a one-line ValueError naming the step's field (`{where}.{i}.name` or
    `{where}.{i}.params`) for an unknown name, bad parameters or unknown parameter names
    (which albumentations itself only warns about, then ignores).
    """
    A = import_albumentations()
    transforms = []
    for i, step in enumerate(steps):
        cls = getattr(A, step.name, None)
        if not (isinstance(cls, type) and issubclass(cls, A.BasicTransform)):
            raise ValueError(f"{where}.{i}.name: unknown transform {step.name!r} (not an albumentations transform)")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                transforms.append(cls(**step.params))
        except Exception as err:  # albumentations validates with pydantic and raises various types
            raise ValueError(f"{where}.{i}.params: bad parameters for {step.name}: {_short_reason(err)}") from None
        for w in caught:
            if "not valid for transform" in str(w.message):
                raise ValueError(f"{where}.{i}.params: bad parameters for {step.name}: {w.message}")
            warnings.warn(w.message, w.category, stacklevel=2)
    return A.Compose(transforms)


def check_transforms(steps: Sequence[AlbumentationsStep], where: str = FIELD) -> None:
    """Raise the one-line ValueError of `build_transform` unless every step builds (no-op,
    and albumentations not imported, when there are none)."""
    if steps:
        build_transform(steps, where)
