"""Executors: one layer that runs the build's and the statistics' per-item functions.

`base` (the `Executor` protocol, `TaskError`, `imap_in_order`, `default_workers`),
`serial` (in this process), `ray_executor` (Ray tasks, local or a cluster), `factory`
(`make_executor`: what `--workers` / `--address` mean on every command), `progress`
(boards that running tasks report their progress to).
"""
from __future__ import annotations

from .base import Executor, TaskError, default_workers, imap_in_order
from .factory import make_executor
from .ray_executor import RayExecutor, WorkerLostError
from .serial import SerialExecutor

__all__ = ["Executor", "RayExecutor", "SerialExecutor", "TaskError", "WorkerLostError", "default_workers",
           "imap_in_order", "make_executor"]
