"""The test suite's hang watchdog (tests/hang_watchdog.py): a hung DataLoader worker prints its
stack and ends, and the loader fails instead of waiting forever."""
from __future__ import annotations

import faulthandler
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset

from hang_watchdog import _Watchdog, forked_children

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


class _Stuck(IterableDataset):
    def __iter__(self):
        if torch.utils.data.get_worker_info() is not None:
            never_set_in_the_worker()
        yield torch.zeros(1)


def never_set_in_the_worker() -> None:
    threading.Event().wait()


def test_forked_children_are_found_and_exec_children_are_not():
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        time.sleep(30)
        os._exit(0)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        found = forked_children(os.getpid())
        assert pid in found and other.pid not in found
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        other.kill()
        other.wait()
    assert pid not in forked_children(os.getpid())


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")  # Python >= 3.12 on os.fork
def test_a_hung_worker_prints_its_stack_and_the_loader_fails(capfd):
    faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)  # as the plugin does
    dog = _Watchdog(1.0)
    thread = threading.Thread(target=dog.run, daemon=True)
    thread.start()
    dog.test = ("hung", time.monotonic())
    try:
        with pytest.raises(RuntimeError, match="exited unexpectedly"):
            list(DataLoader(_Stuck(), num_workers=1))
    finally:
        dog.stop.set()
        thread.join()
    err = capfd.readouterr().err
    assert "never_set_in_the_worker" in err  # the worker's own stack, from the worker
    assert dog.fired == "hung"
