"""Running the build's and the statistics' functions as Ray tasks: a local instance by default, or any cluster.

`RayExecutor` implements the `Executor` protocol (see `base.py`). Per `imap_unordered`
call the function (for the render stage it closes over the whole BuildPlan, which can be
MBs) goes to the object store once and every task gets a reference to it; each worker
process deserialises it once and keeps it. At most `max_in_flight` tasks are pending at any
time, so the driver's memory stays flat however many items there are; results (small
records) come back as tasks complete. A task whose worker dies is retried by Ray
(`max_retries`); an exception raised by the function itself is not retried and reaches the
caller unwrapped, with its original type and message.

Workers read their inputs from paths/URLs themselves (no pixels travel through the driver),
so on a multi-node cluster the inputs, the cache folder and the output must be on storage
every node sees under the same path (or fsspec URLs).
"""
from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from .base import TaskError, default_workers
from .progress import RayBoard
from .ray_reaper import Reaper, start_reaper

__all__ = ["RayExecutor", "WorkerLostError"]

T = TypeVar("T")

_LOCAL_OBJECT_STORE_BYTES = 512 * 1024 * 1024  # results are small; the largest object is the plan
_CANCEL_GRACE_S = 10.0

# Worker side: the deserialised function of the current build stage, by object id.
_FN_CACHE: dict[str, Any] = {}
_WORKER_READY = False

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters
#: Ray's start-up notices that say nothing about this build (shown with --verbose).
_STARTUP_NOISE = ("Token authentication is enabled",)


def _not_startup_noise(record: logging.LogRecord) -> bool:
    """A logging filter: False for Ray's start-up notices in :data:`_STARTUP_NOISE`."""
    return not any(text in record.getMessage() for text in _STARTUP_NOISE)


def _tune_malloc() -> None:
    """Keep freed image buffers in the worker's heap (glibc only).

    In a Ray worker process glibc's heap is trimmed and regrown around every sample (many
    more page faults and more CPU per sample than the same code in a plain process; figures
    in docs/results.md). Fixed thresholds (mmap above 32 MiB, trim above 128 MiB of free
    top) remove that; the cost is up to ~128 MiB of freed memory kept per worker.
    """
    import ctypes
    import ctypes.util
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 128 << 20)
    except (OSError, AttributeError):
        pass


def _worker_setup() -> None:
    global _WORKER_READY
    import cv2

    cv2.setNumThreads(1)  # one task per CPU: no oversubscription (cheap; every task)
    if not _WORKER_READY:
        _tune_malloc()
        _WORKER_READY = True


class WorkerLostError(TaskError):
    """A task could not complete because its worker (or node) kept dying."""


def _run_task(box: list, item: Any) -> tuple[Any, int]:
    """Ray task body: fetch the stage function once per worker process, apply it to `item`.

    Returns `(result, attempt)`; `attempt` > 0 means earlier attempts of this task were lost.
    """
    import ray

    ref = box[0]  # wrapped in a list so that Ray passes the reference, not the value
    key = ref.hex()
    fn = _FN_CACHE.get(key)
    if fn is None:
        fn = ray.get(ref)
        if len(_FN_CACHE) >= 2:  # one build runs its stages one after the other
            _FN_CACHE.clear()
        _FN_CACHE[key] = fn
    _worker_setup()
    try:
        attempt = int(ray._private.worker.global_worker.core_worker.get_current_task_attempt_number())
    except Exception:  # a private API: progress reporting only
        attempt = 0
    return fn(item), attempt


class RayExecutor:
    """Runs `fn(item)` as Ray tasks (one CPU each), a bounded number in flight.

    workers: local instance: its number of CPUs (default: all cores); existing Ray (an
        `address`, or Ray already initialised in this process, e.g. by a test session or a
        user's script): the most tasks in flight (default: the cluster's CPUs).
    address: None starts (or reuses) a local instance; "auto" or "ray://host:port" joins a
        cluster.
    max_in_flight: pending tasks at most (default: 2 x workers for a local instance this
        executor started, else `workers`, which caps the parallelism).
    max_retries: retries of a task whose worker died (SIGKILL, out of memory, node lost).

    Ray is started lazily on first use; `close()` shuts it down only if this executor
    started it. A local instance started here is watched by a reaper process
    (`ray_reaper.py`), so that none of its processes outlives the driver, even on kill -9.
    """

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None, *,
                 max_in_flight: int | None = None, max_retries: int = 3, quiet: bool = True,
                 log: Callable[[str], None] | None = None) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"RayExecutor: workers must be >= 1, got {workers}")
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError(f"RayExecutor: max_in_flight must be >= 1, got {max_in_flight}")
        if max_retries < 0:
            raise ValueError(f"RayExecutor: max_retries must be >= 0, got {max_retries}")
        self._workers = workers
        self.address = address
        self._max_in_flight = max_in_flight
        self.max_retries = max_retries
        self.quiet = quiet
        self._log = log or (lambda s: None)
        self.failures = 0
        self._started_here = False
        self._ready = False
        self._remote = None
        self._reaper: Reaper | None = None

    # ------------------------------------------------------------------ lifecycle

    def _ensure_started(self) -> None:
        if self._ready:
            return
        import ray

        if not ray.is_initialized():
            if self.quiet:  # the notice is logged by a child of the "ray" logger, before its handlers exist
                logging.getLogger("ray._private.authentication.authentication_token_setup").addFilter(
                    _not_startup_noise)
            common = dict(include_dashboard=False, log_to_driver=not self.quiet,
                          logging_level=logging.WARNING if self.quiet else logging.INFO)
            if self.address:
                self._log(f"joining the Ray cluster at {self.address}")
                ray.init(address=self.address, **common)
            else:
                cpus = self._workers or default_workers()
                self._log(f"starting a local Ray instance with {cpus} worker(s)")
                ctx = ray.init(address="local", num_cpus=cpus, object_store_memory=_LOCAL_OBJECT_STORE_BYTES, **common)
                self._started_here = True
                session_dir = getattr(ctx, "address_info", {}).get("session_dir")
                self._reaper = start_reaper(session_dir) if session_dir else None  # its processes die with us
        if self._workers is None:
            self._workers = self._local_or_cluster_cpus()
        if self._max_in_flight is None:
            self._max_in_flight = 2 * self._workers if self._started_here else self._workers
        self._remote = ray.remote(_run_task).options(num_cpus=1, max_retries=self.max_retries,
                                                     retry_exceptions=False)
        self._ready = True

    def _local_or_cluster_cpus(self) -> int:
        import ray

        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    @property
    def workers(self) -> int:
        self._ensure_started()
        assert self._workers is not None
        return self._workers

    @property
    def parallelism(self) -> int:
        self._ensure_started()
        return min(self.workers, self.max_in_flight)

    @property
    def max_in_flight(self) -> int:
        self._ensure_started()
        assert self._max_in_flight is not None
        return self._max_in_flight

    def close(self) -> None:
        if self._started_here:
            import ray

            if ray.is_initialized():
                ray.shutdown()
        if self._reaper is not None:
            self._reaper.stop()  # removes whatever of the instance outlived the shutdown
            self._reaper = None
        self._started_here = False
        self._ready = False

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def progress_board(self) -> RayBoard:
        self._ensure_started()
        return RayBoard()

    # ------------------------------------------------------------------ mapping

    def imap_unordered(self, fn: Callable[[Any], T], items: Sequence[Any]) -> Iterator[tuple[int, T]]:
        """Yield `(position, fn(items[position]))` as tasks complete.

        Raises the exception `fn` raised (unwrapped from Ray's RayTaskError), or
        WorkerLostError when a task's worker died more than `max_retries` times. On any
        exit before the end (an error, Ctrl-C, the consumer stopping) the tasks still pending
        are cancelled; running ones get a KeyboardInterrupt first (so they can clean up)
        and are killed if they do not stop within a few seconds.
        """
        if not items:
            return
        self._ensure_started()
        import ray

        fn_ref = ray.put(fn)
        box = [fn_ref]
        pending: dict[Any, int] = {}
        next_pos = 0
        try:
            while next_pos < len(items) or pending:
                while next_pos < len(items) and len(pending) < self.max_in_flight:
                    pending[self._remote.remote(box, items[next_pos])] = next_pos
                    next_pos += 1
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    pos = pending.pop(ref)
                    result, attempt = self._get(ref, pos)
                    self.failures += attempt
                    yield pos, result
        finally:
            if pending:
                # A Ctrl-C in a terminal reached the workers too (they share its process group):
                # interrupting them once more can trip a check in Ray's task manager and abort.
                self._cancel(list(pending), interrupt=not isinstance(sys.exc_info()[1], KeyboardInterrupt))
            del fn_ref, box

    def _get(self, ref: Any, pos: int) -> tuple[Any, int]:
        import ray
        from ray import exceptions as rex

        try:
            return ray.get(ref)
        except rex.RayTaskError as err:
            cause = getattr(err, "cause", None)
            if isinstance(cause, Exception) and not isinstance(cause, rex.RayError):
                raise cause.with_traceback(None) from None
            raise TaskError(pos, f"failed in a Ray worker: {err}") from None
        except (rex.WorkerCrashedError, rex.NodeDiedError, rex.ObjectLostError, rex.OutOfMemoryError) as err:
            first = str(err).splitlines()[0] if str(err) else ""
            raise WorkerLostError(pos, f"its Ray worker died {self.max_retries + 1} time(s) "
                                       f"({type(err).__name__}: {first})") from None

    def _cancel(self, refs: list, interrupt: bool = True) -> None:
        """Cancel pending tasks: interrupt running ones (unless `interrupt` is False: they already
        were), wait a little, then kill the rest."""
        import ray

        try:
            if interrupt:
                for ref in refs:
                    ray.cancel(ref, force=False)
            deadline = time.monotonic() + _CANCEL_GRACE_S
            left = refs
            while left and time.monotonic() < deadline:
                _, left = ray.wait(left, num_returns=len(left), timeout=0.2)
            for ref in left:
                ray.cancel(ref, force=True)
            if left:
                ray.wait(left, num_returns=len(left), timeout=_CANCEL_GRACE_S)
        except Exception:  # the cluster may already be gone (Ctrl-C reached it too)
            pass
