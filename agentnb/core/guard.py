"""One rule for code that runs inside someone's agent: it never raises into the framework.

Both adapters record through a `Guard`: a failure is counted in `failures`, logged once (with
its traceback) at WARNING, and the framework's run goes on as if agentnb were not there.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any


class Guard:
    """Counts and logs what failed while recording; never lets it out."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self.failures = 0

    def failed(self, what: str) -> None:
        """Count a failure of recording `what`; the first one is logged with its traceback."""
        self.failures += 1
        if self.failures == 1:
            self.log.warning("agentnb could not record %s; the run goes on", what, exc_info=True)
        else:
            self.log.debug("agentnb could not record %s", what, exc_info=True)

    def call(self, what: str, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            self.failed(what)

    async def call_async(self, what: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        try:
            await fn(*args)
        except Exception:
            self.failed(what)


def guarded(method: Callable[..., Any]) -> Callable[..., None]:
    """A method of an object with a `guard` attribute, run under that guard (for handlers a
    framework calls directly, such as LiveKit's event emitters)."""
    @functools.wraps(method)
    def handler(self: Any, *args: Any) -> None:
        try:
            method(self, *args)
        except Exception:
            self.guard.failed(method.__name__)
    return handler
