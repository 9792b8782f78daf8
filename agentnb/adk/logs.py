"""ADK's own log records during a run go into the run's card, not the cell's stderr.

ADK logs a failing tool twice at ERROR with its traceback, beside the error it raises: in a
notebook that is a wall of red under a card that already says what failed. While a runner
with `capture_logs=True` runs an invocation, a handler on ADK's logger (`google_adk`) records
what is logged inside that run as `log` facts of its trace; whatever is logged elsewhere
(another thread, no run) goes where Python would have sent it.
"""
from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..core.logdata import log_data, print_as_python_would
from ..core.records import Fact
from ..core.trace import Trace

ADK_LOGGER = "google_adk"
_run: contextvars.ContextVar[tuple[Trace, str, str] | None] = contextvars.ContextVar(
    "agentnb_adk_run", default=None)


class _Capture(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        run = _run.get()
        if run is None:
            print_as_python_would(record)
            return
        trace, session_id, invocation_id = run
        try:
            trace.append(Fact(session_id, invocation_id, record.created, "log", log_data(record)))
        except Exception:
            print_as_python_would(record)


_handler = _Capture()
_lock = threading.Lock()
_runs = 0
_propagate = True


@contextmanager
def captured(trace: Trace, session_id: str, invocation_id: str) -> Iterator[None]:
    """ADK's log records inside this context (this task and the tasks it starts) go to `trace`."""
    global _runs, _propagate
    logger = logging.getLogger(ADK_LOGGER)
    with _lock:
        if _runs == 0:
            _propagate, logger.propagate = logger.propagate, False
            logger.addHandler(_handler)
        _runs += 1
    token = _run.set((trace, session_id, invocation_id))
    try:
        yield
    finally:
        _run.reset(token)
        with _lock:
            _runs -= 1
            if _runs == 0:
                logger.removeHandler(_handler)
                logger.propagate = _propagate
