"""synth.execution: the executors build and stats share (serial, Ray), `make_executor`'s
meaning of workers/address, and results in item order whatever the completion order."""
from __future__ import annotations

import functools

import cv2
import numpy as np
import pytest

from synth.execution import RayExecutor, SerialExecutor, imap_in_order, make_executor

_square = functools.partial(pow, exp=2)  # importable in workers (this module is not)


class _Reversed(SerialExecutor):
    """Completes items last-first (an executor whose completion order differs from item order)."""

    name = "reversed"

    def imap_unordered(self, fn, items):
        for i in reversed(range(len(items))):
            yield i, fn(items[i])


def test_serial_executor_maps_in_item_order():
    with SerialExecutor() as ex:
        assert list(ex.imap_unordered(_square, [3, 1, 2])) == [(0, 9), (1, 1), (2, 4)]
        assert ex.parallelism == 1 and ex.failures == 0


def test_serial_items_run_with_one_opencv_thread_as_on_ray():
    """warpAffine on float32 (the rotation of alpha) differs in its last bits with OpenCV's
    thread count; serial and Ray builds must not."""
    rng = np.random.default_rng(0)
    alpha = rng.random((700, 500), dtype=np.float32)
    m = cv2.getRotationMatrix2D((250.0, 350.0), 7.3, 1.0)
    warp = functools.partial(cv2.warpAffine, M=m, dsize=(500, 700), flags=cv2.INTER_LINEAR)
    before = cv2.getNumThreads()
    cv2.setNumThreads(4)
    try:
        cv2.setNumThreads(1)
        on_ray = warp(alpha)
        cv2.setNumThreads(4)
        serial = dict(SerialExecutor().imap_unordered(lambda a: (cv2.getNumThreads(), warp(a)), [alpha]))[0]
        assert serial[0] == 1 and cv2.getNumThreads() == 4  # one thread inside, restored after
        np.testing.assert_array_equal(serial[1], on_ray)
    finally:
        cv2.setNumThreads(before)


def test_imap_in_order_restores_item_order_and_reports_completions():
    seen = []
    assert list(imap_in_order(_Reversed(), _square, [1, 2, 3, 4], seen.append)) == [1, 4, 9, 16]
    assert seen == [16, 9, 4, 1]  # as they completed
    assert list(imap_in_order(_Reversed(), _square, [])) == []


def test_executor_choice():
    assert isinstance(make_executor(0), SerialExecutor)
    assert isinstance(make_executor(2), RayExecutor)  # not started until first used
    assert isinstance(make_executor(None, "auto"), RayExecutor)
    with pytest.raises(ValueError, match="cannot be combined with address"):
        make_executor(0, "auto")
    with pytest.raises(ValueError, match="workers must be >= 0"):
        make_executor(-1)
    with pytest.raises(ValueError, match="workers must be >= 1"):
        RayExecutor(workers=0)


@pytest.mark.ray
def test_ray_executor_maps_every_item_bounded(ray_session):
    with RayExecutor(workers=2, max_in_flight=3) as ex:
        got = dict(ex.imap_unordered(_square, list(range(25))))
        assert got == {i: i * i for i in range(25)}
        assert ex.max_in_flight == 3 and ex.parallelism == 2
        assert list(ex.imap_unordered(_square, [])) == []
        assert list(imap_in_order(ex, _square, list(range(7)))) == [i * i for i in range(7)]
    assert ray_session.is_initialized()  # an instance it did not start is left running


@pytest.mark.ray
def test_ray_executor_defaults_on_an_existing_instance(ray_session):
    ex = RayExecutor()
    assert ex.workers == 2 and ex.max_in_flight == 2  # the session's CPUs cap the parallelism
    ex.close()
    assert ray_session.is_initialized()
