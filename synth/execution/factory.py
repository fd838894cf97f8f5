"""`make_executor`: what `--workers` and `--address` mean, for `synth build` and `synth stats` alike."""
from __future__ import annotations

from collections.abc import Callable

from .base import Executor
from .ray_executor import RayExecutor
from .serial import SerialExecutor

__all__ = ["make_executor"]


def make_executor(workers: int | None = None, address: str | None = None, *, quiet: bool = True,
                  log: Callable[[str], None] | None = None) -> Executor:
    """`workers=0`: serial in this process; otherwise Ray — a local instance with `workers`
    CPUs (default: all cores), or the cluster at `address` ("auto", "ray://host:port") with
    at most `workers` tasks in flight (default: the cluster's CPUs)."""
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    if workers == 0:
        if address:
            raise ValueError(f"workers=0 runs serially in this process; it cannot be combined with address={address!r}")
        return SerialExecutor()
    return RayExecutor(workers=workers, address=address, quiet=quiet, log=log)
