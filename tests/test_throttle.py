"""Throttle: marks from many threads become at most one flush per interval (clock injected)."""
import threading

import pytest

from agentnb.core.throttle import Throttle


class Timers:
    """A scheduler that only records: the test decides when a scheduled flush runs."""

    def __init__(self):
        self.pending = []

    def __call__(self, delay, fn):
        self.pending.append((delay, fn))

    def run_next(self):
        delay, fn = self.pending.pop(0)
        fn()
        return delay


def make(interval=0.1):
    now = [100.0]
    flushed, timers = [], Timers()
    throttle = Throttle(lambda: flushed.append(now[0]), timers, interval, clock=lambda: now[0])
    return throttle, timers, flushed, now


def mark_from_threads(throttle, threads=4, marks=300):
    workers = [threading.Thread(target=lambda: [throttle.mark() for _ in range(marks)])
               for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def test_marks_from_many_threads_schedule_one_flush():
    throttle, timers, flushed, now = make()
    mark_from_threads(throttle)
    assert [d for d, _ in timers.pending] == [0.0]      # the first flush may run at once
    timers.run_next()
    assert flushed == [100.0]
    mark_from_threads(throttle)
    assert [d for d, _ in timers.pending] == [pytest.approx(0.1)]   # no sooner than the interval
    now[0] += 0.04
    timers.run_next()
    assert flushed == [100.0, 100.04] and throttle.flushes == 2


def test_the_delay_counts_from_the_last_flush():
    throttle, timers, flushed, now = make(interval=0.5)
    throttle.mark()
    timers.run_next()
    now[0] += 0.2
    throttle.mark()
    assert timers.pending[0][0] == pytest.approx(0.3)
    timers.run_next()
    now[0] += 1.0
    throttle.mark()
    assert timers.pending[-1][0] == 0.0     # after a long quiet: at once


def test_no_mark_no_flush_and_close_flushes_once_more():
    throttle, timers, flushed, now = make()
    assert timers.pending == [] and flushed == []
    throttle.mark()
    throttle.close()
    assert flushed == [100.0]
    timers.run_next()                        # a flush scheduled before close does nothing
    throttle.mark()
    assert flushed == [100.0] and timers.pending == []
