"""What `synth stats` measures and reports: :class:`StatsOptions`."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["StatsOptions"]


@dataclass(frozen=True)
class StatsOptions:
    """How to collect statistics.

    sample: measure only this many samples, spread uniformly over the dataset
        (deterministic); ``None`` measures all.
    window: side (analysis pixels) of the boundary window for the realism measures.
    check_trimaps: also decode every trimap for its unknown share and its consistency
        with the alpha (slower; band widths come from meta.json anyway).
    contact: number of random samples (seeded by ``seed``) in the contact sheet.
    thumb_height: height (px) of a contact-sheet thumbnail.
    verify: hash every shard that is read and compare with the manifest.
    phash_distance: Hamming threshold of near-duplicate composites across splits.
    overuse_factor / overuse_min_uses: warn when an item is used more than
        ``overuse_factor`` x the median and at least ``overuse_min_uses`` times.
    progress: show a progress bar (stderr).

    Which executor reads the shards is not an option: ``collect_stats`` takes one, as
    ``synth.build.build`` does (``synth stats --workers/--address`` as in ``synth build``).
    """

    sample: int | None = None
    window: int = 96
    check_trimaps: bool = False
    contact: int = 12
    thumb_height: int = 128
    seed: int = 0
    verify: bool = True
    phash_distance: int = 4
    overuse_factor: float = 3.0
    overuse_min_uses: int = 10
    progress: bool = False

    def __post_init__(self) -> None:
        checks = [
            ("sample", self.sample is None or self.sample >= 1, self.sample),
            ("window", 16 <= self.window <= 4096, self.window),
            ("contact", 0 <= self.contact <= 1000, self.contact),
            ("thumb_height", 16 <= self.thumb_height <= 1024, self.thumb_height),
            ("phash_distance", 0 <= self.phash_distance <= 15, self.phash_distance),
            ("overuse_factor", self.overuse_factor > 0, self.overuse_factor),
            ("overuse_min_uses", self.overuse_min_uses >= 1, self.overuse_min_uses),
        ]
        for name, ok, value in checks:
            if not ok:
                raise ValueError(f"StatsOptions.{name}: invalid value {value!r}")
