"""Where a sample's time goes: named steps timed in place, for ``bench_build.py --split`` and
``bench_loader.py --split``.

cProfile inflates Python-heavy code many times over, so its shares mislead where native calls
and Python glue mix. Here a few chosen functions are wrapped where the pipeline looks them up
(a module's global name) and each call adds its CPU time to its step; a call made while another
wrapped call runs counts for the outer step only, so the steps never overlap and what the
total leaves over is "the rest" (glue, draws, bookkeeping).
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

#: A step: its name and the (module, global name) pairs whose calls it counts.
Steps = Mapping[str, Sequence[tuple[ModuleType, str]]]


@contextmanager
def timed_steps(steps: Steps) -> Iterator[dict[str, float]]:
    """Within the block, every call of a listed function adds its CPU seconds to its step's
    total in the yielded dict (outermost wrapped call only); the functions are restored after."""
    totals = {name: 0.0 for name in steps}
    active = [False]
    saved: list[tuple[ModuleType, str, Any]] = []

    def wrap(step: str, fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if active[0]:
                return fn(*args, **kwargs)
            active[0] = True
            t0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                totals[step] += time.process_time() - t0
                active[0] = False
        return timed

    try:
        for step, targets in steps.items():
            for module, attr in targets:
                fn = getattr(module, attr)
                saved.append((module, attr, fn))
                setattr(module, attr, wrap(step, fn))
        yield totals
    finally:
        for module, attr, fn in reversed(saved):
            setattr(module, attr, fn)


def print_split(total_s: float, totals: Mapping[str, float], samples: int,
                groups: Sequence[tuple[str, Sequence[str]]], floor_s: float | None = None) -> None:
    """Print each step in ms per sample, group by group, then the rest: as multiples of
    ``floor_s`` (seconds for all the samples, e.g. the codec floor) with the running sum, or,
    without a floor, as shares of ``total_s``."""
    def ms(s: float) -> float:
        return 1000.0 * s / samples

    base = floor_s if floor_s is not None else total_s
    running = floor_s or 0.0

    def share(s: float) -> str:
        return f"+{s / base:.2f}x" if floor_s is not None else f"{100 * s / base:5.1f} %"

    if floor_s is not None:
        print(f"    {'codec floor':44s} {ms(floor_s):7.1f} ms   1.00x")
    for title, names in groups:
        group = sum(totals[n] for n in names)
        running += group
        tail = f"  (running {running / base:.2f}x)" if floor_s is not None else ""
        print(f"    + {title:42s} {ms(group):7.1f} ms  {share(group)}{tail}")
        for n in names:
            print(f"        {n:38s} {ms(totals[n]):7.1f} ms")
    rest = total_s - running
    tail = f"  (total {total_s / base:.2f}x)" if floor_s is not None else ""
    print(f"    + {'the rest (glue, draws, bookkeeping)':42s} {ms(rest):7.1f} ms  {share(rest)}{tail}")


# ------------------------------------------------------------------------------- the build
#: bench_build's groups of :func:`build_steps`, in the order they are added to the floor.
BUILD_GROUPS = [
    ("decoding the stored F and B again", ["F and B decoded again"]),
    ("composition steps", ["placement: resize and paste", "composite", "trimap", "rotation",
                           "background cover crop", "alpha to its 8-bit levels", "flips"]),
    ("realism steps", ["before compositing", "after compositing"]),
]


def build_steps() -> dict[str, list[tuple[ModuleType, str]]]:
    """The steps of ``synth.render.render_sample``: the functions it and ``synth.stored_layers``
    call, by the names they call them by. The codec work (decoding the inputs, encoding the
    members) is not a step: bench_build prices it as the floor, so "the rest" is the total less
    the floor and the steps."""
    from synth import render
    from synth import stored_layers as layers

    return {"F and B decoded again": [(layers, "_decoded_where_seen"), (layers, "decode_rgb")],
            "placement: resize and paste": [(render, "apply_placement")],
            "composite": [(render, "composite")],
            "trimap": [(layers, "make_trimap")],
            "rotation": [(render, "apply_rotation")],
            "background cover crop": [(render, "apply_cover_crop")],
            "alpha to its 8-bit levels": [(layers, "alpha_to_uint8")],
            "flips": [(render, "apply_flip")],
            "before compositing": [(render, "pre_composite")],
            "after compositing": [(render, "post_composite")]}


# ------------------------------------------------------------------------------ the loader
LOADER_GROUPS = [
    ("decoding", ["JPEG windows (image, fg, bg)", "alpha PNG"]),
    ("augmentation", ["window resizes", "fresh trimap", "crop and scale draw", "flips"]),
]


def loader_steps() -> dict[str, list[tuple[ModuleType, str]]]:
    """The steps of ``shards.online_augment.augment_sample``, by the names it calls them by."""
    from shards import online_augment as aug

    return {"JPEG windows (image, fg, bg)": [(aug, "decode_rgb_window")],
            "alpha PNG": [(aug, "StoredAlpha")],
            "window resizes": [(aug, "resize_window")],
            "fresh trimap": [(aug, "trimap_with_margin")],
            "crop and scale draw": [(aug, "draw_geometry")],
            "flips": [(aug, "apply_flip")]}


def loader_split(dataset: Iterable[Any], generator: Sequence[Any], passes: int = 2) -> None:
    """Print where the loader's time goes in this process (``dataset``: a ``MattingDataset``,
    iterated ``passes`` times after a warm-up pass) against the on-the-fly ``generator`` on
    the same data (every item once per pass), and the loader's budget for 6x that generator."""
    for _ in dataset:  # warm-up: imports, first calls, the page cache
        pass
    with timed_steps(loader_steps()) as steps:
        n, t0 = 0, time.process_time()
        for _ in range(passes):
            for _ in dataset:
                n += 1
        ours = time.process_time() - t0
    m, t0 = 0, time.process_time()
    for _ in range(passes):
        for i in range(len(generator)):
            generator[i]
            m += 1
    theirs = (time.process_time() - t0) / m * n  # the generator's time for as many samples
    print(f"in this process, {n} samples: ours {1000 * ours / n:.1f} ms per sample, the on-the-fly generator "
          f"{1000 * theirs / n:.1f} ms ({theirs / ours:.2f}x ours; 6x needs ours <= {1000 * theirs / n / 6:.1f} ms)")
    print_split(ours, steps, n, LOADER_GROUPS)
