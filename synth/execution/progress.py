"""Progress from inside running tasks: a board that tasks report to and the driver reads.

A task reports ``(key, done)``, how many of its units (samples of a shard) it has finished;
the board keeps the largest count per key (a retried task counts again from 0 without going
back). :class:`LocalBoard` serves in-process execution; :class:`RayBoard` is a small Ray
actor, so that workers' reports reach the driver while their tasks still run.
"""
from __future__ import annotations

import threading
from typing import Any

__all__ = ["BoardWatcher", "LocalBoard", "RayBoard"]


class LocalBoard:
    """In-process board: ``report`` and ``snapshot`` may be called from different threads."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def report(self, key: str, done: int) -> None:
        with self._lock:
            self._counts[key] = max(done, self._counts.get(key, 0))

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def close(self) -> None:
        pass


class _Tally:
    """The Ray actor behind :class:`RayBoard` (a LocalBoard in a process of its own)."""

    def __init__(self) -> None:
        self._board = LocalBoard()

    def report(self, key: str, done: int) -> None:
        self._board.report(key, done)

    def snapshot(self) -> dict[str, int]:
        return self._board.snapshot()


class _RayReport:
    """Picklable ``report(key, done)`` for tasks: a fire-and-forget call to the actor."""

    def __init__(self, actor: Any) -> None:
        self._actor = actor

    def __call__(self, key: str, done: int) -> None:
        self._actor.report.remote(key, done)


class RayBoard:
    """A board on the connected Ray instance; ``report`` is picklable, so tasks can carry it."""

    def __init__(self) -> None:
        import ray

        self._actor = ray.remote(num_cpus=0)(_Tally).remote()
        self.report = _RayReport(self._actor)

    def snapshot(self) -> dict[str, int]:
        import ray

        return ray.get(self._actor.snapshot.remote())

    def close(self) -> None:
        import ray

        ray.kill(self._actor)


class BoardWatcher:
    """Shows a board's progress on a tqdm-like ``bar`` (``update(n)``, ``n``) from a thread.

    ``totals``: units per key. The bar shows, every ``interval_s`` and at each
    :meth:`finished`, the units done: a finished key's total, else its reported count
    (capped at its total). Use as a context manager; the thread stops on exit.
    """

    def __init__(self, board: Any, totals: dict[str, int], bar: Any, interval_s: float = 0.5) -> None:
        self._board, self._totals, self._bar, self._interval = board, totals, bar, interval_s
        self._finished: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress-board", daemon=True)

    def __enter__(self) -> "BoardWatcher":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def finished(self, key: str) -> None:
        """``key`` is complete (whatever its reports said)."""
        with self._lock:
            self._finished.add(key)
        self.refresh()

    def refresh(self, snapshot: dict[str, int] | None = None) -> None:
        snap = self._board.snapshot() if snapshot is None else snapshot
        with self._lock:
            shown = sum(total if key in self._finished else min(snap.get(key, 0), total)
                        for key, total in self._totals.items())
            if shown > self._bar.n:
                self._bar.update(shown - self._bar.n)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.refresh()
            except Exception:  # the board went away (Ray shutting down): stop showing
                return
