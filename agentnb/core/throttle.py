"""Coalescing: many "something changed" marks, from any thread, become at most one flush per
interval. The caller supplies the scheduler, so this stays free of any event loop or UI."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

Schedule = Callable[[float, Callable[[], None]], None]


class Throttle:
    """`mark()` from any thread; `flush()` then runs once, through `schedule(delay, fn)`, no
    sooner than `interval` seconds after the previous flush. `close()` flushes one last time."""

    def __init__(self, flush: Callable[[], None], schedule: Schedule,
                 interval: float = 0.1, clock: Callable[[], float] = time.monotonic) -> None:
        self._flush, self._schedule, self.interval, self._clock = flush, schedule, interval, clock
        self._lock = threading.Lock()
        self._pending = False
        self._closed = False
        self._last = float("-inf")
        self.flushes = 0

    def mark(self, *_: object) -> None:
        with self._lock:
            if self._pending or self._closed:
                return
            self._pending = True
            delay = max(0.0, self._last + self.interval - self._clock())
        self._schedule(delay, self._run)

    def _run(self) -> None:
        with self._lock:
            if not self._pending or self._closed:
                return
            self._pending = False
            self._last = self._clock()
        self.flushes += 1
        self._flush()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._pending = False
        self.flushes += 1
        self._flush()
