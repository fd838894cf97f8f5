"""Shared pieces of the recipe schema: the error, the strict base model, range checks."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Range", "RecipeError", "SpecModel", "check_range"]


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
