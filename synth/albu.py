"""Albumentations transforms named in a recipe, built and checked up front."""
from __future__ import annotations

from collections.abc import Sequence

import albumentations as A

from .recipe import AlbumentationsStep

__all__ = ["build_transform"]


def build_transform(steps: Sequence[AlbumentationsStep], where: str = "foreground_augment.albumentations") -> A.Compose:
    """`A.Compose` of the named transforms; ValueError naming the step for unknown names or bad params."""
    transforms = []
    for i, step in enumerate(steps):
        cls = getattr(A, step.name, None)
        if not (isinstance(cls, type) and issubclass(cls, A.BasicTransform)):
            raise ValueError(f"{where}.{i}.name: {step.name!r} is not an albumentations transform")
        try:
            transforms.append(cls(**step.params))
        except Exception as err:  # albumentations validates with pydantic and raises various types
            raise ValueError(f"{where}.{i}.params: invalid parameters for {step.name}: {err}") from None
    return A.Compose(transforms)
