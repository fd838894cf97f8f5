"""Shared pieces of the recipe schema: the error, the strict base model, range checks."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo

__all__ = ["Range", "RecipeError", "SpecModel", "bounded_range", "check_range"]


class RecipeError(ValueError):
    """A recipe file that cannot be used; the message names the file, field and value."""


class SpecModel(BaseModel):
    """A recipe section: unknown keys rejected, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Range = tuple[float, float]


def check_range(value: Range, lo: float, hi: float, name: str) -> Range:
    """`value` as (low, high) with lo <= low <= high <= hi, else ValueError naming `name`."""
    a, b = value
    if not (lo <= a <= b <= hi):
        raise ValueError(f"{name} must satisfy {lo} <= low <= high <= {hi}, got {list(value)}")
    return value


def bounded_range(lo: float, hi: float) -> Any:
    """The type of a (low, high) recipe field with ``lo <= low <= high <= hi``; a bad value's
    error names the field (as :func:`check_range` words it)."""

    def check(value: Range, info: ValidationInfo) -> Range:
        return check_range(value, lo, hi, info.field_name or "range")

    return Annotated[Range, AfterValidator(check)]
