"""A pytest plugin that turns a hung DataLoader worker into a failed test with stacks.

A worker forked from the test process that deadlocks leaves the loader waiting forever (it
checks only that its workers are alive). When one test has run for ``hang_watchdog`` seconds
(ini option; 0: off), a watchdog thread makes every process forked from this one (same
command line: DataLoader workers, not Ray's or spawned processes, which run other programs)
print its threads' stacks (faulthandler, registered on SIGUSR1 before any fork) to its stderr,
and then ends it; the loader then raises "worker exited unexpectedly" and the test fails with
the stacks in its captured output. pytest-timeout's ``timeout`` (set above this) ends a test
whose own process hangs.
"""
from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

_SIGNAL = signal.SIGUSR1


def forked_children(pid: int) -> list[int]:
    """Live children of ``pid`` running the same command line (forked, not exec'd)."""
    try:
        own = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = next(line.split()[1] for line in (entry / "status").read_text().splitlines()
                        if line.startswith("PPid:"))
            if int(ppid) == pid and (entry / "cmdline").read_bytes() == own:
                found.append(int(entry.name))
        except (OSError, StopIteration, ValueError):  # gone meanwhile
            continue
    return found


class _Watchdog:
    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.test: tuple[str, float] | None = None  # (node id, start)
        self.fired: str | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(min(5.0, self.limit)):
            test = self.test
            if test is None or test[0] == self.fired or time.monotonic() - test[1] < self.limit:
                continue
            self.fired = test[0]
            children = forked_children(os.getpid())
            sys.__stderr__.write(f"\nhang_watchdog: {test[0]} has run {self.limit:.0f} s; stacks of forked "
                                 f"children {children} follow in the test's captured stderr, then they end\n")
            _send(children, _SIGNAL)
            time.sleep(2.0)  # let them write
            _send(children, signal.SIGKILL)


def _send(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:  # gone meanwhile
            pass


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("hang_watchdog", "seconds one test may run before its forked children are dumped and ended "
                  "(0: off)", default="0")


def pytest_configure(config: pytest.Config) -> None:
    limit = float(config.getini("hang_watchdog") or 0)
    if limit <= 0 or not sys.platform.startswith("linux"):
        return
    faulthandler.register(_SIGNAL, all_threads=True, chain=False)  # inherited by forked workers
    dog = _Watchdog(limit)
    threading.Thread(target=dog.run, name="hang_watchdog", daemon=True).start()
    config._hang_watchdog = dog  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    dog = getattr(config, "_hang_watchdog", None)
    if dog is not None:
        dog.stop.set()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    dog = getattr(item.config, "_hang_watchdog", None)
    if dog is not None:
        dog.test = (item.nodeid, time.monotonic())
    try:
        yield
    finally:
        if dog is not None:
            dog.test = None
